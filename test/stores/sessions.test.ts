/**
 * Shared MCP session records: on the memory backend (injected clock) and on a real Redis at
 * REDIS_URL, sealed and not. Created once, found only for their principal, touched at most once
 * per interval (which restarts the idle timeout), ended for every replica, never readable in
 * clear when sealed, and failing clearly while Redis is away (a private redis-server).
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { isMcpAgentError } from '../../src/errors.js';
import type { KeyValueStore, SetOptions } from '../../src/stores/kv.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RedisKeyValueStore } from '../../src/stores/redis.js';
import { Sealer } from '../../src/stores/seal.js';
import {
  type SessionInit,
  SessionRecordStore,
  type SessionRecordStoreOptions,
  sessionKey,
} from '../../src/stores/sessions.js';
import { type ManualClock, manualClock } from '../support/clock.js';
import { waitFor } from '../support/net.js';
import {
  deleteRedisKeys,
  type RedisServer,
  rawRedis,
  startRedisServer,
} from '../support/redis-server.js';
import { describeWith, REDIS_URL, redisServerBinary, redisService } from '../support/services.js';

const redis = await redisService();
const sealer = new Sealer(new Secret('a passphrase for session records, long enough'));
const CANARY = 'CANARY-client-info-h4z8';
const PASSWORD = 'CANARY-redis-pw-sessions-2v6c';

function init(principal = 'alice', text = 'client'): SessionInit {
  return {
    principal,
    protocolVersion: '2025-11-25',
    clientInfo: { name: `${text}-name`, version: '1.0.0', title: `${text} title` },
    clientCapabilities: { elicitation: { form: {} }, experimental: { note: text } },
  };
}

type Make = (
  clock: ManualClock,
  options?: SessionRecordStoreOptions,
) => { store: SessionRecordStore; kv: KeyValueStore };

function contract(name: string, make: Make) {
  describe(name, () => {
    test('create is create-if-absent; get and find read the record back', async () => {
      const clock = manualClock();
      const { store } = make(clock);
      const id = randomUUID();
      const created = await store.create(id, init());
      expect(created).toEqual({ ...init(), createdAt: clock.now(), lastUsed: clock.now() });
      expect(await store.create(id, init('mallory'))).toBeUndefined();
      expect(await store.get(id)).toEqual(created);
      expect(await store.find(id, 'alice')).toEqual(created);
      expect(await store.get(randomUUID())).toBeUndefined();
    });

    test("another principal's session is absent for it", async () => {
      const { store } = make(manualClock());
      const id = randomUUID();
      await store.create(id, init('alice'));
      expect(await store.find(id, 'mallory')).toBeUndefined();
      expect(await store.find(id, 'alice ')).toBeUndefined();
      expect((await store.find(id, 'alice'))?.principal).toBe('alice');
    });

    test('touch writes lastUsed at most once per touchEveryMs', async () => {
      const clock = manualClock();
      const { store } = make(clock, { idleMs: 60_000, touchEveryMs: 10_000 });
      const id = randomUUID();
      const created = await store.create(id, init());
      clock.advance(9_999);
      expect(await store.touch(id)).toEqual(created);
      clock.advance(1);
      expect((await store.touch(id))?.lastUsed).toBe(clock.now());
      expect((await store.get(id))?.lastUsed).toBe(clock.now());
      expect(await store.touch(randomUUID())).toBeUndefined();
    });

    test('end ends the session for every reader, leaves a tombstone, and blocks a re-create', async () => {
      const { store } = make(manualClock());
      const id = randomUUID();
      await store.create(id, init());
      expect(await store.end(id)).toBe(true);
      expect(await store.get(id)).toBeUndefined();
      expect(await store.find(id, 'alice')).toBeUndefined();
      expect(await store.touch(id)).toBeUndefined();
      expect(await store.ended(id)).toBe(true);
      expect(await store.create(id, init())).toBeUndefined();
      expect(await store.end(id)).toBe(false);
      expect(await store.ended(randomUUID())).toBe(false);
    });

    test('a record read back is not trusted: a wrong shape or a foreign value reads as absent', async () => {
      const { store, kv } = make(manualClock());
      const id = randomUUID();
      await store.create(id, init());
      for (const value of [
        '{"v":1,"principal":"alice"}',
        JSON.stringify({ v: 2, ...init(), createdAt: 1, lastUsed: 1 }),
        JSON.stringify({ v: 1, ...init(), clientInfo: { name: 3 }, createdAt: 1, lastUsed: 1 }),
        'not json',
        sealer.seal(JSON.stringify({ v: 1, ...init(), createdAt: 1, lastUsed: 1 }), 'other key'),
      ]) {
        await kv.set(sessionKey(id), value);
        expect(await store.get(id)).toBeUndefined();
        expect(await store.touch(id)).toBeUndefined();
      }
    });

    test('a record larger than maxRecordBytes is refused, nothing kept', async () => {
      const { store } = make(manualClock(), { maxRecordBytes: 1_000 });
      const id = randomUUID();
      const big = { ...init(), clientCapabilities: { experimental: { pad: 'x'.repeat(2_000) } } };
      const error = await store.create(id, big).catch((caught: unknown) => caught);
      expect(isMcpAgentError(error, 'USAGE')).toBe(true);
      expect(await store.get(id)).toBeUndefined();
    });
  });
}

/** A memory backend that counts its writes. */
class CountingStore extends MemoryKeyValueStore {
  writes = 0;
  override set(key: string, value: string, options?: SetOptions) {
    this.writes += 1;
    return super.set(key, value, options);
  }
}

