/**
 * Every body read from a server we do not control is bounded in bytes and in time (issue 13 item
 * 8): the shared reader, each OAuth step, and tokens of unreasonable size. Real node:http servers
 * that stream without end, drip, or issue huge tokens; each test also checks, on the server side,
 * that the connection was closed and that what it could send stayed bounded.
 */
import type { AuthorizationServer } from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { McpAgentError } from '../../src/errors.js';
import { boundedFetch, ResponseLimitError } from '../../src/fetch.js';
import { discover } from '../../src/oauth/protocol/discovery.js';
import { registerClient } from '../../src/oauth/protocol/registration.js';
import {
  clientCredentialsToken,
  refreshTokens,
  revokeToken,
  startDeviceAuthorization,
  type TokenRequestContext,
} from '../../src/oauth/protocol/tokens.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { createTokenStore } from '../../src/stores/token-store.js';
import {
  drip,
  endless,
  type HostileServer,
  json,
  type Route,
  type Streamed,
  startHostileServer,
} from '../support/hostile-server.js';
import { within } from '../support/net.js';
import { SERVER, serviceTree, serviceYaml } from './service-account-harness.js';

/** The server-side proof that a request was stopped: its connection closed, soon. */
async function stopped(answer: Streamed | undefined, bound = 16 * 1024 * 1024): Promise<void> {
  expect(answer).toBeDefined();
  await within(
    'the server seeing the connection close',
    answer?.closed ?? Promise.resolve(),
    5_000,
  );
  // What it wrote is what the client read (≤ the limit) plus what the sockets buffer.
  expect(answer?.bytes).toBeLessThan(bound);
}

async function failure(promise: Promise<unknown>): Promise<McpAgentError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(McpAgentError);
  return error as McpAgentError;
}

const CANARY = 'tok_CANARY_';
const HUGE_TOKEN = `${CANARY}${'a'.repeat(9 * 1024)}`;

let server: HostileServer;
let as: AuthorizationServer;
const tokenBody: { current: Record<string, unknown> } = { current: {} };

beforeAll(async () => {
  const routes: Record<string, Route> = {
    '/endless.json': endless('application/json', '{"padding":"'),
    '/declared': (_req, res, record) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '10000000' });
      res.write('{"a":"');
      record.bytes += 6;
    },
    '/drip.json': drip('application/json', '{"padding":"'),
    '/small.json': json({ ok: true }),
    '/token-endless': endless('application/json', '{"access_token":"'),
    '/token-error-endless': (req, res, record) => {
      res.statusCode = 400;
      endless('application/json', '{"error":"invalid_grant","error_description":"')(
        req,
        res,
        record,
      );
    },
    '/token-503-endless': (req, res, record) => {
      res.statusCode = 503;
      endless('application/json', '{"error":"temporarily_unavailable","x":"')(req, res, record);
    },
    '/token-drip': drip('application/json', '{"access_token":"'),
    '/token': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(tokenBody.current));
    },
    '/register-endless': (req, res, record) => {
      res.statusCode = 201;
      endless('application/json', '{"client_id":"')(req, res, record);
    },
    '/revoke-endless': (req, res, record) => {
      res.statusCode = 400;
      endless('application/json', '{"error":"')(req, res, record);
    },
    '/device-endless': endless('application/json', '{"device_code":"'),
    '/.well-known/oauth-protected-resource/endless': endless('application/json', '{"resource":"'),
    '/.well-known/oauth-authorization-server': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(as));
    },
  };
  server = await startHostileServer(routes);
  as = {
    issuer: server.origin,
    token_endpoint: server.url('/token'),
    registration_endpoint: server.url('/register-endless'),
    revocation_endpoint: server.url('/revoke-endless'),
    device_authorization_endpoint: server.url('/device-endless'),
    token_endpoint_auth_methods_supported: ['client_secret_post'],
  };
});

afterAll(async () => {
  await server?.close();
});

