/**
 * The event stores of resumable streams: memory, and shared on a key-value backend (the memory
 * one, then a real Redis at REDIS_URL, default redis://127.0.0.1:6379, sealed). Both keep what
 * was written after an event, for its owner only; ids are random; the bounds push the oldest out;
 * events expire with the injected clock; a sealed Redis holds no message in clear.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RedisKeyValueStore } from '../../src/stores/redis.js';
import { Sealer } from '../../src/stores/seal.js';
import {
  MemoryStreamEventStore,
  type StreamEventBounds,
  type StreamEventStore,
} from '../../src/stores/stream-events.js';
import { SharedStreamEventStore } from '../../src/stores/stream-events-shared.js';
import { manualClock } from '../support/clock.js';
import { deleteRedisKeys, rawRedis } from '../support/redis-server.js';
import { describeWith, REDIS_URL, redisService } from '../support/services.js';

const redis = await redisService();
const CANARY = 'CANARY-tool-result-in-a-stream-5v8q';
const PASSPHRASE = 'a passphrase for stream events, long enough';

type Factory = (bounds: Partial<StreamEventBounds>, now: () => number) => StreamEventStore;

function message(n: number, text = `event ${n}`) {
  return { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: n, text } };
}

/** The progress numbers of the events `store` replays after `eventId` for `owner`. */
async function replayed(store: StreamEventStore, owner: string, eventId: string) {
  const found = await store.after(owner, eventId);
  return found?.events.map(
    (event) => (event.message as { params: { progress: number } }).params.progress,
  );
}

