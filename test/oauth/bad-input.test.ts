/**
 * Bad input to the OAuth client, one test each: forged or broken callbacks, authorization servers
 * that cannot be used safely, metadata that does not match or points inside the network, broken
 * token responses, redirects from the token endpoint, busy ports, timeouts and an unreachable
 * token store. Small node:http stubs or an injected `fetch` returning real `Response`s stand in
 * for hostile servers; the real authorization server is used where its behaviour matters.
 */
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { McpAgentError } from '../../src/errors.js';
import type { Consent, ReceiverRequest } from '../../src/oauth/consent.js';
import { startLoopbackReceiver } from '../../src/oauth/flows/loopback.js';
import type { OAuthFetch } from '../../src/oauth/protocol/registration.js';
import type { ServerAuth } from '../../src/oauth/server-auth.js';
import { runCli, tempTree } from '../helpers/cli.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { manualClock } from '../support/clock.js';
import { loadConfig } from '../support/config.js';
import { freePort, waitFor } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { closedPort, type Stub, startHttpStub } from '../support/stub-servers.js';
import {
  headlessConsent,
  openManager,
  openRegistryWith,
  recordingLogger,
  requestsTo,
  serverAuthOf,
  tokenRequests,
} from './harness.js';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  as = await startAuthorizationServer();
  mcp = await startProtectedMcpServer({ issuer: as.issuer, requiredScopes: ['mcp:read'] });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

/** A port nothing binds: scripted consents never listen, the AS only checks the redirect URI. */
const UNBOUND_PORT = 49_999;

function yaml(options: {
  url: string;
  oauth?: readonly string[];
  server?: readonly string[];
  global?: readonly string[];
  ports?: readonly number[];
}): string {
  return `
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${options.url}
${(options.server ?? []).map((line) => `      ${line}`).join('\n')}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
${(options.oauth ?? []).map((line) => `          ${line}`).join('\n')}
oauth:
  loopback_ports: [${(options.ports ?? [UNBOUND_PORT]).join(', ')}]
${(options.global ?? []).map((line) => `  ${line}`).join('\n')}
`;
}

function load(options: Parameters<typeof yaml>[0]) {
  const loaded = loadConfig(yaml(options));
  cleanups.push(loaded.cleanup);
  return loaded;
}

function serverAuth(
  options: Parameters<typeof yaml>[0],
  manager: Parameters<typeof openManager>[2] = {},
): { auth: ServerAuth; store: ReturnType<typeof openManager>['store']; dir: string } {
  const { settings, dir } = load(options);
  const { tokens, store } = openManager(settings, cleanups, { cwd: dir, ...manager });
  const auth = serverAuthOf(tokens, settings);
  return { auth, store, dir };
}

/** What a scripted consent saw. */
interface ScriptLog {
  readonly urls: URL[];
  opened: number;
  readonly outcomes: string[];
}

/**
 * A consent whose receiver "receives" the callback `respond` builds from the authorization URL
 * and the expected state, without a browser or a port.
 */
function scriptedConsent(
  respond: (authorization: URL, state: string, redirectUri: string) => string,
): Consent & { log: ScriptLog } {
  const log: ScriptLog = { urls: [], opened: 0, outcomes: [] };
  return {
    log,
    mode: 'code',
    async openReceiver(request: ReceiverRequest) {
      log.opened += 1;
      const redirectUri = `http://127.0.0.1:${request.ports[0]}/callback`;
      return {
        redirectUri,
        wait: async (state: string) => {
          const authorization = log.urls.at(-1);
          if (!authorization) throw new Error('no authorization URL was shown');
          return new URL(respond(authorization, state, redirectUri));
        },
        close: async () => {},
      };
    },
    async showAuthorizationUrl(url) {
      log.urls.push(url);
    },
    showDeviceCode() {},
    finished(outcome) {
      log.outcomes.push(outcome);
    },
  };
}

/** A callback URL with these parameters (undefined ones left out). */
function callbackUrl(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  return url.href;
}

async function failure(promise: Promise<unknown>): Promise<McpAgentError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(McpAgentError);
  return error as McpAgentError;
}

/** `fetch` that changes the JSON of the real AS's metadata documents. */
function editingMetadata(edit: (metadata: Record<string, unknown>) => void): OAuthFetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const path = new URL(String(input)).pathname;
    if (!path.startsWith('/.well-known/oauth-authorization-server') || response.status !== 200) {
      return response;
    }
    const metadata = (await response.json()) as Record<string, unknown>;
    edit(metadata);
    return Response.json(metadata);
  };
}