describe('the shared bounded reader', () => {
  test('a body that never ends: stopped at the byte limit, the connection closed', async () => {
    const fetch = boundedFetch(globalThis.fetch, { maxBytes: 64 * 1024, timeoutMs: 10_000 });
    const error = await failure(fetch(server.url('/endless.json')));
    expect(error).toBeInstanceOf(ResponseLimitError);
    expect(error.code).toBe('RESPONSE_LIMIT');
    expect((error as ResponseLimitError).limit).toBe('size');
    expect(error.message).toBe(
      `The response from ${server.url('/endless.json')} is larger than 64 KiB; the request was stopped and nothing of it was kept.`,
    );
    await stopped(server.answers.at(-1));
  });

  test('a content-length over the limit is refused before the body is read', async () => {
    const fetch = boundedFetch(globalThis.fetch, { maxBytes: 1024, timeoutMs: 10_000 });
    const error = await failure(fetch(server.url('/declared')));
    expect((error as ResponseLimitError).limit).toBe('size');
    await stopped(server.answers.at(-1), 1024);
  });

  test('a body that drips a byte now and then: stopped at the deadline', async () => {
    const fetch = boundedFetch(globalThis.fetch, { maxBytes: 64 * 1024, timeoutMs: 300 });
    const started = performance.now();
    const error = await failure(fetch(server.url('/drip.json'), { method: 'GET' }));
    expect((error as ResponseLimitError).limit).toBe('time');
    expect(error.message).toMatch(/did not arrive within 0\.3 s; the request was stopped\.$/);
    expect(performance.now() - started).toBeLessThan(3_000);
    await stopped(server.answers.at(-1), 64 * 1024);
  });

  test('a body within the limits comes back whole, status and headers kept', async () => {
    const fetch = boundedFetch(globalThis.fetch, { maxBytes: 1024, timeoutMs: 10_000 });
    const response = await fetch(server.url('/small.json'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ ok: true });
    const missing = await fetch(server.url('/nothing-here'));
    expect(missing.status).toBe(404);
  });

  test("the caller's own abort is the caller's error, not a limit", async () => {
    const fetch = boundedFetch(globalThis.fetch, { maxBytes: 64 * 1024, timeoutMs: 10_000 });
    const controller = new AbortController();
    const pending = fetch(server.url('/drip.json'), { signal: controller.signal });
    setImmediate(() => controller.abort(new Error('caller gave up')));
    const error = await pending.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).not.toBeInstanceOf(ResponseLimitError);
  });
});

describe('every OAuth step reads a bounded body', () => {
  const context = (endpoint: string, extra: Partial<TokenRequestContext> = {}) =>
    ({
      as: { ...as, token_endpoint: server.url(endpoint) },
      client: {
        clientId: 'svc-client',
        clientSecret: new Secret('svc-secret'),
        tokenEndpointAuthMethod: 'client_secret_post',
        issuer: as.issuer,
        redirectUri: 'urn:ietf:params:oauth:grant-type:client_credentials',
        source: 'configured',
      },
      fetch: globalThis.fetch,
      ...extra,
    }) satisfies TokenRequestContext;

  test('protected-resource metadata without end: a discovery error naming the limit', async () => {
    const error = await failure(
      discover(server.url('/endless'), {
        fetch: globalThis.fetch,
        policy: { allowPrivate: true, lookup: async () => ['127.0.0.1'] },
      }),
    );
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(error.cause).toBeInstanceOf(ResponseLimitError);
    expect(error.message).toMatch(/protected-resource metadata from .* is larger than 256 KiB/);
    await stopped(server.answers.at(-1));
  });

  test('a token response without end', async () => {
    const error = await failure(clientCredentialsToken(context('/token-endless'), []));
    expect(error.code).toBe('RESPONSE_LIMIT');
    expect(error.message).toMatch(/larger than 64 KiB/);
    await stopped(server.answers.at(-1));
  });

  test('a token error response without end (read by the OAuth library)', async () => {
    const error = await failure(
      refreshTokens(context('/token-error-endless'), new Secret('refresh-1')),
    );
    expect(error.code).toBe('RESPONSE_LIMIT');
    await stopped(server.answers.at(-1));
  });

  test('a 503 without end (read for its error code)', async () => {
    const error = await failure(clientCredentialsToken(context('/token-503-endless'), []));
    expect(error.code).toBe('RESPONSE_LIMIT');
    await stopped(server.answers.at(-1));
  });

  test('a token response that drips: stopped at the request deadline', async () => {
    const error = await failure(
      clientCredentialsToken(context('/token-drip', { timeoutMs: 300 }), []),
    );
    expect((error as ResponseLimitError).limit).toBe('time');
    await stopped(server.answers.at(-1), 64 * 1024);
  });

  test('a registration response without end', async () => {
    const error = await failure(
      registerClient({
        as,
        redirectUri: 'http://127.0.0.1:33418/callback',
        fetch: globalThis.fetch,
        clientName: 'limits test',
        configPath: 'mcp.servers.x.auth.oauth',
      }),
    );
    expect(error.code).toBe('RESPONSE_LIMIT');
    expect(error.message).toMatch(/^The registration response from .* is larger than 64 KiB/);
    await stopped(server.answers.at(-1));
  });

  test('a revocation response without end', async () => {
    const error = await failure(
      revokeToken(context('/token'), new Secret('refresh-1'), 'refresh_token'),
    );
    expect(error.code).toBe('RESPONSE_LIMIT');
    await stopped(server.answers.at(-1));
  });

  test('a device authorization response without end', async () => {
    const error = await failure(startDeviceAuthorization(context('/token'), []));
    expect(error.code).toBe('RESPONSE_LIMIT');
    await stopped(server.answers.at(-1));
  });
});

