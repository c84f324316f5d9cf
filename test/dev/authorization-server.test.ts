import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { McpAgentError } from '../../src/errors.js';
import { pageCsp } from '../../src/html.js';
import type { Logger } from '../../src/logger.js';
import { approveDevice, CookieJar, followAuthorization } from '../support/browser.js';

const RESOURCE = 'http://127.0.0.1:8000/mcp';
const REDIRECT_URI = 'http://127.0.0.1:53682/callback';

/** Every line logged, and every secret value seen, for the canary test at the end. */
const logged: unknown[] = [];
const secrets = new Set<string>();
const logger: Logger = {
  debug: (message, fields) => logged.push({ message, fields }),
  info: (message, fields) => logged.push({ message, fields }),
  warn: (message, fields) => logged.push({ message, fields }),
  error: (message, fields) => logged.push({ message, fields }),
};
function secret<T extends string | undefined>(value: T): T {
  if (value) secrets.add(value);
  return value;
}

type Json = Record<string, unknown>;

async function json(response: Response): Promise<Json> {
  return (await response.json()) as Json;
}

async function register(as: DevAuthorizationServer, metadata: Json): Promise<Json> {
  const response = await fetch(`${as.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(metadata),
  });
  const body = await json(response);
  expect(response.status, JSON.stringify(body)).toBe(201);
  secret(body.client_secret as string | undefined);
  secret(body.registration_access_token as string | undefined);
  return body;
}

function registerPublic(as: DevAuthorizationServer, extra: Json = {}): Promise<Json> {
  return register(as, {
    client_name: 'Test client',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    ...extra,
  });
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizationUrl(
  as: DevAuthorizationServer,
  clientId: string,
  challenge: string,
  extra: Record<string, string> = {},
): URL {
  const url = new URL(`${as.issuer}/auth`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'mcp:tools',
    state: 'the-state',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  return url;
}

async function tokenRequest(
  as: DevAuthorizationServer,
  form: Record<string, string>,
  basic?: { id: string; secret: string },
): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`).toString('base64')}`;
  }
  const response = await fetch(`${as.issuer}/token`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form).toString(),
  });
  const body = await json(response);
  secret(body.access_token as string | undefined);
  secret(body.refresh_token as string | undefined);
  secret(body.id_token as string | undefined);
  return { status: response.status, body };
}

async function introspect(as: DevAuthorizationServer, token: string): Promise<Json> {
  const { endpoint, clientId, clientSecret } = as.introspection;
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  expect(response.status).toBe(200);
  return json(response);
}

async function verifyAccessToken(as: DevAuthorizationServer, token: string) {
  const jwks = (await (await fetch(as.jwksUri)).json()) as JSONWebKeySet;
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: as.issuer,
    audience: RESOURCE,
    typ: 'at+jwt',
  });
  return { payload, protectedHeader };
}

/** Run a code flow with an auto-approving server: the callback URL the browser lands on. */
async function authorize(
  as: DevAuthorizationServer,
  clientId: string,
  challenge: string,
  extra: Record<string, string> = {},
): Promise<URL> {
  const result = await followAuthorization(authorizationUrl(as, clientId, challenge, extra), {
    stopAtRedirectUri: REDIRECT_URI,
  });
  secret(result.finalUrl.searchParams.get('code') ?? undefined);
  return result.finalUrl;
}

/** POST a form the way a browser would, keeping cookies; the (unfollowed) response. */
async function postForm(url: URL, form: Record<string, string>, jar: CookieJar) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
  jar.store(url, response);
  return response;
}

function formAction(html: string, base: string, button?: string): URL {
  const source = button
    ? new RegExp(`formaction="([^"]+)"[^>]*>${button}<`).exec(html)?.[1]
    : /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!source) throw new Error(`no form action${button ? ` for ${button}` : ''} in the page`);
  return new URL(source.replaceAll('&amp;', '&'), base);
}