describe('the authorization response', () => {
  const cases: [string, (state: string) => Record<string, string | undefined>, RegExp][] = [
    [
      'a wrong state',
      () => ({ code: 'forged-code', state: 'not-the-state', iss: as.issuer }),
      /state that does not match/,
    ],
    ['no state', () => ({ code: 'forged-code', iss: as.issuer }), /has no state/],
    [
      'a wrong iss',
      (state) => ({ code: 'forged-code', state, iss: 'https://attacker.example' }),
      /names another issuer/,
    ],
    [
      'no iss although the AS advertises it',
      (state) => ({ code: 'forged-code', state }),
      /has no iss/,
    ],
    [
      'an iss that differs only by a trailing slash (no normalisation)',
      (state) => ({ code: 'forged-code', state, iss: `${as.issuer}/` }),
      /names another issuer/,
    ],
    [
      'an access_denied error from another issuer (its description not shown)',
      (state) => ({
        error: 'access_denied',
        error_description: 'SHOWN-ATTACKER-TEXT',
        state,
        iss: 'https://attacker.example',
      }),
      /names another issuer/,
    ],
    ['an empty code', (state) => ({ code: '', state, iss: as.issuer }), /carries no code/],
  ];
  test.each(cases)(
    'a callback with %s is refused before the code is used',
    async (_, params, message) => {
      const consent = scriptedConsent((_url, state, redirect) =>
        callbackUrl(redirect, params(state)),
      );
      const { auth, store } = serverAuth({ url: mcp.url }, { consent });
      const start = as.requests.length;
      const error = await failure(auth.authorize());
      expect(error.code).toBe('OAUTH_AUTHORIZATION');
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('forged-code');
      expect(error.message).not.toContain('SHOWN-ATTACKER-TEXT');
      expect(requestsTo(as.requests.slice(start), '/token')).toEqual([]);
      expect(await store.list()).toEqual([]);
      expect(consent.log.outcomes).toEqual(['ok']);
    },
  );

  test('an iss the AS does not advertise, when present and wrong, is refused too', async () => {
    const consent = scriptedConsent((_url, state, redirect) =>
      callbackUrl(redirect, { code: 'forged-code', state, iss: 'https://attacker.example' }),
    );
    const { auth } = serverAuth(
      { url: mcp.url },
      {
        consent,
        fetch: editingMetadata((metadata) => {
          delete metadata.authorization_response_iss_parameter_supported;
        }),
      },
    );
    const start = as.requests.length;
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_AUTHORIZATION');
    expect(error.message).toMatch(/names another issuer/);
    expect(requestsTo(as.requests.slice(start), '/token')).toEqual([]);
  });

  test('a callback repeating state (state=s&state=s) is refused', async () => {
    const consent = scriptedConsent((_url, state, redirect) => {
      const url = new URL(callbackUrl(redirect, { code: 'forged-code', state, iss: as.issuer }));
      url.searchParams.append('state', state);
      return url.href;
    });
    const { auth } = serverAuth({ url: mcp.url }, { consent });
    const start = as.requests.length;
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_AUTHORIZATION');
    expect(requestsTo(as.requests.slice(start), '/token')).toEqual([]);
  });

  test('error=access_denied (the user refuses) is a clear error and no token request is made', async () => {
    const port = await freePort();
    const tree = tempTree({ 'mcp_agent.config.yaml': yaml({ url: mcp.url, ports: [port] }) });
    cleanups.push(tree.cleanup);
    as.setApproval('deny');
    cleanups.push(() => as.setApproval('approve'));
    const start = as.requests.length;
    const login = await runCli(['auth', 'login', 'notion'], {
      cwd: tree.dir,
      openBrowser: async (url) => {
        await followAuthorization(url);
        return true;
      },
    });
    expect(login.code).toBe(1);
    expect(login.stderr).toContain(
      `error: The authorization was denied at ${as.issuer} (End-User denied the request); log in again and approve the access.`,
    );
    expect(requestsTo(as.requests.slice(start), '/auth')).toHaveLength(1);
    expect(requestsTo(as.requests.slice(start), '/token')).toEqual([]);
  });
});

