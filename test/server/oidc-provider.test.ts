/**
 * ConfiguredVerifier against a real authorization server (oidc-provider, test/support): jwks_uri
 * discovered from the issuer metadata and real RFC 9068 JWT access tokens (client credentials and
 * an authorization-code flow for a user), and RFC 7662 introspection with a confidential client
 * whose secret needs form-encoding in the Basic header.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { authorizationSchema } from '../../src/config/schema/authorization.js';
import { BearerGuard } from '../../src/server/guard.js';
import { ConfiguredVerifier } from '../../src/server/verifiers/configured.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { recordingFetch } from './fixtures.js';

const RESOURCE = 'https://mcp.example/mcp';
const RS_CLIENT = 'mcp-agent-rs';
const RS_SECRET = 'rs secret:+/%x';
const APP = 'app';
const REDIRECT = 'http://127.0.0.1:9/callback';

let as: AuthorizationServer;

beforeAll(async () => {
  as = await startAuthorizationServer({
    clients: [
      {
        client_id: RS_CLIENT,
        client_secret: RS_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: APP,
        token_endpoint_auth_method: 'none',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
  });
});

afterAll(async () => {
  await as.close();
});

function basic(id: string, secret: string): string {
  const part = (text: string) => encodeURIComponent(text).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${part(id)}:${part(secret)}`).toString('base64')}`;
}

async function tokenRequest(form: Record<string, string>, auth?: string): Promise<string> {
  const response = await fetch(as.url('/token'), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(auth ? { authorization: auth } : {}),
    },
    body: new URLSearchParams(form),
  });
  const body = (await response.json()) as Record<string, unknown>;
  expect(response.status, JSON.stringify(body)).toBe(200);
  expect(typeof body.access_token).toBe('string');
  return String(body.access_token);
}

/** A client-credentials access token; a JWT when `resource` is given, opaque otherwise. */
function clientCredentials(resource?: string): Promise<string> {
  return tokenRequest(
    {
      grant_type: 'client_credentials',
      scope: 'mcp:read',
      ...(resource ? { resource } : {}),
    },
    basic(RS_CLIENT, RS_SECRET),
  );
}

/** A user's (alice's) JWT access token for `resource` through the code flow with PKCE. */
async function userToken(resource: string): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(as.url('/auth'));
  url.search = new URLSearchParams({
    client_id: APP,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'mcp:read mcp:write',
    resource,
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const walk = await followAuthorization(url, { stopAtRedirectUri: REDIRECT });
  const code = walk.finalUrl.searchParams.get('code');
  expect(code, walk.finalUrl.href).toBeTruthy();
  return tokenRequest({
    grant_type: 'authorization_code',
    client_id: APP,
    code: code ?? '',
    redirect_uri: REDIRECT,
    code_verifier: verifier,
    resource,
  });
}

function configured(extra: Record<string, unknown> = {}) {
  const fetch = recordingFetch();
  const settings = authorizationSchema.parse({
    enabled: true,
    issuer_url: as.issuer,
    resource_server_url: RESOURCE,
    expected_audiences: [RESOURCE],
    required_scopes: ['mcp:read'],
    ...extra,
  });
  return { fetch, verifier: new ConfiguredVerifier(settings, { fetch }) };
}

describe('JWT access tokens from oidc-provider, jwks_uri discovered', () => {
  test('client credentials: verified through the discovered JWKS', async () => {
    const { verifier, fetch } = configured({ require_at_jwt_type: true });
    const token = await clientCredentials(RESOURCE);
    expect(token.split('.')).toHaveLength(3);
    const result = await verifier.verify(token);
    expect(result).toMatchObject({
      ok: true,
      identity: {
        issuer: as.issuer,
        subject: RS_CLIENT,
        clientId: RS_CLIENT,
        scopes: ['mcp:read'],
        verifiedBy: 'jwt',
      },
    });
    expect(fetch.urls).toEqual([
      as.url('/.well-known/oauth-authorization-server'),
      as.url('/jwks'),
    ]);
    expect(await verifier.verify(await clientCredentials(RESOURCE))).toMatchObject({ ok: true });
    expect(verifier.jwks?.fetches).toBe(1);
  });

  test('a user token from the code flow → alice, through the guard', async () => {
    const { verifier } = configured();
    const guard = new BearerGuard({
      verifier,
      resourceMetadataUrl: 'https://mcp.example/.well-known/oauth-protected-resource/mcp',
      requiredScopes: ['mcp:read'],
    });
    const token = await userToken(RESOURCE);
    const result = await guard.authenticate({ authorization: `Bearer ${token}` });
    expect(result).toMatchObject({
      ok: true,
      identity: { subject: 'alice', clientId: APP, scopes: ['mcp:read', 'mcp:write'] },
    });
    if (result.ok)
      expect(guard.authorize(result.identity, ['mcp:admin'])).toMatchObject({
        kind: 'insufficient-scope',
        scopes: ['mcp:read', 'mcp:admin'],
      });
  });

  test('IN-42 a real token for another resource → invalid', async () => {
    const { verifier } = configured();
    const foreign = await clientCredentials('https://other.example/mcp');
    expect(await verifier.verify(foreign)).toMatchObject({ ok: false, reason: 'invalid' });
    const user = await userToken('https://other.example/mcp');
    expect(await verifier.verify(user)).toMatchObject({ ok: false, reason: 'invalid' });
  });

  test('a tampered real token → invalid', async () => {
    const { verifier } = configured();
    const [h, p, s] = (await clientCredentials(RESOURCE)).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'mcp:admin' })).toString(
      'base64url',
    );
    expect(await verifier.verify(`${h}.${forged}.${s}`)).toMatchObject({ ok: false });
  });
});

