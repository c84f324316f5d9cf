/**
 * Shared Streamable HTTP sessions on the in-process level: one app served by two handlers (two
 * "replicas", each with its own session table) over shared session records, with tokens of two
 * users from the development authorization server. A session opened on A is restored on B for its
 * own principal only (another's token: 404, as for an unknown id); a DELETE on B ends it on A
 * too; a store that does not answer is a 503 naming it, and the session goes on once it answers.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  SESSION_STORE_UNAVAILABLE_MESSAGE,
  SharedSessions,
} from '../../src/server/shared-sessions.js';
import type { KeyValueStore } from '../../src/stores/kv.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { SessionRecordStore } from '../../src/stores/sessions.js';
import {
  mcpHeaders,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  textOf,
  type UserTokens,
  userTokens,
} from './serve-support.js';

/** A memory store that fails every call while `down` is set, as an unreachable Redis would. */
function flakyStore(): KeyValueStore & { down: boolean } {
  const inner = new MemoryKeyValueStore();
  const state = { down: false };
  const guarded =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      state.down
        ? Promise.reject(Object.assign(new Error('unreachable'), { code: 'STORE_UNAVAILABLE' }))
        : call(...args);
  return Object.assign(state, {
    get: guarded((key: string) => inner.get(key)),
    set: guarded((key: string, value: string, options?: Parameters<KeyValueStore['set']>[2]) =>
      inner.set(key, value, options),
    ),
    delete: guarded((key: string, options?: Parameters<KeyValueStore['delete']>[1]) =>
      inner.delete(key, options),
    ),
    keys: guarded(() => inner.keys()),
    close: () => inner.close(),
  });
}

const kv = flakyStore();
const records = new SessionRecordStore(kv);
let served: ServedApp;
let replicaB: HttpServer;
let urlA: string;
let urlB: string;
let alice: UserTokens;
let bob: UserTokens;

beforeAll(async () => {
  served = await startServedApp({
    sharedSessions: records,
    setup: (app) => {
      app.tool('whoami', {}, async (_args, { caller }) => caller?.subject ?? 'nobody');
      // The levels the session's log sends at, on the replica that runs the call.
      app.tool('levels', {}, async (_args, { log }) =>
        ['info', 'warning', 'error'].filter((level) => log?.enabled(level as 'info')).join(','),
      );
    },
  });
  urlA = served.running.url;
  replicaB = createServer(served.app.createHandler());
  await new Promise<void>((listening) => replicaB.listen(0, '127.0.0.1', listening));
  urlB = `http://127.0.0.1:${(replicaB.address() as AddressInfo).port}/mcp`;
  [alice, bob] = await Promise.all([
    userTokens(served.as.issuer, served.resource, 'alice'),
    userTokens(served.as.issuer, served.resource, 'bob'),
  ]);
}, 30_000);

afterAll(async () => {
  replicaB?.closeAllConnections();
  await new Promise((closed) => replicaB?.close(closed));
  await served?.close();
});

/** Open a session of `tokens` on `url` (2025-11-25, declaring URL elicitation); its id. */
async function open(url: string, tokens: UserTokens): Promise<string> {
  const response = await raw(url, {
    method: 'POST',
    headers: mcpHeaders(tokens.accessToken),
    body: rpc('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: { elicitation: { url: {} } },
      clientInfo: { name: 'shared-sessions-test', version: '1.0.0' },
    }),
  });
  expect(response.status).toBe(200);
  const id = response.headers['mcp-session-id'];
  if (typeof id !== 'string') throw new Error('no session id');
  return id;
}

/** A request of session `id` on `url` with `tokens`. */
function call(url: string, tokens: UserTokens, id: string, body: string, method = 'POST') {
  return raw(url, {
    method,
    headers: mcpHeaders(tokens.accessToken, {
      'mcp-session-id': id,
      'mcp-protocol-version': '2025-11-25',
    }),
    body,
  });
}

/** The JSON-RPC answer in a response body (JSON, or among an event stream's non-empty `data:`). */
function message(body: string): { result?: unknown; error?: unknown } {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) return JSON.parse(trimmed);
  const data = trimmed
    .split('\n')
    .filter((line) => line.startsWith('data:') && line.length > 'data:'.length + 1)
    .map((line) => JSON.parse(line.slice('data:'.length)) as { result?: unknown; error?: unknown });
  return data.find((one) => 'result' in one || 'error' in one) ?? {};
}

const whoami = () => rpc('tools/call', { name: 'whoami', arguments: {} });

test('a session opened on one replica is served by the other, for its principal only', async () => {
  const id = await open(urlA, alice);
  const onB = await call(urlB, alice, id, whoami());
  expect(onB.status).toBe(200);
  expect(textOf(message(onB.body).result)).toBe('alice');
  const stolen = await call(urlB, bob, id, whoami());
  expect(stolen.status).toBe(404);
  expect(stolen.body).toContain('Session not found');
  expect((await call(urlA, bob, id, whoami())).status).toBe(404);
  expect((await call(urlA, alice, id, whoami())).status).toBe(200);
});

