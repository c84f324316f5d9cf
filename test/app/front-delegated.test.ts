/**
 * Front mode in front of a server whose callers each log in (`auth.oauth`, another authorization
 * server than the inbound one): the caller's own downstream login starts from the first call of a
 * tool under its own name (URL elicitation), and the downstream server receives the token of that
 * login, never the caller's inbound token.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { userTokens } from '../server/serve-support.js';
import {
  connect,
  delegatedSettings,
  type Inbound,
  type Realm,
  type ServedAgent,
  serveAgent,
  startInbound,
  startRealm,
  subOf,
} from './delegated-support.js';

let inbound: Inbound;
let realm: Realm;
let agent: ServedAgent;

beforeAll(async () => {
  inbound = await startInbound();
  realm = await startRealm();
  agent = await serveAgent(
    { ...delegatedSettings({ realm, inbound }), front: 'down' },
    inbound.port,
  );
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
});

test('the caller signs in downstream and calls whoami by its own name; its inbound token stays here', async () => {
  const inboundToken = (await userTokens(inbound.as.issuer, inbound.resource, 'kim')).accessToken;
  const client = await connect(agent.running.url, inboundToken, { signInAs: 'kim-down' });
  try {
    const result = await client.call('whoami');
    expect(result.isError).toBeFalsy();
    expect(subOf(result)).toBe('kim-down');
    const names = (await client.client.listTools()).tools.map((tool) => tool.name).sort();
    expect(names).toEqual(['echo', 'whoami']);
  } finally {
    await client.close();
  }
  const tokens = realm.server.requests.map((request) => request.token);
  expect(tokens.filter(Boolean).length).toBeGreaterThan(0);
  expect(tokens).not.toContain(inboundToken);
});
