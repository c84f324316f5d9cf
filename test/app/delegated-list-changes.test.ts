/**
 * List changes of the servers kept per caller: a caller's own connection to the protected
 * downstream server (signed in as that caller) announcing `notifications/tools/list_changed`
 * reaches that caller's 2025-11-25 sessions and 2026-07-28 `subscriptions/listen` streams, and no
 * other caller's. Before, only the app's shared registry was followed: a per-user server's change
 * reached nobody.
 *
 * Each check waits for the caller's own announcement, then counts: one leaked to a stream would
 * have been sent on it before (announcements on one stream keep their order), so it would be
 * counted. The steps alternate (Alice, Bob, Alice) so that each side is counted after the other's.
 */
import { request } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mcpHeaders, rpc, userTokens } from '../server/serve-support.js';
import { waitFor } from '../support/net.js';
import {
  type ConnectedClient,
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
const closers: (() => unknown)[] = [];

beforeAll(async () => {
  inbound = await startInbound();
  realm = await startRealm(growing);
  agent = await serveAgent(delegatedSettings({ realm, inbound }), inbound.port);
}, 30_000);

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
});

/** `grow` adds a tool to the downstream session it runs in, which announces the change. */
function growing(server: McpServer): void {
  let grown = 0;
  server.registerTool('grow', { description: 'Adds a tool to this session' }, () => {
    grown += 1;
    server.registerTool(`grown_${grown}`, { description: 'A grown tool' }, () => ({
      content: [{ type: 'text', text: 'grown' }],
    }));
    return { content: [{ type: 'text', text: `grew ${grown}` }] };
  });
}

/** A caller: a 2025-11-25 session and a 2026-07-28 listen stream, each counting tool list changes. */
interface Caller {
  readonly session: ConnectedClient;
  sessionChanges(): number;
  streamChanges(): number;
}

async function caller(user: string): Promise<Caller> {
  const { accessToken } = await userTokens(inbound.as.issuer, inbound.resource, user);
  const session = await connect(agent.running.url, accessToken, { signInAs: `${user}-down` });
  closers.push(() => session.close());
  let sessionChanges = 0;
  session.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    sessionChanges += 1;
  });
  const stream = listenStream(accessToken);
  await waitFor('the listen stream to be acknowledged', () =>
    stream.text().includes('notifications/subscriptions/acknowledged') ? true : undefined,
  );
  return {
    session,
    sessionChanges: () => sessionChanges,
    streamChanges: () => stream.text().split('notifications/tools/list_changed').length - 1,
  };
}

/** A raw 2026-07-28 `subscriptions/listen` stream of tool list changes; all it has sent so far. */
function listenStream(token: string): { text(): string } {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'list-changes', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const target = new URL(agent.running.url);
  let text = '';
  const req = request(
    {
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'POST',
      headers: mcpHeaders(token, {
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'subscriptions/listen',
      }),
      agent: false,
    },
    (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
    },
  );
  req.on('error', () => {});
  closers.push(() => req.destroy());
  req.end(rpc('subscriptions/listen', { notifications: { toolsListChanged: true }, _meta: meta }));
  return { text: () => text };
}

/** Wait until `count` reaches `at least`, naming `what`. */
function reaches(what: string, count: () => number, atLeast: number) {
  return waitFor(what, () => (count() >= atLeast ? true : undefined), 10_000);
}

test("a per-user server's tool list change reaches its caller's session and listen stream only", async () => {
  const alice = await caller('alice');
  const bob = await caller('bob');
  // Each signs in to the protected server: a connection of their own.
  expect(subOf(await alice.session.call('down_whoami'))).toBe('alice-down');
  expect(subOf(await bob.session.call('down_whoami'))).toBe('bob-down');

  await alice.session.call('down_grow');
  await reaches("Alice's session to hear of it", alice.sessionChanges, 1);
  await reaches("Alice's listen stream to hear of it", alice.streamChanges, 1);

  await bob.session.call('down_grow');
  await reaches("Bob's session to hear of it", bob.sessionChanges, 1);
  await reaches("Bob's listen stream to hear of it", bob.streamChanges, 1);
  // Alice's change, had it reached Bob, would have come first on his streams.
  expect([bob.sessionChanges(), bob.streamChanges()]).toEqual([1, 1]);

  await alice.session.call('down_grow');
  await reaches("Alice's session to hear of her second change", alice.sessionChanges, 2);
  await reaches("Alice's listen stream to hear of her second change", alice.streamChanges, 2);
  expect([alice.sessionChanges(), alice.streamChanges()]).toEqual([2, 2]);
  // Her own listing shows the tool her connection grew; Bob's shows his.
  const aliceTools = (await alice.session.client.listTools()).tools.map((tool) => tool.name);
  expect(aliceTools).toEqual(expect.arrayContaining(['down_grown_1', 'down_grown_2']));
  const bobTools = (await bob.session.client.listTools()).tools.map((tool) => tool.name);
  expect(bobTools).toContain('down_grown_1');
  expect(bobTools).not.toContain('down_grown_2');
}, 60_000);