describe('with autoApprove', () => {
  let as: DevAuthorizationServer;
  const consoleSpies: ReturnType<typeof vi.spyOn>[] = [];

  beforeAll(async () => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      consoleSpies.push(vi.spyOn(console, method));
    }
    as = await startDevAuthorizationServer({
      port: 0,
      resources: [RESOURCE],
      autoApprove: true,
      devUser: 'dev-user',
      logger,
    });
    secret(as.introspection.clientSecret);
  });
  afterAll(async () => {
    for (const spy of consoleSpies) spy.mockRestore();
    await as.close();
  });

  test('/ is a page that says what the server is, with its metadata and resources', async () => {
    const response = await fetch(`${as.issuer}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await response.text();
    expect(page).toContain('<h1>Development authorization server</h1>');
    expect(page).toContain(`${as.issuer}/.well-known/oauth-authorization-server`);
    expect(page).toContain(RESOURCE);
    expect(page).toContain('--auto-approve');
  });

  test('a refused request is logged with its endpoint and OAuth error code', async () => {
    const before = logged.length;
    const { status } = await tokenRequest(as, {
      grant_type: 'authorization_code',
      code: 'no-such-code',
      redirect_uri: REDIRECT_URI,
      code_verifier: 'v'.repeat(43),
      client_id: String((await registerPublic(as)).client_id),
    });
    expect(status).toBe(400);
    const lines = (logged.slice(before) as { message: string }[]).map((line) => line.message);
    expect(lines).toContainEqual(
      expect.stringMatching(/refused POST \/token of client \S+: invalid_grant/),
    );
  });

  test('discovery: RFC 8414 and OpenID metadata, same issuer, scopes, no secrets', async () => {
    const rfc8414 = await fetch(`${as.issuer}/.well-known/oauth-authorization-server`);
    const oidc = await fetch(`${as.issuer}/.well-known/openid-configuration`);
    expect(rfc8414.status).toBe(200);
    expect(oidc.status).toBe(200);
    const text = await rfc8414.text();
    const metadata = JSON.parse(text) as Json;
    expect(metadata).toEqual(await json(oidc));
    expect(as.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(metadata.issuer).toBe(as.issuer);
    expect(metadata.jwks_uri).toBe(as.jwksUri);
    expect(metadata.introspection_endpoint).toBe(as.introspection.endpoint);
    expect(metadata.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'offline_access', 'mcp:tools']),
    );
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.registration_endpoint).toBe(`${as.issuer}/reg`);
    expect(metadata.revocation_endpoint).toBe(`${as.issuer}/token/revocation`);
    expect(metadata.device_authorization_endpoint).toBe(`${as.issuer}/device/auth`);
    expect(metadata.grant_types_supported).toEqual(
      expect.arrayContaining([
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:device_code',
      ]),
    );
    expect(text).not.toContain(as.introspection.clientSecret);
    expect(text).not.toContain(as.introspection.clientId);
  });

  test('DCR + PKCE code flow: a JWT for the resource; refresh rotates', async () => {
    const client = await registerPublic(as);
    const clientId = String(client.client_id);
    const { verifier, challenge } = pkce();
    const callback = await authorize(as, clientId, challenge);
    expect(callback.searchParams.get('iss')).toBe(as.issuer);
    expect(callback.searchParams.get('state')).toBe('the-state');
    const code = callback.searchParams.get('code') ?? '';
    expect(code).not.toBe('');

    const exchanged = await tokenRequest(as, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: clientId,
    });
    expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200);
    const accessToken = String(exchanged.body.access_token);
    const refreshToken = String(exchanged.body.refresh_token);
    expect(exchanged.body.token_type).toBe('Bearer');
    expect(exchanged.body.scope).toBe('mcp:tools');
    expect(refreshToken).not.toBe('undefined');

    const { payload, protectedHeader } = await verifyAccessToken(as, accessToken);
    expect(protectedHeader).toMatchObject({ typ: 'at+jwt' });
    expect(['RS256', 'ES256']).toContain(protectedHeader.alg);
    expect(payload).toMatchObject({
      iss: as.issuer,
      aud: RESOURCE,
      sub: 'dev-user',
      scope: 'mcp:tools',
      client_id: clientId,
    });

    const refreshed = await tokenRequest(as, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
    });
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
    const rotated = String(refreshed.body.refresh_token);
    expect(rotated).not.toBe(refreshToken);
    expect((await verifyAccessToken(as, String(refreshed.body.access_token))).payload.aud).toBe(
      RESOURCE,
    );
    // Reusing the old one: test/dev/refresh-reuse.test.ts.
  });

  test('registration takes loopback http redirect URIs (web and native; native on any port)', async () => {
    await register(as, { redirect_uris: ['http://localhost:6274/oauth/callback'] });
    const native = await register(as, {
      redirect_uris: ['http://127.0.0.1/callback'],
      application_type: 'native',
      token_endpoint_auth_method: 'none',
    });
    const { challenge } = pkce();
    const callback = await authorize(as, String(native.client_id), challenge);
    expect(callback.port).toBe('53682');
    expect(callback.searchParams.get('code')).toBeTruthy();
  });

  test('a confidential client gets a refresh token when it asks for offline_access', async () => {
    const client = await register(as, {
      client_name: 'Web app',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    const basic = { id: String(client.client_id), secret: String(client.client_secret) };
    const exchange = async (extra: Record<string, string>) => {
      const { verifier, challenge } = pkce();
      const callback = await authorize(as, basic.id, challenge, extra);
      return tokenRequest(
        as,
        {
          grant_type: 'authorization_code',
          code: callback.searchParams.get('code') ?? '',
          redirect_uri: REDIRECT_URI,
          code_verifier: verifier,
        },
        basic,
      );
    };
    const plain = await exchange({});
    expect(plain.status, JSON.stringify(plain.body)).toBe(200);
    expect(plain.body.refresh_token).toBeUndefined();

    const offline = await exchange({ scope: 'openid offline_access mcp:tools', prompt: 'consent' });
    expect(offline.status, JSON.stringify(offline.body)).toBe(200);
    expect(typeof offline.body.refresh_token).toBe('string');
    expect(typeof offline.body.id_token).toBe('string');
    const { payload } = await verifyAccessToken(as, String(offline.body.access_token));
    expect(payload).toMatchObject({ aud: RESOURCE, sub: 'dev-user' });
    expect(String(payload.scope).split(' ')).toContain('mcp:tools');
  });

  test('PKCE is required for public clients', async () => {
    const client = await registerPublic(as);
    const url = authorizationUrl(as, String(client.client_id), 'x');
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const result = await followAuthorization(url, { stopAtRedirectUri: REDIRECT_URI });
    expect(result.finalUrl.searchParams.get('error')).toBe('invalid_request');
    expect(result.finalUrl.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  test('an unknown resource is refused with invalid_target', async () => {
    const client = await registerPublic(as);
    const { challenge } = pkce();
    const callback = await authorize(as, String(client.client_id), challenge, {
      resource: 'https://elsewhere.example/mcp',
    });
    expect(callback.searchParams.get('error')).toBe('invalid_target');
  });

  test('introspection with the pre-registered client; inactive after revocation', async () => {
    const client = await registerPublic(as);
    const clientId = String(client.client_id);
    const { verifier, challenge } = pkce();
    const callback = await authorize(as, clientId, challenge, { resource: RESOURCE });
    const { body } = await tokenRequest(as, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: clientId,
    });
    const accessToken = String(body.access_token);
    const refreshToken = String(body.refresh_token);

    expect(await introspect(as, accessToken)).toMatchObject({
      active: true,
      aud: RESOURCE,
      iss: as.issuer,
      scope: 'mcp:tools',
      sub: 'dev-user',
      client_id: clientId,
      token_type: 'Bearer',
    });
    expect(await introspect(as, refreshToken)).toMatchObject({ active: true });

    const revoke = async (token: string) =>
      fetch(`${as.issuer}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: clientId }).toString(),
      });
    expect((await revoke(accessToken)).status).toBe(200);
    expect(await introspect(as, accessToken)).toEqual({ active: false });
    // Revoking the refresh token ends the grant.
    expect((await revoke(refreshToken)).status).toBe(200);
    expect(await introspect(as, refreshToken)).toEqual({ active: false });
    const refresh = await tokenRequest(as, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
    });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  test('introspection refuses a client without the right to it', async () => {
    const response = await fetch(as.introspection.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${as.introspection.clientId}:wrong`).toString('base64')}`,
      },
      body: 'token=abc',
    });
    expect(response.status).toBe(401);
    expect((await json(response)).error).toBe('invalid_client');
  });

  test('device authorization grant (RFC 8628)', async () => {
    const client = await register(as, {
      client_name: 'Device',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'none',
    });
    const clientId = String(client.client_id);
    const started = await fetch(`${as.issuer}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, scope: 'mcp:tools' }).toString(),
    });
    const device = await json(started);
    expect(started.status).toBe(200);
    secret(String(device.device_code));
    secret(String(device.user_code));
    const deviceToken = () =>
      tokenRequest(as, {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: String(device.device_code),
        client_id: clientId,
      });
    expect((await deviceToken()).body.error).toBe('authorization_pending');

    const page = await fetch(String(device.verification_uri));
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('development server');
    const done = await approveDevice({
      verification_uri: String(device.verification_uri),
      user_code: String(device.user_code),
    });
    expect(done.body).toContain('Device connected');

    const { status, body } = await deviceToken();
    expect(status, JSON.stringify(body)).toBe(200);
    const { payload } = await verifyAccessToken(as, String(body.access_token));
    expect(payload).toMatchObject({ sub: 'dev-user', scope: 'mcp:tools', aud: RESOURCE });
    expect(typeof body.refresh_token).toBe('string');
  });

  test('client_credentials for a confidential DCR client; refused for a public one', async () => {
    const client = await register(as, {
      client_name: 'Service',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    const { status, body } = await tokenRequest(
      as,
      { grant_type: 'client_credentials', scope: 'mcp:tools' },
      { id: String(client.client_id), secret: String(client.client_secret) },
    );
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.refresh_token).toBeUndefined();
    const { payload } = await verifyAccessToken(as, String(body.access_token));
    expect(payload).toMatchObject({
      aud: RESOURCE,
      scope: 'mcp:tools',
      client_id: client.client_id,
    });

    const response = await fetch(`${as.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
      }),
    });
    expect(response.status).toBe(400);
    expect((await json(response)).error).toBe('invalid_client_metadata');
  });

  test('no token, code or secret value ever reaches the logger', () => {
    expect(secrets.size).toBeGreaterThan(10);
    const text = JSON.stringify(logged);
    expect(logged.length).toBeGreaterThan(0);
    expect(text).toContain('token issued');
    for (const value of secrets) expect(text).not.toContain(value);
    // oidc-provider's own notices would have gone to the console.
    for (const spy of consoleSpies) expect(spy).not.toHaveBeenCalled();
  });
});