/** The behaviour every backend shares. */
function contract(name: string, make: Factory) {
  describe(name, () => {
    test('replays the events of the stream written after an id, and names the stream', async () => {
      const store = make({}, Date.now);
      const first = await store.append('owner-a', 'stream-1', message(1));
      await store.append('owner-a', 'stream-2', message(100));
      await store.append('owner-a', 'stream-1', message(2));
      const last = await store.append('owner-a', 'stream-1', message(3));
      expect(await store.streamOf('owner-a', first)).toBe('stream-1');
      expect(await replayed(store, 'owner-a', first)).toEqual([2, 3]);
      expect(await replayed(store, 'owner-a', last)).toEqual([]);
      const found = await store.after('owner-a', first);
      expect(found?.streamId).toBe('stream-1');
      expect(found?.events[0]?.message).toEqual(message(2));
    });

    test('ids are random and long, not counters', async () => {
      const store = make({}, Date.now);
      const ids = new Set<string>();
      for (let i = 0; i < 50; i++) ids.add(await store.append('owner-a', 's', message(i)));
      expect(ids.size).toBe(50);
      // 144 random bits; the shared store's ids start with their stream's hash (one log to read).
      for (const id of ids) expect(id).toMatch(/^([A-Za-z0-9_-]{43}\.)?[A-Za-z0-9_-]{24}$/);
    });

    test("another owner's event id finds nothing, and an unknown one neither", async () => {
      const store = make({}, Date.now);
      const theirs = await store.append('owner-a', 'shared-name', message(1));
      await store.append('owner-a', 'shared-name', message(2));
      await store.append('owner-b', 'shared-name', message(9));
      expect(await store.streamOf('owner-b', theirs)).toBeUndefined();
      expect(await store.after('owner-b', theirs)).toBeUndefined();
      expect(await store.after('owner-a', 'not-an-id')).toBeUndefined();
    });

    test('a stream keeps its newest events only', async () => {
      const store = make({ eventsPerStream: 3 }, Date.now);
      const ids: string[] = [];
      for (let i = 1; i <= 5; i++) ids.push(await store.append('o', 's', message(i)));
      expect(await store.after('o', ids[1] ?? '')).toBeUndefined();
      expect(await replayed(store, 'o', ids[2] ?? '')).toEqual([4, 5]);
    });

    test('an owner keeps its most recently written streams only', async () => {
      const store = make({ streamsPerOwner: 2 }, Date.now);
      const one = await store.append('o', 's1', message(1));
      const two = await store.append('o', 's2', message(2));
      await store.append('o', 's1', message(11));
      await store.append('o', 's3', message(3));
      expect(await store.streamOf('o', two)).toBeUndefined();
      expect(await replayed(store, 'o', one)).toEqual([11]);
    });

    test("an owner's bytes are bounded: the oldest events go, a message too large leaves a gap", async () => {
      // Room for three such events (message, id, and 16 bytes for the rest).
      const idLength = (await make({}, Date.now).append('probe', 's', message(0))).length;
      const each = JSON.stringify(message(1, 'x'.repeat(100))).length + idLength + 16;
      const store = make({ bytesPerOwner: 3 * each + 10 }, Date.now);
      const ids: string[] = [];
      for (let i = 1; i <= 6; i++)
        ids.push(await store.append('o', 's', message(i, 'x'.repeat(100))));
      expect(await store.after('o', ids[2] ?? '')).toBeUndefined();
      expect(await replayed(store, 'o', ids[3] ?? '')).toEqual([5, 6]);
      const huge = await store.append('o', 's', message(7, 'y'.repeat(1_000)));
      // Not kept, but a gap keeps its id and place: a replay knows something is missing.
      const afterFifth = await store.after('o', ids[4] ?? '');
      expect(afterFifth?.events.map((event) => event.message)).toEqual([
        message(6, 'x'.repeat(100)),
        { gap: true },
      ]);
      expect(afterFifth?.events[1]?.eventId).toBe(huge);
      expect(JSON.stringify(afterFifth)).not.toContain('yyyy');
      // A lost response says which request it answered.
      const big = { jsonrpc: '2.0', id: 42, result: { text: 'z'.repeat(1_000) } };
      const lost = await store.append('o', 's', big);
      const afterHuge = await store.after('o', huge);
      expect(afterHuge?.events).toEqual([
        { eventId: lost, message: { gap: true, responseTo: 42 } },
      ]);
    });

    test('events expire after the TTL (injected clock)', async () => {
      const clock = manualClock();
      const store = make({ ttlMs: 60_000 }, clock.now);
      const old = await store.append('o', 's', message(1));
      clock.advance(40_000);
      const newer = await store.append('o', 's', message(2));
      await store.append('o', 's', message(3));
      expect(await replayed(store, 'o', old)).toEqual([2, 3]);
      clock.advance(30_000);
      expect(await store.after('o', old)).toBeUndefined();
      expect(await replayed(store, 'o', newer)).toEqual([3]);
      clock.advance(60_000);
      expect(await store.after('o', newer)).toBeUndefined();
    });

    test('forget drops every event of the owner, and only those', async () => {
      const store = make({}, Date.now);
      const mine = await store.append('o', 's', message(1));
      const theirs = await store.append('p', 's', message(1));
      await store.forget('o');
      expect(await store.after('o', mine)).toBeUndefined();
      expect(await store.streamOf('p', theirs)).toBe('s');
    });
  });
}

contract('MemoryStreamEventStore', (bounds, now) => new MemoryStreamEventStore({ bounds, now }));
contract(
  'SharedStreamEventStore on a memory key-value store',
  (bounds, now) => new SharedStreamEventStore(new MemoryKeyValueStore({ now }), { bounds, now }),
);

test('the memory store bounds its bytes in all, pushing out the least recently written owner first', async () => {
  const store = new MemoryStreamEventStore({ bounds: { totalBytes: 1_000 } });
  const first = await store.append('early', 's', message(1, 'x'.repeat(300)));
  const second = await store.append('late', 's', message(2, 'x'.repeat(300)));
  await store.append('late', 's', message(3, 'x'.repeat(300)));
  expect(await store.after('early', first)).toBeUndefined();
  expect(await replayed(store, 'late', second)).toEqual([3]);
  expect(store.bytes).toBeLessThanOrEqual(1_000);
  await store.forget('late');
  expect(store.bytes).toBe(0);
});

