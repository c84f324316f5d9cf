/**
 * ConfiguredVerifier (the `authorization:` section): endpoint checks (IN-85), discovery from the
 * issuer's metadata with the echo check, retry without a request storm while discovery is down,
 * JWT-shaped → JWT else introspection, and a configuration that cannot verify anything.
 */
import type { JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { authorizationSchema } from '../../src/config/schema/authorization.js';
import { McpAgentError } from '../../src/errors.js';
import { ConfiguredVerifier, checkEndpoint } from '../../src/server/verifiers/configured.js';
import { manualClock } from '../support/clock.js';
import {
  type FakeServer,
  recordingFetch,
  send,
  signToken,
  startFakeServer,
  type TestKey,
  testKey,
} from './fixtures.js';

const AUDIENCE = 'https://mcp.example/mcp';
const WELL_KNOWN_AS = '/.well-known/oauth-authorization-server';
const WELL_KNOWN_OIDC = '/.well-known/openid-configuration';

let as: FakeServer;
let key: TestKey;
/** What the fake authorization server publishes at each path (undefined → 404; a number → that status). */
let routes: Record<string, unknown> = {};

beforeAll(async () => {
  key = await testKey('k1');
  as = await startFakeServer((req, res) => {
    const path = req.path.split('?')[0] ?? '';
    const route = routes[path];
    if (route === undefined) send(res, 404, { error: 'not_found' });
    else if (typeof route === 'number') send(res, route, { error: 'nope' });
    else send(res, 200, typeof route === 'function' ? (route as () => unknown)() : route);
  });
});

afterAll(async () => {
  await as.close();
});

beforeEach(() => {
  as.requests.length = 0;
  routes = {
    [WELL_KNOWN_AS]: metadata(),
    '/jwks': { keys: [key.jwk] as JWK[] },
    '/introspect': () => ({ active: true, aud: AUDIENCE, sub: 'bob', scope: 'mcp:tools' }),
  };
});

function metadata(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuer: as.origin,
    jwks_uri: as.url('/jwks'),
    introspection_endpoint: as.url('/introspect'),
    token_endpoint: as.url('/token'),
    ...extra,
  };
}

function settings(extra: Record<string, unknown> = {}) {
  return authorizationSchema.parse({
    enabled: true,
    issuer_url: as.origin,
    resource_server_url: AUDIENCE,
    expected_audiences: [AUDIENCE],
    ...extra,
  });
}

function configured(extra: Record<string, unknown> = {}) {
  const clock = manualClock(Date.now());
  const fetch = recordingFetch();
  const verifier = new ConfiguredVerifier(settings(extra), { fetch, now: clock.now });
  const token = (issuer = as.origin) => signToken(key, clock.now(), { issuer, audience: AUDIENCE });
  return { clock, fetch, verifier, token };
}

function configError(run: () => unknown): McpAgentError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).code).toBe('CONFIG_INVALID');
    return error as McpAgentError;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('IN-85 checkEndpoint', () => {
  test('https anywhere, http only on loopback', () => {
    for (const url of [
      'https://as.example',
      'https://as.example/tenant/v2?x=1',
      'http://127.0.0.1:8080/jwks',
      'http://localhost/jwks',
      'http://[::1]:9000/',
    ]) {
      expect(() => checkEndpoint(url, 'jwks_uri'), url).not.toThrow();
    }
    for (const url of [
      'http://as.example',
      'http://localhost.evil.example/',
      'http://127.0.0.1.nip.io/',
      'http://10.0.0.1/',
      'ftp://as.example/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'as.example',
      '',
    ]) {
      const error = configError(() => checkEndpoint(url, 'jwks_uri'));
      expect(error.message, url).toContain('authorization.jwks_uri');
    }
  });

  test('a fragment → CONFIG_INVALID', () => {
    configError(() => checkEndpoint('https://as.example/#frag', 'issuer_url'));
    configError(() => checkEndpoint('https://as.example/jwks#x', 'jwks_uri'));
  });

  test('an empty fragment ("#") is a fragment too', () => {
    // URL.hash is '' for a bare '#', so `url.hash` is falsy and the check passes; RFC 8414 §2
    // and RFC 8707 §2 forbid any fragment component.
    configError(() => checkEndpoint('https://as.example/#', 'issuer_url'));
  });

  test('the constructor checks issuer, jwks_uri and introspection_endpoint', () => {
    configError(
      () => new ConfiguredVerifier(settings({ issuer_url: 'http://as.example' }), { fetch }),
    );
    configError(
      () => new ConfiguredVerifier(settings({ jwks_uri: 'http://as.example/jwks' }), { fetch }),
    );
    configError(
      () =>
        new ConfiguredVerifier(settings({ introspection_endpoint: 'https://as.example/i#x' }), {
          fetch,
        }),
    );
    const missing = authorizationSchema.parse({ issuer_url: 'https://as.example' });
    expect(configError(() => new ConfiguredVerifier(missing, { fetch })).message).toMatch(
      /expected_audiences/,
    );
  });
});

