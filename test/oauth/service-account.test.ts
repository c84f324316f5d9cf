/**
 * Service accounts (`auth.oauth.grant_type: client_credentials`) with a client secret, end to end
 * with the real components: the development authorization server (oidc-provider; the clients are
 * registered there with RFC 7591 as confidential `client_credentials` clients) and the SDK MCP
 * server that verifies its JWTs. Through a TokenManager + ServerRegistry (a consent that throws if
 * asked, a recording `fetch`, a manual clock) and through the CLI (a browser opener that throws).
 * `private_key_jwt` and bad input: service-account-jwt.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { runCli } from '../helpers/cli.js';
import { manualClock } from '../support/clock.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import {
  openManager,
  openRegistryWith,
  recordingLogger,
  resultText,
  serverAuthOf,
} from './harness.js';
import {
  basicCredentials,
  grantRequests,
  type RegisteredClient,
  recordingFetch,
  refusingBrowser,
  refusingConsent,
  registerServiceClient,
  SERVER,
  serviceSecrets,
  serviceTree,
  serviceYaml,
} from './service-account-harness.js';

const TTL_S = 3600;
const LEEWAY_MS = 60_000;

let as: DevAuthorizationServer;
let mcp: ProtectedMcpServer;
const asLog = recordingLogger();
let basic: RegisteredClient;
let post: RegisteredClient;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  // The AS needs the resource URL, the MCP server the issuer: fix the AS's port first.
  const port = await freePort();
  mcp = await startProtectedMcpServer({
    issuer: `http://127.0.0.1:${port}`,
    requiredScopes: ['mcp:read'],
    scopesSupported: ['mcp:read', 'mcp:write'],
  });
  as = await startDevAuthorizationServer({
    port,
    resources: [mcp.url],
    scopes: ['mcp:read', 'mcp:write'],
    accessTokenTtlSeconds: TTL_S,
    logger: asLog,
  });
  basic = await registerServiceClient(as.issuer, 'client_secret_basic');
  post = await registerServiceClient(as.issuer, 'client_secret_post');
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

/** `client_credentials` tokens the AS logged as issued to `clientId`. */
function issuedTo(clientId: string) {
  return asLog.calls.filter(
    (call) =>
      call.message.includes('token issued') &&
      call.fields?.grant_type === 'client_credentials' &&
      call.fields?.client_id === clientId,
  );
}

/** A manager + registry for `client`, with a recording fetch, a refusing consent and `now`. */
function open(
  client: RegisteredClient,
  options: { oauth?: string[]; now?: () => number; scopes?: string[] } = {},
) {
  const tree = serviceTree(
    serviceYaml({
      url: mcp.url,
      ...(options.scopes ? { scopes: options.scopes } : {}),
      oauth: [`client_id: ${client.clientId}`, ...(options.oauth ?? [])],
    }),
    { secrets: serviceSecrets({ client_secret: client.clientSecret }) },
  );
  cleanups.push(tree.cleanup);
  const recorded = recordingFetch();
  const consent = refusingConsent();
  const { tokens, store } = openManager(tree.settings, cleanups, {
    consent,
    fetch: recorded.fetch,
    cwd: tree.dir,
    ...(options.now ? { now: options.now } : {}),
  });
  const registry = openRegistryWith(tree.settings, tokens, cleanups);
  const auth = serverAuthOf(tokens, tree.settings, SERVER);
  return { tree, recorded, consent, tokens, store, registry, auth };
}

/** The `whoami` result of one call. */
async function whoami(
  connection: Awaited<ReturnType<ReturnType<typeof open>['registry']['connect']>>,
) {
  return JSON.parse(resultText(await connection.callTool('whoami', {}))) as Record<string, string>;
}

