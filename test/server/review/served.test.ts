/**
 * Review follow-up against the served app (real development authorization server, real tokens):
 * Streamable HTTP sessions are bounded (per principal, in all, and by idle time), and tool names
 * that are `Object.prototype` keys are unknown tools like any other.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createMcpHttpHandler,
  type McpHttpHandler,
  type McpHttpHandlerOptions,
} from '../../../src/server/http.js';
import { manualClock } from '../../support/clock.js';
import { waitFor } from '../../support/net.js';
import {
  initialize,
  mcpHeaders,
  message,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  textOf,
  type UserTokens,
  userTokens,
} from '../serve-support.js';

let served: ServedApp;
let alice: UserTokens;
let bob: UserTokens;
const mounts: Mounted[] = [];

beforeAll(async () => {
  served = await startServedApp({
    setup: (app) => {
      app.tool('add', {}, () => 'ok');
    },
  });
  alice = await userTokens(served.as.issuer, served.resource, 'alice');
  bob = await userTokens(served.as.issuer, served.resource, 'bob');
}, 60_000);

afterAll(async () => {
  for (const mount of mounts) await mount.close();
  await served?.close();
});

/** A handler on a loopback server of our own, to read `sessionCount`. */
interface Mounted {
  readonly handler: McpHttpHandler;
  readonly url: string;
  close(): Promise<void>;
}

