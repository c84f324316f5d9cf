/**
 * `subscriptions/listen` on `serve`'s 2026-07-28 leg (SEP-2575): a listening client is
 * acknowledged first, then hears of a downstream server's tool and prompt list changes, each on
 * the streams whose filter asked for it; a 2025-11-25 session hears of the tool list change on
 * its session. A listen stream needs the bearer token like any other request. A 2026-07-28
 * downstream server's changes reach `serve` on its own listen stream, and go on from there.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type DualEraServer, startDualEraServer } from '../support/dual-era-server.js';
import {
  connectV2,
  inlineStdio,
  mcpHeaders,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  type UserTokens,
  userTokens,
} from './serve-support.js';

/**
 * A stdio server on the v1 SDK: `grow` adds a tool and announces it, `reword` announces a prompt
 * list change.
 */
const DOWNSTREAM = [
  "import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';",
  "import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';",
  "const s = new McpServer({ name: 'changing', version: '1' }, { capabilities: { tools: { listChanged: true }, prompts: { listChanged: true } } });",
  "s.registerPrompt('hello', { description: 'Greets' }, () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }] }));",
  'let grown = 0;',
  "s.registerTool('grow', { description: 'Adds a tool' }, () => { grown += 1; s.registerTool('grown_' + grown, { description: 'New' }, () => ({ content: [] })); return { content: [{ type: 'text', text: 'grown' }] }; });",
  "s.registerTool('reword', { description: 'Changes the prompts' }, () => { s.sendPromptListChanged(); return { content: [{ type: 'text', text: 'reworded' }] }; });",
  'await s.connect(new StdioServerTransport());',
].join('\n');

let served: ServedApp;
let modernDown: DualEraServer;
let alice: UserTokens;
const clients: Client[] = [];

beforeAll(async () => {
  modernDown = await startDualEraServer();
  served = await startServedApp({
    servers: {
      modern: { transport: 'streamable_http', url: modernDown.url, protocol: '2026-07-28' },
      changing: inlineStdio(DOWNSTREAM),
    },
  });
  alice = await userTokens(served.as.issuer, served.resource, 'alice');
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await served?.close();
  await modernDown?.close();
});

async function connect(mode: 'legacy' | { pin: string }): Promise<Client> {
  const client = await connectV2(served, alice.accessToken, mode, 'listen-test');
  clients.push(client);
  return client;
}

/** Resolves with the notifications of `method` `client` gets, from now on (the first one). */
function next(client: Client, method: 'tools' | 'prompts'): Promise<string> {
  return new Promise((resolve) => {
    client.setNotificationHandler(`notifications/${method}/list_changed`, () => resolve(method));
  });
}

test('a listening 2026-07-28 client and a 2025-11-25 session hear of a new downstream tool', async () => {
  const modern = await connect({ pin: '2026-07-28' });
  const legacy = await connect('legacy');
  const subscription = await modern.listen({ toolsListChanged: true });
  expect(subscription.honoredFilter.toolsListChanged).toBe(true);
  const heardModern = next(modern, 'tools');
  const heardLegacy = next(legacy, 'tools');
  await modern.callTool({ name: 'changing_grow', arguments: {} });
  expect(await heardModern).toBe('tools');
  expect(await heardLegacy).toBe('tools');
  const names = (await modern.listTools()).tools.map((tool) => tool.name);
  expect(names).toContain('changing_grown_1');
  await subscription.close();
});

test('a prompt list change reaches the stream that asked for prompts only', async () => {
  const prompts = await connect({ pin: '2026-07-28' });
  const tools = await connect({ pin: '2026-07-28' });
  const promptStream = await prompts.listen({ promptsListChanged: true });
  const toolStream = await tools.listen({ toolsListChanged: true });
  const toolsHeard: string[] = [];
  tools.setNotificationHandler('notifications/prompts/list_changed', () => {
    toolsHeard.push('prompts');
  });
  const heard = next(prompts, 'prompts');
  await prompts.callTool({ name: 'changing_reword', arguments: {} });
  expect(await heard).toBe('prompts');
  // A tool list change after it reaches the tools stream; the prompt change did not come first.
  const toolChange = next(tools, 'tools');
  await tools.callTool({ name: 'changing_grow', arguments: {} });
  expect(await toolChange).toBe('tools');
  expect(toolsHeard).toEqual([]);
  await Promise.all([promptStream.close(), toolStream.close()]);
});

test('a listen request without the bearer token is refused with 401', async () => {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const response = await raw(served.resource, {
    method: 'POST',
    headers: mcpHeaders(undefined, {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'subscriptions/listen',
    }),
    body: rpc('subscriptions/listen', { notifications: { toolsListChanged: true }, _meta: meta }),
  });
  expect(response.status).toBe(401);
});

test("a 2026-07-28 downstream server's tool list change goes from its listen stream to ours", async () => {
  const client = await connect({ pin: '2026-07-28' });
  // Listing opens serve's listen stream to the downstream server (before it lists).
  expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('modern_echo');
  const subscription = await client.listen({ toolsListChanged: true });
  const heard = next(client, 'tools');
  modernDown.notify.toolsChanged();
  expect(await heard).toBe('tools');
  await subscription.close();
});