describe('discovery', () => {
  test('jwks_uri from RFC 8414 metadata; fetched once for many verifications', async () => {
    const { verifier, token, fetch } = configured();
    expect(await verifier.prepare()).toBe(true);
    for (let i = 0; i < 5; i++) {
      expect(await verifier.verify(await token())).toMatchObject({
        ok: true,
        identity: { issuer: as.origin, subject: 'alice', verifiedBy: 'jwt' },
      });
    }
    expect(fetch.urls).toEqual([as.url(WELL_KNOWN_AS), as.url('/jwks')]);
    expect(verifier.jwks?.fetches).toBe(1);
  });

  test('OIDC discovery when RFC 8414 is missing', async () => {
    routes[WELL_KNOWN_OIDC] = routes[WELL_KNOWN_AS];
    delete routes[WELL_KNOWN_AS];
    const { verifier, token } = configured();
    expect(await verifier.verify(await token())).toMatchObject({ ok: true });
  });

  test('an issuer with a path: the path-inserted RFC 8414 URL first', async () => {
    const issuer = as.url('/tenant');
    routes[`${WELL_KNOWN_AS}/tenant`] = metadata({ issuer });
    const { verifier, fetch } = configured({ issuer_url: issuer });
    const result = await verifier.verify(
      await signToken(key, Date.now(), { issuer, audience: AUDIENCE }),
    );
    expect(result).toMatchObject({ ok: true, identity: { issuer } });
    expect(fetch.urls[0]).toBe(as.url(`${WELL_KNOWN_AS}/tenant`));
  });

  test('issuer echo mismatch → refused: unavailable, its jwks_uri never fetched', async () => {
    routes[WELL_KNOWN_AS] = metadata({ issuer: 'https://evil.example' });
    routes[WELL_KNOWN_OIDC] = metadata({ issuer: `${as.origin}/` });
    const { verifier, token, fetch } = configured();
    expect(await verifier.prepare()).toBe(false);
    expect(await verifier.verify(await token())).toMatchObject({
      ok: false,
      reason: 'unavailable',
    });
    expect(await verifier.verify(await token('https://evil.example'))).toMatchObject({ ok: false });
    expect(fetch.urls.filter((url) => url.endsWith('/jwks'))).toEqual([]);
  });

  test('discovery down at start → unavailable, retried every 10 s without a storm', async () => {
    routes[WELL_KNOWN_AS] = 503;
    routes[WELL_KNOWN_OIDC] = 503;
    const { verifier, token, fetch, clock } = configured();
    const t = await token();
    const first = await Promise.all(Array.from({ length: 100 }, () => verifier.verify(t)));
    for (const result of first) {
      expect(result).toEqual({ ok: false, reason: 'unavailable', retryAfterSeconds: 10 });
    }
    expect(fetch.urls).toEqual([as.url(WELL_KNOWN_AS), as.url(WELL_KNOWN_OIDC)]);
    for (let i = 0; i < 9; i++) {
      clock.advance(1_000);
      expect(await verifier.verify(t)).toMatchObject({ reason: 'unavailable' });
    }
    expect(fetch.urls).toHaveLength(2);
    clock.advance(1_000);
    expect(await verifier.verify(t)).toMatchObject({ reason: 'unavailable' });
    expect(fetch.urls).toHaveLength(4);
    routes[WELL_KNOWN_AS] = metadata();
    clock.advance(5_000);
    expect(await verifier.verify(t)).toMatchObject({ reason: 'unavailable' });
    expect(fetch.urls).toHaveLength(4);
    clock.advance(5_000);
    expect(await verifier.verify(t)).toMatchObject({ ok: true });
    expect(await verifier.verify(t)).toMatchObject({ ok: true });
    expect(fetch.urls.filter((url) => url.includes('/.well-known/'))).toHaveLength(5);
  });

  test('neither a jwks_uri nor introspection → CONFIG_INVALID naming what is missing', async () => {
    routes[WELL_KNOWN_AS] = metadata({ jwks_uri: undefined });
    const { verifier, token } = configured();
    await expect(verifier.prepare()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/no way to verify tokens.*jwks_uri.*introspection_client_id/s),
    });
    expect(await verifier.verify(await token())).toMatchObject({
      ok: false,
      reason: 'unavailable',
    });
  });

  test('a discovered jwks_uri that is plain http off loopback → CONFIG_INVALID', async () => {
    routes[WELL_KNOWN_AS] = metadata({ jwks_uri: 'http://keys.example/jwks' });
    const { verifier, fetch } = configured();
    await expect(verifier.prepare()).rejects.toBeInstanceOf(McpAgentError);
    expect(fetch.urls.some((url) => url.includes('keys.example'))).toBe(false);
  });
});

