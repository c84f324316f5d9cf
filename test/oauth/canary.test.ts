/**
 * No token, code, verifier, client secret or state ever reaches the output: a full CLI flow with
 * `--verbose` (login, tools call with refreshes, status, doctor, a failing refresh, a new login,
 * logout), every stdout/stderr line and every logger call captured, then searched for each secret
 * value the authorization server actually issued or received. A second flow runs against an
 * authorization server that echoes the request (secrets included) in its error responses.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  afterAll,
  afterEach,
  beforeAll,
  describe,
  expect,
  type MockInstance,
  test,
  vi,
} from 'vitest';
import { type CliResult, runCli, tempTree } from '../helpers/cli.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import { startHttpStub } from '../support/stub-servers.js';
import { field, makeDue, requestsTo } from './harness.js';

/** Every call of every CLI logger (message and fields), across runs. */
const logged = vi.hoisted(() => [] as { level: string; message: string; fields?: unknown }[]);

vi.mock('../../src/cli/logger.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/cli/logger.js')>();
  return {
    cliLogger: (...args: Parameters<typeof actual.cliLogger>) => {
      const inner = actual.cliLogger(...args);
      const at =
        (level: 'debug' | 'info' | 'warn' | 'error') =>
        (message: string, fields?: Record<string, unknown>) => {
          logged.push({ level, message, ...(fields ? { fields } : {}) });
          inner[level](message, fields);
        };
      return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    },
  };
});