test('the memory store keeps its byte counts in step with every drop (bounds, TTL, forget)', async () => {
  const clock = manualClock();
  const each = JSON.stringify(message(1, 'x'.repeat(100))).length + 24 + 16;
  const store = new MemoryStreamEventStore({
    bounds: {
      eventsPerStream: 4,
      streamsPerOwner: 3,
      bytesPerOwner: 7 * each,
      totalBytes: 12 * each,
      ttlMs: 60_000,
    },
    now: clock.now,
  });
  const owners = ['a', 'b', 'c'];
  let last = '';
  for (let i = 0; i < 200; i++) {
    if (i === 150) clock.advance(61_000);
    const owner = owners[i % 3] ?? 'a';
    last = await store.append(owner, `s${i % 5}`, message(i, 'x'.repeat(100)));
    expect(store.bytes).toBeLessThanOrEqual(12 * each);
    expect(store.bytes).toBeGreaterThanOrEqual(each);
  }
  // Owner b (i = 199 % 3 = 1) holds the last event; its stream s4 its newest events only.
  const streamOfLast = await store.streamOf('b', last);
  expect(streamOfLast).toBe('s4');
  for (const owner of owners) await store.forget(owner);
  expect(store.bytes).toBe(0);
});

test('concurrent appends of one owner on a shared store lose nothing (atomic appends)', async () => {
  const store = new SharedStreamEventStore(new MemoryKeyValueStore());
  const first = await store.append('o', 's', message(0));
  await Promise.all([1, 2, 3, 4, 5, 6].map((n) => store.append('o', 's', message(n))));
  expect((await replayed(store, 'o', first))?.sort()).toEqual([1, 2, 3, 4, 5, 6]);
});

describeWith(redis)('SharedStreamEventStore on Redis', () => {
  const prefix = `test-stream-events-${randomUUID()}`;
  const stores: RedisKeyValueStore[] = [];

  /** A store under a prefix of its own (each test starts empty), or `under` a given one. */
  function redisStore(
    sealed: boolean,
    bounds: Partial<StreamEventBounds>,
    now: () => number,
    under = `${prefix}:${randomUUID()}`,
  ) {
    const kv = new RedisKeyValueStore({ url: REDIS_URL, prefix: under });
    stores.push(kv);
    return new SharedStreamEventStore(kv, {
      bounds,
      now,
      ...(sealed ? { sealer: new Sealer(new Secret(PASSPHRASE)) } : {}),
    });
  }

  afterEach(async () => {
    for (const kv of stores.splice(0)) await kv.close();
  });
  afterAll(async () => {
    await deleteRedisKeys(REDIS_URL, prefix);
  });

  contract('unsealed', (bounds, now) => redisStore(false, bounds, now));
  contract('sealed', (bounds, now) => redisStore(true, bounds, now));

  test('sealed: no message, and no session id, in Redis in clear; another key cannot read it', async () => {
    const owner = `principal\nsession-${CANARY}`;
    const under = `${prefix}:sealed`;
    const store = redisStore(true, {}, Date.now, under);
    const first = await store.append(owner, 'stream', message(1));
    await store.append(owner, 'stream', message(2, CANARY));
    expect(await replayed(store, owner, first)).toEqual([2]);
    const client = await rawRedis(REDIS_URL);
    try {
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${under}*`, COUNT: 500 })) {
        keys.push(...(Array.isArray(batch) ? batch.map(String) : [String(batch)]));
      }
      // The stream's log, the owner's index of streams, and their byte counts.
      expect(keys).toHaveLength(4);
      const events: string[] = [];
      for (const key of keys) {
        expect(key).not.toContain(CANARY);
        expect(key).not.toContain('session');
        const type = String(await client.type(key));
        const values =
          type === 'list'
            ? (await client.lRange(key, 0, -1)).map(String)
            : [String(await client.get(key))];
        for (const value of values) expect(value).not.toContain(CANARY);
        if (key.includes(':#log:') && values.length === 2) events.push(...values);
        expect(Number(await client.pTTL(key))).toBeGreaterThan(0);
      }
      // Two events, each sealed; the index holds a hash of the stream id only.
      expect(events).toHaveLength(2);
      for (const event of events) expect(event).toContain('enc:v1:');
    } finally {
      client.destroy();
    }
    const kv = new RedisKeyValueStore({ url: REDIS_URL, prefix: under });
    stores.push(kv);
    const otherKey = new SharedStreamEventStore(kv, {
      sealer: new Sealer(new Secret('another passphrase, long enough too')),
    });
    expect(await otherKey.after(owner, first)).toBeUndefined();
  });
});
