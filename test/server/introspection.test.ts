/**
 * Catalogue 1F (RFC 7662 introspection) against a local fake introspection endpoint that records
 * each request: client authentication (Basic with form-encoded parts, or in the form), the hint,
 * the answers refused, and the failures that mean "cannot tell now" (503, never cached).
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { BearerGuard } from '../../src/server/guard.js';
import { VerificationCache } from '../../src/server/verification-cache.js';
import {
  IntrospectionVerifier,
  type IntrospectionVerifierOptions,
} from '../../src/server/verifiers/introspection.js';
import { manualClock } from '../support/clock.js';
import { waitFor, within } from '../support/net.js';
import {
  type FakeServer,
  type Fault,
  fault,
  recordingFetch,
  recordingLogger,
  send,
  startFakeServer,
} from './fixtures.js';

const ISSUER = 'https://as.example';
const AUDIENCE = 'https://mcp.example/mcp';
const CLIENT_ID = 'mcp agent:rs';
const CLIENT_SECRET = 'p@ss:w rd+/%é';
const TOKEN = 'opaque-Token_123.abc~';

type Reply =
  | { readonly status?: number; readonly body: unknown; readonly headers?: Record<string, string> }
  | Fault;

let server: FakeServer;
let reply: Reply;

beforeAll(async () => {
  server = await startFakeServer((_req, res) => {
    if (typeof reply === 'string') fault(server, res, reply);
    else send(res, reply.status ?? 200, reply.body, reply.headers);
  });
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.requests.length = 0;
  reply = { body: active() };
});

const clock = manualClock();
const nowSeconds = () => Math.floor(clock.now() / 1000);

function active(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    active: true,
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    client_id: 'client-1',
    scope: 'mcp:tools files:read',
    token_type: 'Bearer',
    iat: nowSeconds() - 10,
    exp: nowSeconds() + 600,
    ...extra,
  };
  for (const [name, value] of Object.entries(fields)) if (value === undefined) delete fields[name];
  return fields;
}

function verifierWith(options: Partial<IntrospectionVerifierOptions> = {}) {
  const fetch = recordingFetch();
  const logger = recordingLogger();
  const verifier = new IntrospectionVerifier({
    endpoint: server.url('/introspect'),
    clientId: CLIENT_ID,
    clientSecret: new Secret(CLIENT_SECRET),
    issuer: ISSUER,
    audiences: [AUDIENCE],
    fetch,
    now: clock.now,
    timeoutMs: 200,
    logger,
    ...options,
  });
  return { verifier, fetch, logger };
}

const INVALID = { ok: false, reason: 'invalid' } as const;
const UNAVAILABLE = { ok: false, reason: 'unavailable' } as const;

/** RFC 6749 §2.3.1 decoding: base64, split at the first colon, each part form-decoded. */
function basicCredentials(header: string | undefined): [string, string] {
  expect(header).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
  const decoded = Buffer.from((header ?? '').slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const part = (text: string) => decodeURIComponent(text.replace(/\+/g, ' '));
  return [part(decoded.slice(0, colon)), part(decoded.slice(colon + 1))];
}

describe('the introspection request', () => {
  test('client_secret_basic: POST form, hint access_token, each part form-encoded', async () => {
    const { verifier } = verifierWith();
    expect(await verifier.verify(TOKEN)).toMatchObject({ ok: true });
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(request?.body);
    expect([...form.keys()].sort()).toEqual(['token', 'token_type_hint']);
    expect(form.get('token')).toBe(TOKEN);
    expect(form.get('token_type_hint')).toBe('access_token');
    // ':' inside the id and '+', '%', ' ' inside the secret survive the round trip.
    expect(basicCredentials(request?.headers.authorization)).toEqual([CLIENT_ID, CLIENT_SECRET]);
    const raw = Buffer.from(String(request?.headers.authorization).slice(6), 'base64').toString();
    expect(raw.split(':')).toHaveLength(2);
  });

  test('client_secret_post: credentials in the form, no Authorization header', async () => {
    const { verifier } = verifierWith({ authMethod: 'client_secret_post' });
    expect(await verifier.verify(TOKEN)).toMatchObject({ ok: true });
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.headers.authorization).toBeUndefined();
    const form = new URLSearchParams(request?.body);
    expect(form.get('client_id')).toBe(CLIENT_ID);
    expect(form.get('client_secret')).toBe(CLIENT_SECRET);
    expect(form.get('token_type_hint')).toBe('access_token');
    expect(form.get('token')).toBe(TOKEN);
  });

  test('without a secret: client_id in the form only', async () => {
    const { verifier } = verifierWith({ clientSecret: undefined });
    await verifier.verify(TOKEN);
    const [request] = server.requests;
    expect(request?.headers.authorization).toBeUndefined();
    const form = new URLSearchParams(request?.body);
    expect(form.get('client_id')).toBe(CLIENT_ID);
    expect(form.has('client_secret')).toBe(false);
  });

  test('an active token for us → the caller', async () => {
    const { verifier } = verifierWith();
    expect(await verifier.verify(TOKEN)).toEqual({
      ok: true,
      identity: {
        issuer: ISSUER,
        subject: 'alice',
        clientId: 'client-1',
        scopes: ['mcp:tools', 'files:read'],
        claims: active(),
        expiresAt: (nowSeconds() + 600) * 1000,
        verifiedBy: 'introspection',
      },
    });
  });
});

