/**
 * Catalogue 1E (JWKS availability and rotation) and the kid-spray rows IN-26/27: a local JWKS over
 * HTTP that the test switches to fail (refused, reset, 500, HTML, invalid JSON, huge, redirect,
 * slow), an injected clock, and request counts.
 */
import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { BearerGuard } from '../../src/server/guard.js';
import { JwksCache } from '../../src/server/verifiers/jwks.js';
import { JwtVerifier } from '../../src/server/verifiers/jwt.js';
import { manualClock } from '../support/clock.js';
import { waitFor } from '../support/net.js';
import {
  type FakeServer,
  type Fault,
  fault,
  recordingFetch,
  recordingLogger,
  send,
  signToken,
  startFakeServer,
  type TestKey,
  testKey,
} from './fixtures.js';

const ISSUER = 'https://as.example';
const AUDIENCE = 'https://mcp.example/mcp';
const MIN = 60_000;
const HOUR = 60 * MIN;

let server: FakeServer;
let mode: 'ok' | 'empty' | Fault = 'ok';
let keys: JWK[] = [];
let k1: TestKey;
let k2: TestKey;

beforeAll(async () => {
  [k1, k2] = await Promise.all([testKey('k1'), testKey('k2')]);
  server = await startFakeServer((_req, res) => {
    if (mode === 'ok') send(res, 200, { keys });
    else if (mode === 'empty') send(res, 200, { keys: [] });
    else fault(server, res, mode);
  });
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  mode = 'ok';
  keys = [k1.jwk];
  await server.up().catch(() => undefined); // a test may have left it down
});

async function refuse(): Promise<void> {
  await server.down();
}

function setup(options: { timeoutMs?: number } = {}) {
  const clock = manualClock();
  const fetch = recordingFetch();
  const logger = recordingLogger();
  const jwks = new JwksCache({
    uri: server.url('/jwks'),
    fetch,
    now: clock.now,
    logger,
    timeoutMs: options.timeoutMs ?? 2_000,
  });
  const verifier = new JwtVerifier({ issuer: ISSUER, audiences: [AUDIENCE], jwks, now: clock.now });
  const token = (key: TestKey = k1, header: Record<string, unknown> = {}) =>
    signToken(key, clock.now(), { issuer: ISSUER, audience: AUDIENCE }, { header });
  const randomKid = () => token(k2, { kid: randomBytes(12).toString('hex') });
  /** Wait until `n` fetches have finished (each failure logs a warning; each success answers). */
  const settled = (failures: number) =>
    waitFor(`${failures} failed JWKS fetches`, () =>
      logger.warnings.length >= failures ? true : undefined,
    );
  return { clock, fetch, logger, jwks, verifier, token, randomKid, settled };
}

const OK = { ok: true } as const;
const UNAVAILABLE = { ok: false, reason: 'unavailable' } as const;
const INVALID = { ok: false, reason: 'invalid' } as const;

