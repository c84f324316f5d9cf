/**
 * What the shared stream-event store adds to the contract of test/stores/stream-events.test.ts:
 * one write per event whatever the session holds (counted calls on the memory backend, counted
 * Redis commands on a private redis-server), another replica replays what one wrote, an event
 * that does not open is replayed as a gap, a Redis that dies mid-way fails clearly and works
 * again after a restart, and the file backend is refused.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { isMcpAgentError } from '../../src/errors.js';
import type { AppendOptions, MemberAppendOptions } from '../../src/stores/append-log.js';
import { FileKeyValueStore } from '../../src/stores/file.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RedisKeyValueStore } from '../../src/stores/redis.js';
import { Sealer } from '../../src/stores/seal.js';
import { SharedStreamEventStore } from '../../src/stores/stream-events-shared.js';
import { TokenStore } from '../../src/stores/token-store.js';
import { waitFor } from '../support/net.js';
import {
  deleteRedisKeys,
  type RedisServer,
  rawRedis,
  startRedisServer,
} from '../support/redis-server.js';
import { describeWith, REDIS_URL, redisServerBinary, redisService } from '../support/services.js';

const redis = await redisService();
const PASSPHRASE = 'a passphrase for shared stream events, long enough';
const PASSWORD = 'CANARY-redis-pw-stream-3m9x';
const CANARY = 'CANARY-message-text-q7w2';
const SIZE = 10_000;
/** Bounds that keep every event of a 10,000-event session. */
const ROOMY = { eventsPerStream: 20_000, bytesPerOwner: 64 * 1024 * 1024 };

function message(n: number, text = `event ${n}`) {
  return { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: n, text } };
}

function progressOf(events: readonly { message: unknown }[] | undefined) {
  return events?.map(
    (event) => (event.message as { params?: { progress: number } }).params?.progress,
  );
}

/** A memory backend that counts its calls and the entries it reads. */
class CountingStore extends MemoryKeyValueStore {
  calls = { appendToMember: 0, appendToLog: 0, readLog: 0, deleteLog: 0, get: 0, set: 0 };
  entriesRead = 0;
  bytesWritten = 0;

  override appendToMember(
    group: string,
    member: string,
    entry: string,
    options: MemberAppendOptions,
  ) {
    this.calls.appendToMember += 1;
    this.bytesWritten += entry.length;
    return super.appendToMember(group, member, entry, options);
  }
  override appendToLog(key: string, entry: string, options: AppendOptions) {
    this.calls.appendToLog += 1;
    this.bytesWritten += entry.length;
    return super.appendToLog(key, entry, options);
  }
  override async readLog(key: string) {
    this.calls.readLog += 1;
    const entries = await super.readLog(key);
    this.entriesRead += entries.length;
    return entries;
  }
  override deleteLog(key: string) {
    this.calls.deleteLog += 1;
    return super.deleteLog(key);
  }
  override get(key: string) {
    this.calls.get += 1;
    return super.get(key);
  }
  override set(key: string, value: string) {
    this.calls.set += 1;
    return super.set(key, value);
  }
  reset() {
    for (const name of Object.keys(this.calls)) this.calls[name as keyof typeof this.calls] = 0;
    this.entriesRead = 0;
    this.bytesWritten = 0;
  }
}

test('a 10,000-event session: every append is one member append, reads nothing, writes the event only', async () => {
  const kv = new CountingStore();
  const store = new SharedStreamEventStore(kv, {
    bounds: ROOMY,
    sealer: new Sealer(new Secret(PASSPHRASE)),
  });
  const first = await store.append('owner', 'stream', message(0));
  const perWindow: { calls: typeof kv.calls; bytes: number }[] = [];
  for (let i = 1; i < SIZE; i++) {
    if (i === 1 || i === SIZE - 100) kv.reset();
    await store.append('owner', 'stream', message(i % 100));
    if (i === 100 || i === SIZE - 1)
      perWindow.push({ calls: { ...kv.calls }, bytes: kv.bytesWritten });
  }
  const [early, late] = perWindow;
  expect(early?.calls).toEqual({
    appendToMember: 100,
    appendToLog: 0,
    readLog: 0,
    deleteLog: 0,
    get: 0,
    set: 0,
  });
  expect(late?.calls).toEqual(early?.calls);
  expect(kv.entriesRead).toBe(0);
  // The bytes written per append do not grow with the session (sealing adds a constant).
  expect(Math.abs((late?.bytes ?? 0) - (early?.bytes ?? 0))).toBeLessThan(500);
  const replay = await store.after('owner', first);
  expect(replay?.events).toHaveLength(SIZE - 1);
  expect(progressOf(replay?.events.slice(-2))).toEqual([98, 99]);
});