describe('1F answers refused', () => {
  test('IN-63 active:false → invalid', async () => {
    reply = { body: { active: false } };
    expect(await verifierWith().verifier.verify(TOKEN)).toMatchObject(INVALID);
  });

  test('IN-64 active "true" / 1 / missing, body null / [] / a string → invalid, never active', async () => {
    const { verifier } = verifierWith();
    for (const body of [
      active({ active: 'true' }),
      active({ active: 1 }),
      active({ active: undefined }),
      active({ active: [true] }),
      'null',
      '[]',
      '[{"active":true}]',
      '"active"',
      'true',
    ]) {
      reply = { body };
      expect(await verifier.verify(TOKEN), JSON.stringify(body)).toMatchObject(INVALID);
    }
  });

  test('IN-64 pinned: a body that is not JSON (`{`) → unavailable (fail closed as an outage)', async () => {
    reply = { body: '{' };
    expect(await verifierWith().verifier.verify(TOKEN)).toMatchObject(UNAVAILABLE);
  });

  test('IN-65 exp in the past (beyond the tolerance) → invalid "expired"; within → accepted', async () => {
    const { verifier } = verifierWith();
    reply = { body: active({ exp: nowSeconds() - 31 }) };
    expect(await verifier.verify(TOKEN)).toEqual({
      ok: false,
      reason: 'invalid',
      description: 'the access token expired',
    });
    reply = { body: active({ exp: String(nowSeconds() + 600) }) };
    expect(await verifier.verify(TOKEN)).toMatchObject(INVALID);
    reply = { body: active({ exp: nowSeconds() - 29 }) };
    expect(await verifier.verify(TOKEN)).toMatchObject({ ok: true });
    reply = { body: active({ nbf: nowSeconds() + 31 }) };
    expect(await verifier.verify(TOKEN)).toMatchObject(INVALID);
  });

  test('IN-65 aud / resource must name us', async () => {
    const { verifier } = verifierWith();
    for (const fields of [
      { aud: 'https://api.other' },
      { aud: undefined },
      { aud: [] },
      { aud: [`${AUDIENCE}/`] },
      { aud: undefined, resource: 'https://api.other' },
      { aud: 'https://api.other', resource: ['https://api.other2'] },
      { aud: { AUDIENCE } },
    ]) {
      reply = { body: active(fields) };
      expect(await verifier.verify(TOKEN), JSON.stringify(fields)).toMatchObject(INVALID);
    }
    for (const fields of [
      { aud: ['https://api.other', AUDIENCE] },
      { aud: undefined, resource: AUDIENCE },
      { aud: 'https://api.other', resource: [AUDIENCE] },
    ]) {
      reply = { body: active(fields) };
      expect(await verifier.verify(TOKEN), JSON.stringify(fields)).toMatchObject({ ok: true });
    }
  });

  test('IN-65 iss ≠ expected → invalid (absent iss is accepted: the endpoint is trusted)', async () => {
    const { verifier } = verifierWith();
    for (const iss of ['https://evil.example', `${ISSUER}/`, [ISSUER], 1]) {
      reply = { body: active({ iss }) };
      expect(await verifier.verify(TOKEN), String(iss)).toMatchObject(INVALID);
    }
    reply = { body: active({ iss: undefined }) };
    expect(await verifier.verify(TOKEN)).toMatchObject({ ok: true, identity: { issuer: ISSUER } });
  });

  test('IN-65 active but without the needed scope → C403 at the guard', async () => {
    reply = { body: active({ scope: 'files:read' }) };
    const guard = new BearerGuard({
      verifier: verifierWith().verifier,
      resourceMetadataUrl: 'https://mcp.example/prm',
      requiredScopes: ['mcp:tools'],
    });
    const result = await guard.authenticate({ authorization: `Bearer ${TOKEN}` });
    expect(result).toEqual({
      ok: false,
      rejection: { kind: 'insufficient-scope', scopes: ['mcp:tools'] },
    });
  });

  test('IN-66 a refresh token (token_type says so) → invalid; access-token types accepted', async () => {
    const { verifier } = verifierWith();
    for (const tokenType of [
      'refresh_token',
      'urn:ietf:params:oauth:token-type:refresh_token',
      'urn:ietf:params:oauth:token-type:id_token',
      'DPoP',
      'N_A',
      42,
    ]) {
      reply = { body: active({ token_type: tokenType }) };
      expect(await verifier.verify(TOKEN), String(tokenType)).toMatchObject(INVALID);
    }
    for (const tokenType of [
      'Bearer',
      'bearer',
      'access_token',
      'urn:ietf:params:oauth:token-type:access_token',
      undefined,
    ]) {
      reply = { body: active({ token_type: tokenType }) };
      expect(await verifier.verify(TOKEN), String(tokenType)).toMatchObject({ ok: true });
    }
  });

  test('no sub: the subject is `client:<client id>`; neither → invalid', async () => {
    const { verifier } = verifierWith();
    reply = { body: active({ sub: undefined, client_id: 'svc' }) };
    expect(await verifier.verify(TOKEN)).toMatchObject({
      ok: true,
      identity: { subject: 'client:svc', clientId: 'svc' },
    });
    reply = { body: active({ sub: '', client_id: undefined }) };
    expect(await verifier.verify(TOKEN)).toMatchObject(INVALID);
  });
});

