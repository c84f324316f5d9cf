/**
 * Catalogue 1C (claims: exp/nbf/iat edges with a 30 s tolerance, maxTokenAge, iss, aud, typ, sub,
 * duplicate members, __proto__) against JwtVerifier with a JwksCache fetching a local JWKS over
 * HTTP (global fetch), a key the test controls and an injected clock.
 */
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JwksCache } from '../../src/server/verifiers/jwks.js';
import { JwtVerifier, type JwtVerifierOptions } from '../../src/server/verifiers/jwt.js';
import { manualClock } from '../support/clock.js';
import {
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
let es: TestKey;

beforeAll(async () => {
  es = await testKey('es-1');
  jwksServer = await startFakeServer((_req, res) => send(res, 200, { keys: [es.jwk] as JWK[] }));
});

afterAll(async () => {
  await jwksServer.close();
});

function setup(options: Partial<JwtVerifierOptions> = {}) {
  const clock = manualClock();
  const jwks = new JwksCache({
    uri: jwksServer.url('/jwks'),
    fetch: recordingFetch(),
    now: clock.now,
  });
  const verifier = new JwtVerifier({
    issuer: ISSUER,
    audiences: [AUDIENCE],
    jwks,
    now: clock.now,
    algorithms: ['RS256', 'ES256'],
    ...options,
  });
  const now = () => Math.floor(clock.now() / 1000);
  const token = (parts: TokenParts = {}) =>
    signToken(es, clock.now(), { issuer: ISSUER, audience: AUDIENCE }, parts);
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
  return { clock, verifier, token, claims, now };
}

const INVALID = { ok: false, reason: 'invalid' } as const;

describe('1C claims', () => {
  test('IN-31/32 exp with a 30 s tolerance: −31 and −30 refused ("expired"), −29 accepted', async () => {
    const { verifier, token, now } = setup();
    for (const offset of [-31, -30, -3600]) {
      expect(await verifier.verify(await token({ claims: { exp: now() + offset } }))).toEqual({
        ok: false,
        reason: 'invalid',
        description: 'the access token expired',
      });
    }
    expect(await verifier.verify(await token({ claims: { exp: now() - 29 } }))).toMatchObject({
      ok: true,
    });
    const strict = setup({ clockToleranceSeconds: 0 });
    expect(
      await strict.verifier.verify(await strict.token({ claims: { exp: strict.now() } })),
    ).toMatchObject(INVALID);
  });

  test('IN-32 the tolerance is capped at 300 s', async () => {
    const { verifier, token, now } = setup({ clockToleranceSeconds: 100_000 });
    expect(await verifier.verify(await token({ claims: { exp: now() - 301 } }))).toMatchObject(
      INVALID,
    );
    expect(await verifier.verify(await token({ claims: { exp: now() - 299 } }))).toMatchObject({
      ok: true,
    });
  });

  test('IN-33/34 exp missing or not a finite number → invalid', async () => {
    const { verifier, token, claims } = setup();
    expect(await verifier.verify(await token({ claims: { exp: undefined } }))).toMatchObject(
      INVALID,
    );
    for (const exp of ['"9999999999"', 'null', '-1', '[1]', 'true', '{}']) {
      const body = JSON.stringify(claims()).replace(/"exp":\d+/, `"exp":${exp}`);
      expect(body).toContain(`"exp":${exp}`);
      const token = rawJws({ alg: 'ES256', kid: 'es-1' }, body, {
        alg: 'ES256',
        key: es.privateKey,
      });
      expect(await verifier.verify(token), exp).toMatchObject(INVALID);
    }
  });

  test('IN-34 exp 1e309 (Infinity once parsed) → invalid, not a token that never expires', async () => {
    const { verifier, claims } = setup();
    const body = JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e309');
    const token = rawJws({ alg: 'ES256', kid: 'es-1' }, body, { alg: 'ES256', key: es.privateKey });
    // jose's validateNumericDate only checks typeof === 'number'; JSON.parse gives Infinity.
    expect(await verifier.verify(token)).toMatchObject(INVALID);
  });

  test('IN-35 nbf: now+31 refused, now+30 accepted', async () => {
    const { verifier, token, now } = setup();
    expect(await verifier.verify(await token({ claims: { nbf: now() + 31 } }))).toMatchObject(
      INVALID,
    );
    expect(await verifier.verify(await token({ claims: { nbf: now() + 30 } }))).toMatchObject({
      ok: true,
    });
  });

  test('IN-36/37/38 iat missing, in the future, or older than maxTokenAge → invalid', async () => {
    const { verifier, token, now } = setup();
    const day = 86_400;
    for (const claims of [
      { iat: undefined },
      { iat: now() + 3600 },
      { iat: now() - 400 * day, exp: now() + 3650 * day },
      { iat: now() - day - 31, exp: now() + 3600 },
    ]) {
      expect(await verifier.verify(await token({ claims })), JSON.stringify(claims)).toMatchObject(
        INVALID,
      );
    }
    expect(await verifier.verify(await token({ claims: { iat: now() - day + 60 } }))).toMatchObject(
      { ok: true },
    );
    const short = setup({ maxTokenAgeSeconds: 3600 });
    expect(
      await short.verifier.verify(await short.token({ claims: { iat: short.now() - 7200 } })),
    ).toMatchObject(INVALID);
    expect(
      await short.verifier.verify(await short.token({ claims: { iat: short.now() - 1800 } })),
    ).toMatchObject({ ok: true });
  });

  test('IN-39 iss compared exactly; an array is never accepted', async () => {
    const { verifier, token } = setup();
    for (const iss of [
      'https://evil.example',
      undefined,
      `${ISSUER}/`,
      'https://AS.example',
      'HTTPS://as.example',
      'https://as.example:443',
      [ISSUER],
      ` ${ISSUER}`,
    ]) {
      expect(await verifier.verify(await token({ claims: { iss } })), String(iss)).toMatchObject(
        INVALID,
      );
    }
  });

  test('IN-41/42/44/45 aud missing, foreign, malformed or a near miss → invalid', async () => {
    const { verifier, token } = setup();
    for (const aud of [
      undefined,
      'https://api.other',
      'https://downstream.example/api',
      [],
      [123],
      {},
      `${AUDIENCE}/`,
      'HTTPS://mcp.example/mcp',
      'https://MCP.example/mcp',
      'https://mcp.example:443/mcp',
      `${AUDIENCE}?x=y`,
      ` ${AUDIENCE} `,
      'https://mcp.example',
      'https://mcp.example/mc',
    ]) {
      expect(
        await verifier.verify(await token({ claims: { aud } })),
        JSON.stringify(aud),
      ).toMatchObject(INVALID);
    }
  });

  test('IN-43 an aud array naming us is accepted; configured aliases are accepted', async () => {
    const { verifier, token } = setup();
    expect(
      await verifier.verify(await token({ claims: { aud: ['https://api.other', AUDIENCE] } })),
    ).toMatchObject({ ok: true });
    const aliases = setup({ audiences: [AUDIENCE, `${AUDIENCE}/`] });
    expect(
      await aliases.verifier.verify(await aliases.token({ claims: { aud: `${AUDIENCE}/` } })),
    ).toMatchObject({ ok: true });
  });

  test('IN-46 typ: strict mode wants at+jwt (any case, application/ prefix); lax accepts JWT', async () => {
    const strict = setup({ requireAccessTokenType: true });
    for (const typ of [undefined, 'JWT', 'jwt', 'at+jwt2', 'application/jwt']) {
      expect(
        await strict.verifier.verify(await strict.token({ header: { typ } })),
        String(typ),
      ).toMatchObject(INVALID);
    }
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) {
      expect(
        await strict.verifier.verify(await strict.token({ header: { typ } })),
        typ,
      ).toMatchObject({ ok: true });
    }
    const lax = setup();
    expect(await lax.verifier.verify(await lax.token({ header: { typ: 'JWT' } }))).toMatchObject({
      ok: true,
    });
    expect(
      await lax.verifier.verify(await lax.token({ header: { typ: undefined } })),
    ).toMatchObject({ ok: true });
    // An ID token (typ JWT, aud = the client id) is refused by its audience even when lax.
    const idToken = await lax.token({
      header: { typ: 'JWT' },
      claims: { aud: 'client-1', nonce: 'n', scope: undefined },
    });
    expect(await lax.verifier.verify(idToken)).toMatchObject(INVALID);
  });

  test('IN-47 sub missing, empty or not a string → invalid; client_id and jti are optional', async () => {
    const { verifier, token } = setup();
    for (const sub of [undefined, '', 123, ['alice'], null]) {
      expect(await verifier.verify(await token({ claims: { sub } })), String(sub)).toMatchObject(
        INVALID,
      );
    }
    expect(
      await verifier.verify(await token({ claims: { client_id: undefined, jti: undefined } })),
    ).toMatchObject({ ok: true, identity: { subject: 'alice' } });
  });

  test('IN-48 duplicate claims: the last member wins, the same object feeds the identity', async () => {
    const { verifier, claims, now } = setup();
    const body = JSON.stringify(claims())
      .replace('{', `{"aud":"https://api.other","exp":1,"scope":"admin",`)
      .replace(/}$/, `,"sub":"bob"}`);
    const token = rawJws({ alg: 'ES256', kid: 'es-1' }, body, { alg: 'ES256', key: es.privateKey });
    const result = await verifier.verify(token);
    expect(result).toMatchObject({
      ok: true,
      identity: { subject: 'bob', scopes: ['mcp:tools'], expiresAt: (now() + 3600) * 1000 },
    });
    if (result.ok) {
      expect(result.identity.claims.aud).toBe(AUDIENCE);
      expect(result.identity.claims.sub).toBe(result.identity.subject);
    }
  });

  test('IN-49 __proto__ / constructor / toString claims: no pollution, no scopes smuggled', async () => {
    const { verifier, claims } = setup();
    const body = JSON.stringify(claims({ scope: undefined })).replace(
      /}$/,
      ',"__proto__":{"scope":"admin","polluted":true},"constructor":{"prototype":{"x":1}},"toString":"x","hasOwnProperty":1}',
    );
    const token = rawJws({ alg: 'ES256', kid: 'es-1' }, body, { alg: 'ES256', key: es.privateKey });
    const result = await verifier.verify(token);
    expect(result).toMatchObject({ ok: true, identity: { scopes: [] } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('scope');
    const objectScope = await verifier.verify(
      rawJws({ alg: 'ES256', kid: 'es-1' }, claims({ scope: { admin: true } }), {
        alg: 'ES256',
        key: es.privateKey,
      }),
    );
    expect(objectScope).toMatchObject({ ok: true, identity: { scopes: [] } });
  });

  test('IN-50 a client-credentials token can be told apart (subject = client id; azp read)', async () => {
    const { verifier, token } = setup();
    const machine = await verifier.verify(
      await token({ claims: { sub: 'svc-7', client_id: 'svc-7' } }),
    );
    expect(machine).toMatchObject({ ok: true, identity: { subject: 'svc-7', clientId: 'svc-7' } });
    const azp = await verifier.verify(
      await token({ claims: { client_id: undefined, azp: 'web' } }),
    );
    expect(azp).toMatchObject({ ok: true, identity: { subject: 'alice', clientId: 'web' } });
  });
});