contract('memory', (clock, options) => {
  const kv = new MemoryKeyValueStore({ now: clock.now });
  return { kv, store: new SessionRecordStore(kv, { now: clock.now, ...options }) };
});
contract('memory, sealed', (clock, options) => {
  const kv = new MemoryKeyValueStore({ now: clock.now });
  return { kv, store: new SessionRecordStore(kv, { now: clock.now, sealer, ...options }) };
});

test('memory: touched sessions outlive the idle timeout, untouched ones expire; one write per interval', async () => {
  const clock = manualClock();
  const kv = new CountingStore({ now: clock.now });
  const store = new SessionRecordStore(kv, {
    now: clock.now,
    idleMs: 60_000,
    touchEveryMs: 10_000,
  });
  await store.create('used', init());
  await store.create('idle', init());
  kv.writes = 0;
  // A request every second for three minutes: one write per 10 s, and the session lives on.
  for (let second = 1; second <= 180; second++) {
    clock.advance(1_000);
    expect(await store.touch('used')).toBeDefined();
  }
  expect(kv.writes).toBe(18);
  expect(await store.get('idle')).toBeUndefined();
  expect(await store.find('used', 'alice')).toBeDefined();
  // Unused, it goes once the idle timeout has passed since its last write.
  clock.advance(59_999);
  expect(await store.get('used')).toBeDefined();
  clock.advance(1);
  expect(await store.get('used')).toBeUndefined();
});

test('memory: the tombstone of an ended session outlives every copy of it (idleMs + touchEveryMs at least)', async () => {
  const clock = manualClock();
  const store = new SessionRecordStore(new MemoryKeyValueStore({ now: clock.now }), {
    now: clock.now,
    idleMs: 60_000,
    touchEveryMs: 10_000,
    // Shorter than a copy may live: raised to 70 s, or a replica's copy could revive the session.
    tombstoneMs: 5_000,
  });
  await store.create('s', init());
  await store.end('s');
  clock.advance(69_999);
  expect(await store.ended('s')).toBe(true);
  expect(await store.create('s', init())).toBeUndefined();
  clock.advance(1);
  expect(await store.ended('s')).toBe(false);
});

test('options that would let a used session expire are refused', () => {
  const kv = new MemoryKeyValueStore();
  for (const options of [
    { idleMs: 10_000, touchEveryMs: 10_000 },
    { idleMs: 0 },
    { tombstoneMs: -1 },
  ]) {
    let error: unknown;
    try {
      new SessionRecordStore(kv, options);
    } catch (caught) {
      error = caught;
    }
    expect(isMcpAgentError(error, 'USAGE'), inspect(options)).toBe(true);
  }
  // The default interval fits a short idle timeout.
  expect(new SessionRecordStore(kv, { idleMs: 20_000 })).toBeInstanceOf(SessionRecordStore);
});

