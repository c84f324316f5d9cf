/**
 * The per-server `fetch` and SDK v2 `AuthProvider` of `createAgentAuth`, on the fake network of
 * `fake-world.ts` (real `Response`s, an injected clock): the token on the server's origin only,
 * whatever shape the request comes in (a URL, a `Request`, headers as an object, a `Headers` or
 * pairs); a refresh when the token is due or refused; a step-up on 403 `insufficient_scope`;
 * one clear error for what cannot be sent; and no token in any error, status or log (canaries).
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { Logger } from '../../src/logger.js';
import {
  CANARY_ACCESS,
  CANARY_REFRESH,
  ELSEWHERE,
  failure,
  fakeSettings,
  MCP_URL,
  openFake,
} from './fake-world.js';

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((auth) => auth.close()));
});

/** Every line the library logged, with its fields, as one string. */
function recordingLogger(): Logger & { text(): string } {
  const lines: string[] = [];
  const at = (message: string, fields?: Record<string, unknown>) => {
    lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { debug: at, info: at, warn: at, error: at, text: () => lines.join('\n') };
}

function open(options: { now?: () => number; expiresAt?: number } = {}) {
  const logger = recordingLogger();
  const { auth, world } = openFake(closing, {
    settings: fakeSettings(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}),
    logger,
    ...(options.now ? { now: options.now } : {}),
  });
  return { auth, world, logger, docs: auth.server('docs') };
}

