/**
 * Review follow-up, for the served names `SERVER_TOOL` (see `src/config/tool-names.ts`): a
 * downstream tool is reached by one name only, the one tools/list shows, and a `tool_scopes` rule
 * binds to the (server, tool) that name stands for. Old `SERVER/TOOL` spellings, the sanitized name
 * without its hash, a wrong hash, another case, or a lookalike tool never reach a protected tool;
 * a `tool_scopes` key in the old spelling protects the tool's served name.
 *
 * Two servers whose names can be read into each other: `down` (tools `files/delete`, `a~b`,
 * `files_delete`) and `down_files` (tool `delete`): `down_files_delete` is down_files's delete.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import * as z from 'zod';
import { type App, createApp, type RunningApp } from '../../../src/app/create-app.js';
import { settingsSchema } from '../../../src/config/schema/settings.js';
import { TOOL_NAME_PATTERN, ToolNames } from '../../../src/config/tool-names.js';
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
let downFiles: McpHttpServer;
/** The app whose `tool_scopes` name the tools as tools/list shows them. */
let app: App;
let running: RunningApp;
let resource: string;
/** The app whose `tool_scopes` keys are in the old `SERVER/TOOL` spelling. */
let legacyApp: App;
let legacyRunning: RunningApp;
let legacyResource: string;
let alice: UserTokens;
let root: UserTokens;
let aliceLegacy: UserTokens;
let rootLegacy: UserTokens;
/** What the downstream tools ran, in order (`SERVER TOOL`). */
const ran: string[] = [];

const names = new ToolNames(['down', 'down_files']);
const DELETE = names.name('down', 'files/delete');
const A_B = names.name('down', 'a~b');
const LOOKALIKE = names.name('down', 'files_delete');
const OTHER_DELETE = 'down_files_delete';