describeWith(redis)('Redis', () => {
  const prefix = `test-sessions-${randomUUID()}`;
  const stores: RedisKeyValueStore[] = [];
  const replica = (clock: ManualClock, options: SessionRecordStoreOptions = {}) => {
    const kv = new RedisKeyValueStore({ url: REDIS_URL, prefix });
    stores.push(kv);
    return { kv, store: new SessionRecordStore(kv, { now: clock.now, ...options }) };
  };

  afterEach(async () => {
    for (const kv of stores.splice(0)) await kv.close();
  });
  afterAll(async () => {
    await deleteRedisKeys(REDIS_URL, prefix);
  });

  contract('unsealed', (clock, options) => replica(clock, options));
  contract('sealed', (clock, options) => replica(clock, { sealer, ...options }));

  test('a session created on one replica is found on another, and ended there for both', async () => {
    const clock = manualClock();
    const a = replica(clock, { sealer }).store;
    const b = replica(clock, { sealer }).store;
    const id = randomUUID();
    await a.create(id, init());
    expect((await b.find(id, 'alice'))?.clientInfo.name).toBe('client-name');
    expect(await b.find(id, 'mallory')).toBeUndefined();
    expect(await b.end(id)).toBe(true);
    expect(await a.find(id, 'alice')).toBeUndefined();
    expect(await a.touch(id)).toBeUndefined();
    expect(await a.ended(id)).toBe(true);
  });

  test('sealed: no session id, principal or client info in Redis in clear', async () => {
    const clock = manualClock();
    const { store } = replica(clock, { sealer });
    const id = `${randomUUID()}-${CANARY}`;
    await store.create(id, init(`principal-${CANARY}`, CANARY));
    const client = await rawRedis(REDIS_URL);
    try {
      const keys = (await client.keys(`${prefix}:*`)).map(String);
      expect(keys).toContain(`${prefix}:${sessionKey(id)}`);
      for (const key of keys) {
        expect(key).not.toContain(CANARY);
        expect(String(await client.get(key))).not.toContain(CANARY);
      }
      const value = String(await client.get(`${prefix}:${sessionKey(id)}`));
      expect(value).not.toContain('client');
      expect(value).not.toContain('2025-11-25');
      expect(value).toContain('enc:v1:');
    } finally {
      client.destroy();
    }
  });

  test('the idle timeout is the key’s TTL: a touch restarts it, a touch too soon writes nothing', async () => {
    const clock = manualClock();
    const { store } = replica(clock, { idleMs: 600_000, touchEveryMs: 30_000 });
    const id = randomUUID();
    await store.create(id, init());
    const key = `${prefix}:${sessionKey(id)}`;
    const client = await rawRedis(REDIS_URL);
    try {
      expect(Number(await client.pTTL(key))).toBeGreaterThan(590_000);
      // Most of the idle timeout passes (Redis's clock, moved by hand).
      await client.pExpire(key, 20_000);
      clock.advance(29_999);
      await store.touch(id);
      expect(Number(await client.pTTL(key))).toBeLessThanOrEqual(20_000);
      clock.advance(1);
      await store.touch(id);
      expect(Number(await client.pTTL(key))).toBeGreaterThan(590_000);
    } finally {
      client.destroy();
    }
  });
});

describeWith(redisServerBinary)('on a private redis-server', () => {
  let server: RedisServer;
  let kv: RedisKeyValueStore | undefined;

  beforeAll(async () => {
    server = await startRedisServer({ password: PASSWORD });
  });
  afterEach(async () => {
    await kv?.close();
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('Redis dying mid-way: STORE_UNAVAILABLE without secrets, then it works again after a restart', async () => {
    kv = new RedisKeyValueStore({ url: server.url, prefix: 'sessions', commandTimeoutMs: 1_000 });
    const store = new SessionRecordStore(kv, { sealer, touchEveryMs: 1 });
    const id = `session-${CANARY}`;
    await store.create(id, init('alice', CANARY));
    await server.kill();
    const failures: unknown[] = [];
    for (const operation of [
      () => store.create(randomUUID(), init('alice', CANARY)),
      () => store.get(id),
      () => store.find(id, 'alice'),
      () => store.touch(id),
      () => store.end(id),
    ]) {
      failures.push(
        await operation().then(
          () => undefined,
          (error: unknown) => error,
        ),
      );
    }
    for (const error of failures) {
      expect(isMcpAgentError(error, 'STORE_UNAVAILABLE'), inspect(error)).toBe(true);
      expect((error as Error).message).toContain(`redis://127.0.0.1:${server.port}`);
      const shown = inspect(error, { depth: 10 });
      expect(shown).not.toContain(PASSWORD);
      expect(shown).not.toContain(CANARY);
    }
    await server.restart();
    // The data is gone (no persistence): the session must be opened again, and can be.
    const created = await waitFor(
      'the store to work again',
      () => store.create(id, init()).catch(() => undefined),
      10_000,
    );
    expect(await store.find(id, 'alice')).toEqual(created);
  }, 30_000);
});