async function mount(handler: McpHttpHandler): Promise<Mounted> {
  const server: Server = createServer(handler);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const mounted: Mounted = {
    handler,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    async close() {
      await handler.close();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
  mounts.push(mounted);
  return mounted;
}

/** The served app's own handler (its default limits). */
const appHandler = () => mount(served.app.createHandler());

/** A handler over the served app's catalog and guard, with other options. */
function handlerWith(options: Partial<McpHttpHandlerOptions>, authorization = true) {
  return mount(
    createMcpHttpHandler({
      catalog: served.app.catalog,
      info: { name: 'review', version: '1.0.0' },
      ...(authorization ? { guard: served.app.guard, metadata: served.app.metadata } : {}),
      ...options,
    }),
  );
}

function open(url: string, token: string | undefined) {
  return raw(url, { method: 'POST', headers: mcpHeaders(token), body: initialize() });
}

async function opened(url: string, token: string | undefined): Promise<string> {
  const response = await open(url, token);
  expect(response.status).toBe(200);
  return String(response.headers['mcp-session-id']);
}

function post(url: string, token: string | undefined, session: string, body: string) {
  return raw(url, {
    method: 'POST',
    headers: mcpHeaders(token, {
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-06-18',
    }),
    body,
  });
}

/** The status `tools/list` on `session` answers (200: the session is there; 404: it is not). */
async function listStatus(url: string, token: string | undefined, session: string) {
  return (await post(url, token, session, rpc('tools/list'))).status;
}

describe('sessions', () => {
  test('one principal holds at most 16 sessions: one more closes its least recently used', async () => {
    const { url, handler } = await appHandler();
    const bobs = await opened(url, bob.accessToken);
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) ids.push(await opened(url, alice.accessToken));
    expect(handler.sessionCount).toBe(17);
    // The first is used again: the second is now the least recently used.
    expect(await listStatus(url, alice.accessToken, ids[0] as string)).toBe(200);
    const seventeenth = await opened(url, alice.accessToken);
    expect(handler.sessionCount).toBe(17);
    expect(await listStatus(url, alice.accessToken, ids[1] as string)).toBe(404);
    expect(await listStatus(url, alice.accessToken, ids[0] as string)).toBe(200);
    expect(await listStatus(url, alice.accessToken, seventeenth)).toBe(200);
    // Many more: still 16, the oldest gone; another principal's session is untouched.
    for (let i = 0; i < 20; i++) ids.push(await opened(url, alice.accessToken));
    expect(handler.sessionCount).toBe(17);
    expect(await listStatus(url, alice.accessToken, ids[0] as string)).toBe(404);
    expect(await listStatus(url, alice.accessToken, seventeenth)).toBe(404);
    expect(await listStatus(url, alice.accessToken, ids.at(-1) as string)).toBe(200);
    expect(await listStatus(url, bob.accessToken, bobs)).toBe(200);
  }, 60_000);

  test("an initialize the transport refuses closes none of its principal's sessions, even at the cap", async () => {
    const { url, handler } = await handlerWith({ maxSessionsPerPrincipal: 2 });
    const first = await opened(url, alice.accessToken);
    const second = await opened(url, alice.accessToken);
    // Not ready for an event stream: 406, no session opened.
    const refused = await raw(url, {
      method: 'POST',
      headers: { ...mcpHeaders(alice.accessToken), accept: 'application/json' },
      body: initialize(),
    });
    expect(refused.status).toBe(406);
    expect(handler.sessionCount).toBe(2);
    expect(await listStatus(url, alice.accessToken, first)).toBe(200);
    expect(await listStatus(url, alice.accessToken, second)).toBe(200);
    // One that opens still makes room: the least recently used goes.
    await opened(url, alice.accessToken);
    expect(handler.sessionCount).toBe(2);
    expect(await listStatus(url, alice.accessToken, first)).toBe(404);
  });

  test('beyond maxSessions in all, initialize gets 503 with Retry-After; open sessions go on', async () => {
    const { url, handler } = await handlerWith({ maxSessions: 3 });
    const a1 = await opened(url, alice.accessToken);
    await opened(url, alice.accessToken);
    const b1 = await opened(url, bob.accessToken);
    expect(handler.sessionCount).toBe(3);
    for (const token of [alice.accessToken, bob.accessToken]) {
      const refused = await open(url, token);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
      expect(refused.headers['mcp-session-id']).toBeUndefined();
    }
    expect(handler.sessionCount).toBe(3);
    expect(await listStatus(url, alice.accessToken, a1)).toBe(200);
    expect(await listStatus(url, bob.accessToken, b1)).toBe(200);
  });

  test('a session unused for sessionIdleMs is closed; one in use is kept', async () => {
    const clock = manualClock();
    const { url, handler } = await handlerWith({ sessionIdleMs: 50, now: clock.now });
    const used = await opened(url, alice.accessToken);
    const idle = await opened(url, alice.accessToken);
    expect(handler.sessionCount).toBe(2);
    clock.advance(40);
    expect(await listStatus(url, alice.accessToken, used)).toBe(200);
    // `idle` was last used 80 ms ago, `used` 40 ms ago: only `idle` is past 50 ms.
    clock.advance(40);
    await waitFor('the idle session to be closed', () =>
      handler.sessionCount === 1 ? true : undefined,
    );
    expect(await listStatus(url, alice.accessToken, idle)).toBe(404);
    expect(await listStatus(url, alice.accessToken, used)).toBe(200);
  });

  test('idle sessions are closed on the real clock too', async () => {
    const { url, handler } = await handlerWith({ sessionIdleMs: 50 });
    const session = await opened(url, alice.accessToken);
    expect(handler.sessionCount).toBe(1);
    await waitFor('the idle session to be closed', () =>
      handler.sessionCount === 0 ? true : undefined,
    );
    expect(await listStatus(url, alice.accessToken, session)).toBe(404);
  });

  test('anonymous callers (authorization off) are not capped per principal', async () => {
    const { url, handler } = await handlerWith({}, false);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await opened(url, undefined));
    expect(handler.sessionCount).toBe(20);
    expect(await listStatus(url, undefined, ids[0] as string)).toBe(200);
  });
});

describe('tool names that are Object.prototype keys', () => {
  for (const name of ['constructor', '__proto__']) {
    test(`tools/call "${name}" answers the "Unknown tool" result, not an error`, async () => {
      const { url } = await appHandler();
      const session = await opened(url, alice.accessToken);
      const response = await post(
        url,
        alice.accessToken,
        session,
        rpc('tools/call', { name, arguments: {} }),
      );
      expect(response.status).toBe(200);
      const answer = message(response.body);
      expect(answer.error).toBeUndefined();
      expect(answer.result).toMatchObject({ isError: true });
      expect(textOf(answer.result)).toBe(`Unknown tool: ${name}`);
    });
  }
});
