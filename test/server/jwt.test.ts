/**
 * Catalogue 1B (algorithm, key selection, header abuse) against JwtVerifier with
 * a JwksCache fetching a local JWKS over HTTP (global fetch), keys the test controls and an
 * injected clock.
 */
import { generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JwksCache } from '../../src/server/verifiers/jwks.js';
import { JwtVerifier, type JwtVerifierOptions } from '../../src/server/verifiers/jwt.js';
import { manualClock } from '../support/clock.js';
import {
  b64u,
  type FakeServer,
  rawJws,
  recordingFetch,
  send,
  signToken,
  startFakeServer,
  type TestKey,
  type TokenParts,
  testKey,
} from './fixtures.js';

const ISSUER = 'https://as.example';
const AUDIENCE = 'https://mcp.example/mcp';

let jwksServer: FakeServer;
let attackerServer: FakeServer;
let served: JWK[] = [];
let es: TestKey;
let es2: TestKey;
let rsa: TestKey;
let attacker: TestKey;

beforeAll(async () => {
  [es, es2, rsa, attacker] = await Promise.all([
    testKey('es-1'),
    testKey('es-2'),
    testKey('rs-1', 'RS256'),
    testKey('evil'),
  ]);
  jwksServer = await startFakeServer((_req, res) => send(res, 200, { keys: served }));
  attackerServer = await startFakeServer((_req, res) => send(res, 200, { keys: [attacker.jwk] }));
});

afterAll(async () => {
  await jwksServer.close();
  await attackerServer.close();
});

function setup(options: Partial<JwtVerifierOptions> = {}, keys: JWK[] = [es.jwk, rsa.jwk]) {
  served = keys;
  const clock = manualClock();
  const fetch = recordingFetch();
  const jwks = new JwksCache({ uri: jwksServer.url('/jwks'), fetch, now: clock.now });
  const verifier = new JwtVerifier({
    issuer: ISSUER,
    audiences: [AUDIENCE],
    jwks,
    now: clock.now,
    algorithms: ['RS256', 'ES256'],
    ...options,
  });
  const now = () => Math.floor(clock.now() / 1000);
  const token = (parts: TokenParts = {}, key: TestKey = es) =>
    signToken(key, clock.now(), { issuer: ISSUER, audience: AUDIENCE }, parts);
  /** Claims of a good token, for hand-made ones. */
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    iat: now(),
    exp: now() + 3600,
    scope: 'mcp:tools',
    ...extra,
  });
  return { clock, fetch, jwks, verifier, token, claims, now };
}

const INVALID = { ok: false, reason: 'invalid' } as const;

describe('baseline', () => {
  test('good ES256 and RS256 tokens → the caller; one JWKS fetch', async () => {
    const { verifier, token, fetch, jwks, now } = setup();
    const result = await verifier.verify(await token());
    expect(result).toMatchObject({
      ok: true,
      identity: {
        issuer: ISSUER,
        subject: 'alice',
        clientId: 'client-1',
        scopes: ['mcp:tools'],
        expiresAt: (now() + 3600) * 1000,
        verifiedBy: 'jwt',
      },
    });
    expect(await verifier.verify(await token({}, rsa))).toMatchObject({ ok: true });
    expect(jwks.fetches).toBe(1);
    expect(fetch.urls).toEqual([jwksServer.url('/jwks')]);
  });
});

