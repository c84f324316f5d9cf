import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { oauthSchema } from '../../src/config/schema/oauth.js';
import { Secret } from '../../src/config/secret.js';
import { isMcpAgentError } from '../../src/errors.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { storageKey, type TokenKey, type TokenRecord } from '../../src/stores/record.js';
import { Sealer } from '../../src/stores/seal.js';
import { createTokenStore, REFRESH_WINDOW_MS, TokenStore } from '../../src/stores/token-store.js';
import { tempTree } from '../helpers/cli.js';
import { manualClock } from '../support/clock.js';
import { freePort } from '../support/net.js';
import { deleteRedisKeys, rawRedis } from '../support/redis-server.js';
import { REDIS_URL, redisService, testWith } from '../support/services.js';

const ACCESS = 'CANARY-access-tok-5d8e';
const REFRESH = 'CANARY-refresh-tok-0b7c';
const PASSPHRASE = 'CANARY-passphrase-long-enough';
const redis = await redisService();
const REDIS_PREFIX = `mcp-agent-ts-test-${randomBytes(6).toString('hex')}`;

const key: TokenKey = {
  identity: 'https://id.example.com#alice',
  server: 'github',
  issuer: 'https://as.example.com',
  resource: 'https://mcp.example.com/mcp',
  scopes: ['repo', 'read:user'],
};
const otherKey: TokenKey = { ...key, server: 'gitlab' };

/** A record obtained at `now`, expiring `expiresIn` ms later (absent: no expiry). */
function record(
  now: number,
  options: { expiresIn?: number; refresh?: boolean; access?: string } = {},
): TokenRecord {
  return {
    accessToken: new Secret(options.access ?? ACCESS),
    ...(options.refresh === false ? {} : { refreshToken: new Secret(REFRESH) }),
    tokenType: 'Bearer',
    ...(options.expiresIn !== undefined ? { expiresAt: now + options.expiresIn } : {}),
    obtainedAt: now,
    scopes: ['repo', 'read:user'],
    issuer: key.issuer,
    resource: key.resource,
    server: key.server,
  };
}

/** A token store over a memory backend, both on one hand-moved clock. */
function memoryStore(options: { sealer?: Sealer; leewayMs?: number } = {}) {
  const clock = manualClock();
  const kv = new MemoryKeyValueStore({ now: clock.now });
  const store = new TokenStore(kv, { now: clock.now, ...options });
  return { clock, kv, store };
}

const trees: ReturnType<typeof tempTree>[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});
afterAll(async () => {
  if (redis.available) await deleteRedisKeys(REDIS_URL, `${REDIS_PREFIX}:`);
});