test('requests arriving together restore the session once, and only for its principal', async () => {
  const id = await open(urlA, alice);
  const answers = await Promise.all([
    call(urlB, alice, id, whoami()),
    call(urlB, bob, id, whoami()),
    call(urlB, alice, id, whoami()),
    call(urlB, bob, id, whoami()),
  ]);
  expect(answers.map((answer) => answer.status)).toEqual([200, 404, 200, 404]);
  expect(textOf(message(answers[2]?.body ?? '').result)).toBe('alice');
});

test('a restore under way is shared by the same principal only', async () => {
  const shared = new SharedSessions(records);
  let finish: (value: string) => void = () => {};
  const held = new Promise<string>((resolve) => {
    finish = resolve;
  });
  const first = shared.once('sid', 'alice', () => held);
  const same = shared.once('sid', 'alice', async () => 'a second restore');
  const other = shared.once('sid', 'bob', async () => "bob's own lookup");
  expect(await other).toBe("bob's own lookup");
  finish('restored for alice');
  expect([await first, await same]).toEqual(['restored for alice', 'restored for alice']);
  // Done: the next request looks again.
  expect(await shared.once('sid', 'alice', async () => 'again')).toBe('again');
});

test('a DELETE on one replica ends the session on every replica', async () => {
  const id = await open(urlA, alice);
  expect((await call(urlB, alice, id, whoami())).status).toBe(200);
  expect((await call(urlB, alice, id, '', 'DELETE')).status).toBe(200);
  // A held it since the initialize: it closes its copy on this request.
  expect((await call(urlA, alice, id, whoami())).status).toBe(404);
  expect((await call(urlB, alice, id, whoami())).status).toBe(404);
});

test('a session the per-principal cap closes on one replica is ended on every replica', async () => {
  const first = await open(urlA, bob);
  expect((await call(urlB, bob, first, rpc('tools/list'))).status).toBe(200);
  // The 17th session of one principal on a replica closes its least recently used (the cap, 16).
  const later: string[] = [];
  for (let index = 0; index < 16; index++) later.push(await open(urlA, bob));
  await expect.poll(() => records.ended(first)).toBe(true);
  // Restorable nowhere: not on B, whose copy is closed too, nor on A.
  expect((await call(urlB, bob, first, rpc('tools/list'))).status).toBe(404);
  expect((await call(urlA, bob, first, rpc('tools/list'))).status).toBe(404);
  const last = later.at(-1) ?? '';
  expect((await call(urlB, bob, last, rpc('tools/list'))).status).toBe(200);
  for (const id of later) await call(urlA, bob, id, '', 'DELETE');
});

test('the log level a client sets on one replica is kept in the record', async () => {
  const id = await open(urlA, alice);
  expect((await records.get(id))?.logLevel).toBeUndefined();
  const set = await call(urlB, alice, id, rpc('logging/setLevel', { level: 'error' }));
  expect(set.status).toBe(200);
  expect(message(set.body).error).toBeUndefined();
  expect((await records.get(id))?.logLevel).toBe('error');
  expect((await records.get(id))?.clientCapabilities).toEqual({ elicitation: { url: {} } });
  // A, which opened the session, sends at the level set on B from its next request on.
  const levels = rpc('tools/call', { name: 'levels', arguments: {} });
  expect(textOf(message((await call(urlA, alice, id, levels)).body).result)).toBe('error');
  expect(textOf(message((await call(urlB, alice, id, levels)).body).result)).toBe('error');
});

test('an initialize whose client info and capabilities are too large to keep is refused', async () => {
  const refused = await raw(urlA, {
    method: 'POST',
    headers: mcpHeaders(alice.accessToken),
    body: rpc('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: { experimental: { padding: { text: 'x'.repeat(70 * 1024) } } },
      clientInfo: { name: 'large', version: '1.0.0' },
    }),
  });
  expect(refused.status).toBe(400);
  expect(message(refused.body).error).toMatchObject({ code: -32600 });
  expect(refused.body).toContain('larger than 16384 bytes');
});

test('an initialize the transport refuses leaves no session record behind', async () => {
  const before = (await kv.keys()).length;
  // Not ready for an event stream: the transport answers 406 and opens no session.
  const refused = await raw(urlA, {
    method: 'POST',
    headers: { ...mcpHeaders(alice.accessToken), accept: 'application/json' },
    body: rpc('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'refused', version: '1.0.0' },
    }),
  });
  expect(refused.status).toBe(406);
  expect(refused.headers['mcp-session-id']).toBeUndefined();
  expect((await kv.keys()).length).toBe(before);
});

test('a store that does not answer fails the request with 503, and the session recovers', async () => {
  const id = await open(urlA, alice);
  kv.down = true;
  try {
    const refused = await call(urlB, alice, id, whoami());
    expect(refused.status).toBe(503);
    expect(message(refused.body).error).toMatchObject({
      message: SESSION_STORE_UNAVAILABLE_MESSAGE,
    });
    expect((await call(urlA, alice, id, whoami())).status).toBe(503);
    expect(
      (
        await raw(urlA, {
          method: 'POST',
          headers: mcpHeaders(alice.accessToken),
          body: rpc('initialize', {
            protocolVersion: '2025-11-25',
            capabilities: {},
            clientInfo: { name: 'x', version: '1' },
          }),
        })
      ).status,
    ).toBe(503);
  } finally {
    kv.down = false;
  }
  const again = await call(urlB, alice, id, whoami());
  expect(again.status).toBe(200);
  expect(textOf(message(again.body).result)).toBe('alice');
});
