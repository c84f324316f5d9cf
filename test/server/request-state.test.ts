/**
 * The `requestState` of 2026-07-28 multi-round-trip requests (ADR 0004, point 4): a round trip;
 * altered, malformed, foreign (principal, method, name), expired (injected clock) and replayed
 * states refused with their reason; single-use markers in the memory store and in a real Redis
 * shared by two replicas; key rotation; a short key refused without being echoed; text concealed
 * in a payload (encrypted, tamper-evident, rotation); and the SDK's
 * `requestState.verify` hook on a real v2 `Server` behind `createMcpHandler`.
 */
import { randomUUID } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  createMcpHandler,
  inputRequired,
  PROTOCOL_VERSION_META_KEY,
  Server,
} from '@modelcontextprotocol/server';
import { afterAll, describe, expect, test } from 'vitest';
import { isMcpAgentError } from '../../src/errors.js';
import {
  createRequestStates,
  DEFAULT_REQUEST_STATE_TTL_MS,
  hashArguments,
  REQUEST_STATE_MARKER_SKEW_MS,
  type RequestStateBinding,
  RequestStateRejectedError,
  type RequestStatesOptions,
  requestStateVerifier,
  type VerifiedRequestState,
} from '../../src/server/request-state.js';
import type { KeyValueStore } from '../../src/stores/kv.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RedisKeyValueStore } from '../../src/stores/redis.js';
import { manualClock } from '../support/clock.js';
import { deleteRedisKeys } from '../support/redis-server.js';
import { describeWith, REDIS_URL, redisService } from '../support/services.js';

const redis = await redisService();

const KEY = 'CANARY-request-state-key-current-6d1f0a9b';
const OLD_KEY = 'CANARY-request-state-key-previous-2c7e55d1';
const OTHER_KEY = 'CANARY-request-state-key-unknown-91b3e0aa';

interface Payload {
  readonly flow: string;
  readonly args: string;
}

const payload: Payload = { flow: 'login-1', args: hashArguments({ q: 'x' }) };
const alice: RequestStateBinding = {
  principal: 'alice@example.com',
  method: 'tools/call',
  name: 'gh_search',
};

function states(options: Partial<RequestStatesOptions> = {}) {
  const clock = manualClock();
  const store = options.store ?? new MemoryKeyValueStore({ now: clock.now });
  const service = createRequestStates<Payload>({ key: KEY, store, clock: clock.now, ...options });
  return { service, clock, store };
}

/** `text` with the character at `index` replaced by another base64url character. */
function flip(text: string, index: number): string {
  const replacement = text[index] === 'A' ? 'B' : 'A';
  return `${text.slice(0, index)}${replacement}${text.slice(index + 1)}`;
}

/** The parts of a `v1.<body>.<mac>` state. */
function parts(state: string): { body: string; mac: string } {
  const [, body = '', mac = ''] = state.split('.');
  return { body, mac };
}