describe('JWT-shaped → JWT, otherwise introspection', () => {
  const both = {
    jwks_uri: '',
    introspection_endpoint: '',
    introspection_client_id: 'rs',
    introspection_client_secret: 'shh',
  };

  test('both configured: no discovery; a JWT never reaches introspection, an opaque token does', async () => {
    const { verifier, token, fetch } = configured({
      ...both,
      jwks_uri: as.url('/jwks'),
      introspection_endpoint: as.url('/introspect'),
    });
    expect(await verifier.verify(await token())).toMatchObject({
      ok: true,
      identity: { verifiedBy: 'jwt' },
    });
    expect(await verifier.verify('opaque-token-1')).toMatchObject({
      ok: true,
      identity: { subject: 'bob', verifiedBy: 'introspection' },
    });
    expect(fetch.urls).toEqual([as.url('/jwks'), as.url('/introspect')]);
    const introspected = as.requests.find((request) => request.path === '/introspect');
    expect(new URLSearchParams(introspected?.body).get('token')).toBe('opaque-token-1');
    expect(introspected?.headers.authorization).toBe(
      `Basic ${Buffer.from('rs:shh').toString('base64')}`,
    );
  });

  test('only a JWKS (no client id): an opaque token is refused without any request', async () => {
    const { verifier, fetch } = configured({ jwks_uri: as.url('/jwks') });
    expect(await verifier.verify('opaque-token-2')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(fetch.urls).toEqual([]);
  });

  test('only introspection (no jwks_uri published): a JWT-shaped token is introspected', async () => {
    routes[WELL_KNOWN_AS] = metadata({
      jwks_uri: undefined,
      introspection_endpoint_auth_methods_supported: ['client_secret_post'],
    });
    const { verifier, token } = configured({ client_id: 'rs', client_secret: 'shh' });
    const jwt = await token();
    expect(await verifier.verify(jwt)).toMatchObject({
      ok: true,
      identity: { verifiedBy: 'introspection' },
    });
    const introspected = as.requests.find((request) => request.path === '/introspect');
    const form = new URLSearchParams(introspected?.body);
    // The advertised method (post only) is used.
    expect(introspected?.headers.authorization).toBeUndefined();
    expect([form.get('client_id'), form.get('client_secret')]).toEqual(['rs', 'shh']);
    expect(form.get('token')).toBe(jwt);
  });
});