describe('TokenStore over memory', () => {
  test('put, get and delete by TokenKey; scope order and duplicates do not matter', async () => {
    const { clock, store } = memoryStore();
    const stored = record(clock.now(), { expiresIn: 3_600_000 });
    expect(await store.get(key)).toBeUndefined();
    expect(await store.put(key, stored)).toBe(1);

    const read = await store.get({ ...key, scopes: ['read:user', 'repo', 'repo'] });
    expect(read?.version).toBe(1);
    expect(read?.record.accessToken.reveal()).toBe(ACCESS);
    expect(read?.record.refreshToken?.reveal()).toBe(REFRESH);
    expect(read?.record).toMatchObject({
      tokenType: 'Bearer',
      expiresAt: stored.expiresAt,
      obtainedAt: stored.obtainedAt,
      scopes: ['repo', 'read:user'],
      issuer: key.issuer,
      resource: key.resource,
      server: 'github',
    });
    expect(await store.get(otherKey)).toBeUndefined();
    expect(await store.get({ ...key, scopes: ['repo'] })).toBeUndefined();

    expect(await store.list()).toEqual([
      { id: storageKey(key), record: expect.objectContaining({ server: 'github' }) },
    ]);
    expect(await store.delete(key)).toBe(true);
    expect(await store.get(key)).toBeUndefined();
    expect(await store.delete(key)).toBe(false);
  });

  test('compare-and-set: expectVersion null, a current and a stale version', async () => {
    const { clock, store } = memoryStore();
    const now = clock.now();
    expect(await store.put(key, record(now), { expectVersion: null })).toBe(1);
    expect(
      await store.put(key, record(now, { access: 'CANARY-a2' }), { expectVersion: null }),
    ).toBe(undefined);
    expect(await store.put(key, record(now, { access: 'CANARY-a3' }), { expectVersion: 1 })).toBe(
      2,
    );
    expect(await store.put(key, record(now, { access: 'CANARY-a4' }), { expectVersion: 1 })).toBe(
      undefined,
    );
    const read = await store.get(key);
    expect(read?.version).toBe(2);
    expect(read?.record.accessToken.reveal()).toBe('CANARY-a3');
    expect(await store.put(key, record(now, { access: 'CANARY-a5' }))).toBe(3);

    expect(await store.delete(key, { expectVersion: 2 })).toBe(false);
    expect((await store.get(key))?.version).toBe(3);
    expect(await store.delete(key, { expectVersion: 3 })).toBe(true);
  });

  test('with a refresh token the record is kept until expiresAt + the refresh window', async () => {
    const { clock, store } = memoryStore();
    await store.put(key, record(clock.now(), { expiresIn: 3_600_000 }));
    clock.advance(3_600_000 + REFRESH_WINDOW_MS - 1);
    expect(await store.get(key)).toBeDefined();
    clock.advance(1);
    expect(await store.get(key)).toBeUndefined();
  });

  test('without a refresh token the record is kept until expiresAt + the leeway', async () => {
    const { clock, store } = memoryStore({ leewayMs: 30_000 });
    await store.put(key, record(clock.now(), { expiresIn: 3_600_000, refresh: false }));
    clock.advance(3_600_000 + 30_000 - 1);
    expect(await store.get(key)).toBeDefined();
    clock.advance(1);
    expect(await store.get(key)).toBeUndefined();
  });

  test('the leeway defaults to 60 s', async () => {
    const { clock, store } = memoryStore();
    await store.put(key, record(clock.now(), { expiresIn: 1_000, refresh: false }));
    clock.advance(1_000 + 60_000 - 1);
    expect(await store.get(key)).toBeDefined();
    clock.advance(1);
    expect(await store.get(key)).toBeUndefined();
  });

  test('the TTL counts from the store’s now, not from obtainedAt', async () => {
    const { clock, store } = memoryStore({ leewayMs: 0 });
    const obtained = clock.now() - 10_000;
    // Obtained 10 s ago, expires in 5 s from now.
    await store.put(key, {
      ...record(obtained, { refresh: false }),
      expiresAt: clock.now() + 5_000,
    });
    clock.advance(4_999);
    expect(await store.get(key)).toBeDefined();
    clock.advance(1);
    expect(await store.get(key)).toBeUndefined();
  });

  test('a record without expiresAt has no TTL', async () => {
    const { clock, store } = memoryStore();
    await store.put(key, record(clock.now(), { refresh: false }));
    clock.advance(100 * 365 * 24 * 3_600_000);
    expect((await store.get(key))?.record.accessToken.reveal()).toBe(ACCESS);
  });

  test('a record already past its window is gone at once', async () => {
    const { clock, store } = memoryStore();
    expect(await store.put(key, record(clock.now(), { expiresIn: -120_000, refresh: false }))).toBe(
      1,
    );
    clock.advance(1);
    expect(await store.get(key)).toBeUndefined();
  });
});