describe('authorization servers that cannot be used safely', () => {
  const noPkce = editingMetadata((metadata) => {
    delete metadata.code_challenge_methods_supported;
  });

  test('an AS without code_challenge_methods_supported is refused before any consent step', async () => {
    const consent = headlessConsent();
    const { auth } = serverAuth({ url: mcp.url }, { consent, fetch: noPkce });
    const start = as.requests.length;
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_AUTHORIZATION');
    expect(error.message).toContain('does not advertise PKCE with S256');
    expect(error.message).toContain('require_pkce: false');
    expect(consent.log.urls).toEqual([]);
    expect(requestsTo(as.requests.slice(start), '/reg')).toEqual([]);
  });

  test('with require_pkce: false it proceeds (S256 still sent) and logs a warning', async () => {
    const port = await freePort();
    const logger = recordingLogger();
    const consent = headlessConsent();
    const { auth } = serverAuth(
      { url: mcp.url, oauth: ['require_pkce: false'], ports: [port] },
      { consent, fetch: noPkce, logger },
    );
    const start = as.requests.length;
    const record = await auth.authorize();
    expect(record.issuer).toBe(as.issuer);
    const warnings = logger.calls.filter((call) => call.level === 'warn');
    expect(warnings.map((call) => call.message)).toEqual([
      expect.stringContaining('does not advertise PKCE (S256); continuing because'),
    ]);
    const authorize = requestsTo(as.requests.slice(start), '/auth')[0];
    expect(authorize?.query.code_challenge_method).toBe('S256');
  });

  /** One stub that is MCP server (PRM) and AS (metadata) at once, with a hostile authorization_endpoint. */
  async function hostileAs(endpoint: (origin: string) => string): Promise<Stub> {
    let origin = '';
    const stub = await startHttpStub((request, response) => {
      request.resume();
      const path = new URL(request.url ?? '/', origin).pathname;
      const json = (body: unknown): void => {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (path === '/.well-known/oauth-protected-resource/mcp') {
        return json({ resource: `${origin}/mcp`, authorization_servers: [origin] });
      }
      if (path === '/.well-known/oauth-authorization-server') {
        return json({
          issuer: origin,
          authorization_endpoint: endpoint(origin),
          token_endpoint: `${origin}/token`,
          code_challenge_methods_supported: ['S256'],
          response_types_supported: ['code'],
        });
      }
      response.writeHead(404).end();
    });
    origin = stub.url;
    cleanups.push(() => stub.close());
    return stub;
  }

  const endpoints: [string, (origin: string) => string][] = [
    ['javascript:', () => 'javascript:alert(document.cookie)//'],
    ['file:', () => 'file:///etc/passwd'],
    [
      'shell metacharacters in the path',
      (origin) => `${origin}/auth;$(touch${'%20'}/tmp/pwned)|sh`,
    ],
    ['an & outside the query (CVE-2025-6514)', (origin) => `${origin}/auth&calc.exe`],
  ];
  test.each(endpoints)(
    'an authorization endpoint with %s is refused before any browser is opened',
    async (_, endpoint) => {
      const stub = await hostileAs(endpoint);
      const tree = tempTree({
        'mcp_agent.config.yaml': yaml({
          url: `${stub.url}/mcp`,
          oauth: ['client_id: pre-registered'],
          ports: [await freePort()],
        }),
      });
      cleanups.push(tree.cleanup);
      let opened = 0;
      const login = await runCli(['--json', 'auth', 'login', 'notion'], {
        cwd: tree.dir,
        openBrowser: async () => {
          opened += 1;
          return true;
        },
      });
      expect(login.code).toBe(1);
      expect(opened).toBe(0);
      const error = JSON.parse(login.stdout).error;
      expect(['OAUTH_DISCOVERY', 'OAUTH_AUTHORIZATION']).toContain(error.code);
      expect(error.message).toMatch(/authorization(_endpoint| URL)/);
      // The hostile URL is neither printed nor repeated in the error.
      for (const text of [login.stdout, login.stderr]) {
        expect(text).not.toMatch(/alert|passwd|pwned|calc\.exe/);
      }
      expect(stub.requests.some((request) => request.url.startsWith('/token'))).toBe(false);
    },
  );
});

describe('metadata that does not match', () => {
  const ORIGIN = 'http://127.0.0.1:9';

  /** A fake network: PRM and AS metadata at ORIGIN, as given. */
  function fakeNetwork(prm: Record<string, unknown>, metadata: Record<string, unknown>) {
    const seen: string[] = [];
    const fetchImpl: OAuthFetch = async (input) => {
      const url = new URL(String(input));
      seen.push(url.href);
      if (url.href === `${ORIGIN}/.well-known/oauth-protected-resource/mcp`) {
        return Response.json(prm);
      }
      if (url.href === `${ORIGIN}/.well-known/oauth-authorization-server`) {
        return Response.json(metadata);
      }
      return new Response('not found', { status: 404 });
    };
    return { fetch: fetchImpl, seen };
  }

  const goodMetadata = {
    issuer: ORIGIN,
    authorization_endpoint: `${ORIGIN}/auth`,
    token_endpoint: `${ORIGIN}/token`,
    code_challenge_methods_supported: ['S256'],
  };

  test('protected-resource metadata for another resource is refused', async () => {
    const network = fakeNetwork(
      { resource: 'http://127.0.0.1:9/other', authorization_servers: [ORIGIN] },
      goodMetadata,
    );
    const { auth } = serverAuth({ url: `${ORIGIN}/mcp` }, { fetch: network.fetch });
    const error = await failure(auth.target());
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(error.message).toContain('is for another resource than http://127.0.0.1:9/mcp');
    expect(network.seen).not.toContain(`${ORIGIN}/.well-known/oauth-authorization-server`);
  });

  test('authorization server metadata naming another issuer is refused', async () => {
    const network = fakeNetwork(
      { resource: `${ORIGIN}/mcp`, authorization_servers: [ORIGIN] },
      { ...goodMetadata, issuer: 'http://127.0.0.1:10' },
    );
    const consent = headlessConsent();
    const { auth } = serverAuth({ url: `${ORIGIN}/mcp` }, { fetch: network.fetch, consent });
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(error.message).toContain('names another issuer than http://127.0.0.1:9');
    expect(consent.log.urls).toEqual([]);
  });
});

describe('metadata on private and link-local addresses (SSRF)', () => {
  const MCP = 'https://mcp.example.com/mcp';
  const addresses: Record<string, string> = {
    'mcp.example.com': '93.184.216.34',
    'as.example.net': '93.184.216.35',
    'internal-as.example.net': '10.0.0.1',
    'metadata.example.org': '169.254.169.254',
  };
  const lookup = async (host: string) => {
    const address = addresses[host];
    if (!address) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return [address];
  };

  function network(options: { as: string; tokenEndpoint?: string }) {
    const seen: string[] = [];
    const fetchImpl: OAuthFetch = async (input) => {
      const url = new URL(String(input));
      seen.push(url.href);
      if (url.href === 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp') {
        return Response.json({ resource: MCP, authorization_servers: [options.as] });
      }
      if (url.pathname === '/.well-known/oauth-authorization-server') {
        return Response.json({
          issuer: url.origin,
          authorization_endpoint: `${url.origin}/auth`,
          token_endpoint: options.tokenEndpoint ?? `${url.origin}/token`,
          code_challenge_methods_supported: ['S256'],
        });
      }
      return new Response('not found', { status: 404 });
    };
    return { fetch: fetchImpl, seen };
  }

  test.each([
    ['a public host name resolving to 10.0.0.1', 'https://internal-as.example.net'],
    ['a link-local address literal (cloud metadata)', 'https://169.254.169.254'],
    ['a private address literal', 'https://192.168.1.10'],
  ])('an authorization server on %s is refused for a public server', async (_, issuer) => {
    const fake = network({ as: issuer });
    const { auth } = serverAuth({ url: MCP }, { fetch: fake.fetch, lookup });
    const error = await failure(auth.target());
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(error.message).toContain('private or local address');
    expect(error.message).toContain('allow_private_network: true');
    expect(fake.seen.filter((url) => url.startsWith(issuer))).toEqual([]);
  });

  test('an endpoint resolving to 169.254.169.254 is refused, even from a public AS', async () => {
    const fake = network({
      as: 'https://as.example.net',
      tokenEndpoint: 'https://metadata.example.org/latest/meta-data/',
    });
    const { auth } = serverAuth({ url: MCP }, { fetch: fake.fetch, lookup });
    const error = await failure(auth.target());
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(error.message).toContain('the token_endpoint of https://as.example.net');
    expect(fake.seen.some((url) => url.includes('metadata.example.org'))).toBe(false);
  });

  test('a challenge naming metadata on a private address is refused', async () => {
    const fake = network({ as: 'https://as.example.net' });
    const { auth } = serverAuth({ url: MCP }, { fetch: fake.fetch, lookup });
    const error = await failure(
      auth.onUnauthorized(
        {
          resource_metadata: 'https://internal-as.example.net/.well-known/oauth-protected-resource',
        },
        undefined,
      ),
    );
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(fake.seen.some((url) => url.includes('internal-as.example.net'))).toBe(false);
  });

  test('plain http metadata for a public server is refused', async () => {
    const fake = network({ as: 'http://as.example.net' });
    const { auth } = serverAuth({ url: MCP }, { fetch: fake.fetch, lookup });
    const error = await failure(auth.target());
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(error.message).toContain('only https is allowed');
  });

  test('a plain http token_endpoint is refused before any code or secret is sent', async () => {
    const fake = network({
      as: 'https://as.example.net',
      tokenEndpoint: 'http://as.example.net/token',
    });
    const consent = headlessConsent();
    const { auth } = serverAuth({ url: MCP }, { fetch: fake.fetch, lookup, consent });
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(error.message).toContain('only https is allowed');
    expect(consent.log.urls).toEqual([]);
    expect(fake.seen.some((url) => url.startsWith('http://as.example.net'))).toBe(false);
  });

  test('allow_private_network: true lets the private authorization server be used', async () => {
    const fake = network({ as: 'https://internal-as.example.net' });
    const { auth } = serverAuth(
      { url: MCP, server: ['allow_private_network: true'] },
      { fetch: fake.fetch, lookup },
    );
    const target = await auth.target();
    expect(target.discovery.authorizationServer.issuer).toBe('https://internal-as.example.net');
    expect(await auth.token()).toBeUndefined();
    expect(fake.seen).toContain(
      'https://internal-as.example.net/.well-known/oauth-authorization-server',
    );
  });
});

describe('token responses', () => {
  const ORIGIN = 'http://127.0.0.1:9';

  /** A whole fake AS (pre-registered client) whose token endpoint answers `body`. */
  function tokenNetwork(body: string, status = 200) {
    const tokenBodies: string[] = [];
    const fetchImpl: OAuthFetch = async (input, init) => {
      const url = new URL(String(input));
      if (url.href === `${ORIGIN}/.well-known/oauth-protected-resource/mcp`) {
        return Response.json({ resource: `${ORIGIN}/mcp`, authorization_servers: [ORIGIN] });
      }
      if (url.href === `${ORIGIN}/.well-known/oauth-authorization-server`) {
        return Response.json({
          issuer: ORIGIN,
          authorization_endpoint: `${ORIGIN}/auth`,
          token_endpoint: `${ORIGIN}/token`,
          code_challenge_methods_supported: ['S256'],
          authorization_response_iss_parameter_supported: true,
        });
      }
      if (url.href === `${ORIGIN}/token`) {
        tokenBodies.push(String(init?.body ?? ''));
        return new Response(body, { status, headers: { 'content-type': 'application/json' } });
      }
      return new Response('not found', { status: 404 });
    };
    return { fetch: fetchImpl, tokenBodies };
  }

  const consent = () =>
    scriptedConsent((_url, state, redirect) =>
      callbackUrl(redirect, { code: 'the-authorization-code', state, iss: ORIGIN }),
    );

  test.each([
    ['without access_token', { token_type: 'Bearer', expires_in: 3600 }, /has no access_token/],
    [
      'with a negative expires_in',
      { access_token: 'token-value-1', token_type: 'Bearer', expires_in: -5 },
      /expires_in that is not a non-negative number/,
    ],
    [
      'with expires_in as a string',
      { access_token: 'token-value-2', token_type: 'Bearer', expires_in: '3600' },
      /expires_in that is not a non-negative number/,
    ],
    ['that is not an object', ['access_token'], /not a JSON object/],
  ])(
    'a token response %s is an OAUTH_TOKEN error and nothing is stored',
    async (_, body, message) => {
      const fake = tokenNetwork(JSON.stringify(body));
      const scripted = consent();
      const { auth, store } = serverAuth(
        { url: `${ORIGIN}/mcp`, oauth: ['client_id: pre-registered'] },
        { fetch: fake.fetch, consent: scripted },
      );
      const error = await failure(auth.authorize());
      expect(error.code).toBe('OAUTH_TOKEN');
      expect(error.message).toMatch(message);
      expect(fake.tokenBodies).toHaveLength(1);
      const sent = new URLSearchParams(fake.tokenBodies[0]);
      expect(sent.get('code')).toBe('the-authorization-code');
      for (const secret of [sent.get('code'), sent.get('code_verifier'), 'token-value']) {
        expect(error.message).not.toContain(secret);
      }
      expect(await store.list()).toEqual([]);
    },
  );

  test('a refresh answered without access_token is an OAUTH_TOKEN error and keeps the old record', async () => {
    const fake = tokenNetwork(JSON.stringify({ token_type: 'Bearer', refresh_token: 'new-rt' }));
    const clock = manualClock(Date.now());
    const { auth, store } = serverAuth(
      { url: `${ORIGIN}/mcp`, oauth: ['client_id: pre-registered'] },
      { fetch: fake.fetch, now: clock.now },
    );
    const { key } = await auth.target();
    await store.put(key, {
      accessToken: new Secret('old-access-token'),
      refreshToken: new Secret('old-refresh-token'),
      tokenType: 'Bearer',
      // Obtained an hour ago, expired a second ago: due for a refresh under any leeway.
      expiresAt: clock.now() - 1_000,
      obtainedAt: clock.now() - 3_600_000,
      scopes: ['mcp:read'],
      issuer: ORIGIN,
      resource: `${ORIGIN}/mcp`,
      server: 'notion',
      redirectUri: `http://127.0.0.1:${UNBOUND_PORT}/callback`,
    });
    const error = await failure(auth.token());
    expect(error.code).toBe('OAUTH_TOKEN');
    expect(error.message).toContain('has no access_token');
    expect(error.message).not.toContain('old-refresh-token');
    expect((await store.get(key))?.record.refreshToken?.reveal()).toBe('old-refresh-token');
  });

  test('a refresh answered without a new refresh_token keeps the old one (RFC 6749 §6)', async () => {
    const fake = tokenNetwork(
      JSON.stringify({ access_token: 'new-access-token', token_type: 'bearer', expires_in: 3600 }),
    );
    const clock = manualClock(Date.now());
    const { auth, store } = serverAuth(
      { url: `${ORIGIN}/mcp`, oauth: ['client_id: pre-registered'] },
      { fetch: fake.fetch, now: clock.now },
    );
    const { key } = await auth.target();
    await store.put(key, {
      accessToken: new Secret('old-access-token'),
      refreshToken: new Secret('old-refresh-token'),
      tokenType: 'Bearer',
      // Obtained an hour ago, expired a second ago: due for a refresh under any leeway.
      expiresAt: clock.now() - 1_000,
      obtainedAt: clock.now() - 3_600_000,
      scopes: ['mcp:read'],
      issuer: ORIGIN,
      resource: `${ORIGIN}/mcp`,
      server: 'notion',
      redirectUri: `http://127.0.0.1:${UNBOUND_PORT}/callback`,
    });
    expect((await auth.token())?.reveal()).toBe('new-access-token');
    const stored = (await store.get(key))?.record;
    expect(stored?.refreshToken?.reveal()).toBe('old-refresh-token');
    expect(stored?.tokenType).toBe('Bearer');
    expect(new URLSearchParams(fake.tokenBodies[0]).get('resource')).toBe(`${ORIGIN}/mcp`);
  });

  test.each([302, 307])(
    'a token endpoint answering %i to another origin is refused; the other origin never receives the request',
    async (status) => {
      const elsewhere = await startHttpStub((request, response) => {
        request.resume();
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ access_token: 'stolen', token_type: 'Bearer' }));
      });
      cleanups.push(() => elsewhere.close());
      let origin = '';
      const server = await startHttpStub((request, response) => {
        request.resume();
        const path = new URL(request.url ?? '/', origin).pathname;
        if (path === '/.well-known/oauth-authorization-server') {
          response.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              issuer: origin,
              authorization_endpoint: `${origin}/auth`,
              token_endpoint: `${origin}/token`,
              code_challenge_methods_supported: ['S256'],
            }),
          );
          return;
        }
        if (path === '/token') {
          response.writeHead(status, { location: `${elsewhere.url}/collect` }).end();
          return;
        }
        response.writeHead(404).end();
      });
      origin = server.url;
      cleanups.push(() => server.close());
      const scripted = scriptedConsent((_url, state, redirect) =>
        callbackUrl(redirect, { code: 'the-authorization-code', state }),
      );
      const { auth, store } = serverAuth(
        {
          url: `${server.url}/mcp`,
          oauth: ['client_id: pre-registered', `authorization_server: ${server.url}`],
        },
        { consent: scripted },
      );
      const error = await failure(auth.authorize());
      expect(error.code).toBe('OAUTH_TOKEN');
      expect(error.message).toContain(
        `answered with a redirect (HTTP ${status}); it was not followed`,
      );
      expect(server.requests.filter((request) => request.url === '/token')).toHaveLength(1);
      expect(elsewhere.requests).toEqual([]);
      expect(await store.list()).toEqual([]);
    },
  );
});