function settingsFor(resourceUrl: string, toolScopes: Record<string, string[]>) {
  return settingsSchema.parse({
    name: 'review',
    mcp: {
      servers: {
        down: { transport: 'streamable_http', url: `${down.origin}/mcp` },
        down_files: { transport: 'streamable_http', url: `${downFiles.origin}/mcp` },
      },
    },
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

function recording(server: string, tool: string) {
  return () => {
    ran.push(`${server} ${tool}`);
    return { content: [{ type: 'text' as const, text: `${server} ran ${tool}` }] };
  };
}

beforeAll(async () => {
  const port = await freePort();
  resource = `http://127.0.0.1:${port}/mcp`;
  const legacyPort = await freePort();
  legacyResource = `http://127.0.0.1:${legacyPort}/mcp`;
  as = await startDevAuthorizationServer({
    port: 0,
    resources: [resource, legacyResource],
    scopes: ['mcp:tools', 'mcp:admin'],
  });
  down = await startMcpHttpServer({
    setup: (server) => {
      server.registerTool('files/delete', { inputSchema: { path: z.string() } }, ({ path }) => {
        ran.push(`down files/delete ${path}`);
        return { content: [{ type: 'text', text: `deleted ${path}` }] };
      });
      server.registerTool('a~b', {}, recording('down', 'a~b'));
      server.registerTool('files_delete', {}, recording('down', 'files_delete'));
    },
  });
  downFiles = await startMcpHttpServer({
    setup: (server) => server.registerTool('delete', {}, recording('down_files', 'delete')),
  });
  app = await createApp({
    settings: settingsFor(resource, {
      [DELETE]: ['mcp:admin'],
      [A_B]: ['mcp:admin'],
      [OTHER_DELETE]: ['mcp:admin'],
    }),
    env: {},
  });
  running = await app.listen({ host: '127.0.0.1', port });
  legacyApp = await createApp({
    settings: settingsFor(legacyResource, {
      'down/files/delete': ['mcp:admin'],
      'down/a~0b': ['mcp:admin'],
      'down_files/delete': ['mcp:admin'],
    }),
    env: {},
  });
  legacyRunning = await legacyApp.listen({ host: '127.0.0.1', port: legacyPort });
  alice = await userTokens(as.issuer, resource, 'alice'); // mcp:tools only
  root = await userTokens(as.issuer, resource, 'root', 'mcp:tools mcp:admin');
  aliceLegacy = await userTokens(as.issuer, legacyResource, 'alice');
  rootLegacy = await userTokens(as.issuer, legacyResource, 'root', 'mcp:tools mcp:admin');
}, 60_000);

afterAll(async () => {
  await legacyRunning?.close();
  await legacyApp?.close();
  await running?.close();
  await app?.close();
  await downFiles?.close();
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

/** The call answered 200 with an error result and ran nothing. */
async function expectNotRun(response: Promise<Awaited<ReturnType<typeof raw>>>) {
  const answered = await response;
  expect(answered.status).toBe(200);
  expect(message(answered.body).result).toMatchObject({ isError: true });
}

describe('tool_scopes and served names', () => {
  test('tools/list shows SERVER_TOOL names inside the rule; a protected name needs its scope', async () => {
    const id = await session(resource, alice.accessToken);
    const list = await post(resource, alice.accessToken, id, rpc('tools/list'));
    const listed = ((message(list.body).result as { tools: { name: string }[] }).tools ?? []).map(
      (tool) => tool.name,
    );
    expect(listed).toEqual(
      expect.arrayContaining([DELETE, A_B, LOOKALIKE, OTHER_DELETE, 'down_whoami']),
    );
    for (const name of listed) expect(name).toMatch(TOOL_NAME_PATTERN);
    // down's files_delete would be "down_files_delete", which is down_files's delete: it is hashed.
    expect(LOOKALIKE).not.toBe(OTHER_DELETE);
    expect(DELETE).not.toBe(OTHER_DELETE);
    for (const name of [DELETE, A_B, OTHER_DELETE]) {
      expect((await call(resource, alice.accessToken, id, name, { path: '/x' })).status).toBe(403);
    }
    expect(ran).toEqual([]);
    const admin = await session(resource, root.accessToken);
    const deleted = await call(resource, root.accessToken, admin, DELETE, { path: '/y' });
    expect(textOf(message(deleted.body).result)).toBe('deleted /y');
    await call(resource, root.accessToken, admin, A_B);
    await call(resource, root.accessToken, admin, OTHER_DELETE);
    expect(ran).toEqual(['down files/delete /y', 'down a~b', 'down_files delete']);
  });

  test('other spellings of a protected tool do not reach it, with or without the scope', async () => {
    const attempts = [
      'down/files~1delete',
      'down/files/delete',
      'down/a~0b',
      'down/a~b',
      // The sanitized name without its hash, a wrong hash, another case.
      'down_a_b',
      `${A_B.slice(0, -10)}0000000000`,
      A_B.toUpperCase(),
      DELETE.replace('down_', 'Down_'),
      `${DELETE} `,
    ];
    for (const token of [alice.accessToken, root.accessToken]) {
      const id = await session(resource, token);
      for (const name of attempts)
        await expectNotRun(call(resource, token, id, name, { path: '/x' }));
    }
    expect(ran).toEqual([]);
  });

  test("a lookalike reaches only its own tool: down's files_delete is not down_files's delete", async () => {
    const id = await session(resource, alice.accessToken);
    const lookalike = await call(resource, alice.accessToken, id, LOOKALIKE);
    expect(lookalike.status).toBe(200);
    expect(textOf(message(lookalike.body).result)).toBe('down ran files_delete');
    expect(ran).toEqual(['down files_delete']);
    expect(app.catalog.scopesFor(LOOKALIKE)).toEqual([]);
    expect(app.catalog.scopesFor(OTHER_DELETE)).toEqual(['mcp:admin']);
  });

  test('tool_scopes keys in the old SERVER/TOOL spelling protect the served names', async () => {
    for (const name of [DELETE, A_B, OTHER_DELETE]) {
      expect(legacyApp.catalog.scopesFor(name)).toEqual(['mcp:admin']);
    }
    const id = await session(legacyResource, aliceLegacy.accessToken);
    for (const name of [DELETE, A_B, OTHER_DELETE]) {
      const refused = await call(legacyResource, aliceLegacy.accessToken, id, name, { path: '/x' });
      expect(refused.status).toBe(403);
    }
    // The old spellings are not names of tools.
    await expectNotRun(
      call(legacyResource, aliceLegacy.accessToken, id, 'down/files/delete', { path: '/x' }),
    );
    expect(ran).toEqual([]);
    const admin = await session(legacyResource, rootLegacy.accessToken);
    const deleted = await call(legacyResource, rootLegacy.accessToken, admin, DELETE, {
      path: '/z',
    });
    expect(textOf(message(deleted.body).result)).toBe('deleted /z');
    expect(ran).toEqual(['down files/delete /z']);
  });
});