describe('encryption at rest', () => {
  const sealer = new Sealer(new Secret(PASSPHRASE));

  test('the stored value is sealed (enc:v1:) and contains no token', async () => {
    const { clock, kv, store } = memoryStore({ sealer });
    await store.put(key, record(clock.now(), { expiresIn: 3_600_000 }));
    const raw = await kv.get(storageKey(key));
    expect(raw?.value.startsWith('enc:v1:')).toBe(true);
    for (const secret of [ACCESS, REFRESH, 'Bearer', key.issuer, PASSPHRASE]) {
      expect(raw?.value).not.toContain(secret);
    }
    expect(Sealer.isSealed(raw?.value ?? '')).toBe(true);
    expect((await store.get(key))?.record.refreshToken?.reveal()).toBe(REFRESH);
    expect((await store.list()).map((entry) => entry.id)).toEqual([storageKey(key)]);
  });

  test('two writes of the same record give different ciphertexts', async () => {
    const { clock, kv, store } = memoryStore({ sealer });
    await store.put(key, record(clock.now()));
    const first = (await kv.get(storageKey(key)))?.value;
    await store.put(key, record(clock.now()));
    expect((await kv.get(storageKey(key)))?.value).not.toBe(first);
  });

  test('a sealed value copied under another key does not open', async () => {
    const { clock, kv, store } = memoryStore({ sealer });
    await store.put(key, record(clock.now()));
    const sealed = await kv.get(storageKey(key));
    await kv.set(storageKey(otherKey), sealed?.value ?? '');
    expect(await kv.get(storageKey(otherKey))).toBeDefined();
    expect(await store.get(otherKey)).toBeUndefined();
    expect((await store.list()).map((entry) => entry.id)).toEqual([storageKey(key)]);
  });

  test('a tampered value does not open', async () => {
    const { clock, kv, store } = memoryStore({ sealer });
    await store.put(key, record(clock.now()));
    const sealed = (await kv.get(storageKey(key)))?.value ?? '';
    const last = sealed.at(-2) === 'A' ? 'B' : 'A';
    await kv.set(storageKey(key), `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`);
    expect(await store.get(key)).toBeUndefined();
  });

  test('another passphrase cannot read; neither can a store without encryption', async () => {
    const { clock, kv, store } = memoryStore({ sealer });
    await store.put(key, record(clock.now()));
    const wrong = new TokenStore(kv, {
      now: clock.now,
      sealer: new Sealer(new Secret('CANARY-another-passphrase')),
    });
    expect(await wrong.get(key)).toBeUndefined();
    expect(await wrong.list()).toEqual([]);
    const plain = new TokenStore(kv, { now: clock.now });
    expect(await plain.get(key)).toBeUndefined();
    expect(await plain.list()).toEqual([]);
    // …and each says why, with whose record it is (never its content).
    const whose = { id: storageKey(key), identity: key.identity, server: key.server };
    expect(await wrong.unreadable()).toEqual([{ ...whose, reason: 'other-key' }]);
    expect(await plain.unreadable()).toEqual([{ ...whose, reason: 'no-key' }]);
    expect(await store.unreadable()).toEqual([]);
  });

  test('an encrypting store does not accept a plaintext record', async () => {
    const { clock, kv } = memoryStore();
    await new TokenStore(kv, { now: clock.now }).put(key, record(clock.now()));
    const encrypting = new TokenStore(kv, { now: clock.now, sealer });
    expect(await encrypting.get(key)).toBeUndefined();
    expect((await encrypting.unreadable()).map((entry) => entry.reason)).toEqual(['not-encrypted']);
  });

  test('a value that is no token record is unreadable, not an error', async () => {
    const { kv, store } = memoryStore();
    await kv.set(storageKey(key), '{"not":"a record"}');
    expect(await store.get(key)).toBeUndefined();
    expect((await store.unreadable()).map((entry) => entry.reason)).toEqual(['not-a-record']);
  });

  test('a passphrase shorter than 16 characters is refused, without showing it', () => {
    const short = 'CANARY-short-15';
    expect(short).toHaveLength(15);
    let thrown: unknown;
    try {
      new Sealer(new Secret(short));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(inspect(thrown)).not.toContain(short);
    expect(() => new Sealer(new Secret('x'.repeat(16)))).not.toThrow();
  });
});

describe('createTokenStore from the parsed oauth.token_store', () => {
  const tokenStore = (input: Record<string, unknown>) =>
    oauthSchema.parse({ token_store: input }).token_store;

  test('memory (the default), with refresh_leeway_seconds as the leeway', async () => {
    const clock = manualClock();
    const settings = oauthSchema.parse({}).token_store;
    expect(settings.backend).toBe('memory');
    const store = createTokenStore(settings, { now: clock.now });
    await store.put(key, record(clock.now(), { expiresIn: 1_000, refresh: false }));
    clock.advance(1_000 + 60_000 - 1);
    expect((await store.get(key))?.record.accessToken.reveal()).toBe(ACCESS);
    clock.advance(1);
    expect(await store.get(key)).toBeUndefined();

    const quick = createTokenStore(tokenStore({ refresh_leeway_seconds: 5 }), { now: clock.now });
    await quick.put(key, record(clock.now(), { expiresIn: 1_000, refresh: false }));
    clock.advance(1_000 + 5_000);
    expect(await quick.get(key)).toBeUndefined();
  });

  test('file, under homeDir, shared by two stores on the same settings', async () => {
    const tree = tempTree();
    trees.push(tree);
    const settings = tokenStore({ backend: 'file', path: '~/.mcp-agent/tokens.json' });
    const first = createTokenStore(settings, { homeDir: tree.dir });
    expect(await first.put(key, record(Date.now(), { expiresIn: 3_600_000 }))).toBe(1);
    const path = join(tree.dir, '.mcp-agent', 'tokens.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toContain(ACCESS);

    const second = createTokenStore(settings, { homeDir: tree.dir });
    expect((await second.get(key))?.record.accessToken.reveal()).toBe(ACCESS);
    await first.close();
    await second.close();
  });

  test('file, default path, encrypted: the file holds no token', async () => {
    const tree = tempTree();
    trees.push(tree);
    const settings = tokenStore({ backend: 'file', encryption_key: PASSPHRASE });
    const store = createTokenStore(settings, { homeDir: tree.dir });
    await store.put(key, record(Date.now(), { expiresIn: 3_600_000 }));
    const text = readFileSync(join(tree.dir, '.mcp-agent', 'oauth-tokens.json'), 'utf8');
    expect(text).toContain('enc:v1:');
    for (const secret of [ACCESS, REFRESH, PASSPHRASE]) expect(text).not.toContain(secret);
    expect((await store.get(key))?.record.accessToken.reveal()).toBe(ACCESS);

    const wrongKey = createTokenStore(
      tokenStore({ backend: 'file', encryption_key: 'CANARY-other-passphrase' }),
      { homeDir: tree.dir },
    );
    expect(await wrongKey.get(key)).toBeUndefined();
  });

  testWith(redis)('redis, under redis_prefix (a trailing ":" dropped), encrypted', async () => {
    const settings = tokenStore({
      backend: 'redis',
      redis_url: REDIS_URL,
      redis_prefix: `${REDIS_PREFIX}:`,
      encryption_key: PASSPHRASE,
    });
    const store = createTokenStore(settings);
    try {
      expect(await store.put(key, record(Date.now(), { expiresIn: 3_600_000 }))).toBe(1);
      expect((await store.get(key))?.record.accessToken.reveal()).toBe(ACCESS);
      const raw = await rawRedis(REDIS_URL);
      try {
        const id = `${REDIS_PREFIX}:${storageKey(key)}`;
        expect(await raw.keys(`${REDIS_PREFIX}:*`)).toEqual([id]);
        const value = await raw.get(id);
        expect(value).not.toContain(ACCESS);
        // Expiry is Redis's own: expiresAt + the 30-day refresh window.
        const ttl = await raw.pTTL(id);
        expect(ttl).toBeGreaterThan(REFRESH_WINDOW_MS);
        expect(ttl).toBeLessThanOrEqual(REFRESH_WINDOW_MS + 3_600_000);
      } finally {
        raw.destroy();
      }
      expect(await store.delete(key, { expectVersion: 1 })).toBe(true);
    } finally {
      await store.close();
    }
  });

  test('redis that is not reachable: STORE_UNAVAILABLE without the password', async () => {
    const password = 'CANARY-cfg-redis-pw';
    const port = await freePort();
    const settings = tokenStore({
      backend: 'redis',
      redis_url: `redis://:${password}@127.0.0.1:${port}`,
    });
    expect(inspect(settings)).not.toContain(password);
    const store = createTokenStore(settings);
    try {
      await store.put(key, record(Date.now()));
      expect.unreachable('the write should fail');
    } catch (error) {
      expect(isMcpAgentError(error, 'STORE_UNAVAILABLE')).toBe(true);
      const shown = `${String(error)}\n${inspect(error, { depth: 10 })}`;
      expect(shown).toContain(`127.0.0.1:${port}`);
      for (const secret of [password, ACCESS, REFRESH]) expect(shown).not.toContain(secret);
    } finally {
      await store.close();
    }
  });

  test('an encryption_key shorter than 16 characters is a config error that does not show it', () => {
    const short = 'CANARY-15-chars';
    expect(short).toHaveLength(15);
    const result = oauthSchema.safeParse({ token_store: { encryption_key: short } });
    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({
        path: ['token_store', 'encryption_key'],
        message: 'must be at least 16 characters long',
      }),
    ]);
    expect(JSON.stringify(result.error?.issues)).not.toContain(short);
    expect(inspect(result.error, { depth: 10 })).not.toContain(short);
    expect(oauthSchema.safeParse({ token_store: { encryption_key: 'x'.repeat(16) } }).success).toBe(
      true,
    );
    expect(oauthSchema.safeParse({ token_store: { encryption_key: null } }).success).toBe(true);
  });

  test('the redis backend without redis_url is a config error', () => {
    const result = oauthSchema.safeParse({ token_store: { backend: 'redis' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path)).toEqual([['token_store', 'redis_url']]);
  });

  test('a redis_url that is not redis:// or rediss:// is a config error when the store is made, without the URL', () => {
    // The client package is loaded on the first command; the URL is checked before that.
    const password = 'CANARY-http-redis-pw';
    const settings = tokenStore({
      backend: 'redis',
      redis_url: `http://:${password}@127.0.0.1:6379`,
    });
    let thrown: unknown;
    try {
      createTokenStore(settings);
    } catch (error) {
      thrown = error;
    }
    expect(isMcpAgentError(thrown, 'CONFIG_INVALID'), inspect(thrown)).toBe(true);
    expect((thrown as Error).message).toBe(
      'oauth.token_store.redis_url must start with redis:// or rediss://.',
    );
    expect(inspect(thrown, { depth: 10 })).not.toContain(password);
  });
});