describe('client secret authentication at the token endpoint', () => {
  test('client_secret_basic (the method the AS advertises first): HTTP Basic, scope and resource sent; the MCP call works; no consent', async () => {
    const { recorded, consent, registry } = open(basic);
    const connection = await registry.connect(SERVER);
    const seen = await whoami(connection);
    expect(seen).toMatchObject({ client_id: basic.clientId, aud: mcp.url });
    expect(seen.scope?.split(' ')).toContain('mcp:read');

    const grants = grantRequests(recorded.requests);
    expect(grants).toHaveLength(1);
    const [grant] = grants;
    expect(grant?.url).toBe(`${as.issuer}/token`);
    expect(grant?.headers.get('authorization')).toBe(
      basicCredentials(basic.clientId, basic.clientSecret),
    );
    expect(grant?.form.get('client_secret')).toBeNull();
    expect(grant?.form.get('scope')?.split(' ')).toContain('mcp:read');
    expect(grant?.form.get('resource')).toBe(mcp.url);
    // No other grant, no registration, no authorization request, nobody asked.
    expect(
      recorded.requests.filter((r) => r.method === 'POST').map((r) => new URL(r.url).pathname),
    ).toEqual(['/token']);
    expect(recorded.requests.some((r) => new URL(r.url).pathname === '/auth')).toBe(false);
    expect(consent.asked).toEqual([]);
    expect(issuedTo(basic.clientId)).toHaveLength(1);
    expect(issuedTo(basic.clientId)[0]?.fields?.refresh_token_issued).toBe(false);

    // The token is reused by the next calls.
    await whoami(connection);
    await whoami(connection);
    expect(grantRequests(recorded.requests)).toHaveLength(1);
  });

  test('client_secret_post (configured): client_id and client_secret in the form, no Authorization header', async () => {
    const { recorded, consent, registry } = open(post, {
      oauth: ['token_endpoint_auth_method: client_secret_post'],
    });
    const seen = await whoami(await registry.connect(SERVER));
    expect(seen).toMatchObject({ client_id: post.clientId, aud: mcp.url });

    const [grant, ...more] = grantRequests(recorded.requests);
    expect(more).toEqual([]);
    expect(grant?.headers.get('authorization')).toBeNull();
    expect(grant?.form.get('client_id')).toBe(post.clientId);
    expect(grant?.form.get('client_secret')).toBe(post.clientSecret);
    expect(grant?.form.get('scope')?.split(' ')).toContain('mcp:read');
    expect(grant?.form.get('resource')).toBe(mcp.url);
    expect(consent.asked).toEqual([]);
    expect(issuedTo(post.clientId)).toHaveLength(1);
  });

  test('client_secret_basic configured explicitly, with two scopes: both requested and granted', async () => {
    const { recorded, registry } = open(basic, {
      scopes: ['mcp:read', 'mcp:write'],
      oauth: ['token_endpoint_auth_method: client_secret_basic'],
    });
    const seen = await whoami(await registry.connect(SERVER));
    expect(seen.scope?.split(' ').sort()).toEqual(['mcp:read', 'mcp:write']);
    const [grant] = grantRequests(recorded.requests);
    expect(grant?.form.get('scope')?.split(' ')).toEqual(
      expect.arrayContaining(['mcp:read', 'mcp:write']),
    );
    expect(grant?.headers.get('authorization')).toMatch(/^Basic /);
  });

  test('auth.authorize() (what `auth login` runs) gets a token without consent, stored without a refresh token', async () => {
    const { auth, recorded, consent } = open(basic);
    const record = await auth.authorize();
    expect(record.refreshToken).toBeUndefined();
    expect(record.scopes).toContain('mcp:read');
    expect(record.expiresAt).toBeGreaterThan(Date.now());
    expect(grantRequests(recorded.requests)).toHaveLength(1);
    expect(consent.asked).toEqual([]);
    const statuses = await auth.status();
    expect(statuses).toHaveLength(1);
    // The stored token is the one used next.
    expect((await auth.token())?.reveal()).toBe(record.accessToken.reveal());
    expect(grantRequests(recorded.requests)).toHaveLength(1);
  });
});