describe('IN-58 outage with cached keys (stale-if-error)', () => {
  test('1 min: cached kid verifies without a fetch; an unknown kid → unavailable, not invalid', async () => {
    const { verifier, token, randomKid, clock, jwks } = setup();
    expect(await verifier.verify(await token())).toMatchObject(OK);
    await refuse();
    clock.advance(MIN);
    expect(await verifier.verify(await token())).toMatchObject(OK);
    expect(jwks.fetches).toBe(1);
    const unknown = await verifier.verify(await randomKid());
    expect(unknown).toMatchObject(UNAVAILABLE);
    if (!unknown.ok && unknown.reason === 'unavailable') {
      expect(unknown.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }
    expect(jwks.fetches).toBe(2);
    expect(await verifier.verify(await token())).toMatchObject(OK);
  });

  for (const kind of ['refused', 'reset', '500', 'slow'] as const) {
    test(`11 min (${kind}): the background refresh fails, cached keys keep working`, async () => {
      const { verifier, token, clock, jwks, settled } = setup({ timeoutMs: 150 });
      expect(await verifier.verify(await token())).toMatchObject(OK);
      if (kind === 'refused') await refuse();
      else mode = kind;
      clock.advance(11 * MIN);
      expect(await verifier.verify(await token())).toMatchObject(OK);
      await settled(1);
      expect(jwks.fetches).toBe(2);
      // Backing off: the next request neither waits nor fetches.
      expect(await verifier.verify(await token())).toMatchObject(OK);
      expect(jwks.fetches).toBe(2);
    });
  }

  test('25 h: keys older than maxStale are not used → unavailable (C503)', async () => {
    const { verifier, token, clock, jwks } = setup();
    expect(await verifier.verify(await token())).toMatchObject(OK);
    await refuse();
    clock.advance(23 * HOUR);
    expect(await verifier.verify(await token())).toMatchObject(OK);
    clock.advance(2 * HOUR);
    const result = await verifier.verify(await token());
    expect(result).toMatchObject(UNAVAILABLE);
    const guard = new BearerGuard({ verifier, resourceMetadataUrl: 'https://mcp.example/prm' });
    const refused = await guard.authenticate({ authorization: `Bearer ${await token()}` });
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      const response = guard.response(refused.rejection);
      expect(response.status).toBe(503);
      expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect(jwks.fetches).toBeGreaterThan(1);
  });

  test('after 25 h without requests (JWKS healthy), the first token verifies', async () => {
    // A quiet server: nothing refreshed the set because nothing asked. The first request after
    // maxStale fires the refresh in the background and answers 503 although the JWKS is up.
    const { verifier, token, clock } = setup();
    expect(await verifier.verify(await token())).toMatchObject(OK);
    clock.advance(25 * HOUR);
    expect(await verifier.verify(await token())).toMatchObject(OK);
  });
});

describe('IN-59 cold start with the JWKS down', () => {
  test('refused → unavailable (503), never invalid; backoff: no request storm', async () => {
    const { verifier, token, jwks, clock } = setup();
    await refuse();
    const results = await Promise.all(
      Array.from({ length: 50 }, async () => verifier.verify(await token())),
    );
    for (const result of results) expect(result).toMatchObject(UNAVAILABLE);
    expect(jwks.fetches).toBe(1);
    for (let i = 0; i < 20; i++)
      expect(await verifier.verify(await token())).toMatchObject(UNAVAILABLE);
    expect(jwks.fetches).toBe(1);
    // Failure backoff doubles: 1 s, then 2 s.
    clock.advance(1_000);
    expect(await verifier.verify(await token())).toMatchObject(UNAVAILABLE);
    expect(jwks.fetches).toBe(2);
    clock.advance(1_000);
    expect(await verifier.verify(await token())).toMatchObject(UNAVAILABLE);
    expect(jwks.fetches).toBe(2);
    clock.advance(1_000);
    await server.up();
    expect(await verifier.verify(await token())).toMatchObject(OK);
    expect(jwks.fetches).toBe(3);
  });

  for (const kind of [
    '500',
    'html',
    'invalid-json',
    'huge',
    'huge-chunked',
    'redirect',
    'slow',
    'drip',
    'reset',
  ] as const) {
    test(`IN-60 ${kind} at cold start → unavailable`, async () => {
      const { verifier, token, fetch } = setup({ timeoutMs: 150 });
      mode = kind;
      expect(await verifier.verify(await token())).toMatchObject(UNAVAILABLE);
      // Nothing but the configured URL was requested (no redirect followed).
      expect(fetch.urls).toEqual([server.url('/jwks')]);
    });
  }

  test('a body that is not a JWK Set → unavailable', async () => {
    const { verifier, token } = setup();
    keys = 'nope' as unknown as JWK[];
    expect(await verifier.verify(await token())).toMatchObject(UNAVAILABLE);
  });
});

describe('IN-60 bad answers on refresh keep the old keys', () => {
  for (const kind of [
    'redirect',
    'html',
    'invalid-json',
    'huge',
    'huge-chunked',
    'drip',
  ] as const) {
    test(`${kind}: failure, old keys kept, unknown kid → unavailable, backoff applies`, async () => {
      const { verifier, token, randomKid, clock, jwks, fetch } = setup({ timeoutMs: 150 });
      expect(await verifier.verify(await token())).toMatchObject(OK);
      mode = kind;
      clock.advance(31_000);
      expect(await verifier.verify(await randomKid())).toMatchObject(UNAVAILABLE);
      expect(jwks.fetches).toBe(2);
      expect(await verifier.verify(await token())).toMatchObject(OK);
      expect(await verifier.verify(await randomKid())).toMatchObject(UNAVAILABLE);
      expect(jwks.fetches).toBe(2);
      expect(new Set(fetch.urls)).toEqual(new Set([server.url('/jwks')]));
    });
  }
});

describe('IN-25/61 rotation', () => {
  test('k1 → k2: k2 accepted after exactly one refetch; k1 refused after the next refresh', async () => {
    const { verifier, token, clock, jwks } = setup();
    expect(await verifier.verify(await token(k1))).toMatchObject(OK);
    keys = [k1.jwk, k2.jwk];
    clock.advance(31_000);
    expect(await verifier.verify(await token(k2))).toMatchObject(OK);
    expect(jwks.fetches).toBe(2);
    expect(await verifier.verify(await token(k2))).toMatchObject(OK);
    expect(jwks.fetches).toBe(2);
    keys = [k2.jwk];
    clock.advance(11 * MIN);
    await verifier.verify(await token(k2)); // starts the background refresh
    await waitFor('the refresh', () => (server.count('/jwks') >= 3 ? true : undefined));
    await jwks.refresh(); // joins it if still running (at most one more request)
    expect(await verifier.verify(await token(k1))).toMatchObject(INVALID);
    expect(await verifier.verify(await token(k2))).toMatchObject(OK);
  });

  test('pinned: a new kid within the cooldown of the last fetch is refused until it ends', async () => {
    const { verifier, token, clock, jwks } = setup();
    expect(await verifier.verify(await token(k1))).toMatchObject(OK);
    keys = [k1.jwk, k2.jwk];
    clock.advance(5_000);
    expect(await verifier.verify(await token(k2))).toMatchObject(INVALID);
    expect(jwks.fetches).toBe(1);
    clock.advance(26_000);
    expect(await verifier.verify(await token(k2))).toMatchObject(OK);
  });

  test('a rotated-in kid seen once the set is older than maxAge is accepted (not 401)', async () => {
    // After maxAge the refresh starts in the background and marks the attempt, so the unknown-kid
    // refetch is skipped and the token is refused with invalid_token while the refresh that
    // would find k2 is still in flight.
    const { verifier, token, clock } = setup();
    expect(await verifier.verify(await token(k1))).toMatchObject(OK);
    keys = [k1.jwk, k2.jwk];
    clock.advance(11 * MIN);
    expect(await verifier.verify(await token(k2))).toMatchObject(OK);
  });

  test('IN-62 concurrent refreshes share one request', async () => {
    const { jwks, verifier, token } = setup();
    await Promise.all([jwks.refresh(), jwks.refresh(), jwks.refresh()]);
    expect(jwks.fetches).toBe(1);
    expect(server.count('/jwks')).toBeGreaterThanOrEqual(1);
    expect(await verifier.verify(await token())).toMatchObject(OK);
    expect(jwks.fetches).toBe(1);
  });
});

describe('IN-26/27 kid spray', () => {
  test('200 random kids within one cooldown → at most 1 extra fetch; good keys unaffected', async () => {
    const { verifier, token, randomKid, jwks, clock } = setup();
    expect(await verifier.verify(await token())).toMatchObject(OK);
    clock.advance(31_000);
    for (let i = 0; i < 100; i++)
      expect(await verifier.verify(await randomKid())).toMatchObject(INVALID);
    const concurrent = await Promise.all(
      Array.from({ length: 100 }, async () => verifier.verify(await randomKid())),
    );
    for (const result of concurrent) expect(result).toMatchObject(INVALID);
    expect(jwks.fetches).toBeLessThanOrEqual(2);
    expect(await verifier.verify(await token())).toMatchObject(OK);
  });

  test('sustained spray: at most one fetch per 30 s cooldown', async () => {
    const { verifier, randomKid, jwks, clock, token } = setup();
    expect(await verifier.verify(await token())).toMatchObject(OK);
    for (let second = 0; second < 300; second++) {
      clock.advance(1_000);
      await verifier.verify(await randomKid());
    }
    expect(jwks.fetches).toBeLessThanOrEqual(1 + 10 + 1);
    expect(jwks.fetches).toBeGreaterThan(1);
  });

  test('during an outage: ≤ 1 fetch per cooldown, and the failure backoff holds', async () => {
    const { verifier, randomKid, jwks, clock, token } = setup();
    expect(await verifier.verify(await token())).toMatchObject(OK);
    await refuse();
    clock.advance(31_000);
    for (let i = 0; i < 200; i++) {
      expect(await verifier.verify(await randomKid())).toMatchObject(UNAVAILABLE);
    }
    expect(jwks.fetches).toBe(2);
    for (let second = 0; second < 300; second++) {
      clock.advance(1_000);
      expect(await verifier.verify(await randomKid())).toMatchObject(UNAVAILABLE);
    }
    expect(jwks.fetches).toBeLessThanOrEqual(2 + 10 + 1);
    expect(await verifier.verify(await token())).toMatchObject(OK);
  });

  test('unknown kids racing the failing refetch of an outage → unavailable, not invalid', async () => {
    // IN-58: an unknown kid during an outage is 503. Requests that arrive while the first
    // (failing) refetch is in flight skip the refetch (cooldown) and, since no failure is
    // recorded yet, get invalid_token: the client throws a possibly good token away.
    const { verifier, randomKid, jwks, clock, token } = setup();
    expect(await verifier.verify(await token())).toMatchObject(OK);
    await refuse();
    clock.advance(31_000);
    const results = await Promise.all(
      Array.from({ length: 200 }, async () => verifier.verify(await randomKid())),
    );
    expect(jwks.fetches).toBe(2);
    expect(results.filter((result) => !result.ok && result.reason === 'invalid')).toEqual([]);
  });

  test('cold-start outage spray: bounded by the backoff', async () => {
    const { verifier, randomKid, jwks, clock } = setup();
    await refuse();
    for (let second = 0; second < 600; second++) {
      clock.advance(1_000);
      await verifier.verify(await randomKid());
    }
    // 1, 2, 4, 8, 16, 32 s, then every 60 s: about 15 in 10 minutes.
    expect(jwks.fetches).toBeLessThanOrEqual(20);
  });

  test('IN-27 an empty key set: a broken answer (503, nothing trusted), and the backoff still applies', async () => {
    const { verifier, randomKid, jwks, clock } = setup();
    mode = 'empty';
    for (let i = 0; i < 50; i++)
      expect(await verifier.verify(await randomKid())).toMatchObject(UNAVAILABLE);
    expect(jwks.fetches).toBe(1);
    clock.advance(31_000);
    for (let i = 0; i < 50; i++) await verifier.verify(await randomKid());
    expect(jwks.fetches).toBe(2);
  });

  test('IN-27 an empty (or unusable) key set on refresh keeps the previous keys', async () => {
    // Catalogue IN-27: `{"keys":[]}` or keys that fail to parse → "the previous keys stay in
    // use". JwksCache replaces its keys with whatever array came back.
    const { verifier, token, clock, jwks } = setup();
    expect(await verifier.verify(await token())).toMatchObject(OK);
    mode = 'empty';
    clock.advance(11 * MIN);
    await jwks.refresh();
    expect(await verifier.verify(await token())).toMatchObject(OK);
  });
});