describe('mint and verify', () => {
  test('a minted state verifies for the same binding, with its payload, id and expiry', async () => {
    const { service, clock } = states();
    const state = await service.mint({ ...alice, payload });
    const check = await service.verify(state, alice);
    expect(check).toEqual({
      ok: true,
      state: {
        id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
        expiresAt: clock.now() + DEFAULT_REQUEST_STATE_TTL_MS,
        payload,
      },
    });
    const again = await service.mint({ ...alice, payload });
    const second = await service.verify(again, alice);
    expect(second.ok && check.ok && second.state.id !== check.state.id).toBe(true);
  });

  test('the state is signed, readable, and carries neither the principal nor the name in clear', async () => {
    const { service } = states();
    const state = await service.mint({ ...alice, payload });
    const body = Buffer.from(parts(state).body, 'base64url').toString('utf8');
    expect(body).toContain(payload.args);
    expect(`${state}${body}`).not.toContain(alice.principal);
    expect(`${state}${body}`).not.toContain(alice.name);
    expect(`${state}${body}`).not.toContain(KEY);
  });

  test('one character changed in the body or in the signature: altered', async () => {
    const { service } = states();
    const state = await service.mint({ ...alice, payload });
    const { body, mac } = parts(state);
    const middleOfBody = 3 + Math.floor(body.length / 2);
    const middleOfMac = 3 + body.length + 1 + Math.floor(mac.length / 2);
    expect(await service.verify(flip(state, middleOfBody), alice)).toEqual({
      ok: false,
      reason: 'altered',
    });
    expect(await service.verify(flip(state, middleOfMac), alice)).toEqual({
      ok: false,
      reason: 'altered',
    });
  });

  test('something that is not a state at all: malformed', async () => {
    const { service } = states();
    for (const state of ['', 'garbage', 'v1.', 'v1.abc', 'v1.abc.%%%']) {
      expect(await service.verify(state, alice), state).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  test('another principal, another tool, another method: foreign', async () => {
    const { service } = states();
    const state = await service.mint({ ...alice, payload });
    for (const binding of [
      { ...alice, principal: 'mallory@example.com' },
      { ...alice, principal: '' },
      { ...alice, name: 'gh_delete_repo' },
      { ...alice, method: 'prompts/get' },
    ]) {
      expect(await service.verify(state, binding), JSON.stringify(binding)).toEqual({
        ok: false,
        reason: 'foreign',
      });
    }
  });

  test("another deployment's state (same key, same store, another audience): foreign", async () => {
    const store = new MemoryKeyValueStore();
    const ours = createRequestStates<Payload>({
      key: KEY,
      store,
      audience: 'https://a.example/mcp',
    });
    const theirs = createRequestStates<Payload>({
      key: KEY,
      store,
      audience: 'https://b.example/mcp',
    });
    const state = await theirs.mint({ ...alice, payload });
    expect(await ours.verify(state, alice)).toEqual({ ok: false, reason: 'foreign' });
    expect((await theirs.verify(state, alice)).ok).toBe(true);
    // Without an audience a deployment takes none of them either.
    const none = createRequestStates<Payload>({ key: KEY, store });
    expect(await none.verify(state, alice)).toEqual({ ok: false, reason: 'foreign' });
  });

  test('fields are not confused across the binding (no separator games)', async () => {
    const { service } = states();
    const state = await service.mint({
      principal: 'a',
      method: 'tools/call',
      name: 'b,c',
      payload,
    });
    const check = await service.verify(state, {
      principal: 'a,b',
      method: 'tools/call',
      name: 'c',
    });
    expect(check).toEqual({ ok: false, reason: 'foreign' });
  });

  test('past its lifetime on the injected clock: expired', async () => {
    const { service, clock } = states({ ttlMs: 60_000 });
    const state = await service.mint({ ...alice, payload });
    clock.advance(59_999);
    expect((await service.verify(state, alice)).ok).toBe(true);
    clock.advance(1);
    expect(await service.verify(state, alice)).toEqual({ ok: false, reason: 'expired' });
  });

  test('a ttl that is not a positive whole number is refused', () => {
    for (const ttlMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => states({ ttlMs }), String(ttlMs)).toThrow(RangeError);
    }
  });
});

describe('single use', () => {
  test('after consume, the same state is replayed (verify and a second consume)', async () => {
    const { service } = states();
    const state = await service.mint({ ...alice, payload });
    const check = await service.verify(state, alice);
    if (!check.ok) throw new Error(`expected a valid state, got ${check.reason}`);
    expect(await service.consume(check.state)).toEqual({ ok: true });
    expect(await service.verify(state, alice)).toEqual({ ok: false, reason: 'replayed' });
    expect(await service.consume(check.state)).toEqual({ ok: false, reason: 'replayed' });
    // Another state of the same flow is unaffected.
    const next = await service.mint({ ...alice, payload });
    expect((await service.verify(next, alice)).ok).toBe(true);
  });

  test('the marker is created only if absent, and lives as long as the state plus the skew', async () => {
    const writes: { key: string; expectVersion: unknown; ttlMs: unknown }[] = [];
    const memory = new MemoryKeyValueStore();
    const store: KeyValueStore = Object.assign(Object.create(memory) as KeyValueStore, {
      get: (key: string) => memory.get(key),
      set: (key: string, value: string, options: Parameters<KeyValueStore['set']>[2]) => {
        writes.push({ key, expectVersion: options?.expectVersion, ttlMs: options?.ttlMs });
        return memory.set(key, value, options);
      },
    });
    const { service, clock } = states({ store, ttlMs: 60_000 });
    const check = await service.verify(await service.mint({ ...alice, payload }), alice);
    if (!check.ok) throw new Error(check.reason);
    clock.advance(20_000);
    await service.consume(check.state);
    expect(writes).toEqual([
      {
        key: `#request-state:used:${check.state.id}`,
        expectVersion: null,
        ttlMs: 40_000 + REQUEST_STATE_MARKER_SKEW_MS,
      },
    ]);
  });

  test('consuming an expired state writes nothing and says expired', async () => {
    const { service, clock, store } = states({ ttlMs: 1_000 });
    const check = await service.verify(await service.mint({ ...alice, payload }), alice);
    if (!check.ok) throw new Error(check.reason);
    clock.advance(1_000);
    expect(await service.consume(check.state)).toEqual({ ok: false, reason: 'expired' });
    expect(await store.keys()).toEqual([]);
  });

  test('a failing marker store is an error, never a pass', async () => {
    const broken: KeyValueStore = {
      get: () => Promise.reject(new Error('store down')),
      set: () => Promise.reject(new Error('store down')),
      delete: () => Promise.reject(new Error('store down')),
      keys: () => Promise.reject(new Error('store down')),
      close: async () => {},
    };
    const { service } = states({ store: broken });
    const good = states();
    const state = await good.service.mint({ ...alice, payload });
    await expect(service.verify(state, alice)).rejects.toThrow('store down');
    const check = await good.service.verify(state, alice);
    if (!check.ok) throw new Error(check.reason);
    await expect(service.consume(check.state)).rejects.toThrow('store down');
  });
});

describeWith(redis)('single use across two replicas sharing Redis', () => {
  const prefix = `test-request-state-${randomUUID()}`;
  const opened: RedisKeyValueStore[] = [];
  const replica = () => {
    const store = new RedisKeyValueStore({ url: REDIS_URL, prefix, commandTimeoutMs: 2_000 });
    opened.push(store);
    return createRequestStates<Payload>({ key: KEY, store });
  };

  afterAll(async () => {
    for (const store of opened) await store.close();
    await deleteRedisKeys(REDIS_URL, prefix);
  });

  test('consumed on one replica, the state is replayed on the other', async () => {
    const a = replica();
    const b = replica();
    const state = await a.mint({ ...alice, payload });
    const onB = await b.verify(state, alice);
    if (!onB.ok) throw new Error(onB.reason);
    expect(await a.consume(onB.state)).toEqual({ ok: true });
    expect(await b.verify(state, alice)).toEqual({ ok: false, reason: 'replayed' });
    expect(await b.consume(onB.state)).toEqual({ ok: false, reason: 'replayed' });
  });

  test('two replicas consuming the same state at once: exactly one wins', async () => {
    const a = replica();
    const b = replica();
    const check = await a.verify(await a.mint({ ...alice, payload }), alice);
    if (!check.ok) throw new Error(check.reason);
    const results = await Promise.all([a.consume(check.state), b.consume(check.state)]);
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    expect(results).toContainEqual({ ok: false, reason: 'replayed' });
  });
});

describe('keys', () => {
  test('rotation: a state signed with the previous key still verifies; minting uses the new key', async () => {
    const before = states({ key: OLD_KEY });
    const state = await before.service.mint({ ...alice, payload });
    const rotated = states({ key: KEY, previousKey: OLD_KEY });
    expect(await rotated.service.verify(state, alice)).toMatchObject({
      ok: true,
      state: { payload },
    });
    expect(await rotated.service.verify(state, { ...alice, principal: 'mallory' })).toEqual({
      ok: false,
      reason: 'foreign',
    });
    const fresh = await rotated.service.mint({ ...alice, payload });
    expect(await before.service.verify(fresh, alice)).toEqual({ ok: false, reason: 'altered' });
    expect((await states({ key: KEY }).service.verify(fresh, alice)).ok).toBe(true);
  });

  test('a state signed with a key that is neither current nor previous: altered', async () => {
    const state = await states({ key: OTHER_KEY }).service.mint({ ...alice, payload });
    expect(await states({ key: KEY }).service.verify(state, alice)).toEqual({
      ok: false,
      reason: 'altered',
    });
    expect(await states({ key: KEY, previousKey: OLD_KEY }).service.verify(state, alice)).toEqual({
      ok: false,
      reason: 'altered',
    });
  });

  test('a key under 32 bytes is refused, and the error never shows it', () => {
    const short = 'CANARY-short-key-31-bytes-long!';
    expect(new TextEncoder().encode(short).byteLength).toBe(31);
    const attempts = [
      { key: short },
      { key: new TextEncoder().encode(short) },
      { key: KEY, previousKey: short },
    ];
    for (const attempt of attempts) {
      let thrown: unknown;
      try {
        states(attempt);
      } catch (error) {
        thrown = error;
      }
      expect(isMcpAgentError(thrown, 'CONFIG_INVALID')).toBe(true);
      const error = thrown as Error;
      expect(error.message).toContain('at least 32 bytes');
      expect(`${error.message}${error.stack}${JSON.stringify(error)}`).not.toContain('CANARY');
    }
    // 32 bytes in UTF-8 (16 two-byte characters) are enough.
    expect(() => states({ key: 'é'.repeat(16) })).not.toThrow();
  });
});

describe('conceal and reveal', () => {
  test('the text is unreadable, opens with the same key or after a rotation, and not when altered or foreign', () => {
    const secret = 'downstream-state-CANARY-7c1e';
    const sealed = states().service.conceal(secret);
    expect(sealed).not.toContain(secret);
    expect(Buffer.from(sealed, 'base64url').toString('latin1')).not.toContain(secret);
    expect(states().service.reveal(sealed)).toBe(secret);
    const store = new MemoryKeyValueStore();
    expect(createRequestStates({ key: OTHER_KEY, previousKey: KEY, store }).reveal(sealed)).toBe(
      secret,
    );
    expect(createRequestStates({ key: OTHER_KEY, store }).reveal(sealed)).toBeUndefined();
    expect(states().service.reveal(flip(sealed, 40))).toBeUndefined();
    expect(states().service.reveal('short')).toBeUndefined();
  });
});

describe('hashArguments', () => {
  test('is the same for the same arguments in any key order, and differs otherwise', () => {
    const one = hashArguments({ a: 1, b: { c: [1, 2], d: 'x' } });
    expect(hashArguments({ b: { d: 'x', c: [1, 2] }, a: 1 })).toBe(one);
    expect(hashArguments({ a: 1, b: { c: [2, 1], d: 'x' } })).not.toBe(one);
    expect(hashArguments({ a: '1', b: { c: [1, 2], d: 'x' } })).not.toBe(one);
    expect(one).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('the SDK requestState.verify hook', () => {
  test('resolves with the verified state, and throws RequestStateRejectedError with the reason', async () => {
    const { service } = states();
    const hook = requestStateVerifier(service, () => alice);
    const ctx = {} as Parameters<typeof hook>[1];
    const state = await service.mint({ ...alice, payload });
    const verified = await hook(state, ctx);
    expect(verified.payload).toEqual(payload);
    await service.consume(verified);
    const rejection = await hook(state, ctx).catch((error: unknown) => error);
    expect(rejection).toBeInstanceOf(RequestStateRejectedError);
    expect(rejection).toMatchObject({ reason: 'replayed', message: 'replayed' });
  });
});

describe('on a v2 Server behind createMcpHandler (protocol 2026-07-28)', () => {
  const seen: string[] = [];
  const service = states().service;

  /** One `serve`-like handler: the tool asks for a round trip, then consumes the state. */
  const handler = createMcpHandler(
    ({ requestInfo }) => {
      const name = requestInfo?.headers.get('mcp-name') ?? '';
      const server = new Server(
        { name: 'request-state-test', version: '1.0.0' },
        {
          capabilities: { tools: {} },
          requestState: {
            verify: requestStateVerifier(service, (ctx) => ({
              principal: String(ctx.http?.authInfo?.extra?.sub ?? ''),
              method: ctx.mcpReq.method,
              name,
            })),
          },
        },
      );
      server.onerror = (error) => seen.push(error.message);
      server.setRequestHandler('tools/call', async (request, ctx) => {
        const verified = ctx.mcpReq.requestState<VerifiedRequestState<Payload>>();
        if (verified === undefined) {
          const principal = String(ctx.http?.authInfo?.extra?.sub ?? '');
          const binding = { principal, method: 'tools/call', name: request.params.name };
          return inputRequired({ requestState: await service.mint({ ...binding, payload }) });
        }
        const used = await service.consume(verified);
        const text = used.ok ? `done ${verified.payload.flow}` : used.reason;
        return { content: [{ type: 'text', text }] };
      });
      return server;
    },
    { legacy: 'reject' },
  );

  afterAll(() => handler.close());

  let nextId = 1;
  async function call(tool: string, sub: string, requestState?: string) {
    const body = {
      jsonrpc: '2.0',
      id: nextId++,
      method: 'tools/call',
      params: {
        name: tool,
        arguments: {},
        ...(requestState === undefined ? {} : { requestState }),
        _meta: {
          [PROTOCOL_VERSION_META_KEY]: '2026-07-28',
          [CLIENT_INFO_META_KEY]: { name: 'test', version: '1.0.0' },
          [CLIENT_CAPABILITIES_META_KEY]: {},
        },
      },
    };
    const request = new Request('http://127.0.0.1/mcp', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': tool,
      },
      body: JSON.stringify(body),
    });
    const authInfo = { token: 'opaque', clientId: 'client', scopes: [], extra: { sub } };
    const response = await handler.fetch(request, { authInfo });
    // biome-ignore lint/suspicious/noExplicitAny: a JSON-RPC response read by the test
    return (await response.json()) as any;
  }

  test('the round trip completes once; replayed, foreign and altered states end as -32602', async () => {
    const first = await call('gh_search', 'alice');
    expect(first.result?.resultType).toBe('input_required');
    const state: string = first.result.requestState;
    expect(typeof state).toBe('string');

    const invalid = {
      code: -32602,
      message: 'Invalid or expired requestState',
      data: { reason: 'invalid_request_state' },
    };
    expect((await call('gh_search', 'mallory', state)).error).toEqual(invalid);
    expect((await call('gh_delete_repo', 'alice', state)).error).toEqual(invalid);
    expect((await call('gh_search', 'alice', flip(state, 10))).error).toEqual(invalid);

    const done = await call('gh_search', 'alice', state);
    expect(done.result?.content).toEqual([{ type: 'text', text: 'done login-1' }]);
    expect((await call('gh_search', 'alice', state)).error).toEqual(invalid);

    expect(seen.map((message) => message.replace(/^.*: /, ''))).toEqual([
      'foreign',
      'foreign',
      'altered',
      'replayed',
    ]);
  });
});