describe('the MCP server itself', () => {
  test('a 307 from the MCP server to another origin is not followed: the token never reaches it', async () => {
    const elsewhere = await startHttpStub((request, response) => {
      request.resume();
      response.writeHead(404).end();
    });
    cleanups.push(() => elsewhere.close());
    let origin = '';
    const server = await startHttpStub((request, response) => {
      request.resume();
      const path = new URL(request.url ?? '/', origin).pathname;
      if (path === '/.well-known/oauth-protected-resource/mcp') {
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ resource: `${origin}/mcp`, authorization_servers: [as.issuer] }));
        return;
      }
      response.writeHead(307, { location: `${elsewhere.url}/mcp` }).end();
    });
    origin = server.url;
    cleanups.push(() => server.close());
    const { settings } = load({
      url: `${server.url}/mcp`,
      oauth: ['access_token: seeded-access-token-value'],
    });
    const { tokens } = openManager(settings, cleanups);
    const registry = openRegistryWith(settings, tokens, cleanups);
    const error = await failure(registry.connect('notion'));
    expect(error.message).toContain('redirects to another origin, which is not followed');
    expect(
      server.requests.some(
        (request) => request.headers.authorization === 'Bearer seeded-access-token-value',
      ),
    ).toBe(true);
    expect(elsewhere.requests).toEqual([]);
  });
});

