import { inspect } from 'node:util';
import type { AuthorizationServer, TokenEndpointResponse } from 'oauth4webapi';
import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { McpAgentError } from '../../src/errors.js';
import { prepareAuthorization, validateCallback } from '../../src/oauth/protocol/authorization.js';
import { OAuthServerError } from '../../src/oauth/protocol/failures.js';
import type { OAuthFetch } from '../../src/oauth/protocol/registration.js';
import {
  clientOf,
  exchangeCode,
  MAX_EXPIRES_IN,
  pollDeviceToken,
  refreshTokens,
  revokeToken,
  startDeviceAuthorization,
  type TokenRequestContext,
  toTokenRecord,
} from '../../src/oauth/protocol/tokens.js';
import type { ClientRegistration } from '../../src/stores/registrations.js';

const ISSUER = 'https://as.example.com';
const REDIRECT = 'http://127.0.0.1:33418/callback';
const RESOURCE = 'https://mcp.example.com/mcp';
const ACCESS = 'CANARY-access-token-1a2b';
const REFRESH = 'CANARY-refresh-token-3c4d';
const NEW_REFRESH = 'CANARY-new-refresh-5e6f';
const CLIENT_SECRET = 'CANARY-client-secret-7a8b';
const CODE = 'CANARY-code-9c0d';
const DEVICE_CODE = 'CANARY-device-code-e1f2';

const as: AuthorizationServer = {
  issuer: ISSUER,
  authorization_endpoint: `${ISSUER}/authorize`,
  token_endpoint: `${ISSUER}/token`,
  revocation_endpoint: `${ISSUER}/revoke`,
  device_authorization_endpoint: `${ISSUER}/device`,
  code_challenge_methods_supported: ['S256'],
};

const postClient: ClientRegistration = {
  clientId: 'client-1',
  clientSecret: new Secret(CLIENT_SECRET),
  tokenEndpointAuthMethod: 'client_secret_post',
  issuer: ISSUER,
  redirectUri: REDIRECT,
  source: 'configured',
};

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

const GOOD = { access_token: ACCESS, token_type: 'Bearer', expires_in: 3600 };

interface Sent {
  readonly url: string;
  readonly method: string | undefined;
  readonly redirect: RequestInit['redirect'];
  readonly headers: Headers;
  readonly form: URLSearchParams;
}

/** A token endpoint: records each request, answers with `answer` (a good token by default). */
function endpoint(answer: (sent: Sent) => Response = () => json(GOOD)): {
  fetch: OAuthFetch;
  sent: Sent[];
} {
  const sent: Sent[] = [];
  const fetch: OAuthFetch = async (input, init) => {
    const entry: Sent = {
      url: String(input),
      method: init?.method,
      redirect: init?.redirect,
      headers: new Headers(init?.headers),
      form: new URLSearchParams(
        init?.body instanceof URLSearchParams ? init.body : String(init?.body ?? ''),
      ),
    };
    sent.push(entry);
    return answer(entry);
  };
  return { fetch, sent };
}

function context(fetch: OAuthFetch, extra: Partial<TokenRequestContext> = {}): TokenRequestContext {
  return { as, client: postClient, fetch, resource: RESOURCE, ...extra };
}

/** Callback parameters as validateCallback returns them (oauth4webapi requires that). */
async function callback(): Promise<{
  params: URLSearchParams;
  request: { redirectUri: string; codeVerifier: string };
}> {
  const request = await prepareAuthorization({
    as,
    clientId: postClient.clientId,
    redirectUri: REDIRECT,
    scopes: [],
  });
  const url = new URL(REDIRECT);
  url.searchParams.set('code', CODE);
  url.searchParams.set('state', request.state);
  return { params: validateCallback(as, clientOf(postClient), url, request), request };
}

async function exchange(ctx: TokenRequestContext): Promise<TokenEndpointResponse> {
  const { params, request } = await callback();
  return exchangeCode(ctx, params, request);
}