describe('bugs of the first token request', () => {
  test('the client_credentials request never asks for offline_access (no refresh token for a service account)', async () => {
    const { recorded, auth } = open(basic);
    const record = await auth.authorize();
    const [grant] = grantRequests(recorded.requests);
    // RFC 6749 §4.4.3: no refresh token for this grant, so no reason to ask for one; ASs that
    // refuse offline_access for client_credentials (invalid_scope) fail the whole grant.
    expect(grant?.form.get('scope')).toBe('mcp:read');
    expect(record.scopes).toEqual(['mcp:read']);
  });

  test('the first request of a service account carries a token (no 401 first)', async () => {
    const { recorded, registry } = open(post, {
      oauth: ['token_endpoint_auth_method: client_secret_post'],
    });
    const start = mcp.requests.length;
    await whoami(await registry.connect(SERVER));
    expect(grantRequests(recorded.requests)).toHaveLength(1);
    const since = mcp.requests.slice(start);
    // The token can be had without anybody: ask for it before the first request.
    // (Discovery GETs the protected-resource metadata first; it needs no token.)
    const calls = since.filter((request) => request.method === 'POST');
    expect(calls[0]?.authorization).toBe(true);
    expect(since.filter((request) => request.status === 401)).toEqual([]);
  });
});

describe('a new token before the old one runs out', () => {
  test('inside the leeway a NEW token is asked for before the request (no 401 first); just before it, none', async () => {
    const clock = manualClock(Date.now());
    const { recorded, registry, consent } = open(basic, { now: clock.now });
    const connection = await registry.connect(SERVER);
    await whoami(connection);
    expect(grantRequests(recorded.requests)).toHaveLength(1);
    const first = mcp.calls.at(-1)?.token;
    expect(first).toBeTruthy();

    // One second before the leeway starts: still good, no new token.
    clock.advance(TTL_S * 1000 - LEEWAY_MS - 1_000);
    await whoami(connection);
    expect(grantRequests(recorded.requests)).toHaveLength(1);
    expect(mcp.calls.at(-1)?.token).toBe(first);

    // Two seconds later it is due: a second grant, before the call goes out.
    clock.advance(2_000);
    const start = mcp.requests.length;
    await whoami(connection);
    expect(grantRequests(recorded.requests)).toHaveLength(2);
    const second = mcp.calls.at(-1)?.token;
    expect(second).toBeTruthy();
    expect(second).not.toBe(first);
    const since = mcp.requests.slice(start);
    expect(since.length).toBeGreaterThan(0);
    expect(since.filter((request) => request.status === 401)).toEqual([]);
    // The tool call went out with the new token at once.
    const posts = since.filter((request) => request.method === 'POST');
    expect(posts.length).toBeGreaterThan(0);
    expect(posts.every((request) => request.token === second)).toBe(true);
    expect(consent.asked).toEqual([]);
  });

  test('100 concurrent tool calls over a due token: exactly one new token request, no 401', async () => {
    const clock = manualClock(Date.now());
    const { recorded, registry } = open(post, {
      oauth: ['token_endpoint_auth_method: client_secret_post'],
      now: clock.now,
    });
    const connection = await registry.connect(SERVER);
    await whoami(connection);
    expect(grantRequests(recorded.requests)).toHaveLength(1);

    clock.advance(TTL_S * 1000 - LEEWAY_MS + 1_000);
    const start = mcp.requests.length;
    const results = await Promise.all(Array.from({ length: 100 }, () => whoami(connection)));
    expect(results).toHaveLength(100);
    for (const seen of results) expect(seen.client_id).toBe(post.clientId);
    expect(grantRequests(recorded.requests)).toHaveLength(2);
    const since = mcp.requests.slice(start);
    expect(since.filter((request) => request.status === 401)).toEqual([]);
    const posts = since.filter((request) => request.method === 'POST');
    expect(posts).toHaveLength(100);
    expect(new Set(posts.map((request) => request.token)).size).toBe(1);
  });

  test('100 concurrent token() calls over a due token share one client_credentials request', async () => {
    const clock = manualClock(Date.now());
    const { recorded, auth } = open(basic, { now: clock.now });
    const first = await auth.authorize();
    clock.advance(TTL_S * 1000 - LEEWAY_MS + 1_000);
    const values = await Promise.all(Array.from({ length: 100 }, () => auth.token()));
    expect(grantRequests(recorded.requests)).toHaveLength(2);
    const distinct = new Set(values.map((value) => value?.reveal()));
    expect(distinct.size).toBe(1);
    expect(distinct.has(first.accessToken.reveal())).toBe(false);
    expect(distinct.has(undefined)).toBe(false);
  });

  test('long after expiry (the store has let the record go) the next request gets a new token first', async () => {
    const clock = manualClock(Date.now());
    const { recorded, registry } = open(basic, { now: clock.now });
    const connection = await registry.connect(SERVER);
    await whoami(connection);
    const first = mcp.calls.at(-1)?.token;
    clock.advance(2 * TTL_S * 1000);
    const start = mcp.requests.length;
    await whoami(connection);
    expect(grantRequests(recorded.requests)).toHaveLength(2);
    expect(mcp.calls.at(-1)?.token).not.toBe(first);
    expect(mcp.requests.slice(start).filter((request) => request.status === 401)).toEqual([]);
  });
});

