/**
 * Review follow-up: a downstream tool is reached by one spelling only, the escaped one tools/list
 * shows (`~1` for `/`, `~0` for `~`), which is also the one `authorization.tool_scopes` is looked
 * up by. Other spellings that parseNamespacedName() would unescape to the same tool are unknown
 * tools; a `tool_scopes` key written unescaped protects the escaped name.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import * as z from 'zod';
import { type App, createApp, type RunningApp } from '../../../src/app/create-app.js';
import { settingsSchema } from '../../../src/config/schema/settings.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../../src/dev/authorization-server.js';
import { type McpHttpServer, startMcpHttpServer } from '../../support/mcp-http-server.js';
import { freePort } from '../../support/net.js';
import {
  initialize,
  mcpHeaders,
  message,
  raw,
  rpc,
  textOf,
  type UserTokens,
  userTokens,
} from '../serve-support.js';

let as: DevAuthorizationServer;
let down: McpHttpServer;
/** The app whose `tool_scopes` name the tools as tools/list shows them. */
let app: App;
let running: RunningApp;
let resource: string;
/** The app whose `tool_scopes` key is written unescaped (`down/files/delete`). */
let plainApp: App;
let plainRunning: RunningApp;
let plainResource: string;
let alice: UserTokens;
let root: UserTokens;
let alicePlain: UserTokens;
let rootPlain: UserTokens;
/** What the downstream tools ran, in order. */
const ran: string[] = [];

function settingsFor(resourceUrl: string, toolScopes: Record<string, string[]>) {
  return settingsSchema.parse({
    name: 'review',
    mcp: { servers: { down: { transport: 'streamable_http', url: `${down.origin}/mcp` } } },
    authorization: {
      enabled: true,
      issuer_url: as.issuer,
      resource_server_url: resourceUrl,
      expected_audiences: [resourceUrl],
      required_scopes: ['mcp:tools'],
      tool_scopes: toolScopes,
    },
  });
}

beforeAll(async () => {
  const port = await freePort();
  resource = `http://127.0.0.1:${port}/mcp`;
  const plainPort = await freePort();
  plainResource = `http://127.0.0.1:${plainPort}/mcp`;
  as = await startDevAuthorizationServer({
    port: 0,
    resources: [resource, plainResource],
    scopes: ['mcp:tools', 'mcp:admin'],
  });
  down = await startMcpHttpServer({
    setup: (server) => {
      server.registerTool('files/delete', { inputSchema: { path: z.string() } }, ({ path }) => {
        ran.push(`files/delete ${path}`);
        return { content: [{ type: 'text', text: `deleted ${path}` }] };
      });
      server.registerTool('a~b', {}, () => {
        ran.push('a~b');
        return { content: [{ type: 'text', text: 'ran a~b' }] };
      });
    },
  });
  app = await createApp({
    // The names exactly as tools/list shows them.
    settings: settingsFor(resource, {
      'down/files~1delete': ['mcp:admin'],
      'down/a~0b': ['mcp:admin'],
    }),
    env: {},
  });
  running = await app.listen({ host: '127.0.0.1', port });
  plainApp = await createApp({
    settings: settingsFor(plainResource, { 'down/files/delete': ['mcp:admin'] }),
    env: {},
  });
  plainRunning = await plainApp.listen({ host: '127.0.0.1', port: plainPort });
  alice = await userTokens(as.issuer, resource, 'alice'); // mcp:tools only
  root = await userTokens(as.issuer, resource, 'root', 'mcp:tools mcp:admin');
  alicePlain = await userTokens(as.issuer, plainResource, 'alice');
  rootPlain = await userTokens(as.issuer, plainResource, 'root', 'mcp:tools mcp:admin');
}, 60_000);

afterAll(async () => {
  await plainRunning?.close();
  await plainApp?.close();
  await running?.close();
  await app?.close();
  await down?.close();
  await as?.close();
});

beforeEach(() => {
  ran.length = 0;
});

async function session(url: string, token: string): Promise<string> {
  const opened = await raw(url, {
    method: 'POST',
    headers: mcpHeaders(token),
    body: initialize(),
  });
  expect(opened.status).toBe(200);
  return String(opened.headers['mcp-session-id']);
}