describe('1B algorithms and keys', () => {
  test('IN-13 alg none (any case), with or without a signature → invalid, zero fetches', async () => {
    const { verifier, fetch, claims } = setup();
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const unsigned = rawJws({ alg, typ: 'at+jwt' }, claims(), { alg: 'none' });
      expect(await verifier.verify(unsigned), alg).toMatchObject(INVALID);
      expect(await verifier.verify(`${unsigned}${b64u(randomBytes(64))}`)).toMatchObject(INVALID);
      const withKid = rawJws({ alg, kid: 'es-1' }, claims(), { alg: 'none' });
      expect(await verifier.verify(withKid)).toMatchObject(INVALID);
    }
    expect(fetch.urls).toEqual([]);
  });

  test('IN-14 HS256 with the RSA public key as secret (PEM, padded PEM, DER, n) → invalid, zero fetches', async () => {
    const publicKey = KeyObject.from(rsa.publicKey);
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const secrets: (string | Buffer)[] = [
      pem,
      `\n${pem}`,
      ` ${pem}`,
      pem.trim(),
      publicKey.export({ type: 'spki', format: 'der' }),
      publicKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      Buffer.from(String(rsa.jwk.n), 'base64url'),
    ];
    for (const options of [{}, { algorithms: ['HS256', 'RS256', 'ES256'] }]) {
      const { verifier, fetch, claims } = setup(options);
      for (const secret of secrets) {
        const forged = rawJws({ alg: 'HS256', kid: 'rs-1', typ: 'at+jwt' }, claims(), {
          alg: 'HS256',
          secret,
        });
        expect(await verifier.verify(forged)).toMatchObject(INVALID);
      }
      expect(fetch.urls).toEqual([]);
    }
  });

  test('IN-14 an oct key published in the JWKS is never used, even with HS256 allowed', async () => {
    const secret = randomBytes(32);
    const oct = { kty: 'oct', k: b64u(secret), kid: 'hmac', alg: 'HS256' };
    const { verifier, claims } = setup({ algorithms: ['HS256', 'ES256'] }, [es.jwk, oct]);
    const forged = rawJws({ alg: 'HS256', kid: 'hmac' }, claims(), { alg: 'HS256', secret });
    expect(await verifier.verify(forged)).toMatchObject(INVALID);
  });

  test('IN-15 a valid signature with an alg outside the allow-list → invalid, zero fetches', async () => {
    const { verifier, fetch, claims } = setup({}, [
      es.jwk,
      Object.fromEntries(Object.entries(rsa.jwk).filter(([name]) => name !== 'alg')),
    ]);
    for (const alg of ['RS384', 'PS512', 'PS256']) {
      const token = rawJws({ alg, kid: 'rs-1', typ: 'at+jwt' }, claims(), {
        alg,
        key: rsa.privateKey,
      });
      expect(await verifier.verify(token), alg).toMatchObject(INVALID);
    }
    expect(fetch.urls).toEqual([]);
  });

  test('IN-16 ES256 header with the kid of an RSA key → invalid', async () => {
    const { verifier, claims } = setup();
    const token = rawJws({ alg: 'ES256', kid: 'rs-1' }, claims(), {
      alg: 'ES256',
      key: es.privateKey,
    });
    expect(await verifier.verify(token)).toMatchObject(INVALID);
  });

  test('IN-17 ECDSA r=s=0, DER-encoded and wrong-length signatures → invalid, no throw', async () => {
    const { verifier, claims } = setup();
    const good = rawJws({ alg: 'ES256', kid: 'es-1' }, claims(), {
      alg: 'ES256',
      key: es.privateKey,
    });
    const input = good.slice(0, good.lastIndexOf('.'));
    const { sign } = await import('node:crypto');
    const der = sign('sha256', Buffer.from(input), KeyObject.from(es.privateKey));
    for (const signature of [Buffer.alloc(64), der, Buffer.alloc(63, 1), Buffer.alloc(0)]) {
      expect(await verifier.verify(`${input}.${b64u(signature)}`)).toMatchObject(INVALID);
    }
    expect(await verifier.verify(good)).toMatchObject({ ok: true });
  });

  test('IN-18 keys for encryption, without verify, of another alg, private, or < 2048 bits are never selected', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weakJwk = { ...weak.publicKey.export({ format: 'jwk' }), kid: 'weak', alg: 'RS256' };
    const privateJwk = { ...KeyObject.from(es2.privateKey).export({ format: 'jwk' }), kid: 'priv' };
    const cases: [JWK, string, TestKey['privateKey'] | KeyObject][] = [
      [{ ...es.jwk, use: 'enc' }, 'es-1', es.privateKey],
      [{ ...es.jwk, key_ops: ['encrypt'] }, 'es-1', es.privateKey],
      [{ ...es.jwk, key_ops: 'verify' as unknown as string[] }, 'es-1', es.privateKey],
      [{ ...es.jwk, alg: 'ES384' }, 'es-1', es.privateKey],
      [{ ...es.jwk, crv: 'P-384' }, 'es-1', es.privateKey],
      [privateJwk as JWK, 'priv', es2.privateKey],
      [weakJwk as JWK, 'weak', weak.privateKey],
    ];
    for (const [jwk, kid, key] of cases) {
      const { verifier, claims } = setup({}, [jwk]);
      const alg = kid === 'weak' ? 'RS256' : 'ES256';
      const token = rawJws({ alg, kid }, claims(), { alg, key });
      expect(await verifier.verify(token), JSON.stringify(jwk).slice(0, 80)).toMatchObject(INVALID);
    }
    // The same keys, usable: accepted (the test can fail).
    const { verifier, claims } = setup({}, [{ ...es.jwk, key_ops: ['verify'] }]);
    const token = rawJws({ alg: 'ES256', kid: 'es-1' }, claims(), {
      alg: 'ES256',
      key: es.privateKey,
    });
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
  });

  test('IN-19 truncated, altered or transplanted signatures → invalid', async () => {
    const { verifier, token } = setup();
    const [h, p, s] = (await token()).split('.') as [string, string, string];
    const other = (await token({ claims: { sub: 'bob' } })).split('.')[2];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const altered = b64u(JSON.stringify({ ...payload, scope: 'mcp:tools admin' }));
    for (const forged of [
      `${h}.${p}.`,
      `${h}.${p}.${s.slice(0, -4)}`,
      `${h}.${altered}.${s}`,
      `${h}.${p}.${other}`,
    ]) {
      expect(await verifier.verify(forged)).toMatchObject(INVALID);
    }
    expect(await verifier.verify(`${h}.${p}.${s}`)).toMatchObject({ ok: true });
  });

  test('IN-20 an embedded jwk header is never trusted', async () => {
    const { verifier, claims } = setup();
    const publicJwk = { ...attacker.jwk };
    for (const kid of ['evil', 'es-1', undefined]) {
      const token = rawJws({ alg: 'ES256', kid, jwk: publicJwk }, claims(), {
        alg: 'ES256',
        key: attacker.privateKey,
      });
      expect(await verifier.verify(token)).toMatchObject(INVALID);
    }
  });

  test('IN-21 jku / x5u / x5c headers → invalid and zero requests to those URLs', async () => {
    const { verifier, fetch, claims, clock } = setup();
    const headers = [
      { jku: attackerServer.url('/jwks') },
      { x5u: attackerServer.url('/cert.pem') },
      { jku: 'http://169.254.169.254/latest/meta-data/' },
      { x5c: [b64u(randomBytes(300)).replace(/-/g, '+').replace(/_/g, '/')] },
    ];
    for (const extra of headers) {
      clock.advance(31_000); // past the cooldown: an unknown kid may refetch our own JWKS
      const token = rawJws({ alg: 'ES256', kid: 'evil', ...extra }, claims(), {
        alg: 'ES256',
        key: attacker.privateKey,
      });
      expect(await verifier.verify(token)).toMatchObject(INVALID);
    }
    expect(attackerServer.count()).toBe(0);
    expect(new Set(fetch.urls)).toEqual(new Set([jwksServer.url('/jwks')]));
  });

  test('IN-22/23 crit and b64:false → invalid', async () => {
    const { verifier, claims } = setup();
    for (const extra of [
      { crit: ['exp'], exp: 1 },
      { crit: ['x-policy'], 'x-policy': 1 },
      { crit: [] },
      { crit: ['b64'], b64: false },
      { crit: 'b64' },
    ]) {
      const token = rawJws({ alg: 'ES256', kid: 'es-1', ...extra }, claims(), {
        alg: 'ES256',
        key: es.privateKey,
      });
      expect(await verifier.verify(token), JSON.stringify(extra)).toMatchObject(INVALID);
    }
  });

  test('IN-24 duplicate header members: the last one counts, consistently', async () => {
    const { verifier, claims } = setup();
    const signedAsEs = rawJws('{"alg":"none","alg":"ES256","kid":"es-1"}', claims(), {
      alg: 'ES256',
      key: es.privateKey,
    });
    expect(await verifier.verify(signedAsEs)).toMatchObject({ ok: true });
    const endsWithNone = rawJws('{"alg":"ES256","kid":"es-1","alg":"none"}', claims(), {
      alg: 'none',
    });
    expect(await verifier.verify(endsWithNone)).toMatchObject(INVALID);
  });

  test('IN-25 a kid that stays unknown → invalid after one refetch', async () => {
    const { verifier, token, jwks, clock } = setup();
    expect(await verifier.verify(await token())).toMatchObject({ ok: true });
    clock.advance(31_000);
    expect(await verifier.verify(await token({}, attacker))).toMatchObject(INVALID);
    expect(jwks.fetches).toBe(2);
  });

  test('IN-28 hostile kids are refused; non-string or over-long kids fetch nothing', async () => {
    const { verifier, claims, fetch, clock, jwks } = setup();
    for (const kid of [1, { a: 1 }, null, ['es-1'], true, 'k'.repeat(257)]) {
      const token = rawJws({ alg: 'ES256', kid }, claims(), { alg: 'ES256', key: es.privateKey });
      expect(await verifier.verify(token), String(kid)).toMatchObject(INVALID);
    }
    expect(fetch.urls).toEqual([]);
    for (const kid of ['../../dev/null', "' OR 1=1--", '$(id)', '\u0000']) {
      clock.advance(31_000);
      const token = rawJws({ alg: 'ES256', kid }, claims(), { alg: 'ES256', key: es.privateKey });
      expect(await verifier.verify(token), kid).toMatchObject(INVALID);
    }
    expect(jwks.fetches).toBeLessThanOrEqual(4);
    // 64 KiB of kid makes the token too long to be looked at.
    const huge = rawJws({ alg: 'ES256', kid: 'k'.repeat(65_536) }, claims(), {
      alg: 'ES256',
      key: es.privateKey,
    });
    const before = jwks.fetches;
    expect(await verifier.verify(huge)).toMatchObject(INVALID);
    expect(jwks.fetches).toBe(before);
  });

  test('IN-29 no kid: one candidate → accepted; two of the same type → ambiguous, refused', async () => {
    const one = setup({}, [es.jwk, rsa.jwk]);
    const noKid = await one.token({ header: { kid: undefined } });
    expect(await one.verifier.verify(noKid)).toMatchObject({ ok: true });
    const two = setup({}, [es.jwk, es2.jwk]);
    expect(
      await two.verifier.verify(await two.token({ header: { kid: undefined } })),
    ).toMatchObject(INVALID);
    // With a kid, the same set is fine.
    expect(await two.verifier.verify(await two.token())).toMatchObject({ ok: true });
  });

  test('IN-30 a cnf-bound (DPoP) token presented as Bearer → invalid', async () => {
    const { verifier, token } = setup();
    expect(await verifier.verify(await token({ claims: { cnf: { jkt: 'abc' } } }))).toMatchObject(
      INVALID,
    );
  });

  test('IN-10/11 shapes refused before any parsing or fetch', async () => {
    const { verifier, fetch, claims } = setup();
    const good = await setup().token();
    const ugly = [
      '',
      'abc',
      'a.b',
      good.split('.').slice(0, 2).join('.'),
      `${good}.x.y`,
      '.'.repeat(100_000),
      `${good}=`,
      good.replace('.', '+.'),
      `${good.slice(0, 20)} ${good.slice(20)}`,
      'a'.repeat(8193),
    ];
    const started = performance.now();
    for (const token of ugly) expect(await verifier.verify(token)).toMatchObject(INVALID);
    expect(performance.now() - started).toBeLessThan(200);
    for (const payload of ['null', '[]', '"x"', '{', '1']) {
      const token = rawJws({ alg: 'ES256', kid: 'es-1' }, payload, {
        alg: 'ES256',
        key: es.privateKey,
      });
      expect(await verifier.verify(token), payload).toMatchObject(INVALID);
    }
    for (const header of ['null', '[]', '{']) {
      const token = rawJws(header, claims(), { alg: 'ES256', key: es.privateKey });
      expect(await verifier.verify(token), header).toMatchObject(INVALID);
    }
    const badUtf8 = `${b64u('{"alg":"ES256","kid":"es-1"}')}.${b64u(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))}`;
    expect(await verifier.verify(`${badUtf8}.${b64u(Buffer.alloc(64))}`)).toMatchObject(INVALID);
    expect(fetch.urls.length).toBeLessThanOrEqual(1);
  });
});