describe('without autoApprove: the login and consent pages', () => {
  let as: DevAuthorizationServer;
  beforeAll(async () => {
    as = await startDevAuthorizationServer({ port: 0, resources: [RESOURCE], logger });
  });
  afterAll(() => as.close());

  /** Walk to the login page, sign in as `user`, and return the consent page. */
  async function toConsent(clientId: string, challenge: string, user: string, jar: CookieJar) {
    const login = await followAuthorization(authorizationUrl(as, clientId, challenge), {
      cookies: jar,
      stopAtRedirectUri: REDIRECT_URI,
    });
    expect(login.status).toBe(200);
    expect(login.body).toContain('development server — do not use in production');
    expect(login.body).toContain('name="username"');
    const posted = await postForm(formAction(login.body, as.issuer), { username: user }, jar);
    expect(posted.status).toBe(303);
    // The form's navigation ends on this origin; a page moves on from there (see src/html.ts).
    const next = new URL(posted.headers.get('location') ?? '', as.issuer);
    expect(next.origin).toBe(as.issuer);
    expect(next.pathname).toMatch(/^\/interaction\/[\w-]+\/continue$/);
    const continuePage = await fetch(next, { headers: { cookie: jar.header(next) ?? '' } });
    const html = await continuePage.text();
    expect(continuePage.status).toBe(200);
    expect(continuePage.headers.get('content-security-policy')).toBe(pageCsp('self'));
    expect(html).not.toContain('<form');
    expect(html).toMatch(
      new RegExp(`<meta http-equiv="refresh" content="0; url=${as.issuer}/auth/[\\w-]+">`),
    );
    const consent = await followAuthorization(
      new URL(posted.headers.get('location') ?? '', as.issuer),
      { cookies: jar, stopAtRedirectUri: REDIRECT_URI },
    );
    expect(consent.status).toBe(200);
    return consent;
  }

  async function finish(response: Response, jar: CookieJar): Promise<URL> {
    expect(response.status).toBe(303);
    const result = await followAuthorization(
      new URL(response.headers.get('location') ?? '', as.issuer),
      { cookies: jar, stopAtRedirectUri: REDIRECT_URI },
    );
    return result.finalUrl;
  }

  test('login (a user name) then consent (Approve) gives a code for that user', async () => {
    const client = await registerPublic(as, { client_name: 'Pages client' });
    const clientId = String(client.client_id);
    const { verifier, challenge } = pkce();
    const jar = new CookieJar();
    const consent = await toConsent(clientId, challenge, 'alice', jar);
    expect(consent.body).toContain('Pages client');
    expect(consent.body).toContain(RESOURCE);
    expect(consent.body).toContain('mcp:tools');
    expect(consent.body).toContain('alice');
    const callback = await finish(
      await postForm(formAction(consent.body, as.issuer), {}, jar),
      jar,
    );
    expect(callback.searchParams.get('iss')).toBe(as.issuer);
    const { status, body } = await tokenRequest(as, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: clientId,
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect((await verifyAccessToken(as, String(body.access_token))).payload.sub).toBe('alice');
    // The sign-in and the approval are logged for whoever runs the server, by name.
    const lines = (logged as { message: string }[]).map((line) => line.message);
    expect(lines).toContain(
      `development authorization server: alice signed in (client ${clientId})`,
    );
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`alice approved .*mcp:tools.* for client ${clientId}`)),
    );
  });

  test('Deny sends access_denied to the client', async () => {
    const client = await registerPublic(as);
    const jar = new CookieJar();
    const consent = await toConsent(String(client.client_id), pkce().challenge, 'bob', jar);
    const callback = await finish(
      await postForm(formAction(consent.body, as.issuer, 'Deny'), {}, jar),
      jar,
    );
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe('the-state');
    expect(callback.searchParams.get('iss')).toBe(as.issuer);
    expect(callback.searchParams.get('code')).toBeNull();
  });

  test('the client name is escaped (XSS) and the pages carry the CSP', async () => {
    const client = await registerPublic(as, { client_name: '<script>alert(1)</script>' });
    const jar = new CookieJar();
    const login = await followAuthorization(
      authorizationUrl(as, String(client.client_id), pkce().challenge),
      { cookies: jar, stopAtRedirectUri: REDIRECT_URI },
    );
    expect(login.body).not.toContain('<script>');
    expect(login.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const posted = await postForm(formAction(login.body, as.issuer), { username: 'carol' }, jar);
    const location = new URL(posted.headers.get('location') ?? '', as.issuer);
    const consentUrl = await followAuthorization(location, {
      cookies: jar,
      stopAtRedirectUri: REDIRECT_URI,
    });
    const page = await fetch(consentUrl.finalUrl, {
      headers: { cookie: jar.header(consentUrl.finalUrl) ?? '' },
    });
    const html = await page.text();
    expect(html).toContain('Authorize access');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const csp = page.headers.get('content-security-policy') ?? '';
    // No script, no inline style but the page's own, forms to this origin only, no framing.
    expect(csp).toBe(pageCsp('self'));
    expect(csp).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$/,
    );
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });

  test('the device confirmation page escapes the client name too', async () => {
    const client = await register(as, {
      client_name: '<img src=x onerror=alert(1)>',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'none',
    });
    const device = await json(
      await fetch(`${as.issuer}/device/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: String(client.client_id) }).toString(),
      }),
    );
    const jar = new CookieJar();
    const entry = await followAuthorization(String(device.verification_uri), { cookies: jar });
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(entry.body)?.[1] ?? '';
    const confirm = await postForm(
      new URL(String(device.verification_uri)),
      { xsrf, user_code: String(device.user_code) },
      jar,
    );
    expect(confirm.status).toBe(200);
    expect(confirm.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await confirm.text();
    expect(html).toContain('Confirm the device');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  test('a bad user name is asked again; a post from another origin or without the cookie is refused', async () => {
    const client = await registerPublic(as);
    const jar = new CookieJar();
    const login = await followAuthorization(
      authorizationUrl(as, String(client.client_id), pkce().challenge),
      { cookies: jar, stopAtRedirectUri: REDIRECT_URI },
    );
    const action = formAction(login.body, as.issuer);
    const bad = await postForm(action, { username: '<b>' }, jar);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Enter a user name');

    const foreign = await fetch(action, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'http://evil.example',
        cookie: jar.header(action) ?? '',
      },
      body: 'username=mallory',
      redirect: 'manual',
    });
    expect(foreign.status).toBe(403);

    const cookieless = await postForm(action, { username: 'mallory' }, new CookieJar());
    expect(cookieless.status).toBe(400);
    expect(await cookieless.text()).toContain('no longer valid');
  });
});

describe('listening', () => {
  test('a non-loopback host is refused unless allowRemote', async () => {
    for (const host of ['0.0.0.0', '192.0.2.10', 'example.com', '::']) {
      await expect(
        startDevAuthorizationServer({ host, port: 0, resources: [RESOURCE] }),
      ).rejects.toThrow(/only listens on a loopback address/);
    }
  });

  test('invalid options are refused with a TypeError', async () => {
    await expect(startDevAuthorizationServer({ port: 0, resources: [] })).rejects.toThrow(
      TypeError,
    );
    await expect(
      startDevAuthorizationServer({ port: 0, resources: ['not a url'] }),
    ).rejects.toThrow(/absolute URL/);
    await expect(
      startDevAuthorizationServer({ port: 0, resources: [RESOURCE], scopes: ['a b'] }),
    ).rejects.toThrow(/scope/);
  });

  test('port 0 picks a free port; close() frees it; a taken port is a clear error', async () => {
    const as = await startDevAuthorizationServer({ port: 0, resources: [RESOURCE] });
    const port = Number(new URL(as.issuer).port);
    expect(port).toBeGreaterThan(0);
    const taken = await startDevAuthorizationServer({ port, resources: [RESOURCE] }).catch(
      (error: unknown) => error,
    );
    expect(taken).toBeInstanceOf(McpAgentError);
    expect(taken).toMatchObject({
      code: 'LISTEN',
      message: expect.stringMatching(/port is in use/),
    });
    const { keys } = (await (await fetch(as.jwksUri)).json()) as JSONWebKeySet;
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toHaveProperty('d');
    await as.close();
    await as.close();
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
    });
  });

  test('::1 gives a bracketed issuer', async () => {
    let as: DevAuthorizationServer;
    try {
      as = await startDevAuthorizationServer({ host: '::1', port: 0, resources: [RESOURCE] });
    } catch (error) {
      // No IPv6 loopback in this sandbox.
      expect(String(error)).toMatch(/cannot listen/);
      return;
    }
    expect(as.issuer).toMatch(/^http:\/\/\[::1\]:\d+$/);
    const metadata = await json(await fetch(`${as.issuer}/.well-known/oauth-authorization-server`));
    expect(metadata.issuer).toBe(as.issuer);
    expect(decodeProtectedHeader).toBeTypeOf('function');
    await as.close();
  });
});
