/**
 * Several callers open their sign-in links at the same moment on a fresh agent (issue 13, item 7,
 * the agent's leg): the sign-in check registers the agent with the callers' authorization server
 * once, and each pending check completes with the client it started with, so nobody ends on
 * "Sign-in check failed", even when the callback reaches another replica after the stored
 * registration changed. The downstream logins are handed over one after the other, so only the
 * check's registration races here.
 */
import { UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { ClientRegistration } from '../../src/stores/registrations.js';
import { userTokens } from '../server/serve-support.js';
import {
  callbackOf,
  connect,
  delegatedSettings,
  type Inbound,
  openStore,
  type Realm,
  type ServedAgent,
  serveAgent,
  signIn,
  startInbound,
  startRealm,
  subOf,
  tempStoreDir,
} from './delegated-support.js';

let inbound: Inbound;
let realm: Realm;
let agent: ServedAgent;
let storeDir: ReturnType<typeof tempStoreDir>;

/** The agent's settings: a file store another replica can share, and one public address. */
function settings() {
  return delegatedSettings({
    realm,
    inbound,
    oauth: {
      callback_base_url: `http://127.0.0.1:${inbound.port}`,
      token_store: { backend: 'file', path: storeDir.path },
    },
  });
}

beforeAll(async () => {
  [inbound, realm] = await Promise.all([startInbound(), startRealm()]);
  storeDir = tempStoreDir();
  agent = await serveAgent(settings(), inbound.port);
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
  storeDir?.cleanup();
});

/** A caller's client and the sign-in link its first call to `down` was handed. */
async function handedLink(user: string) {
  const token = (await userTokens(inbound.as.issuer, inbound.resource, user)).accessToken;
  const client = await connect(agent.running.url, token);
  const error = await whoami(client).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(UrlElicitationRequiredError);
  return { user, client, link: (error as UrlElicitationRequiredError).elicitations[0]?.url ?? '' };
}

/** The downstream server's whoami, under its served name. */
function whoami(client: Awaited<ReturnType<typeof connect>>) {
  return client.call('down_whoami');
}

test('four first sign-ins opened at once on a fresh agent all complete, each as its own user', async () => {
  const users = ['ann', 'ben', 'cat', 'dan'];
  const callers = [];
  for (const user of users) callers.push(await handedLink(user));
  try {
    const pages = await Promise.all(callers.map(({ user, link }) => signIn(link, `${user}-down`)));
    for (const page of pages) {
      expect(page.body).not.toContain('Sign-in check failed');
      expect(page.finalUrl.origin + page.finalUrl.pathname).toBe(callbackOf(agent.origin));
      expect(page.status).toBe(200);
      expect(page.body).toContain('Signed in');
    }
    for (const { user, client } of callers)
      expect(subOf(await whoami(client))).toBe(`${user}-down`);
  } finally {
    await Promise.all(callers.map(({ client }) => client.close()));
  }
});

test('a check completes with the client it started with, although another replica registered the agent again meanwhile', async () => {
  const { client, link } = await handedLink('eve');
  const replica = await serveAgent(settings(), 0);
  const store = openStore(storeDir.path);
  try {
    // The browser signs in at the callers' authorization server; its answer is held back.
    const connectUrl = `${agent.origin}/internal/oauth/connect`;
    const answer = (await signIn(link, 'eve-down', { stopAt: connectUrl })).finalUrl;
    expect(answer.searchParams.get('code')).toBeTruthy();
    // Meanwhile the stored registration is replaced by another client (another replica's).
    const started = await store.registrations.get(inbound.as.issuer, connectUrl);
    expect(started).toBeDefined();
    const other = await fetch(`${inbound.as.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [connectUrl],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    });
    const otherId = String(((await other.json()) as { client_id: unknown }).client_id);
    await store.registrations.put({ ...(started as ClientRegistration), clientId: otherId });
    // The answer reaches the replica, which never saw the check start.
    const response = await fetch(new URL(`${answer.pathname}${answer.search}`, replica.origin), {
      redirect: 'manual',
    });
    const body = await response.text();
    expect(body).not.toContain('Sign-in check failed');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')?.startsWith(`${realm.as.issuer}/`)).toBe(true);
  } finally {
    await store.close();
    await replica.close();
    await client.close();
  }
});
