/**
 * Logging and progress through a protected `serve` (authorization on, tokens from the development
 * authorization server): two users at once on a downstream server they share (its static key is
 * the app's), each with the same progress token, see only their own progress and log messages,
 * and never the downstream key.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  ProgressNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import * as z from 'zod';
import { DOWNSTREAM_KEY, type ServedApp, startServedApp, userTokens } from './serve-support.js';

let waiting: (() => void)[] = [];
/** Resolves once two calls have arrived, so that both are in flight together. */
function together(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length === 2) {
      for (const release of waiting) release();
      waiting = [];
    }
  });
}

function tools(server: McpServer): void {
  server.server.registerCapabilities({ logging: {} });
  server.registerTool('steps', { inputSchema: { label: z.string() } }, async ({ label }, extra) => {
    await together();
    const token = extra._meta?.progressToken;
    for (let i = 1; i <= 3 && token !== undefined; i++) {
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress: i, total: 3, message: label },
      });
    }
    return { content: [{ type: 'text', text: `done ${label}` }] };
  });
  server.registerTool('say', { inputSchema: { label: z.string() } }, async ({ label }, extra) => {
    await extra.sendNotification({
      method: 'notifications/message',
      params: { level: 'notice', data: `said ${label}` },
    });
    return { content: [{ type: 'text', text: 'ok' }] };
  });
  // A server that writes the key it was configured with into its log messages.
  server.registerTool('leak', {}, async (extra) => {
    for (const data of [`my key is ${DOWNSTREAM_KEY}`, { headers: { key: DOWNSTREAM_KEY } }]) {
      await extra.sendNotification({
        method: 'notifications/message',
        params: { level: 'error', data },
      });
    }
    return { content: [{ type: 'text', text: 'ok' }] };
  });
}

let served: ServedApp;
const users: Record<string, string> = {};

beforeAll(async () => {
  served = await startServedApp({ downstream: true, downstreamSetup: tools });
  const issuer = served.as.issuer;
  const [alice, bob] = await Promise.all([
    userTokens(issuer, served.resource, 'alice'),
    userTokens(issuer, served.resource, 'bob'),
  ]);
  users.alice = alice.accessToken;
  users.bob = bob.accessToken;
}, 60_000);

afterAll(async () => {
  await served?.close();
});

async function connect(user: string) {
  const client = new Client({ name: user, version: '1.0.0' });
  const seen = { progress: [] as unknown[], logs: [] as unknown[] };
  client.setNotificationHandler(ProgressNotificationSchema, (notification) => {
    seen.progress.push(notification.params);
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    seen.logs.push(notification.params);
  });
  const requestInit = { headers: { Authorization: `Bearer ${users[user]}` } };
  await client.connect(
    new StreamableHTTPClientTransport(new URL(served.resource), { requestInit }),
  );
  return { client, seen };
}

test('two users with one progress token on a shared server: each gets its own progress and logs', async () => {
  const alice = await connect('alice');
  const bob = await connect('bob');
  try {
    const call = (who: Client, label: string) =>
      who.request(
        {
          method: 'tools/call',
          params: { name: 'down_steps', arguments: { label }, _meta: { progressToken: 'same' } },
        },
        CallToolResultSchema,
      );
    await Promise.all([call(alice.client, 'alice'), call(bob.client, 'bob')]);
    const shape = (label: string) =>
      [1, 2, 3].map((progress) => ({ progressToken: 'same', progress, total: 3, message: label }));
    expect(alice.seen.progress).toEqual(shape('alice'));
    expect(bob.seen.progress).toEqual(shape('bob'));

    await alice.client.callTool({ name: 'down_say', arguments: { label: 'alice' } });
    expect(alice.seen.logs).toEqual([{ level: 'notice', logger: 'down', data: 'said alice' }]);
    expect(bob.seen.logs).toEqual([]);
    expect(JSON.stringify([alice.seen, bob.seen])).not.toContain(DOWNSTREAM_KEY);
  } finally {
    await alice.client.close();
    await bob.client.close();
  }
}, 30_000);

test("a server's log messages reach its caller without the server's configured secrets", async () => {
  const alice = await connect('alice');
  try {
    const result = await alice.client.callTool({ name: 'down_leak', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'ok' }]);
    expect(alice.seen.logs).toEqual([
      { level: 'error', logger: 'down', data: 'my key is [redacted]' },
      { level: 'error', logger: 'down', data: { headers: { key: '[redacted]' } } },
    ]);
  } finally {
    await alice.client.close();
  }
}, 30_000);