const POST = { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' };

describe('the shapes a framework sends its requests in', () => {
  test.each([
    ['a string and a plain object', () => [MCP_URL, { ...POST, headers: { 'x-trace': 't1' } }]],
    [
      'a URL and a Headers',
      () => [new URL(MCP_URL), { ...POST, headers: new Headers({ 'x-trace': 't1' }) }],
    ],
    ['header pairs', () => [MCP_URL, { ...POST, headers: [['x-trace', 't1']] }]],
    ['a Request', () => [new Request(MCP_URL, { ...POST, headers: { 'x-trace': 't1' } })]],
    [
      'a Request and an init over it',
      () => [new Request(MCP_URL, { method: 'GET' }), { ...POST, headers: { 'x-trace': 't1' } }],
    ],
  ] as const)(
    '%s: the bearer token, the body and the other headers arrive',
    async (_what, args) => {
      const { docs, world } = open();
      const response = await (docs.fetch as (...a: unknown[]) => Promise<Response>)(...args());
      expect(response.status).toBe(200);
      const [request] = world.mcpRequests();
      expect(request?.method).toBe('POST');
      expect(request?.headers.get('authorization')).toBe(`Bearer ${CANARY_ACCESS}`);
      expect(request?.headers.get('x-trace')).toBe('t1');
      expect(request?.body).toBe(POST.body);
    },
  );

  test.each([
    ['a plain object', { authorization: 'Bearer theirs' }],
    ['a Headers', new Headers([['Authorization', 'Bearer theirs']])],
    [
      'pairs, twice',
      [
        ['authorization', 'Bearer theirs'],
        ['Authorization', 'Basic b3RoZXI='],
      ],
    ],
  ])(
    "the caller's Authorization in %s is replaced by the server's token, not added to",
    async (_what, headers) => {
      const { docs, world } = open();
      await docs.fetch(MCP_URL, { ...POST, headers: headers as never });
      expect(world.mcpRequests()[0]?.headers.get('authorization')).toBe(`Bearer ${CANARY_ACCESS}`);
    },
  );

  test('another origin gets neither the token nor the static headers', async () => {
    const { auth, world } = open();
    await auth.server('docs').fetch(ELSEWHERE, POST);
    await auth.server('plain').fetch(ELSEWHERE, POST);
    await auth.server('docs').fetch(new Request(ELSEWHERE, POST));
    const elsewhere = world.seen.filter((request) => request.url.href === ELSEWHERE);
    expect(elsewhere).toHaveLength(3);
    for (const request of elsewhere) {
      expect(request.headers.get('authorization')).toBeNull();
      expect(request.headers.get('x-api-key')).toBeNull();
    }
    expect(JSON.stringify([...world.seen.map((request) => [...request.headers])])).not.toContain(
      'canary-static-key',
    );
  });

  test('a server without OAuth: its fetch carries its configured headers to its own origin', async () => {
    const { auth, world } = open();
    await auth.server('plain').fetch('http://127.0.0.1:4104/mcp', POST);
    expect(world.seen.at(-1)?.headers.get('x-api-key')).toBe('canary-static-key');
  });

  test.each([
    ['a relative URL', () => ['/mcp?token=canary-in-query', POST], 'fetch needs an absolute URL'],
    ['a URL that is not one', () => ['::canary-in-query::', POST], 'fetch needs an absolute URL'],
    ['no URL', () => [{ href: 'canary-in-query' }], 'fetch takes a URL'],
    [
      'header pairs that are not pairs',
      () => [MCP_URL, { headers: [['x-a']] }],
      'The request headers are not valid',
    ],
    [
      'a header value with a line break',
      () => [MCP_URL, { headers: { 'x-a': 'canary-in-header\r\nx-b: 1' } }],
      'The request headers are not valid',
    ],
    [
      'headers that are a number',
      () => [MCP_URL, { headers: 7 }],
      'The request headers are not valid',
    ],
  ] as const)('%s: one USAGE error, nothing sent, nothing quoted', async (_what, args, message) => {
    const { docs, world } = open();
    const error = await failure(() => (docs.fetch as (...a: unknown[]) => unknown)(...args()));
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain(message);
    expect(error.message).not.toContain('canary');
    expect(String(error.cause ?? '')).not.toContain('canary');
    expect(world.mcpRequests()).toEqual([]);
  });

  test('a Request whose body was already read: one USAGE error', async () => {
    const { docs } = open();
    const request = new Request(MCP_URL, POST);
    await request.text();
    const error = await failure(() => docs.fetch(request as never));
    expect(error.message).toBe(
      "The Request's body was already read; a request can be sent only with its body.",
    );
  });
});

describe('refresh and step-up', () => {
  test('a refused token: refreshed once, and the request (a Request, its body read once) sent again', async () => {
    const { docs, world } = open();
    world.accepted.clear();
    world.accepted.add('not-the-configured-one');
    const response = await docs.fetch(new Request(MCP_URL, POST) as never);
    // The refresh issued a token the server accepts.
    expect(response.status).toBe(200);
    const attempts = world.mcpRequests();
    expect(attempts.map((request) => request.headers.get('authorization'))).toEqual([
      `Bearer ${CANARY_ACCESS}`,
      'Bearer issued-access-1',
    ]);
    expect(attempts.map((request) => request.body)).toEqual([POST.body, POST.body]);
    const refresh = new URLSearchParams(world.tokenRequests()[0]?.body);
    expect(refresh.get('grant_type')).toBe('refresh_token');
    expect(refresh.get('refresh_token')).toBe(CANARY_REFRESH);
  });

  test('a token past its expiry on the injected clock is refreshed before the request', async () => {
    let now = Date.now();
    const { docs, world } = open({ now: () => now, expiresAt: now + 3_600_000 });
    await docs.fetch(MCP_URL, POST);
    expect(world.tokenRequests()).toHaveLength(0);
    now += 2 * 3_600_000;
    world.accepted.add('issued-access-1');
    await docs.fetch(MCP_URL, POST);
    expect(world.tokenRequests()).toHaveLength(1);
    expect(world.mcpRequests().at(-1)?.headers.get('authorization')).toBe('Bearer issued-access-1');
  });

  test('403 insufficient_scope inside a request: the login is handed over with the union of scopes', async () => {
    const { docs, world } = open();
    world.wantScope('docs:write');
    const error = await failure(() => docs.fetch(MCP_URL, POST));
    expect(error.code).toBe('OAUTH_LOGIN_REQUIRED');
    const url = new URL((error as unknown as { authorizationUrl: string }).authorizationUrl);
    expect(url.searchParams.get('scope')?.split(' ').sort()).toEqual(['docs:read', 'docs:write']);
    expect(url.searchParams.get('client_id')).toBe('agent-client');
  });
});

describe('the SDK v2 AuthProvider', () => {
  test('token() is the current token; onUnauthorized() after a 401 refreshes it', async () => {
    const { docs, world } = open();
    const provider = docs.authProvider;
    expect(await provider.token()).toBe(CANARY_ACCESS);
    await provider.onUnauthorized({
      response: new Response(null, {
        status: 401,
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      }),
    });
    expect(await provider.token()).toBe('issued-access-1');
    expect(world.tokenRequests()).toHaveLength(1);
  });

  test('two requests refused together: the first 401 refreshes, the second adopts its token (one grant)', async () => {
    const { docs, world } = open();
    const provider = docs.authProvider;
    const refused = () =>
      new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer' } });
    // Both requests went out with the configured token, which the server now refuses.
    expect(await provider.token()).toBe(CANARY_ACCESS);
    expect(await provider.token()).toBe(CANARY_ACCESS);
    world.accepted.clear();
    await provider.onUnauthorized({ response: refused() });
    await provider.onUnauthorized({ response: refused() });
    expect(world.tokenRequests()).toHaveLength(1);
    expect(await provider.token()).toBe('issued-access-1');
  });

  test('the same object each time; a user’s provider has the user’s tokens (none yet)', async () => {
    const { auth, docs } = open();
    expect(docs.authProvider).toBe(docs.authProvider);
    expect(await auth.forUser('alice').server('docs').authProvider.token()).toBeUndefined();
  });
});

describe('canaries: no token in status, results, errors or logs', () => {
  test('status, a login result, the log lines and an error of a refused refresh show no token', async () => {
    const { auth, docs, world, logger } = open();
    await docs.fetch(MCP_URL, POST);
    const status = await auth.status('docs');
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({
      server: 'docs',
      scopes: ['docs:read'],
      hasRefreshToken: true,
    });
    const login = await docs.login();
    expect(login).toMatchObject({ server: 'docs', identity: 'app', loggedIn: false });

    // The server refuses every token and the refresh is refused: the error says so, no value.
    world.accepted.clear();
    world.refuseGrants();
    const error = await failure(() => docs.fetch(MCP_URL, POST));
    expect(error.code).toBe('OAUTH_LOGIN_REQUIRED');
    const everything =
      JSON.stringify({ status, login, log: logger.text() }) + String(error) + String(error.cause);
    for (const canary of [CANARY_ACCESS, CANARY_REFRESH, 'issued-access', 'issued-refresh']) {
      expect(everything).not.toContain(canary);
    }
  });
});
