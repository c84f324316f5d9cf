/**
 * One contract for every `KeyValueStore` backend: memory, file (a temporary directory) and Redis
 * (`REDIS_URL`, default redis://127.0.0.1:6379, under a random prefix removed afterwards).
 *
 * Expiry: memory and file take an injected `now` that the test moves; Redis expires keys itself,
 * so its tests use a short TTL and poll with a bounded deadline.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { FileKeyValueStore } from '../../src/stores/file.js';
import type { KeyValueStore } from '../../src/stores/kv.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RedisKeyValueStore } from '../../src/stores/redis.js';
import { type ManualClock, manualClock } from '../support/clock.js';
import { waitFor } from '../support/net.js';
import { deleteRedisKeys } from '../support/redis-server.js';
import { describeWith, REDIS_URL, type Requirement, redisService } from '../support/services.js';

const redis = await redisService();
const RUN_PREFIX = `mcp-agent-ts-test-${randomBytes(6).toString('hex')}`;

/** A fresh, empty store of one backend. */
interface Opened {
  readonly store: KeyValueStore;
  /** The store's clock, when its `now` is injected (memory, file). */
  readonly clock?: ManualClock;
}

interface Backend {
  readonly name: string;
  /** What the backend needs beyond Node (test/support/services.ts). */
  readonly needs: readonly Requirement[];
  /** Whether the backend takes an injected `now` (Redis expires keys on its own clock). */
  readonly injectedNow: boolean;
  /** The TTL the expiry tests use. */
  readonly ttlMs: number;
  open(): Opened;
  cleanup(): Promise<void>;
}

const fileDir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-kv-'));
let opened = 0;

const backends: Backend[] = [
  {
    name: 'memory',
    needs: [],
    injectedNow: true,
    ttlMs: 50,
    open: () => {
      const clock = manualClock();
      return { store: new MemoryKeyValueStore({ now: clock.now }), clock };
    },
    cleanup: async () => {},
  },
  {
    name: 'file',
    needs: [],
    injectedNow: true,
    ttlMs: 50,
    open: () => {
      const clock = manualClock();
      const path = join(fileDir, `store-${++opened}`, 'tokens.json');
      return { store: new FileKeyValueStore({ path, now: clock.now }), clock };
    },
    cleanup: async () => rmSync(fileDir, { recursive: true, force: true }),
  },
  {
    name: 'redis',
    needs: [redis],
    injectedNow: false,
    ttlMs: 200,
    open: () => ({
      store: new RedisKeyValueStore({ url: REDIS_URL, prefix: `${RUN_PREFIX}:${++opened}` }),
    }),
    cleanup: async () => {
      if (!redis.available) return;
      await deleteRedisKeys(REDIS_URL, `${RUN_PREFIX}:`);
      // Nothing of this run is left behind.
      expect(await deleteRedisKeys(REDIS_URL, `${RUN_PREFIX}:`)).toBe(0);
    },
  },
];

afterAll(async () => {
  for (const backend of backends) await backend.cleanup();
});