describe('the callback receiver', () => {
  async function occupy(): Promise<{ port: number; server: NetServer }> {
    const server = createNetServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { port, server };
  }

  test('all loopback ports busy: OAUTH_CALLBACK naming the ports, before registering or opening a browser', async () => {
    const first = await occupy();
    const second = await occupy();
    const tree = tempTree({
      'mcp_agent.config.yaml': yaml({ url: mcp.url, ports: [first.port, second.port] }),
    });
    cleanups.push(tree.cleanup);
    let opened = 0;
    const start = as.requests.length;
    const login = await runCli(['--json', 'auth', 'login', 'notion'], {
      cwd: tree.dir,
      openBrowser: async () => {
        opened += 1;
        return true;
      },
    });
    expect(login.code).toBe(1);
    const error = JSON.parse(login.stdout).error;
    expect(error.code).toBe('OAUTH_CALLBACK');
    expect(error.message).toContain(
      `tried ${first.port}, ${second.port} from oauth.loopback_ports`,
    );
    expect(opened).toBe(0);
    expect(requestsTo(as.requests.slice(start), '/reg')).toEqual([]);
  });

  test('flow timeout: a consent that never calls back ends with OAUTH_CALLBACK and frees the port', async () => {
    let redirectUri = '';
    const finished: string[] = [];
    const consent: Consent = {
      mode: 'code',
      async openReceiver(request) {
        // The receiver-level timeout: the configured one is at least 30 s.
        const receiver = await startLoopbackReceiver({
          ports: [0],
          host: request.host,
          timeoutMs: 50,
        });
        redirectUri = receiver.redirectUri;
        return receiver;
      },
      async showAuthorizationUrl() {},
      showDeviceCode() {},
      finished: (outcome) => finished.push(outcome),
    };
    const { auth, store } = serverAuth({ url: mcp.url }, { consent });
    const start = as.requests.length;
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_CALLBACK');
    expect(error.message).toContain('No authorization callback arrived within 0.05 s');
    expect(finished).toEqual(['failed']);
    expect(requestsTo(as.requests.slice(start), '/token')).toEqual([]);
    expect(await store.list()).toEqual([]);
    // The receiver is closed: its port refuses connections.
    const refused = await fetch(redirectUri).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
  });

  test('device flow timeout (injected clock and sleep): OAUTH_CALLBACK telling to run --device again', async () => {
    const clock = manualClock(Date.now());
    const consent = headlessConsent({ approveDevices: false });
    const { auth } = serverAuth(
      { url: mcp.url, oauth: ['flow: device'], global: ['flow_timeout_seconds: 30'] },
      {
        consent,
        now: clock.now,
        sleep: async (ms) => {
          clock.advance(ms);
        },
      },
    );
    const start = as.requests.length;
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_CALLBACK');
    expect(error.message).toContain('was not confirmed in time');
    expect(error.message).toContain('mcp-agent auth login notion --device');
    expect(consent.log.devicePrompts).toHaveLength(1);
    expect(consent.log.outcomes).toEqual(['failed']);
    const polls = tokenRequests(
      as.requests.slice(start),
      'urn:ietf:params:oauth:grant-type:device_code',
    );
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.length).toBeLessThanOrEqual(30);
  });
});

