/**
 * The append-log capability of the key-value backends: the memory one (injected clock) and a real
 * Redis at REDIS_URL. An append trims to the bounds atomically and renews the expiry; `distinct`
 * makes the log an index of recent names; logs are apart from the records; the file backend does
 * not offer it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { type AppendLog, isAppendLog } from '../../src/stores/append-log.js';
import { FileKeyValueStore } from '../../src/stores/file.js';
import type { KeyValueStore } from '../../src/stores/kv.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RedisKeyValueStore } from '../../src/stores/redis.js';
import { manualClock } from '../support/clock.js';
import { deleteRedisKeys, rawRedis } from '../support/redis-server.js';
import { describeWith, REDIS_URL, redisService } from '../support/services.js';

const redis = await redisService();
const TTL = 60_000;

function contract(name: string, make: () => KeyValueStore & AppendLog) {
  describe(name, () => {
    test('an append keeps the newest entries within the count bound, oldest first', async () => {
      const log = make();
      for (const entry of ['a', 'b', 'c', 'd']) {
        await log.appendToLog('l', entry, { maxEntries: 3, ttlMs: TTL });
      }
      expect(await log.readLog('l')).toEqual(['b', 'c', 'd']);
      expect(await log.readLog('other')).toEqual([]);
    });

    test('the byte bound pushes out the oldest, never the entry just appended', async () => {
      const log = make();
      const bounds = { maxEntries: 100, maxBytes: 10, ttlMs: TTL };
      await log.appendToLog('l', 'aaaa', bounds);
      await log.appendToLog('l', 'bbbb', bounds);
      const third = await log.appendToLog('l', 'cccc', { ...bounds, returnDropped: true });
      expect(third).toEqual({ length: 2, dropped: ['aaaa'] });
      // Counted bytes, not the text's: an entry may count for more (or less) than its length.
      const big = await log.appendToLog('l', 'd', { ...bounds, bytes: 50, returnDropped: true });
      expect(big).toEqual({ length: 1, dropped: ['bbbb', 'cccc'] });
      await log.appendToLog('l', 'e e e', { ...bounds, bytes: 0 });
      expect(await log.readLog('l')).toEqual(['e e e']);
    });

    test('dropped entries are handed back only when asked', async () => {
      const log = make();
      await log.appendToLog('l', 'a', { maxEntries: 1, ttlMs: TTL });
      expect(await log.appendToLog('l', 'b', { maxEntries: 1, ttlMs: TTL })).toEqual({
        length: 1,
        dropped: [],
      });
    });

    test('distinct: an equal entry moves to the end, so the log is an index of recent names', async () => {
      const log = make();
      const index = { maxEntries: 2, ttlMs: TTL, distinct: true, returnDropped: true };
      await log.appendToLog('i', 's1', index);
      await log.appendToLog('i', 's2', index);
      expect(await log.appendToLog('i', 's1', index)).toEqual({ length: 2, dropped: [] });
      expect(await log.appendToLog('i', 's3', index)).toEqual({ length: 2, dropped: ['s2'] });
      expect(await log.readLog('i')).toEqual(['s1', 's3']);
    });

    test('delete removes a log, and logs are not key-value records', async () => {
      const log = make();
      await log.set('record', 'value');
      await log.appendToLog('l', 'a', { maxEntries: 3, ttlMs: TTL });
      expect(await log.keys()).toEqual(['record']);
      expect(await log.get('l')).toBeUndefined();
      expect(await log.deleteLog('l')).toBe(true);
      expect(await log.deleteLog('l')).toBe(false);
      expect(await log.readLog('l')).toEqual([]);
      expect(await log.get('record')).toEqual({ value: 'value', version: 1 });
    });

    test('a member append: the member moves to the end of its group, the oldest members go whole beyond the count', async () => {
      const log = make();
      const options = { maxEntries: 10, maxMembers: 2, maxGroupBytes: 1_000, ttlMs: TTL };
      await log.appendToMember('g', 'a', 'a1', options);
      await log.appendToMember('g', 'b', 'b1', options);
      await log.appendToMember('g', 'a', 'a2', options);
      expect(await log.readLog('g')).toEqual(['b', 'a']);
      const third = await log.appendToMember('g', 'c', 'c1', options);
      // "b" was written to least recently: it goes, its log with it.
      expect(third).toEqual({ length: 1, dropped: ['b'] });
      expect(await log.readLog('g')).toEqual(['a', 'c']);
      expect(await log.readLog('g:b')).toEqual([]);
      expect(await log.readLog('g:a')).toEqual(['a1', 'a2']);
      expect(await log.readLog('g:c')).toEqual(['c1']);
    });

    test("a member append bounds the group's bytes: older members go whole, then this one's oldest entries", async () => {
      const log = make();
      const options = { maxEntries: 100, maxMembers: 10, maxGroupBytes: 10, ttlMs: TTL };
      await log.appendToMember('g', 'a', 'aaaa', options);
      await log.appendToMember('g', 'b', 'bbbb', options);
      expect(await log.readLog('g')).toEqual(['a', 'b']);
      // 4 + 4 + 4 > 10: "a" goes whole, "b" keeps its entry.
      expect(await log.appendToMember('g', 'c', 'cccc', options)).toEqual({
        length: 1,
        dropped: ['a'],
      });
      expect(await log.readLog('g:a')).toEqual([]);
      // One member holding more than the group's bytes: its oldest entries go, never the new one.
      await log.appendToMember('g', 'c', 'dddddddddddd', options);
      expect(await log.readLog('g')).toEqual(['c']);
      expect(await log.readLog('g:c')).toEqual(['dddddddddddd']);
      expect(await log.readLog('g:b')).toEqual([]);
    });

    test('a member append keeps the count bound of its own log; bad bounds are refused', async () => {
      const log = make();
      const options = { maxEntries: 2, maxMembers: 4, maxGroupBytes: 1_000, ttlMs: TTL };
      for (const entry of ['1', '2', '3']) await log.appendToMember('g', 'a', entry, options);
      expect(await log.readLog('g:a')).toEqual(['2', '3']);
      await expect(
        log.appendToMember('g', 'a', 'x', { ...options, maxMembers: 0 }),
      ).rejects.toThrow(TypeError);
      await expect(
        log.appendToMember('g', 'a', 'x', { ...options, maxGroupBytes: 1.5 }),
      ).rejects.toThrow(TypeError);
      expect(await log.readLog('g:a')).toEqual(['2', '3']);
    });

    test('bounds that are not positive integers are refused before any write', async () => {
      const log = make();
      await expect(log.appendToLog('l', 'a', { maxEntries: 0, ttlMs: TTL })).rejects.toThrow(
        TypeError,
      );
      await expect(log.appendToLog('l', 'a', { maxEntries: 1, ttlMs: 1.5 })).rejects.toThrow(
        TypeError,
      );
      expect(await log.readLog('l')).toEqual([]);
    });
  });
}

contract('memory', () => new MemoryKeyValueStore());

test('memory: a log expires ttlMs after its last append (injected clock)', async () => {
  const clock = manualClock();
  const log = new MemoryKeyValueStore({ now: clock.now });
  await log.appendToLog('l', 'a', { maxEntries: 5, ttlMs: 1_000 });
  clock.advance(900);
  await log.appendToLog('l', 'b', { maxEntries: 5, ttlMs: 1_000 });
  clock.advance(900);
  expect(await log.readLog('l')).toEqual(['a', 'b']);
  clock.advance(100);
  expect(await log.readLog('l')).toEqual([]);
  expect(await log.deleteLog('l')).toBe(false);
});

test("memory: a member whose log expired leaves its group's index and counts no bytes", async () => {
  const clock = manualClock();
  const log = new MemoryKeyValueStore({ now: clock.now });
  const options = { maxEntries: 10, maxMembers: 10, maxGroupBytes: 8, ttlMs: 1_000 };
  await log.appendToMember('g', 'old', 'oooo', options);
  clock.advance(600);
  await log.appendToMember('g', 'new', 'nnnn', options);
  clock.advance(600);
  // "old" expired (its bytes with it): "new" keeps room for one more entry of its own.
  expect(await log.appendToMember('g', 'new', 'mmmm', options)).toEqual({
    length: 2,
    dropped: ['old'],
  });
  expect(await log.readLog('g')).toEqual(['new']);
  expect(await log.readLog('g:new')).toEqual(['nnnn', 'mmmm']);
});

test('the file backend does not offer append logs; memory and Redis do', () => {
  const dir = mkdtempSync(join(tmpdir(), 'append-log-'));
  try {
    expect(isAppendLog(new FileKeyValueStore({ path: join(dir, 'tokens.json') }))).toBe(false);
    expect(isAppendLog(new MemoryKeyValueStore())).toBe(true);
    expect(isAppendLog(new RedisKeyValueStore({ url: REDIS_URL, prefix: 'unused' }))).toBe(true);
    expect(isAppendLog(undefined)).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describeWith(redis)('Redis', () => {
  const prefix = `test-append-log-${randomUUID()}`;
  const stores: RedisKeyValueStore[] = [];
  const make = (under = `${prefix}:${randomUUID()}`) => {
    const store = new RedisKeyValueStore({ url: REDIS_URL, prefix: under });
    stores.push(store);
    return store;
  };

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  afterAll(async () => {
    await deleteRedisKeys(REDIS_URL, prefix);
  });

  contract('contract', () => make());

  test('a member append finds the index entries an appendToLog wrote (the previous version): no duplicate, the member stays', async () => {
    const log = make();
    // How the previous version kept a session's streams: each its own log, and a distinct
    // appendToLog of its name to the index.
    for (const name of ['a', 'b']) {
      await log.appendToLog(`g:${name}`, `${name}0`, { maxEntries: 10, ttlMs: TTL });
      await log.appendToLog('g', name, { maxEntries: 2, ttlMs: TTL, distinct: true });
    }
    const options = { maxEntries: 10, maxMembers: 2, maxGroupBytes: 1_000, ttlMs: TTL };
    expect(await log.appendToMember('g', 'a', 'a1', options)).toEqual({ length: 2, dropped: [] });
    expect(await log.readLog('g')).toEqual(['b', 'a']);
    expect(await log.readLog('g:a')).toEqual(['a0', 'a1']);
    expect(await log.readLog('g:b')).toEqual(['b0']);
    // And the previous version's append finds this one's entry (replicas of both, mid-upgrade).
    await log.appendToLog('g', 'a', { maxEntries: 2, ttlMs: TTL, distinct: true });
    expect(await log.readLog('g')).toEqual(['b', 'a']);
  });

  test("a group's byte count that went missing is summed again from its members, and its bound holds", async () => {
    const under = `${prefix}:recount`;
    const log = make(under);
    const options = { maxEntries: 10, maxMembers: 10, maxGroupBytes: 10, ttlMs: TTL };
    await log.appendToMember('g', 'a', 'aaaa', options);
    await log.appendToMember('g', 'b', 'bbbb', options);
    const client = await rawRedis(REDIS_URL);
    try {
      await client.del(`${under}:#group-bytes:g`);
      // 4 + 4 + 4 > 10 although the counter starts again from 4: "a" goes.
      expect(await log.appendToMember('g', 'c', 'cccc', options)).toEqual({
        length: 1,
        dropped: ['a'],
      });
      expect(await client.get(`${under}:#group-bytes:g`)).toBe('8');
    } finally {
      client.destroy();
    }
  });

  test('each append renews the TTL of the log and of its byte count', async () => {
    const under = `${prefix}:ttl`;
    const log = make(under);
    await log.appendToLog('l', 'a', { maxEntries: 5, ttlMs: 5_000 });
    await log.appendToLog('l', 'b', { maxEntries: 5, ttlMs: 600_000 });
    const client = await rawRedis(REDIS_URL);
    try {
      for (const key of [`${under}:#log:l`, `${under}:#log-bytes:l`]) {
        expect(Number(await client.pTTL(key))).toBeGreaterThan(500_000);
      }
      expect(await client.get(`${under}:#log-bytes:l`)).toBe('2');
    } finally {
      client.destroy();
    }
  });
});