describe('requests in flight', () => {
  test('beyond maxConcurrent introspections in flight, another token is unavailable at once', async () => {
    const held: ServerResponse[] = [];
    const answer = server.handler;
    server.handler = (_request, res) => {
      held.push(res);
    };
    try {
      const { verifier } = verifierWith({ maxConcurrent: 2, timeoutMs: 5_000 });
      const first = verifier.verify('token-1');
      const second = verifier.verify('token-2');
      const third = await within('the third verification', verifier.verify('token-3'), 3_000);
      expect(third).toMatchObject(UNAVAILABLE);
      await waitFor('two introspection requests', () => (held.length === 2 ? true : undefined));
      expect(verifier.requests).toBe(2);
      for (const res of held) send(res, 200, active());
      expect(await first).toMatchObject({ ok: true });
      expect(await second).toMatchObject({ ok: true });
      // The slots are free again.
      server.handler = answer;
      expect(await verifier.verify('token-4')).toMatchObject({ ok: true });
      expect(server.requests).toHaveLength(3);
    } finally {
      server.handler = answer;
      for (const res of held) if (!res.writableEnded) res.destroy();
    }
  });
});

describe('IN-67/68/69 failures → unavailable (503), never cached', () => {
  for (const kind of ['slow', 'drip', '500', 'reset', '401', '403', 'redirect', 'huge'] as const) {
    test(`${kind} → unavailable`, async () => {
      reply = kind;
      const { verifier, fetch, logger } = verifierWith();
      const result = await verifier.verify(TOKEN);
      expect(result).toMatchObject(UNAVAILABLE);
      if (!result.ok && result.reason === 'unavailable') {
        expect(result.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      }
      // No redirect followed: only the endpoint was asked.
      expect(fetch.urls).toEqual([server.url('/introspect')]);
      expect(logger.warnings).toHaveLength(1);
      if (kind === '401' || kind === '403') {
        expect(logger.warnings[0]).toMatch(/client credentials/);
      }
      // Neither the token nor the secret is logged.
      expect(logger.warnings.join('\n')).not.toContain(TOKEN);
      expect(logger.warnings.join('\n')).not.toContain(CLIENT_SECRET);
    });
  }

  test('other 5xx and 3xx statuses → unavailable', async () => {
    const { verifier } = verifierWith();
    for (const status of [502, 503, 504, 301, 307, 308, 204, 201]) {
      reply = { status, body: active(), headers: { location: 'https://evil.example/' } };
      expect(await verifier.verify(TOKEN), String(status)).toMatchObject(UNAVAILABLE);
    }
  });

  test('a body just over 64 KiB without content-length → unavailable', async () => {
    reply = 'huge-chunked';
    expect(await verifierWith().verifier.verify(TOKEN)).toMatchObject(UNAVAILABLE);
  });

  test('outages are not cached: every request asks again, then the answer is cached', async () => {
    const { verifier } = verifierWith();
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n', now: clock.now });
    reply = '500';
    for (let i = 0; i < 3; i++) {
      expect(await cache.verify(TOKEN, verifier)).toMatchObject(UNAVAILABLE);
    }
    expect(server.count('/introspect')).toBe(3);
    reply = { body: active() };
    expect(await cache.verify(TOKEN, verifier)).toMatchObject({ ok: true });
    expect(await cache.verify(TOKEN, verifier)).toMatchObject({ ok: true });
    expect(server.count('/introspect')).toBe(4);
    expect(verifier.requests).toBe(4);
  });

  test('IN-69 a wrong Content-Type (text/html) is refused even if the body parses', async () => {
    // Catalogue IN-69: wrong Content-Type → fail closed (503). requestJson never looks at it, so
    // an HTML error page or a captive portal that happens to be JSON-shaped is believed.
    reply = { body: active(), headers: { 'content-type': 'text/html' } };
    expect(await verifierWith().verifier.verify(TOKEN)).toMatchObject(UNAVAILABLE);
  });
});
