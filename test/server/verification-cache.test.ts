/**
 * Catalogue 1G (token cache) and IN-70 (single flight): TTL = min(ttl, exp − now), the revocation
 * window, the negative cache, outages never cached, namespaces on one shared store, no raw token
 * in the shared store, the LRU bound, and a shared store that fails.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { CallerIdentity } from '../../src/server/identity.js';
import { VerificationCache } from '../../src/server/verification-cache.js';
import { IntrospectionVerifier } from '../../src/server/verifiers/introspection.js';
import type { TokenVerifier, Verification } from '../../src/server/verifiers/verifier.js';
import type { KeyValueStore } from '../../src/stores/kv.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { manualClock } from '../support/clock.js';
import { type FakeServer, send, startFakeServer } from './fixtures.js';

const ISSUER = 'https://as.example';
const AUDIENCE = 'https://mcp.example/mcp';

function caller(expiresAt?: number, extra: Partial<CallerIdentity> = {}): CallerIdentity {
  return {
    issuer: ISSUER,
    subject: 'alice',
    scopes: ['mcp:tools'],
    claims: { sub: 'alice', scope: 'mcp:tools' },
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    verifiedBy: 'jwt',
    ...extra,
  };
}

/** A verifier answering `answer(token)` and counting calls. */
function stub(answer: (token: string) => Verification) {
  const verify = vi.fn(async (token: string) => answer(token));
  return { verify } satisfies TokenVerifier;
}

const good = (expiresAt?: number) => stub(() => ({ ok: true, identity: caller(expiresAt) }));
const bad = () => stub(() => ({ ok: false, reason: 'invalid', description: 'no' }));
const down = () => stub(() => ({ ok: false, reason: 'unavailable', retryAfterSeconds: 5 }));

function token(): string {
  return `tok-${randomBytes(16).toString('base64url')}`;
}

describe('IN-72/73 TTL = min(ttl, exp − now)', () => {
  test('exp = now+5 s, TTL 300 s: cached at +4 s, verified again at +5 s and +6 s', async () => {
    const clock = manualClock();
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', now: clock.now });
    const verifier = good(clock.now() + 5_000);
    const t = token();
    await cache.verify(t, verifier);
    clock.advance(4_000);
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(1);
    clock.advance(1_000);
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(2);
    clock.advance(1_000);
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(3);
  });

  test('exp far away: the TTL bounds the entry', async () => {
    const clock = manualClock();
    const cache = new VerificationCache({ ttlSeconds: 60, namespace: 'n', now: clock.now });
    const verifier = good(clock.now() + 3_600_000);
    const t = token();
    await cache.verify(t, verifier);
    clock.advance(59_999);
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(2);
  });

  test('IN-73 no exp: cached for the TTL; TTL 0: never cached', async () => {
    const clock = manualClock();
    const cache = new VerificationCache({ ttlSeconds: 60, namespace: 'n', now: clock.now });
    const verifier = good(undefined);
    const t = token();
    await cache.verify(t, verifier);
    clock.advance(59_000);
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(1);
    clock.advance(2_000);
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(2);
    const none = new VerificationCache({ ttlSeconds: 0, namespace: 'n', now: clock.now });
    await none.verify(t, verifier);
    await none.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(4);
    expect(none.size).toBe(0);
  });

  test('an already-expired accepted token (inside the clock tolerance) is not kept', async () => {
    const clock = manualClock();
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', now: clock.now });
    const verifier = good(clock.now() - 1_000);
    const t = token();
    expect(await cache.verify(t, verifier)).toMatchObject({ ok: true });
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(2);
    expect(cache.size).toBe(0);
  });
});

describe('IN-72/74 with a real introspection round trip', () => {
  let server: FakeServer;
  let revoked = false;
  const clock = manualClock();
  const seconds = () => Math.floor(clock.now() / 1000);
  let exp = 0;

  beforeAll(async () => {
    server = await startFakeServer((_req, res) =>
      send(
        res,
        200,
        revoked
          ? { active: false }
          : { active: true, iss: ISSUER, aud: AUDIENCE, sub: 'alice', scope: 'mcp:tools', exp },
      ),
    );
  });
  afterAll(async () => {
    await server.close();
  });

  const introspection = () =>
    new IntrospectionVerifier({
      endpoint: server.url('/introspect'),
      clientId: 'rs',
      issuer: ISSUER,
      audiences: [AUDIENCE],
      fetch: globalThis.fetch,
      now: clock.now,
      clockToleranceSeconds: 0,
    });

  test('IN-72 exp = now+5 s, TTL 300 s: refused at +6 s', async () => {
    revoked = false;
    exp = seconds() + 5;
    const verifier = introspection();
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', now: clock.now });
    expect(await cache.verify('opaque-1', verifier)).toMatchObject({ ok: true });
    clock.advance(6_000);
    expect(await cache.verify('opaque-1', verifier)).toMatchObject({
      ok: false,
      description: 'the access token expired',
    });
    expect(verifier.requests).toBe(2);
  });

  test('IN-74 revoked after caching: accepted within the window, refused after it', async () => {
    revoked = false;
    exp = seconds() + 3_600;
    const verifier = introspection();
    const cache = new VerificationCache({ ttlSeconds: 60, namespace: 'n', now: clock.now });
    expect(await cache.verify('opaque-2', verifier)).toMatchObject({ ok: true });
    revoked = true;
    clock.advance(30_000);
    expect(await cache.verify('opaque-2', verifier)).toMatchObject({ ok: true });
    clock.advance(30_001);
    expect(await cache.verify('opaque-2', verifier)).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
    expect(verifier.requests).toBe(2);
  });
});