describe('refused and due tokens outside token()', () => {
  test('a token the MCP server refuses (401): a new one from the grant at once, no consent, the call succeeds', async () => {
    const { recorded, registry, auth, consent } = open(basic);
    await auth.adoptToken({
      accessToken: new Secret('not-a-token-the-server-accepts'),
      expiresAt: Date.now() + 3_600_000,
    });
    const start = mcp.requests.length;
    const seen = await whoami(await registry.connect(SERVER));
    expect(seen.client_id).toBe(basic.clientId);
    expect(grantRequests(recorded.requests)).toHaveLength(1);
    const refused = mcp.requests.slice(start).filter((request) => request.status === 401);
    expect(refused.map((request) => request.token)).toEqual(['not-a-token-the-server-accepts']);
    expect(consent.asked).toEqual([]);
  });

  test('refreshIfDue() (what `mcp-agent doctor` runs) on a due service-account token asks for a new one', async () => {
    const clock = manualClock(Date.now());
    const { recorded, auth } = open(basic, { now: clock.now });
    await auth.authorize();
    clock.advance(TTL_S * 1000 - LEEWAY_MS + 1_000);
    // `mcp-agent doctor` reports "needs a new login … run mcp-agent auth login" for a service
    // account whose token is merely due; asking the grant again is all it takes.
    await expect(auth.refreshIfDue()).resolves.toBe('refreshed');
    expect(grantRequests(recorded.requests)).toHaveLength(2);
  });
});

describe('through the CLI', () => {
  test('tools call: a token from the client credentials grant, no browser; the secret in no output; the next run reuses it', async () => {
    const tree = serviceTree(
      serviceYaml({ url: mcp.url, backend: 'file', oauth: [`client_id: ${basic.clientId}`] }),
      { secrets: serviceSecrets({ client_secret: basic.clientSecret }) },
    );
    cleanups.push(tree.cleanup);
    const browser = refusingBrowser();
    const before = issuedTo(basic.clientId).length;
    const call = await runCli(['tools', 'call', SERVER, 'whoami'], {
      cwd: tree.dir,
      openBrowser: browser,
    });
    const output = call.stdout + call.stderr;
    expect(call.code, output).toBe(0);
    expect(output).toContain(basic.clientId);
    expect(output).not.toContain(basic.clientSecret);
    expect(browser.opened).toEqual([]);
    expect(issuedTo(basic.clientId).length).toBe(before + 1);

    const again = await runCli(['tools', 'call', SERVER, 'whoami'], {
      cwd: tree.dir,
      openBrowser: browser,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(issuedTo(basic.clientId).length).toBe(before + 1);
    expect(browser.opened).toEqual([]);
  });

  test('auth login for a service account: no browser, the grant runs at once', async () => {
    const tree = serviceTree(
      serviceYaml({
        url: mcp.url,
        backend: 'file',
        oauth: [`client_id: ${post.clientId}`, 'token_endpoint_auth_method: client_secret_post'],
      }),
      { secrets: serviceSecrets({ client_secret: post.clientSecret }) },
    );
    cleanups.push(tree.cleanup);
    const browser = refusingBrowser();
    const before = issuedTo(post.clientId).length;
    const login = await runCli(['auth', 'login', SERVER], { cwd: tree.dir, openBrowser: browser });
    const output = login.stdout + login.stderr;
    expect(login.code, output).toBe(0);
    expect(output).not.toContain(post.clientSecret);
    expect(browser.opened).toEqual([]);
    expect(issuedTo(post.clientId).length).toBe(before + 1);
  });
});
