/**
 * The per-user pattern of a hosted agent (`docs/frameworks.md`, `examples/frameworks/hosted-agent.ts`):
 * a tool of an agent served by `createApp` (protected by one development authorization server)
 * calls a downstream server (the interop app, protected by another) as its caller, through
 * `createAgentAuth(...).forUser(principalOf(caller))`. A caller without a downstream token gets
 * the URL to sign in at, at once; once that login is completed for that caller, the tool runs with
 * the caller's own token; another caller gets a login of their own, never the first one's token.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hostedAgent } from '../../examples/frameworks/hosted-agent.js';
import { type AgentAuth, createAgentAuth, principalOf } from '../../src/index.js';
import { startInteropApp } from '../interop/support.js';
import {
  type ServedApp,
  signIn,
  startServedApp,
  textOf,
  userTokens,
} from '../server/serve-support.js';
import { freePort } from '../support/net.js';
import { recipe } from './protected-server.js';

let downstream: ServedApp;
let agent: ServedApp;
let auth: AgentAuth;
const clients: Client[] = [];

beforeAll(async () => {
  downstream = await startInteropApp();
  auth = createAgentAuth({
    settings: {
      mcp: {
        servers: {
          docs: {
            transport: 'streamable_http',
            url: downstream.resource,
            auth: { oauth: { enabled: true } },
          },
        },
      },
      oauth: { loopback_ports: [await freePort()] },
    },
    env: {},
  });
  agent = await startServedApp({ setup: hostedAgent(auth, 'docs') });
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await agent?.close();
  await auth?.close();
  await downstream?.close();
});

test('docs/frameworks.md shows the recipe this file runs', () => {
  const { example, inDocs } = recipe('hosted-agent.ts');
  expect(inDocs).toBe(example);
});

/** `user`, signed in to the agent, calls its tool; the text of the result. */
async function callAs(user: string): Promise<string> {
  const { accessToken } = await userTokens(agent.as.issuer, agent.resource, user);
  const client = new Client({ name: `${user}'s MCP client`, version: '1.0.0' });
  clients.push(client);
  const token = async () => accessToken;
  await client.connect(
    new StreamableHTTPClientTransport(new URL(agent.resource), { authProvider: { token } }),
  );
  return textOf(await client.callTool({ name: 'downstream_whoami', arguments: {} }));
}

test("each caller signs in downstream once, then the tool runs with that caller's own token", async () => {
  const first = await callAs('alice');
  const url = /^Sign in to docs first: (\S+)$/.exec(first)?.[1];
  if (!url) throw new Error(`no sign-in URL in ${JSON.stringify(first)}`);
  expect(new URL(url).origin).toBe(downstream.as.issuer);

  // The agent's callback route: the caller's identity from its session, the address from the browser.
  const redirectUri = new URL(url).searchParams.get('redirect_uri') ?? '';
  const browser = await signIn(url, 'alice', { stopAtRedirectUri: redirectUri });
  const alice = principalOf({ issuer: agent.as.issuer, subject: 'alice' });
  await auth.forUser(alice).completeLogin('docs', browser.finalUrl);

  const whoami = JSON.parse(await callAs('alice'));
  expect(whoami).toMatchObject({ subject: 'alice', issuer: downstream.as.issuer });
  expect(await callAs('bob')).toMatch(/^Sign in to docs first: /);
  expect((await auth.forUser(alice).status()).map((row) => row.identity)).toEqual([alice]);
});