describe('IN-77 negative cache and outages', () => {
  test('a refusal is remembered 30 s by default, then asked again', async () => {
    const clock = manualClock();
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', now: clock.now });
    const verifier = bad();
    const t = token();
    await cache.verify(t, verifier);
    clock.advance(29_999);
    expect(await cache.verify(t, verifier)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(verifier.verify).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(2);
  });

  test('negativeTtlSeconds is honoured', async () => {
    const clock = manualClock();
    const cache = new VerificationCache({
      ttlSeconds: 300,
      negativeTtlSeconds: 5,
      namespace: 'n',
      now: clock.now,
    });
    const verifier = bad();
    const t = token();
    await cache.verify(t, verifier);
    clock.advance(5_000);
    await cache.verify(t, verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(2);
  });

  test('an outage is never cached, locally or in the shared store', async () => {
    const clock = manualClock();
    const shared = new MemoryKeyValueStore({ now: clock.now });
    const cache = new VerificationCache({
      ttlSeconds: 300,
      namespace: 'n',
      shared,
      now: clock.now,
    });
    const verifier = down();
    const t = token();
    for (let i = 0; i < 3; i++) {
      expect(await cache.verify(t, verifier)).toMatchObject({ reason: 'unavailable' });
    }
    expect(verifier.verify).toHaveBeenCalledTimes(3);
    expect(cache.size).toBe(0);
    expect(await shared.keys()).toEqual([]);
    // Once it answers, the token is verified (not stuck on an outage).
    expect(await cache.verify(t, good())).toMatchObject({ ok: true });
  });
});

describe('IN-70 single flight', () => {
  test('1,000 concurrent verify() of one new token → exactly 1 verifier call', async () => {
    const clock = manualClock();
    for (const shared of [undefined, new MemoryKeyValueStore({ now: clock.now })]) {
      const cache = new VerificationCache({
        ttlSeconds: 300,
        namespace: 'n',
        shared,
        now: clock.now,
      });
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const verify = vi.fn(async (): Promise<Verification> => {
        await gate;
        return { ok: true, identity: caller() };
      });
      const t = token();
      const all = Array.from({ length: 1_000 }, () => cache.verify(t, { verify }));
      await new Promise((resolve) => setImmediate(resolve));
      release();
      const results = await Promise.all(all);
      expect(verify).toHaveBeenCalledTimes(1);
      expect(results.every((result) => result.ok)).toBe(true);
    }
  });

  test('distinct tokens do not share a flight', async () => {
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n' });
    const verifier = good();
    await Promise.all([cache.verify('a', verifier), cache.verify('b', verifier)]);
    expect(verifier.verify).toHaveBeenCalledTimes(2);
  });

  test('a failed flight is not remembered as a result (a throwing verifier)', async () => {
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n' });
    const verify = vi.fn(async (): Promise<Verification> => {
      throw new Error('boom');
    });
    await expect(cache.verify('t', { verify })).rejects.toThrow('boom');
    expect(await cache.verify('t', good())).toMatchObject({ ok: true });
  });
});

describe('IN-75/76 shared store: namespaces and no raw token', () => {
  test('two namespaces on one shared store: A accepts, B misses and asks its own verifier', async () => {
    const clock = manualClock();
    const shared = new MemoryKeyValueStore({ now: clock.now });
    const a = new VerificationCache({
      ttlSeconds: 300,
      namespace: `${ISSUER}|${AUDIENCE}|jwt`,
      shared,
      now: clock.now,
    });
    const b = new VerificationCache({
      ttlSeconds: 300,
      namespace: `${ISSUER}|https://other.example/mcp|jwt`,
      shared,
      now: clock.now,
    });
    const t = token();
    const acceptsAll = good();
    const refusesAll = bad();
    expect(await a.verify(t, acceptsAll)).toMatchObject({ ok: true });
    expect(await b.verify(t, refusesAll)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(refusesAll.verify).toHaveBeenCalledTimes(1);
    // A replica of A (same namespace, same store) hits without verifying.
    const replica = new VerificationCache({
      ttlSeconds: 300,
      namespace: `${ISSUER}|${AUDIENCE}|jwt`,
      shared,
      now: clock.now,
    });
    const never = good();
    expect(await replica.verify(t, never)).toMatchObject({ ok: true, identity: caller() });
    expect(never.verify).not.toHaveBeenCalled();
    // The shared entry expires with the result.
    clock.advance(301_000);
    const later = new VerificationCache({
      ttlSeconds: 300,
      namespace: `${ISSUER}|${AUDIENCE}|jwt`,
      shared,
      now: clock.now,
    });
    await later.verify(t, never);
    expect(never.verify).toHaveBeenCalledTimes(1);
  });

  test('a dump of the shared store holds no raw token (canary), only hashed keys', async () => {
    const shared = new MemoryKeyValueStore();
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', shared });
    const canaries = [
      `CANARY-${randomBytes(24).toString('hex')}`,
      `CANARY-${randomBytes(24).toString('hex')}`,
    ];
    await cache.verify(canaries[0] ?? '', good(Date.now() + 60_000));
    await cache.verify(canaries[1] ?? '', bad());
    const keys = await shared.keys();
    expect(keys).toHaveLength(2);
    const dump = JSON.stringify(
      await Promise.all(keys.map(async (key) => [key, (await shared.get(key))?.value])),
    );
    for (const canary of canaries) {
      expect(dump).not.toContain(canary);
      expect(dump).not.toContain(canary.slice(7));
      expect(dump).not.toContain(Buffer.from(canary).toString('base64'));
    }
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{16}:[A-Za-z0-9_-]{43}$/);
  });

  test('a malformed or oversized shared value is ignored (verified locally)', async () => {
    const shared = new MemoryKeyValueStore();
    const writer = new VerificationCache({ ttlSeconds: 300, namespace: 'n', shared });
    const t = token();
    await writer.verify(t, good());
    const [key] = await shared.keys();
    for (const value of [
      '{',
      'null',
      '{"until":1}',
      JSON.stringify({ until: Date.now() + 60_000, identity: { issuer: 1 } }),
      'x'.repeat(70_000),
    ]) {
      await shared.set(key ?? '', value);
      const reader = new VerificationCache({ ttlSeconds: 300, namespace: 'n', shared });
      const verifier = bad();
      expect(await reader.verify(t, verifier)).toMatchObject({ ok: false, reason: 'invalid' });
      expect(verifier.verify).toHaveBeenCalledTimes(1);
    }
  });
});

describe('IN-78 bounded memory', () => {
  test('20,000 distinct tokens with maxEntries 1,000 → size stays ≤ 1,000', async () => {
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', maxEntries: 1_000 });
    const verifier = good();
    let largest = 0;
    for (let i = 0; i < 20_000; i++) {
      await cache.verify(`token-${i}`, verifier);
      largest = Math.max(largest, cache.size);
    }
    expect(largest).toBe(1_000);
    expect(cache.size).toBe(1_000);
  });

  test('least recently used goes first: a token in use survives the churn', async () => {
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', maxEntries: 3 });
    const verifier = good();
    for (const t of ['hot', 'a', 'b']) await cache.verify(t, verifier);
    await cache.verify('hot', verifier); // hit: most recent now
    await cache.verify('c', verifier); // evicts a
    expect(verifier.verify).toHaveBeenCalledTimes(4);
    await cache.verify('hot', verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(4);
    await cache.verify('a', verifier);
    expect(verifier.verify).toHaveBeenCalledTimes(5);
  });

  test('negative entries count against the bound too', async () => {
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', maxEntries: 100 });
    const verifier = bad();
    for (let i = 0; i < 1_000; i++) await cache.verify(`bad-${i}`, verifier);
    expect(cache.size).toBe(100);
  });
});

describe('a shared store that fails', () => {
  function failing(mode: 'reject' | 'throw'): KeyValueStore {
    const fail = () => {
      if (mode === 'throw') throw new Error('redis is down');
      return Promise.reject(new Error('redis is down'));
    };
    return {
      get: fail,
      set: fail,
      delete: fail,
      keys: fail,
      close: async () => {},
    } as unknown as KeyValueStore;
  }

  test('a store whose calls reject → verifies locally, and caches locally', async () => {
    const cache = new VerificationCache({
      ttlSeconds: 300,
      namespace: 'n',
      shared: failing('reject'),
    });
    const verifier = good();
    const t = token();
    expect(await cache.verify(t, verifier)).toMatchObject({ ok: true });
    expect(await cache.verify(t, verifier)).toMatchObject({ ok: true });
    expect(verifier.verify).toHaveBeenCalledTimes(1);
    expect(await cache.verify(token(), bad())).toMatchObject({ ok: false, reason: 'invalid' });
  });

  test('a store whose set() throws synchronously → still verifies locally', async () => {
    // #readShared wraps get() in try/catch, but #writeShared calls `shared.set(...).catch(...)`:
    // a synchronous throw escapes and verify() rejects (a 500) although the token is good.
    const cache = new VerificationCache({
      ttlSeconds: 300,
      namespace: 'n',
      shared: failing('throw'),
    });
    expect(await cache.verify(token(), good())).toMatchObject({ ok: true });
  });
});