test('a resume reads the one stream its id names: an unknown id reads at most one log', async () => {
  const kv = new CountingStore();
  const store = new SharedStreamEventStore(kv, { bounds: ROOMY });
  let first = '';
  for (let stream = 0; stream < 20; stream++) {
    for (let i = 0; i < 50; i++) {
      const id = await store.append('owner', `stream-${stream}`, message(i));
      if (stream === 0 && i === 0) first = id;
    }
  }
  kv.reset();
  expect(progressOf((await store.after('owner', first))?.events)?.length).toBe(49);
  expect([kv.calls.readLog, kv.entriesRead]).toEqual([1, 50]);
  for (const unknown of ['not-an-id', `${first.slice(0, 44)}AAAAAAAAAAAAAAAAAAAAAAAA`]) {
    kv.reset();
    expect(await store.after('owner', unknown)).toBeUndefined();
    expect(kv.calls.readLog).toBeLessThanOrEqual(1);
    expect(kv.entriesRead).toBeLessThanOrEqual(50);
  }
  // Another owner's stream named by the same hash is not read: the key holds the owner.
  kv.reset();
  expect(await store.after('someone else', first)).toBeUndefined();
  expect(kv.entriesRead).toBe(0);
});

test("an owner's bytes are bounded across its streams: the least recently written go whole", async () => {
  const kv = new CountingStore();
  const text = 'x'.repeat(1_000);
  const store = new SharedStreamEventStore(kv, {
    bounds: { bytesPerOwner: 10_000, streamsPerOwner: 32 },
  });
  const firsts: string[] = [];
  for (let stream = 0; stream < 20; stream++) {
    firsts.push(await store.append('owner', `stream-${stream}`, message(0, text)));
    await store.append('owner', `stream-${stream}`, message(1, text));
  }
  // About 2 KiB per stream, 10 KiB per owner: only the newest few streams are left.
  const kept = [];
  for (const [stream, first] of firsts.entries()) {
    if ((await store.after('owner', first)) !== undefined) kept.push(stream);
  }
  expect(kept.length).toBeGreaterThan(0);
  expect(kept.length).toBeLessThanOrEqual(5);
  expect(kept.at(-1)).toBe(19);
  expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 20 - kept.length + i));
  expect(progressOf((await store.after('owner', firsts[19] ?? ''))?.events)).toEqual([1]);
  // What another owner writes is not pushed out by this one.
  const theirs = await store.append('other', 'stream', message(7));
  await store.append('owner', 'stream-20', message(0, text));
  expect(await store.streamOf('other', theirs)).toBe('stream');
});

test('an event that does not open (another key) is replayed as a gap, never skipped', async () => {
  const kv = new MemoryKeyValueStore();
  const mine = new SharedStreamEventStore(kv, { sealer: new Sealer(new Secret(PASSPHRASE)) });
  const other = new SharedStreamEventStore(kv, {
    sealer: new Sealer(new Secret('another passphrase, long enough too')),
  });
  const first = await mine.append('o', 's', message(1));
  const foreign = await other.append('o', 's', message(2));
  const last = await mine.append('o', 's', message(3));
  const replay = await mine.after('o', first);
  expect(replay?.events).toEqual([
    { eventId: foreign, message: { gap: true } },
    { eventId: last, message: message(3) },
  ]);
  expect(await mine.after('o', foreign)).toBeUndefined();
  expect(await other.streamOf('o', first)).toBeUndefined();
});