describe('RFC 7662 introspection at oidc-provider', () => {
  const introspection = {
    introspection_endpoint: '',
    introspection_client_id: RS_CLIENT,
    introspection_client_secret: RS_SECRET,
  };

  test('opaque token: Basic credentials accepted, hint sent; no audience → not for us', async () => {
    const { verifier } = configured({
      ...introspection,
      introspection_endpoint: as.url('/token/introspection'),
    });
    const opaque = await clientCredentials();
    expect(opaque.split('.')).toHaveLength(1);
    const direct = await fetch(as.url('/token/introspection'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(RS_CLIENT, RS_SECRET),
      },
      body: new URLSearchParams({ token: opaque }),
    });
    const answer = (await direct.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ active: true, client_id: RS_CLIENT, scope: 'mcp:read' });
    expect(answer.aud).toBeUndefined();
    const before = as.requests.length;
    // oidc-provider says active (client_credentials, no resource): without aud/resource naming
    // us, the token was not issued for this server.
    expect(await verifier.verify(opaque)).toMatchObject({ ok: false, reason: 'invalid' });
    const introspected = as.requests
      .slice(before)
      .filter((request) => request.path === '/token/introspection');
    expect(introspected).toHaveLength(1);
    expect(introspected[0]?.status).toBe(200);
    expect(introspected[0]?.body).toMatchObject({ token: opaque, token_type_hint: 'access_token' });
    expect(introspected[0]?.headers.authorization).toBe(basic(RS_CLIENT, RS_SECRET));
  });

  test('IN-68 wrong introspection credentials (401 from the AS) → unavailable, not invalid', async () => {
    const { verifier } = configured({
      ...introspection,
      introspection_endpoint: as.url('/token/introspection'),
      introspection_client_secret: 'wrong',
    });
    const opaque = await clientCredentials();
    expect(await verifier.verify(opaque)).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(as.requests.at(-1)).toMatchObject({ path: '/token/introspection', status: 401 });
  });

  test('a revoked or unknown opaque token → invalid', async () => {
    const { verifier } = configured({
      ...introspection,
      introspection_endpoint: as.url('/token/introspection'),
    });
    const opaque = await clientCredentials();
    const revoked = await fetch(as.url('/token/revocation'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(RS_CLIENT, RS_SECRET),
      },
      body: new URLSearchParams({ token: opaque }),
    });
    expect(revoked.status).toBe(200);
    expect(await verifier.verify(opaque)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await verifier.verify('not-a-token-at-all')).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
  });

  test('the introspection endpoint can be discovered too (client id, no endpoint)', async () => {
    const { verifier, fetch } = configured({
      introspection_client_id: RS_CLIENT,
      introspection_client_secret: RS_SECRET,
    });
    const opaque = await clientCredentials();
    expect(await verifier.verify(opaque)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(fetch.urls).toContain(as.url('/token/introspection'));
    // JWTs still go to the JWKS, not to introspection.
    const before = fetch.urls.length;
    expect(await verifier.verify(await clientCredentials(RESOURCE))).toMatchObject({ ok: true });
    expect(fetch.urls.slice(before)).toEqual([as.url('/jwks')]);
  });
});