function post(url: string, token: string, id: string, body: string) {
  return raw(url, {
    method: 'POST',
    headers: mcpHeaders(token, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' }),
    body,
  });
}

function call(
  url: string,
  token: string,
  id: string,
  name: string,
  args: Record<string, unknown> = {},
) {
  return post(url, token, id, rpc('tools/call', { name, arguments: args }));
}

/** The call answered 200 with the "Unknown tool" result. */
async function expectUnknown(response: Promise<Awaited<ReturnType<typeof raw>>>, name: string) {
  const answered = await response;
  expect(answered.status).toBe(200);
  const result = message(answered.body).result;
  expect(result).toMatchObject({ isError: true });
  expect(textOf(result)).toBe(`Unknown tool: ${name}`);
}

describe('tool_scopes and namespaced-name spellings', () => {
  test('tools/list shows the escaped names; only they reach the tools, and they need the scope', async () => {
    const id = await session(resource, alice.accessToken);
    const list = await post(resource, alice.accessToken, id, rpc('tools/list'));
    const names = ((message(list.body).result as { tools: { name: string }[] }).tools ?? []).map(
      (tool) => tool.name,
    );
    expect(names).toContain('down/files~1delete');
    expect(names).toContain('down/a~0b');
    expect(names).not.toContain('down/files/delete');
    expect(names).not.toContain('down/a~b');
    expect(
      (await call(resource, alice.accessToken, id, 'down/files~1delete', { path: '/x' })).status,
    ).toBe(403);
    expect((await call(resource, alice.accessToken, id, 'down/a~0b')).status).toBe(403);
    expect(ran).toEqual([]);
    // With the scope, the escaped names run the tools.
    const admin = await session(resource, root.accessToken);
    const deleted = await call(resource, root.accessToken, admin, 'down/files~1delete', {
      path: '/y',
    });
    expect(deleted.status).toBe(200);
    expect(textOf(message(deleted.body).result)).toBe('deleted /y');
    const ranAB = await call(resource, root.accessToken, admin, 'down/a~0b');
    expect(ranAB.status).toBe(200);
    expect(textOf(message(ranAB.body).result)).toBe('ran a~b');
    expect(ran).toEqual(['files/delete /y', 'a~b']);
  });

  test('"down/files/delete" (unescaped "/") is an unknown tool: the tool does not run', async () => {
    const id = await session(resource, alice.accessToken);
    await expectUnknown(
      call(resource, alice.accessToken, id, 'down/files/delete', { path: '/x' }),
      'down/files/delete',
    );
    // Not for a caller with the scope either: there is one spelling.
    const admin = await session(resource, root.accessToken);
    await expectUnknown(
      call(resource, root.accessToken, admin, 'down/files/delete', { path: '/x' }),
      'down/files/delete',
    );
    expect(ran).toEqual([]);
  });

  test('"down/a~b" (unescaped "~") is an unknown tool: the tool does not run', async () => {
    const id = await session(resource, alice.accessToken);
    await expectUnknown(call(resource, alice.accessToken, id, 'down/a~b'), 'down/a~b');
    const admin = await session(resource, root.accessToken);
    await expectUnknown(call(resource, root.accessToken, admin, 'down/a~b'), 'down/a~b');
    expect(ran).toEqual([]);
  });

  test('a tool_scopes key written unescaped ("down/files/delete") protects "down/files~1delete"', async () => {
    expect(plainApp.catalog.scopesFor('down/files~1delete')).toEqual(['mcp:admin']);
    const id = await session(plainResource, alicePlain.accessToken);
    const refused = await call(plainResource, alicePlain.accessToken, id, 'down/files~1delete', {
      path: '/x',
    });
    expect(refused.status).toBe(403);
    await expectUnknown(
      call(plainResource, alicePlain.accessToken, id, 'down/files/delete', { path: '/x' }),
      'down/files/delete',
    );
    expect(ran).toEqual([]);
    const admin = await session(plainResource, rootPlain.accessToken);
    const deleted = await call(plainResource, rootPlain.accessToken, admin, 'down/files~1delete', {
      path: '/z',
    });
    expect(deleted.status).toBe(200);
    expect(textOf(message(deleted.body).result)).toBe('deleted /z');
    expect(ran).toEqual(['files/delete /z']);
  });
});