describe('a token of unreasonable size is refused and never stored', () => {
  const tree = () =>
    serviceTree(
      serviceYaml({
        url: server.url('/mcp'),
        oauth: [
          `authorization_server: ${server.origin}`,
          'client_id: svc-client',
          'client_secret: svc-secret',
        ],
      }),
    );

  test('an access token over 8 KiB from a service-account grant', async () => {
    const { settings, cleanup } = tree();
    const store = createTokenStore(settings.oauth.token_store);
    try {
      tokenBody.current = { access_token: HUGE_TOKEN, token_type: 'Bearer', expires_in: 3600 };
      const tokens = new TokenManager({ store, oauth: settings.oauth, fetch: globalThis.fetch });
      const auth = tokens.forServer(SERVER, settings.mcp.servers[SERVER] as never);
      const error = await failure(auth?.token() ?? Promise.resolve());
      expect(error.code).toBe('OAUTH_TOKEN');
      expect(error.message).toMatch(
        /has an access_token of 9227 bytes, more than the 8 KiB allowed \(oauth\.max_token_bytes\); it was not stored/,
      );
      expect(JSON.stringify({ message: error.message, stack: error.stack })).not.toContain(CANARY);
      expect(await auth?.storedRecords()).toEqual([]);
    } finally {
      await store.close();
      cleanup();
    }
  });

  test('a refresh token over the limit is refused too', async () => {
    tokenBody.current = { access_token: 'small', refresh_token: HUGE_TOKEN, token_type: 'Bearer' };
    const error = await failure(
      refreshTokens(
        {
          as,
          client: {
            clientId: 'c',
            tokenEndpointAuthMethod: 'none',
            issuer: as.issuer,
            redirectUri: 'http://127.0.0.1/cb',
            source: 'dynamic',
          },
          fetch: globalThis.fetch,
        },
        new Secret('old-refresh'),
      ),
    );
    expect(error.message).toMatch(/has a refresh_token of 9227 bytes/);
    expect(error.message).not.toContain(CANARY);
  });

  test('oauth.max_token_bytes raises the limit for servers whose tokens are that large', async () => {
    const { settings, cleanup } = serviceTree(
      `${serviceYaml({
        url: server.url('/mcp'),
        oauth: [
          `authorization_server: ${server.origin}`,
          'client_id: svc-client',
          'client_secret: svc-secret',
        ],
      })}  max_token_bytes: 16384\n`,
    );
    const store = createTokenStore(settings.oauth.token_store);
    try {
      expect(settings.oauth.max_token_bytes).toBe(16384);
      tokenBody.current = { access_token: HUGE_TOKEN, token_type: 'Bearer', expires_in: 3600 };
      const tokens = new TokenManager({ store, oauth: settings.oauth, fetch: globalThis.fetch });
      const auth = tokens.forServer(SERVER, settings.mcp.servers[SERVER] as never);
      expect((await auth?.token())?.reveal()).toBe(HUGE_TOKEN);
    } finally {
      await store.close();
      cleanup();
    }
  });
});