describe.each(backends)('KeyValueStore contract: $name', (backend) => {
  const open: Opened[] = [];
  afterEach(async () => {
    for (const { store } of open.splice(0)) await store.close();
  });

  /** A fresh store, closed after the test. */
  function fresh(): Opened {
    const result = backend.open();
    open.push(result);
    return result;
  }

  /** Let a value written with `backend.ttlMs` expire: move the clock, or wait for Redis. */
  async function expire(
    { store, clock }: Opened,
    key: string,
    extra?: () => Promise<boolean>,
  ): Promise<void> {
    if (clock) {
      clock.advance(backend.ttlMs);
      return;
    }
    await waitFor(
      `${key} to expire`,
      async () =>
        (await store.get(key)) === undefined && (!extra || (await extra())) ? true : undefined,
      backend.ttlMs + 5_000,
    );
  }

  describeWith(backend.needs)('contract', () => {
    test('get, set and delete', async () => {
      const { store } = fresh();
      expect(await store.get('a')).toBeUndefined();
      expect(await store.set('a', 'one')).toBe(1);
      expect(await store.get('a')).toEqual({ value: 'one', version: 1 });
      expect(await store.set('a', 'two')).toBe(2);
      expect(await store.get('a')).toEqual({ value: 'two', version: 2 });
      expect(await store.get('b')).toBeUndefined();
      expect(await store.delete('a')).toBe(true);
      expect(await store.get('a')).toBeUndefined();
      expect(await store.delete('a')).toBe(false);
      expect(await store.delete('never-written')).toBe(false);
    });

    test('versions start at 1 and grow by one on every write, per key', async () => {
      const { store } = fresh();
      const versions: (number | undefined)[] = [];
      for (let i = 0; i < 6; i++) versions.push(await store.set('k', `value ${i}`));
      expect(versions).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await store.set('other', 'x')).toBe(1);
      expect(await store.get('k')).toEqual({ value: 'value 5', version: 6 });
    });

    test('values come back exactly as written', async () => {
      const { store } = fresh();
      const values = [
        '',
        ' ',
        'ünïcödé ☃ 😀',
        'quotes " and \\ backslashes / and\nnewlines\tand tabs',
        '\u0000\u0001\u001f',
        '{"v":99,"d":"not the real value"}',
        'enc:v1:abc:def',
        '1e400',
        'x'.repeat(100_000),
      ];
      for (const [index, value] of values.entries()) {
        expect(await store.set(`v${index}`, value)).toBe(1);
      }
      for (const [index, value] of values.entries()) {
        expect(await store.get(`v${index}`)).toEqual({ value, version: 1 });
      }
    });

    test('expectVersion: a matching version writes, a stale one writes nothing', async () => {
      const { store } = fresh();
      await store.set('k', 'one');
      expect(await store.set('k', 'two', { expectVersion: 1 })).toBe(2);
      expect(await store.set('k', 'stale', { expectVersion: 1 })).toBeUndefined();
      expect(await store.set('k', 'future', { expectVersion: 3 })).toBeUndefined();
      expect(await store.get('k')).toEqual({ value: 'two', version: 2 });
      expect(await store.set('k', 'three', { expectVersion: 2 })).toBe(3);
      expect(await store.get('k')).toEqual({ value: 'three', version: 3 });
    });

    test('expectVersion on a key that does not exist writes nothing', async () => {
      const { store } = fresh();
      expect(await store.set('k', 'x', { expectVersion: 1 })).toBeUndefined();
      expect(await store.get('k')).toBeUndefined();
      expect(await store.keys()).toEqual([]);
    });

    test('expectVersion null: only when the key does not exist', async () => {
      const { store } = fresh();
      expect(await store.set('k', 'first', { expectVersion: null })).toBe(1);
      expect(await store.set('k', 'second', { expectVersion: null })).toBeUndefined();
      expect(await store.get('k')).toEqual({ value: 'first', version: 1 });
      await store.delete('k');
      expect(await store.set('k', 'again', { expectVersion: null })).toBeDefined();
      expect((await store.get('k'))?.value).toBe('again');
    });

    test('expectVersion 0 never matches (no stored version is 0)', async () => {
      // Versions start at 1, so "write only if the stored version is 0" can never hold; only
      // `null` means "must not exist".
      const { store } = fresh();
      expect(await store.set('k', 'x', { expectVersion: 0 })).toBeUndefined();
      expect(await store.get('k')).toBeUndefined();
    });

    test('delete with expectVersion deletes only that version', async () => {
      const { store } = fresh();
      await store.set('k', 'one');
      await store.set('k', 'two');
      expect(await store.delete('k', { expectVersion: 1 })).toBe(false);
      expect(await store.delete('k', { expectVersion: 3 })).toBe(false);
      expect(await store.get('k')).toEqual({ value: 'two', version: 2 });
      expect(await store.delete('k', { expectVersion: 2 })).toBe(true);
      expect(await store.get('k')).toBeUndefined();
      expect(await store.delete('missing', { expectVersion: 1 })).toBe(false);
    });

    test('concurrent writers with the same expectVersion: exactly one wins', async () => {
      const { store } = fresh();
      await store.set('k', 'start');
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.set('k', `writer ${i}`, { expectVersion: 1 })),
      );
      const winners = results.flatMap((version, i) => (version === undefined ? [] : [i]));
      expect(winners).toHaveLength(1);
      expect(results[winners[0] ?? -1]).toBe(2);
      expect(await store.get('k')).toEqual({ value: `writer ${winners[0]}`, version: 2 });

      const created = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.set('new', `creator ${i}`, { expectVersion: null }),
        ),
      );
      expect(created.filter((version) => version !== undefined)).toEqual([1]);
    });

    test('keys() lists every live key of the store, and only those', async () => {
      const { store } = fresh();
      expect(await store.keys()).toEqual([]);
      const names = ['a', 'b', 'with:colons:inside', 'sp ace', 'ünï', 'star*', 'q?[x]\\'];
      for (const name of names) await store.set(name, `value of ${name}`);
      expect((await store.keys()).sort()).toEqual([...names].sort());
      await store.delete('b');
      expect((await store.keys()).sort()).toEqual(names.filter((name) => name !== 'b').sort());
    });

    test('two stores do not see each other’s keys', async () => {
      const first = fresh().store;
      const second = fresh().store;
      await first.set('mine', '1');
      await second.set('yours', '2');
      expect(await first.keys()).toEqual(['mine']);
      expect(await second.keys()).toEqual(['yours']);
      expect(await first.get('yours')).toBeUndefined();
    });

    // The file backend starts from a plain `{}` when the file does not exist yet, so these names
    // resolve to Object.prototype members there (see the two tests below).
    test('a key named like an Object.prototype member is absent in a new store', async () => {
      const { store } = fresh();
      for (const key of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
        expect(await store.get(key), `get(${JSON.stringify(key)})`).toBeUndefined();
      }
    });

    test('the first write of "constructor" or "__proto__" in a new store is kept', async () => {
      const first = fresh().store;
      expect(await first.set('constructor', 'c', { expectVersion: null })).toBe(1);
      expect(await first.get('constructor')).toEqual({ value: 'c', version: 1 });
      const second = fresh().store;
      expect(await second.set('__proto__', 'p')).toBe(1);
      expect(await second.get('__proto__')).toEqual({ value: 'p', version: 1 });
    });

    test('keys named like Object.prototype members, once the store has data', async () => {
      const { store } = fresh();
      await store.set('plain', 'x');
      for (const key of ['constructor', 'toString', '__proto__']) {
        expect(await store.get(key)).toBeUndefined();
      }
      expect(await store.set('constructor', 'c', { expectVersion: null })).toBe(1);
      expect(await store.set('__proto__', 'p')).toBe(1);
      expect(await store.get('constructor')).toEqual({ value: 'c', version: 1 });
      expect(await store.get('__proto__')).toEqual({ value: 'p', version: 1 });
      expect((await store.keys()).sort()).toEqual(['__proto__', 'constructor', 'plain']);
    });

    test('a value with ttlMs expires: get, keys and expectVersion treat it as absent', async () => {
      const opened = fresh();
      const { store } = opened;
      expect(await store.set('short', 'gone soon', { ttlMs: backend.ttlMs })).toBe(1);
      await store.set('long', 'stays');
      expect(await store.get('short')).toEqual({ value: 'gone soon', version: 1 });
      await expire(opened, 'short');
      expect(await store.get('short')).toBeUndefined();
      expect(await store.keys()).toEqual(['long']);
      expect(await store.delete('short')).toBe(false);
      expect(await store.set('short', 'new', { expectVersion: 1 })).toBeUndefined();
      expect(await store.set('short', 'new', { expectVersion: null })).toBe(1);
      expect(await store.get('long')).toEqual({ value: 'stays', version: 1 });
    });

    test('a write without ttlMs makes the value permanent again', async () => {
      const opened = fresh();
      const { store } = opened;
      await store.set('k', 'temporary', { ttlMs: backend.ttlMs });
      expect(await store.set('k', 'permanent')).toBe(2);
      await store.set('probe', 'expires', { ttlMs: backend.ttlMs });
      await expire(opened, 'probe');
      expect(await store.get('k')).toEqual({ value: 'permanent', version: 2 });
    });

    // Redis expires keys on its own clock: there is no injected now to test there.
    if (backend.injectedNow)
      test('expiry is measured with the injected now, to the millisecond', async () => {
        const { store, clock } = fresh();
        if (!clock) throw new Error('this backend takes an injected now');
        await store.set('k', 'v', { ttlMs: 1_000 });
        clock.advance(999);
        expect(await store.get('k')).toEqual({ value: 'v', version: 1 });
        expect(await store.keys()).toEqual(['k']);
        clock.advance(1);
        expect(await store.get('k')).toBeUndefined();
        expect(await store.keys()).toEqual([]);
      });
  });
});