async function failure(promise: Promise<unknown>): Promise<McpAgentError> {
  const error = await promise.catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(McpAgentError);
  return error as McpAgentError;
}

/** Everything an error could show. */
function shown(error: unknown): string {
  return `${String(error)}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
}

const EXTRA = { audience: 'https://api.example.com', tenant: 'acme' };

describe('token requests: resource and extra parameters', () => {
  test('the code exchange sends the grant, PKCE, client auth, resource and extra params', async () => {
    const { fetch, sent } = endpoint();
    const { params, request } = await callback();
    const response = await exchangeCode(context(fetch, { extraParams: EXTRA }), params, request);
    expect(response.access_token).toBe(ACCESS);
    expect(sent).toHaveLength(1);
    const [req] = sent;
    expect(req?.url).toBe(`${ISSUER}/token`);
    expect(req?.method).toBe('POST');
    expect(req?.redirect).toBe('manual');
    expect(Object.fromEntries(req?.form ?? [])).toEqual({
      grant_type: 'authorization_code',
      code: CODE,
      redirect_uri: REDIRECT,
      code_verifier: request.codeVerifier,
      resource: RESOURCE,
      audience: EXTRA.audience,
      tenant: EXTRA.tenant,
      client_id: 'client-1',
      client_secret: CLIENT_SECRET,
    });
  });

  test('the refresh sends the same resource and extra params', async () => {
    const { fetch, sent } = endpoint();
    await exchange(context(fetch, { extraParams: EXTRA }));
    await refreshTokens(context(fetch, { extraParams: EXTRA }), new Secret(REFRESH));
    const [code, refresh] = sent;
    expect(Object.fromEntries(refresh?.form ?? [])).toEqual({
      grant_type: 'refresh_token',
      refresh_token: REFRESH,
      resource: RESOURCE,
      audience: EXTRA.audience,
      tenant: EXTRA.tenant,
      client_id: 'client-1',
      client_secret: CLIENT_SECRET,
    });
    for (const name of ['resource', 'audience', 'tenant']) {
      expect(refresh?.form.getAll(name)).toEqual(code?.form.getAll(name));
    }
  });

  test('the device-code poll sends them too', async () => {
    const { fetch, sent } = endpoint();
    await pollDeviceToken(context(fetch, { extraParams: EXTRA }), DEVICE_CODE);
    expect(sent[0]?.form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:device_code');
    expect(sent[0]?.form.get('device_code')).toBe(DEVICE_CODE);
    expect(sent[0]?.form.getAll('resource')).toEqual([RESOURCE]);
    expect(sent[0]?.form.get('audience')).toBe(EXTRA.audience);
  });

  test('resource omitted on every request when undefined, even if an extra param names it', async () => {
    const { fetch, sent } = endpoint();
    const ctx = context(fetch, {
      resource: undefined,
      extraParams: { ...EXTRA, resource: 'https://evil.example/' },
    });
    await exchange(ctx);
    await refreshTokens(ctx, new Secret(REFRESH));
    await pollDeviceToken(ctx, DEVICE_CODE);
    expect(sent).toHaveLength(3);
    for (const req of sent) {
      expect(req.form.has('resource')).toBe(false);
      expect(req.form.get('tenant')).toBe('acme');
    }
  });

  test('extra params cannot override the protocol parameters', async () => {
    const { fetch, sent } = endpoint();
    const ctx = context(fetch, {
      extraParams: {
        grant_type: 'client_credentials',
        code: 'forged',
        redirect_uri: 'https://evil.example/cb',
        code_verifier: 'forged',
        refresh_token: 'forged',
        resource: 'https://evil.example/',
      },
    });
    await exchange(ctx);
    await refreshTokens(ctx, new Secret(REFRESH));
    const [code, refresh] = sent;
    expect(code?.form.getAll('grant_type')).toEqual(['authorization_code']);
    expect(code?.form.getAll('code')).toEqual([CODE]);
    expect(code?.form.getAll('redirect_uri')).toEqual([REDIRECT]);
    expect(code?.form.getAll('code_verifier')).not.toContain('forged');
    expect(code?.form.getAll('resource')).toEqual([RESOURCE]);
    expect(refresh?.form.getAll('grant_type')).toEqual(['refresh_token']);
    expect(refresh?.form.getAll('refresh_token')).toEqual([REFRESH]);
    expect(refresh?.form.getAll('resource')).toEqual([RESOURCE]);
  });

  test('client_secret_basic sends the secret in the header, not the body', async () => {
    const { fetch, sent } = endpoint();
    await refreshTokens(
      context(fetch, { client: { ...postClient, tokenEndpointAuthMethod: 'client_secret_basic' } }),
      new Secret(REFRESH),
    );
    // RFC 6749 §2.3.1: both parts form-urlencoded, then base64.
    const header = sent[0]?.headers.get('authorization') ?? '';
    expect(header).toMatch(/^Basic /);
    const [id, secret] = Buffer.from(header.slice(6), 'base64').toString().split(':');
    expect([id, secret].map((part) => decodeURIComponent(part ?? ''))).toEqual([
      'client-1',
      CLIENT_SECRET,
    ]);
    expect(sent[0]?.form.has('client_secret')).toBe(false);
  });
});

describe('token responses that are refused', () => {
  const raw = (text: string) => () =>
    new Response(text, { headers: { 'content-type': 'application/json' } });

  test.each([
    ['a negative expires_in', raw(JSON.stringify({ ...GOOD, expires_in: -1 }))],
    ['a string expires_in', raw(JSON.stringify({ ...GOOD, expires_in: '3600' }))],
    [
      'an infinite expires_in (1e400)',
      raw(`{"access_token":"${ACCESS}","token_type":"Bearer","expires_in":1e400}`),
    ],
    ['a null expires_in', raw(JSON.stringify({ ...GOOD, expires_in: null }))],
    ['a boolean expires_in', raw(JSON.stringify({ ...GOOD, expires_in: true }))],
    ['no access_token', raw(JSON.stringify({ token_type: 'Bearer', expires_in: 3600 }))],
    ['an empty access_token', raw(JSON.stringify({ ...GOOD, access_token: '' }))],
    ['a numeric access_token', raw(JSON.stringify({ ...GOOD, access_token: 42 }))],
    ['a non-JSON body', raw(`access_token=${ACCESS}&token_type=Bearer`)],
    [
      'an HTML body',
      () => new Response('<html>oops</html>', { headers: { 'content-type': 'text/html' } }),
    ],
    ['a JSON array', raw(JSON.stringify([GOOD]))],
    ['JSON null', raw('null')],
    ['an empty body', raw('')],
  ])('%s → OAUTH_TOKEN (exchange and refresh)', async (_label, answer) => {
    for (const run of [
      (ctx: TokenRequestContext) => exchange(ctx),
      (ctx: TokenRequestContext) => refreshTokens(ctx, new Secret(REFRESH)),
    ]) {
      const { fetch } = endpoint(answer);
      const error = await failure(run(context(fetch)));
      expect(error.code).toBe('OAUTH_TOKEN');
      expect(shown(error)).not.toContain(ACCESS);
      expect(shown(error)).not.toContain(REFRESH);
      expect(shown(error)).not.toContain(CLIENT_SECRET);
      expect(shown(error)).not.toContain(CODE);
    }
  });

  test('expires_in 0 and a missing expires_in are accepted', async () => {
    for (const body of [
      { ...GOOD, expires_in: 0 },
      { access_token: ACCESS, token_type: 'Bearer' },
    ]) {
      const { fetch } = endpoint(() => json(body));
      expect((await refreshTokens(context(fetch), new Secret(REFRESH))).access_token).toBe(ACCESS);
    }
  });

  test.each([301, 302, 303, 307, 308])(
    'a %i from the token endpoint → OAUTH_TOKEN, and the target is never fetched',
    async (status) => {
      for (const run of [
        (ctx: TokenRequestContext) => exchange(ctx),
        (ctx: TokenRequestContext) => refreshTokens(ctx, new Secret(REFRESH)),
        (ctx: TokenRequestContext) => revokeToken(ctx, new Secret(REFRESH), 'refresh_token'),
        (ctx: TokenRequestContext) => pollDeviceToken(ctx, DEVICE_CODE),
      ]) {
        const { fetch, sent } = endpoint(
          () =>
            new Response(null, {
              status,
              headers: { location: 'https://evil.example/steal' },
            }),
        );
        const error = await failure(run(context(fetch)));
        expect(error.code).toBe('OAUTH_TOKEN');
        expect(error.message).toMatch(/redirect/);
        expect(sent.map((req) => req.url)).not.toContain('https://evil.example/steal');
        expect(sent).toHaveLength(1);
        expect(sent[0]?.redirect).toBe('manual');
      }
    },
  );
});

describe('OAuth errors from the token endpoint', () => {
  test('invalid_grant on refresh: an OAuthServerError, secrets scrubbed even when echoed', async () => {
    const { fetch } = endpoint(() =>
      json(
        {
          error: 'invalid_grant',
          error_description: `refresh token ${REFRESH} for client secret ${CLIENT_SECRET} is revoked`,
        },
        400,
      ),
    );
    const error = await failure(refreshTokens(context(fetch), new Secret(REFRESH)));
    expect(error).toBeInstanceOf(OAuthServerError);
    const server = error as OAuthServerError;
    expect(server.code).toBe('OAUTH_TOKEN');
    expect(server.error).toBe('invalid_grant');
    expect(server.status).toBe(400);
    expect(server.message).toContain('invalid_grant');
    expect(server.message).toContain('is revoked');
    expect(server.errorDescription).toContain('[redacted]');
    expect(shown(server)).not.toContain(REFRESH);
    expect(shown(server)).not.toContain(CLIENT_SECRET);
  });

  test('invalid_grant on the code exchange: code, verifier and secret scrubbed', async () => {
    const { params, request } = await callback();
    const { fetch } = endpoint(() =>
      json(
        {
          error: 'invalid_grant',
          error_description: `code ${CODE} / verifier ${request.codeVerifier} / ${CLIENT_SECRET}`,
        },
        400,
      ),
    );
    const error = await failure(exchangeCode(context(fetch), params, request));
    expect(error).toBeInstanceOf(OAuthServerError);
    expect((error as OAuthServerError).error).toBe('invalid_grant');
    const text = shown(error);
    expect(text).not.toContain(CODE);
    expect(text).not.toContain(request.codeVerifier);
    expect(text).not.toContain(CLIENT_SECRET);
  });

  test('a 401 invalid_client with a WWW-Authenticate challenge keeps the error code', async () => {
    const { fetch } = endpoint(() =>
      json({ error: 'invalid_client' }, 401, { 'www-authenticate': 'Basic realm="as"' }),
    );
    const error = await failure(refreshTokens(context(fetch), new Secret(REFRESH)));
    expect(error.code).toBe('OAUTH_TOKEN');
    expect(shown(error)).not.toContain(CLIENT_SECRET);
  });

  test('a refresh token echoed as the error code is scrubbed too', async () => {
    const { fetch } = endpoint(() => json({ error: REFRESH }, 400));
    const error = await failure(refreshTokens(context(fetch), new Secret(REFRESH)));
    expect(error.code).toBe('OAUTH_TOKEN');
    expect(error.message).not.toContain(REFRESH);
  });
});

describe('toTokenRecord', () => {
  const now = 1_700_000_000_000;
  const base = {
    now,
    issuer: ISSUER,
    resource: RESOURCE,
    server: 'github',
    requestedScopes: ['read', 'write'],
  };

  test('expiresAt is now + expires_in seconds; the rest is copied', () => {
    const record = toTokenRecord(
      {
        access_token: ACCESS,
        refresh_token: NEW_REFRESH,
        token_type: 'bearer',
        expires_in: 3600,
        scope: 'read  admin read',
      },
      base,
    );
    expect(record.accessToken.reveal()).toBe(ACCESS);
    expect(record.refreshToken?.reveal()).toBe(NEW_REFRESH);
    expect(record.tokenType).toBe('Bearer');
    expect(record.expiresAt).toBe(now + 3_600_000);
    expect(record.obtainedAt).toBe(now);
    expect(record.scopes).toEqual(['read', 'admin']);
    expect(record).toMatchObject({ issuer: ISSUER, resource: RESOURCE, server: 'github' });
  });

  test('no expires_in, 0, or more than ten years: no expiresAt (used until a 401)', () => {
    expect(
      toTokenRecord({ access_token: ACCESS, token_type: 'bearer' }, base).expiresAt,
    ).toBeUndefined();
    for (const expires_in of [0, MAX_EXPIRES_IN + 1, 1e300]) {
      expect(
        toTokenRecord({ access_token: ACCESS, token_type: 'bearer', expires_in }, base).expiresAt,
      ).toBeUndefined();
    }
    expect(
      toTokenRecord(
        { access_token: ACCESS, token_type: 'bearer', expires_in: MAX_EXPIRES_IN },
        base,
      ).expiresAt,
    ).toBe(now + MAX_EXPIRES_IN * 1000);
  });

  test('the previous refresh token is kept when none is returned, replaced when one is', () => {
    const previousRefreshToken = new Secret(REFRESH);
    expect(
      toTokenRecord(
        { access_token: ACCESS, token_type: 'bearer' },
        { ...base, previousRefreshToken },
      ).refreshToken?.reveal(),
    ).toBe(REFRESH);
    expect(
      toTokenRecord(
        { access_token: ACCESS, token_type: 'bearer', refresh_token: NEW_REFRESH },
        { ...base, previousRefreshToken },
      ).refreshToken?.reveal(),
    ).toBe(NEW_REFRESH);
    expect(
      toTokenRecord({ access_token: ACCESS, token_type: 'bearer' }, base).refreshToken,
    ).toBeUndefined();
  });

  test('scopes from the response, else the requested ones', () => {
    expect(toTokenRecord({ access_token: ACCESS, token_type: 'bearer' }, base).scopes).toEqual([
      'read',
      'write',
    ]);
    expect(
      toTokenRecord({ access_token: ACCESS, token_type: 'bearer', scope: '' }, base).scopes,
    ).toEqual([]);
  });

  test.each([
    ['bearer', 'Bearer'],
    ['BEARER', 'Bearer'],
    ['Bearer', 'Bearer'],
    ['DPoP', 'DPoP'],
    ['', 'Bearer'],
  ])('token_type %j → %j', (type, expected) => {
    expect(
      toTokenRecord({ access_token: ACCESS, token_type: type as 'bearer' }, base).tokenType,
    ).toBe(expected);
  });

  test('the record never shows its tokens', () => {
    const record = toTokenRecord(
      { access_token: ACCESS, token_type: 'bearer', refresh_token: NEW_REFRESH },
      base,
    );
    expect(JSON.stringify(record)).not.toContain(ACCESS);
    expect(inspect(record)).not.toContain(NEW_REFRESH);
  });
});

describe('revokeToken', () => {
  test.each(['refresh_token', 'access_token'] as const)(
    'sends the token with token_type_hint=%s',
    async (hint) => {
      const { fetch, sent } = endpoint(() => new Response(null, { status: 200 }));
      await revokeToken(context(fetch), new Secret(REFRESH), hint);
      expect(sent).toHaveLength(1);
      expect(sent[0]?.url).toBe(`${ISSUER}/revoke`);
      expect(sent[0]?.form.get('token')).toBe(REFRESH);
      expect(sent[0]?.form.get('token_type_hint')).toBe(hint);
      expect(sent[0]?.form.get('client_id')).toBe('client-1');
    },
  );

  test('a refusal is OAUTH_TOKEN with the token scrubbed', async () => {
    const { fetch } = endpoint(() =>
      json({ error: 'unsupported_token_type', error_description: `no ${REFRESH}` }, 400),
    );
    const error = await failure(revokeToken(context(fetch), new Secret(REFRESH), 'refresh_token'));
    expect(error.code).toBe('OAUTH_TOKEN');
    expect((error as OAuthServerError).error).toBe('unsupported_token_type');
    expect(shown(error)).not.toContain(REFRESH);
  });
});

describe('device authorization', () => {
  test('startDeviceAuthorization sends scope and resource', async () => {
    const { fetch, sent } = endpoint(() =>
      json({
        device_code: DEVICE_CODE,
        user_code: 'ABCD-EFGH',
        verification_uri: `${ISSUER}/activate`,
        expires_in: 600,
        interval: 5,
      }),
    );
    const start = await startDeviceAuthorization(context(fetch), ['read', 'write']);
    expect(start.user_code).toBe('ABCD-EFGH');
    expect(sent[0]?.url).toBe(`${ISSUER}/device`);
    expect(sent[0]?.form.get('scope')).toBe('read write');
    expect(sent[0]?.form.get('resource')).toBe(RESOURCE);
    const { fetch: bare, sent: bareSent } = endpoint(() =>
      json({
        device_code: DEVICE_CODE,
        user_code: 'X',
        verification_uri: `${ISSUER}/activate`,
        expires_in: 600,
      }),
    );
    await startDeviceAuthorization(context(bare, { resource: undefined }), []);
    expect(bareSent[0]?.form.has('scope')).toBe(false);
    expect(bareSent[0]?.form.has('resource')).toBe(false);
  });

  test('authorization_pending → not done, no slow-down', async () => {
    const { fetch } = endpoint(() => json({ error: 'authorization_pending' }, 400));
    expect(await pollDeviceToken(context(fetch), DEVICE_CODE)).toEqual({
      done: false,
      slowDown: false,
    });
  });

  test('slow_down → not done, slow down', async () => {
    const { fetch } = endpoint(() => json({ error: 'slow_down' }, 400));
    expect(await pollDeviceToken(context(fetch), DEVICE_CODE)).toEqual({
      done: false,
      slowDown: true,
    });
  });

  test('expired_token → OAUTH_AUTHORIZATION saying the code expired', async () => {
    const { fetch } = endpoint(() => json({ error: 'expired_token' }, 400));
    const error = await failure(pollDeviceToken(context(fetch), DEVICE_CODE));
    expect(error).toBeInstanceOf(OAuthServerError);
    expect(error.code).toBe('OAUTH_AUTHORIZATION');
    expect((error as OAuthServerError).error).toBe('expired_token');
    expect(error.message).toMatch(/expired; log in again/);
  });

  test('access_denied → OAUTH_AUTHORIZATION; the device code is scrubbed', async () => {
    const { fetch } = endpoint(() =>
      json({ error: 'access_denied', error_description: `denied ${DEVICE_CODE}` }, 400),
    );
    const error = await failure(pollDeviceToken(context(fetch), DEVICE_CODE));
    expect(error.code).toBe('OAUTH_AUTHORIZATION');
    expect((error as OAuthServerError).error).toBe('access_denied');
    expect(shown(error)).not.toContain(DEVICE_CODE);
    expect(error.message).not.toMatch(/expired/);
  });

  test('success → done with the token response', async () => {
    const { fetch } = endpoint();
    const poll = await pollDeviceToken(context(fetch), DEVICE_CODE);
    expect(poll.done).toBe(true);
    expect(poll.done && poll.response.access_token).toBe(ACCESS);
  });

  test('a bad token response while polling is refused, not taken for pending', async () => {
    const { fetch } = endpoint(() => json({ ...GOOD, expires_in: -5 }));
    const error = await failure(pollDeviceToken(context(fetch), DEVICE_CODE));
    expect(error.code).toBe('OAUTH_TOKEN');
  });
});