const CLIENT_ID = 'canary-client';
const CLIENT_SECRET = 'canary-client-secret-8d1f0c2b';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
let port: number;
/** Every token the authorization server put in a token response. */
const issued: string[] = [];
const consoleSpies: MockInstance[] = [];
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    consoleSpies.push(vi.spyOn(console, method));
  }
  port = await freePort();
  as = await startAuthorizationServer({
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        application_type: 'native',
        redirect_uris: [`http://127.0.0.1:${port}/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
  });
  // Emitted with the token response in ctx.body (code, refresh and device grants alike).
  as.provider.on('grant.success', (ctx: { body?: unknown }) => {
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    for (const name of ['access_token', 'refresh_token', 'id_token']) {
      if (typeof body[name] === 'string') issued.push(body[name] as string);
    }
  });
  mcp = await startProtectedMcpServer({ issuer: as.issuer, requiredScopes: ['mcp:read'] });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  for (const spy of consoleSpies) spy.mockRestore();
  await mcp?.close();
  await as?.close();
});

const headlessBrowser = async (url: URL): Promise<boolean> => {
  await followAuthorization(url);
  return true;
};

/** The token values in a file store. */
function storedTokens(file: string): string[] {
  if (!existsSync(file)) return [];
  const contents = JSON.parse(readFileSync(file, 'utf8')) as {
    entries: Record<string, { value: string }>;
  };
  return Object.entries(contents.entries)
    .filter(([id]) => !id.startsWith('#'))
    .flatMap(([, entry]) => {
      const record = JSON.parse(entry.value) as Record<string, unknown>;
      return [record.access_token, record.refresh_token].filter(
        (value): value is string => typeof value === 'string',
      );
    });
}

/** Everything a person or a log could see: output, logger calls (with fields), console calls. */
function everythingSeen(runs: readonly CliResult[]): string {
  return [
    ...runs.flatMap((run) => [run.stdout, run.stderr]),
    JSON.stringify(logged),
    JSON.stringify(consoleSpies.map((spy) => spy.mock.calls)),
  ].join('\n');
}

/**
 * `seen` without the lines that are an authorization URL (`endpoint?…`): the CLI prints that URL
 * on purpose (the user must open it), and it carries the flow's `state` by design. Nothing else
 * may.
 */
function withoutAuthorizationUrls(seen: string, endpoint: string): string {
  return seen
    .split('\n')
    .filter((line) => !line.startsWith(`${endpoint}?`))
    .join('\n');
}

/** The secrets (at least 8 characters) that appear in `seen`, by kind. */
function leaks(secrets: Record<string, Iterable<string>>, seen: string): string[] {
  const found: string[] = [];
  for (const [kind, values] of Object.entries(secrets)) {
    for (const value of new Set(values)) {
      if (value.length >= 8 && seen.includes(value)) found.push(`${kind}: ${value.slice(0, 6)}…`);
    }
  }
  return found;
}

describe('canary: a full CLI flow with --verbose', () => {
  test('no access token, refresh token, code, verifier, client secret or state appears anywhere', async () => {
    const tree = tempTree({
      'mcp_agent.config.yaml': `
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${mcp.url}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
          client_id: ${CLIENT_ID}
oauth:
  loopback_ports: [${port}]
  token_store:
    backend: file
    path: ./tokens.json
`,
      'mcp_agent.secrets.yaml': `
mcp:
  servers:
    notion:
      auth:
        oauth:
          client_secret: ${CLIENT_SECRET}
`,
    });
    cleanups.push(tree.cleanup);
    const file = join(tree.dir, 'tokens.json');
    const runs: CliResult[] = [];
    const stored: string[] = [];
    const cli = async (argv: string[], browser = false) => {
      const result = await runCli(['--verbose', ...argv], {
        cwd: tree.dir,
        ...(browser ? { openBrowser: headlessBrowser } : {}),
      });
      runs.push(result);
      stored.push(...storedTokens(file));
      return result;
    };

    expect((await cli(['auth', 'login', 'notion'], true)).code).toBe(0);
    makeDue(file);
    const call = await cli(['tools', 'call', 'notion', 'whoami'], true);
    expect(call.stdout).toContain('"sub":"alice"');
    await cli(['auth', 'status']);
    await cli(['--json', 'auth', 'status', 'notion']);
    makeDue(file);
    const doctor = await cli(['doctor', 'notion']);
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toContain('ok   refresh: the token was due and was refreshed');
    await cli(['--json', 'doctor', 'notion']);

    // A failing refresh: the AS no longer knows the stored refresh token.
    const current = storedTokens(file);
    for (const value of current) await (await as.provider.RefreshToken.find(value))?.destroy();
    makeDue(file);
    const failing = await cli(['doctor', 'notion']);
    expect(failing.code).toBe(1);
    const refused = requestsTo(as.requests, '/token', 'POST').filter(
      (request) => request.body?.grant_type === 'refresh_token' && request.status === 400,
    );
    expect(refused).toHaveLength(1);
    // Then a new login started by tools call, a logout with revocation, and doctor once more.
    expect((await cli(['tools', 'call', 'notion', 'whoami'], true)).code).toBe(0);
    const logout = await cli(['auth', 'logout', 'notion']);
    expect(logout.stdout).toContain('revoked');
    await cli(['doctor', 'notion']);

    const authorizations = requestsTo(as.requests, '/auth');
    const tokenCalls = requestsTo(as.requests, '/token', 'POST');
    const revocations = requestsTo(as.requests, '/token/revocation', 'POST');
    const secrets = {
      state: authorizations.flatMap((request) => field(request.query, 'state') ?? []),
      code: tokenCalls.flatMap((request) => field(request.body, 'code') ?? []),
      code_verifier: tokenCalls.flatMap((request) => field(request.body, 'code_verifier') ?? []),
      refresh_token: [
        ...tokenCalls.flatMap((request) => field(request.body, 'refresh_token') ?? []),
        ...revocations.flatMap((request) => field(request.body, 'token') ?? []),
      ],
      access_token: mcp.requests.flatMap((request) => request.token ?? []),
      issued,
      stored,
      client_secret: [CLIENT_SECRET],
      basic_credentials: tokenCalls.flatMap(
        (request) => /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? [],
      ),
    };
    // The flow really produced each kind of secret.
    expect(secrets.state.length).toBeGreaterThanOrEqual(2);
    expect(secrets.code.length).toBeGreaterThanOrEqual(2);
    expect(secrets.code_verifier.length).toBeGreaterThanOrEqual(2);
    expect(new Set(secrets.refresh_token).size).toBeGreaterThanOrEqual(3);
    expect(new Set(secrets.access_token).size).toBeGreaterThanOrEqual(3);
    expect(secrets.issued.length).toBeGreaterThanOrEqual(8);
    expect(secrets.basic_credentials.length).toBe(tokenCalls.length);
    expect(revocations.length).toBeGreaterThanOrEqual(2);
    // And the capture really saw the verbose output.
    expect(logged.some((call) => call.message.includes('refreshed the token'))).toBe(true);
    expect(logged.some((call) => call.message.includes('logged in to server "notion"'))).toBe(true);
    const seen = everythingSeen(runs);
    expect(seen).toContain(as.issuer);

    const { state, ...others } = secrets;
    expect(leaks(others, seen)).toEqual([]);
    expect(leaks({ state }, withoutAuthorizationUrls(seen, `${as.issuer}/auth`))).toEqual([]);
    // Control: the search does find what is there (each state is in its printed URL).
    expect(leaks({ state }, seen)).toHaveLength(new Set(state).size);
  });
});

describe('canary: an authorization server that echoes the request in its errors', () => {
  test('the echoed code, verifier, client secret and refresh token are scrubbed from every message', async () => {
    const secret = 'echo-client-secret-5e2a91';
    let mode: 'reject-400' | 'reject-500' | 'issue' = 'reject-400';
    const handed: string[] = [];
    const states: string[] = [];
    const bodies: string[] = [];
    let origin = '';
    const stub = await startHttpStub((request, response) => {
      const url = new URL(request.url ?? '/', origin);
      const json = (status: number, body: unknown): void => {
        response
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify(body));
      };
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        if (url.pathname === '/.well-known/oauth-protected-resource/mcp') {
          return json(200, { resource: `${origin}/mcp`, authorization_servers: [origin] });
        }
        if (url.pathname === '/.well-known/oauth-authorization-server') {
          return json(200, {
            issuer: origin,
            authorization_endpoint: `${origin}/auth`,
            token_endpoint: `${origin}/token`,
            code_challenge_methods_supported: ['S256'],
            token_endpoint_auth_methods_supported: ['client_secret_post'],
            authorization_response_iss_parameter_supported: true,
          });
        }
        if (url.pathname === '/auth') {
          const code = `echo-code-${Math.random().toString(36).slice(2)}`;
          handed.push(code);
          states.push(url.searchParams.get('state') ?? '');
          const back = new URL(url.searchParams.get('redirect_uri') ?? '');
          back.searchParams.set('code', code);
          back.searchParams.set('state', url.searchParams.get('state') ?? '');
          back.searchParams.set('iss', origin);
          response.writeHead(302, { location: back.href }).end();
          return;
        }
        if (url.pathname === '/token') {
          bodies.push(body);
          if (mode === 'issue') {
            const access = `echo-access-${Math.random().toString(36).slice(2)}`;
            const refresh = `echo-refresh-${Math.random().toString(36).slice(2)}`;
            handed.push(access, refresh);
            return json(200, {
              access_token: access,
              refresh_token: refresh,
              token_type: 'Bearer',
              expires_in: 3600,
            });
          }
          if (mode === 'reject-500') {
            response.writeHead(500, { 'content-type': 'text/plain' }).end(`failed on ${body}`);
            return;
          }
          return json(400, { error: 'invalid_grant', error_description: `cannot use ${body}` });
        }
        response.writeHead(404).end();
      });
    });
    origin = stub.url;
    cleanups.push(() => stub.close());
    const tree = tempTree({
      'mcp_agent.config.yaml': `
mcp:
  servers:
    echo:
      transport: streamable_http
      url: ${stub.url}/mcp
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
          client_id: echo-client
          client_secret: ${secret}
oauth:
  loopback_ports: [${await freePort()}]
  token_store:
    backend: file
    path: ./tokens.json
`,
    });
    cleanups.push(tree.cleanup);
    const runs: CliResult[] = [];
    const cli = async (argv: string[]) => {
      const result = await runCli(['--verbose', ...argv], {
        cwd: tree.dir,
        openBrowser: headlessBrowser,
      });
      runs.push(result);
      return result;
    };
    const rejected = await cli(['auth', 'login', 'echo']);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain('invalid_grant');
    // The echo was there, and scrubbed.
    expect(rejected.stderr).toMatch(/code=\[redacted\]&code_verifier=\[redacted\]/);
    mode = 'reject-500';
    expect((await cli(['auth', 'login', 'echo'])).code).toBe(1);
    mode = 'issue';
    expect((await cli(['auth', 'login', 'echo'])).code).toBe(0);
    // The token is due: the refresh is refused with the request echoed back.
    makeDue(join(tree.dir, 'tokens.json'));
    mode = 'reject-400';
    const refresh = await cli(['tools', 'call', 'echo', 'whoami']);
    expect(refresh.code).toBe(1);
    expect(await cli(['doctor', 'echo'])).toBeDefined();

    const sent = bodies.flatMap((body) => [...new URLSearchParams(body).entries()]);
    const secrets = {
      handed,
      code_verifier: sent.filter(([name]) => name === 'code_verifier').map(([, value]) => value),
      refresh_token: sent.filter(([name]) => name === 'refresh_token').map(([, value]) => value),
      client_secret: [secret],
    };
    expect(secrets.code_verifier.length).toBe(3);
    expect(secrets.refresh_token.length).toBeGreaterThanOrEqual(1);
    expect(sent.filter(([name]) => name === 'client_secret').length).toBe(bodies.length);
    const seen = everythingSeen(runs);
    expect(leaks(secrets, seen)).toEqual([]);
    expect(leaks({ states }, withoutAuthorizationUrls(seen, `${stub.url}/auth`))).toEqual([]);
    expect(leaks({ states }, seen)).toHaveLength(states.length);
  });
});