test('the file backend is refused with a clear error (it keeps no append logs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shared-streams-'));
  try {
    const file = new FileKeyValueStore({ path: join(dir, 'tokens.json') });
    const refusal = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    for (const error of [
      refusal(() => new SharedStreamEventStore(file)),
      refusal(() => new TokenStore(file, { sharedStreams: true })),
    ]) {
      expect(isMcpAgentError(error, 'CONFIG_INVALID'), inspect(error)).toBe(true);
      expect((error as Error).message).toContain('file backend');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describeWith(redis)('two replicas on one Redis', () => {
  const prefix = `test-stream-replicas-${randomUUID()}`;
  const stores: RedisKeyValueStore[] = [];
  const replica = () => {
    const kv = new RedisKeyValueStore({ url: REDIS_URL, prefix });
    stores.push(kv);
    return new SharedStreamEventStore(kv, { sealer: new Sealer(new Secret(PASSPHRASE)) });
  };

  afterEach(async () => {
    for (const kv of stores.splice(0)) await kv.close();
  });
  afterAll(async () => {
    await deleteRedisKeys(REDIS_URL, prefix);
  });

  test('a stream written on one replica is resumed on the other, for its owner only', async () => {
    const a = replica();
    const b = replica();
    const first = await a.append('session-1', 'stream', message(1));
    await b.append('session-1', 'stream', message(2));
    await a.append('session-1', 'stream', message(3));
    expect(await b.streamOf('session-1', first)).toBe('stream');
    expect(progressOf((await b.after('session-1', first))?.events)).toEqual([2, 3]);
    expect(await b.after('session-2', first)).toBeUndefined();
    await b.forget('session-1');
    expect(await a.after('session-1', first)).toBeUndefined();
  });
});

describeWith(redisServerBinary)('on a private redis-server', () => {
  let server: RedisServer;
  const stores: RedisKeyValueStore[] = [];
  const sealer = new Sealer(new Secret(PASSPHRASE));
  const open = (prefix: string) => {
    const kv = new RedisKeyValueStore({ url: server.url, prefix, commandTimeoutMs: 1_000 });
    stores.push(kv);
    return new SharedStreamEventStore(kv, { sealer, bounds: ROOMY });
  };

  beforeAll(async () => {
    server = await startRedisServer({ password: PASSWORD });
  });
  afterEach(async () => {
    for (const kv of stores.splice(0)) await kv.close();
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** Calls per Redis command since the last reset (scripts' own commands included). */
  async function commandCounts(reset: boolean): Promise<Record<string, number>> {
    const client = await rawRedis(server.url);
    try {
      const counts: Record<string, number> = {};
      for (const [, name, calls] of String(await client.info('commandstats')).matchAll(
        /^cmdstat_([a-z|]+):calls=(\d+)/gm,
      )) {
        if (name && !['info', 'config|resetstat', 'auth', 'hello', 'client|setinfo'].includes(name))
          counts[name] = Number(calls);
      }
      if (reset) await client.configResetStat();
      return counts;
    } finally {
      client.destroy();
    }
  }

  test('a 10,000-event session: the same Redis commands per append at its start and at its end', async () => {
    const store = open('size');
    const first = await store.append('owner', 'stream', message(0));
    const windows: Record<string, number>[] = [];
    for (let i = 1; i < SIZE; i++) {
      if (i === 1 || i === SIZE - 10) await commandCounts(true);
      await store.append('owner', 'stream', message(i % 100, CANARY));
      if (i === 10 || i === SIZE - 1) windows.push(await commandCounts(false));
    }
    const [early, late] = windows;
    // Ten appends: one script each, for the event and the index (which moves the stream's name
    // to its end) and their byte counters; the owner's streams are read only past a bound.
    expect(early).toEqual({
      eval: 10,
      rpush: 20,
      incrby: 20,
      lrem: 10,
      pexpire: 40,
    });
    expect(late).toEqual(early);
    const replay = await store.after('owner', first);
    expect(replay?.events).toHaveLength(SIZE - 1);
  }, 120_000);

  test('Redis dying mid-way: STORE_UNAVAILABLE without secrets, then it works again after a restart', async () => {
    const store = open('outage');
    const first = await store.append('owner', 'stream', message(1, CANARY));
    await server.kill();
    const failures: unknown[] = [];
    for (const operation of [
      () => store.append('owner', 'stream', message(2, CANARY)),
      () => store.after('owner', first),
      () => store.streamOf('owner', first),
      () => store.forget('owner'),
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
    // The data is gone (no persistence); the store works again once the client reconnects.
    const again = await waitFor(
      'the store to work again',
      () => store.append('owner', 'stream', message(3)).catch(() => undefined),
      10_000,
    );
    await store.append('owner', 'stream', message(4));
    expect(progressOf((await store.after('owner', again))?.events)).toEqual([4]);
  }, 30_000);
});
