/**
 * The `redis` backend against a private `redis-server` that the tests kill and restart: failures
 * are STORE_UNAVAILABLE without credentials, nothing crashes the process, the store recovers, and
 * compare-and-set holds across connections.
 */
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { isMcpAgentError } from '../../src/errors.js';
import type { KeyValueStore } from '../../src/stores/kv.js';
import { RedisKeyValueStore } from '../../src/stores/redis.js';
import { freePort, waitFor, within } from '../support/net.js';
import { type RedisServer, rawRedis, startRedisServer } from '../support/redis-server.js';
import { describeWith, redisServerBinary } from '../support/services.js';

const PASSWORD = 'CANARY-redis-pw-4k2j';
const TOKEN = 'CANARYTOKEN-redis-value-8s1m';

/** Process-level failures seen while a test runs (an unhandled 'error' event would land here). */
const processFailures: unknown[] = [];
const onFailure = (error: unknown): void => {
  processFailures.push(error);
};

/** The error `promise` rejects with, within `ms` (fails the test if it resolves or hangs). */
async function rejection(promise: Promise<unknown>, ms = 5_000): Promise<Error> {
  try {
    await within('the operation to fail', promise, ms);
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection, but the promise resolved');
}

describeWith(redisServerBinary)('RedisKeyValueStore on a private redis-server', () => {
  let server: RedisServer;
  const stores: KeyValueStore[] = [];

  /** A store on the private server, closed after the test. */
  function store(prefix: string, url = server.url): RedisKeyValueStore {
    const created = new RedisKeyValueStore({ url, prefix, commandTimeoutMs: 1_000 });
    stores.push(created);
    return created;
  }

  beforeAll(async () => {
    server = await startRedisServer({ password: PASSWORD });
    process.on('uncaughtException', onFailure);
    process.on('unhandledRejection', onFailure);
  });

  afterEach(async () => {
    for (const created of stores.splice(0)) {
      await within('close()', created.close(), 5_000);
    }
  });

  afterAll(async () => {
    process.off('uncaughtException', onFailure);
    process.off('unhandledRejection', onFailure);
    await server?.stop();
  });

  test('the store works on the private server, under its prefix', async () => {
    const kv = store('app:tokens');
    expect(await kv.set('k', TOKEN)).toBe(1);
    expect(await kv.get('k')).toEqual({ value: TOKEN, version: 1 });
    const raw = await rawRedis(server.url);
    try {
      expect(await raw.keys('*')).toEqual(['app:tokens:k']);
    } finally {
      raw.destroy();
    }
  });

  test('a value that is not the store’s format reads as absent', async () => {
    const kv = store('foreign');
    const raw = await rawRedis(server.url);
    try {
      await raw.set('foreign:k', 'written by something else');
    } finally {
      raw.destroy();
    }
    expect(await kv.get('k')).toBeUndefined();
  });

  test('concurrent writers on two connections with the same expectVersion: exactly one wins', async () => {
    const first = store('cas');
    const second = store('cas');
    for (let round = 0; round < 20; round++) {
      const key = `counter-${round}`;
      const created = await Promise.all([
        first.set(key, 'first', { expectVersion: null }),
        second.set(key, 'second', { expectVersion: null }),
      ]);
      expect(created.filter((version) => version !== undefined)).toEqual([1]);

      const results = await Promise.all([
        first.set(key, 'first again', { expectVersion: 1 }),
        second.set(key, 'second again', { expectVersion: 1 }),
      ]);
      expect(results.filter((version) => version !== undefined)).toEqual([2]);
      const winner = results[0] === 2 ? 'first again' : 'second again';
      expect(await first.get(key)).toEqual({ value: winner, version: 2 });
      expect(await second.get(key)).toEqual({ value: winner, version: 2 });
    }
  });

  test('a dead server: STORE_UNAVAILABLE naming host:port without the password; recovery after a restart', async () => {
    const kv = store('outage');
    expect(await kv.set('k', TOKEN)).toBe(1);
    await server.kill();

    const failures: Error[] = [];
    for (const operation of [
      () => kv.get('k'),
      () => kv.set('k', TOKEN),
      () => kv.set('k', TOKEN, { expectVersion: 1, ttlMs: 1_000 }),
      () => kv.delete('k'),
      () => kv.keys(),
    ]) {
      failures.push(await rejection(operation()));
    }
    for (const error of failures) {
      expect(isMcpAgentError(error, 'STORE_UNAVAILABLE'), inspect(error)).toBe(true);
      expect(error.message).toBe(
        `The Redis token store at redis://127.0.0.1:${server.port} is not reachable; check oauth.token_store.redis_url and that Redis is running.`,
      );
      const shown = `${error.message}\n${error.stack ?? ''}\n${inspect(error, { depth: 10 })}`;
      expect(shown).not.toContain(PASSWORD);
      expect(shown).not.toContain(TOKEN);
    }

    await server.restart();
    // The client reconnects on its own (backoff at most 2 s); the data is gone (no persistence).
    const version = await waitFor(
      'the store to work again',
      async () => kv.set('k', 'after restart').catch(() => undefined),
      10_000,
    );
    expect(version).toBe(1);
    expect(await kv.get('k')).toEqual({ value: 'after restart', version: 1 });
    expect(processFailures).toEqual([]);
  }, 20_000);

  test('a server that is down from the start: STORE_UNAVAILABLE, then the store works once it is up', async () => {
    const port = await freePort();
    const url = `redis://:${PASSWORD}@127.0.0.1:${port}`;
    const kv = store('late', url);
    const error = await rejection(kv.get('k'));
    expect(isMcpAgentError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(error.message).toContain(`redis://127.0.0.1:${port}`);
    expect(inspect(error, { depth: 10 })).not.toContain(PASSWORD);

    const late = await startRedisServer({ port, password: PASSWORD });
    try {
      const version = await waitFor(
        'the store to connect',
        async () => kv.set('k', 'v').catch(() => undefined),
        10_000,
      );
      expect(version).toBe(1);
      await within('close()', kv.close(), 5_000);
    } finally {
      await late.stop();
    }
    expect(processFailures).toEqual([]);
  }, 20_000);

  test('a wrong password: STORE_UNAVAILABLE without either password in it', async () => {
    const wrong = 'CANARY-wrong-pw-77aa';
    const kv = store('auth', `redis://:${wrong}@127.0.0.1:${server.port}`);
    const error = await rejection(kv.get('k'));
    expect(isMcpAgentError(error, 'STORE_UNAVAILABLE')).toBe(true);
    const shown = `${error.message}\n${inspect(error, { depth: 10 })}`;
    expect(shown).not.toContain(wrong);
    expect(shown).not.toContain(PASSWORD);
  });

  test('close() settles while the server is down (after it had connected)', async () => {
    // close() calls client.quit(), which queues QUIT for when the socket reconnects: with Redis
    // down it never settles, so shutting down an agent hangs until Redis comes back.
    const kv = store('closing');
    await kv.set('k', 'v');
    await server.kill();
    try {
      await within('close() with the server down', kv.close(), 5_000);
    } finally {
      await server.restart();
    }
    expect(processFailures).toEqual([]);
  });
});