describe('an unreachable token store', () => {
  test('Redis unreachable: STORE_UNAVAILABLE, a clear message, no crash, nothing registered or opened', async () => {
    const port = await closedPort();
    const tree = tempTree({
      'mcp_agent.config.yaml': yaml({
        url: mcp.url,
        ports: [await freePort()],
        global: [
          'token_store:',
          '  backend: redis',
          `  redis_url: redis://:hunter2-password@127.0.0.1:${port}`,
          '  redis_prefix: mcp-agent-ts-unreachable',
        ],
      }),
    });
    cleanups.push(tree.cleanup);
    let opened = 0;
    const openBrowser = async () => {
      opened += 1;
      return true;
    };
    const start = as.requests.length;
    for (const argv of [
      ['--json', 'auth', 'login', 'notion'],
      ['--json', 'tools', 'call', 'notion', 'whoami'],
      ['--json', 'auth', 'status'],
    ]) {
      const result = await runCli(argv, { cwd: tree.dir, openBrowser });
      expect(result.code, argv.join(' ')).toBe(1);
      const error = JSON.parse(result.stdout).error;
      expect(error.code, argv.join(' ')).toBe('STORE_UNAVAILABLE');
      expect(result.stderr).toContain(`redis://127.0.0.1:${port}`);
      expect(result.stdout + result.stderr).not.toContain('hunter2');
      expect(result.stderr).not.toContain('This is a bug');
    }
    expect(opened).toBe(0);
    expect(requestsTo(as.requests.slice(start), '/reg')).toEqual([]);
    expect(requestsTo(as.requests.slice(start), '/token')).toEqual([]);
  });

  test('Redis going away during a login: STORE_UNAVAILABLE after the exchange, token not in the error, nothing stored', async () => {
    let redis: RedisServer | undefined;
    try {
      redis = await startRedisServer();
    } catch (error) {
      throw new Error(`redis-server is needed for this test: ${String(error)}`);
    }
    const server = redis;
    cleanups.push(() => server.stop());
    const port = await freePort();
    const prefix = 'mcp-agent-ts-going-away';
    const base = headlessConsent();
    let killed = 0;
    const consent: Consent = {
      ...base,
      mode: 'code',
      openReceiver: (request) => base.openReceiver(request),
      async showAuthorizationUrl(url, info) {
        // Registration is written; the store goes away before the token arrives (once).
        if (killed++ === 0) await server.kill();
        await base.showAuthorizationUrl(url, info);
      },
    };
    const { auth, store } = serverAuth(
      {
        url: mcp.url,
        ports: [port],
        global: [
          'token_store:',
          '  backend: redis',
          `  redis_url: ${server.url}`,
          `  redis_prefix: ${prefix}`,
        ],
      },
      { consent },
    );
    const start = as.requests.length;
    const error = await failure(auth.authorize());
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.message).toContain('is not reachable');
    const exchange = tokenRequests(as.requests.slice(start), 'authorization_code');
    expect(exchange).toHaveLength(1);
    const code = String(exchange[0]?.body?.code);
    expect(error.message).not.toContain(code);
    // No crash, and no restart of the process needed: once Redis is back, a login works.
    await server.restart();
    const records = await waitFor('the store to reconnect', () =>
      store.list().then(
        (list) => list,
        () => undefined,
      ),
    );
    expect(records).toEqual([]);
    const record = await auth.authorize();
    expect((await store.list()).map((entry) => entry.record.server)).toEqual(['notion']);
    expect(record.issuer).toBe(as.issuer);
  });
});
