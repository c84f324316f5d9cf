/**
 * OAuth end to end with the real components: the oidc-provider authorization server, the SDK MCP
 * server that validates its JWTs, and the headless browser. Through the library (TokenManager +
 * ServerRegistry with `authFor`) and through the CLI (in process, and the built CLI as a separate
 * process), on the memory, file and redis backends.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { AuthorizationRequiredError, McpAgentError } from '../../src/errors.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { runCli, tempTree } from '../helpers/cli.js';
import {
  type AuthorizationServer,
  type AuthorizationServerRequest,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { manualClock } from '../support/clock.js';
import { loadConfig } from '../support/config.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import { deleteRedisKeys } from '../support/redis-server.js';
import { REDIS_URL, redisService, testWith } from '../support/services.js';
import {
  authorizations,
  field,
  headlessConsent,
  makeDue,
  openManager,
  openRegistryWith,
  requestsTo,
  resultText,
  serverAuthOf,
  startCli,
  tokenRequests,
} from './harness.js';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'mcp-agent.js');
const redis = await redisService();
const REFRESH = 'refresh_token';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  as = await startAuthorizationServer({ deviceApproval: 'auto' });
  mcp = await startProtectedMcpServer({
    issuer: as.issuer,
    requiredScopes: ['mcp:read'],
    toolScopes: { echo: 'mcp:write' },
  });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

/** Options of {@link configYaml}. */
interface ConfigOptions {
  readonly backend?: 'memory' | 'file' | 'redis';
  readonly url?: string;
  readonly transport?: 'streamable_http' | 'sse' | 'websocket';
  readonly scopes?: readonly string[];
  /** More lines under `auth.oauth`. */
  readonly oauth?: readonly string[];
  /** More lines under `oauth.token_store`. */
  readonly store?: readonly string[];
  readonly ports?: readonly number[];
  readonly server?: string;
}

function configYaml(options: ConfigOptions = {}): string {
  const oauth = (options.oauth ?? []).map((line) => `          ${line}`).join('\n');
  const store = (options.store ?? []).map((line) => `    ${line}`).join('\n');
  return `
mcp:
  servers:
    ${options.server ?? 'notion'}:
      transport: ${options.transport ?? 'streamable_http'}
      url: ${options.url ?? mcp.url}
      auth:
        oauth:
          enabled: true
          scopes: [${(options.scopes ?? ['mcp:read']).join(', ')}]
${oauth}
oauth:
  loopback_ports: [${(options.ports ?? [0]).join(', ')}]
  token_store:
    backend: ${options.backend ?? 'file'}
    path: ./tokens.json
${store}
`;
}

/** A temporary directory with a config for the CLI (loopback port free a moment ago). */
async function cliTree(options: ConfigOptions = {}) {
  const ports = options.ports ?? [await freePort()];
  const tree = tempTree({ 'mcp_agent.config.yaml': configYaml({ ...options, ports }) });
  cleanups.push(tree.cleanup);
  return tree;
}

/** Settings loaded from a config (for the library tests), cleaned up after the test. */
async function settingsFor(options: ConfigOptions = {}) {
  const ports = options.ports ?? [await freePort()];
  const loaded = loadConfig(configYaml({ ...options, ports }));
  cleanups.push(loaded.cleanup);
  return loaded;
}

const headlessBrowser = async (url: URL): Promise<boolean> => {
  await followAuthorization(url);
  return true;
};

/** The token records in a file store (registrations left out). */
function storedRecords(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  const contents = JSON.parse(readFileSync(file, 'utf8')) as {
    entries: Record<string, { value: string }>;
  };
  return Object.entries(contents.entries)
    .filter(([id]) => !id.startsWith('#'))
    .map(([, entry]) => JSON.parse(entry.value) as Record<string, unknown>);
}

function since(start: number): AuthorizationServerRequest[] {
  return as.requests.slice(start);
}

describe('CLI login with the browser step, on each backend', () => {
  test('memory: auth login warns that the token ends with the command; tools call logs in and calls in one process', async () => {
    const tree = await cliTree({ backend: 'memory' });
    const login = await runCli(['auth', 'login', 'notion'], {
      cwd: tree.dir,
      openBrowser: headlessBrowser,
    });
    expect(login.stderr).toContain('warning: oauth.token_store.backend is "memory"');
    expect(login.stdout).toContain('Logged in to "notion"');
    expect(login.code).toBe(0);

    const start = as.requests.length;
    let opened = 0;
    const call = await runCli(['tools', 'call', 'notion', 'whoami'], {
      cwd: tree.dir,
      openBrowser: async (url) => {
        opened += 1;
        return headlessBrowser(url);
      },
    });
    expect(call.stdout).toContain('"sub":"alice"');
    expect(call.code).toBe(0);
    // Nothing survived the first command: a new login ran, once, in the same process as the call.
    expect(opened).toBe(1);
    expect(requestsTo(since(start), '/auth')).toHaveLength(1);
    expect(tokenRequests(since(start), 'authorization_code')).toHaveLength(1);
  });

  test('memory, through the library: the first call logs in, the next ones reuse the token of the same TokenManager', async () => {
    const { settings } = await settingsFor({ backend: 'memory' });
    const consent = headlessConsent();
    const { tokens } = openManager(settings, cleanups, { consent });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const start = as.requests.length;
    const connection = await registry.connect('notion');
    const whoami = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(whoami).toMatchObject({ sub: 'alice', aud: mcp.url });
    expect(whoami.scope.split(' ')).toContain('mcp:read');
    await connection.callTool('whoami', {});
    await registry.close('notion');
    await (await registry.connect('notion')).callTool('whoami', {});
    expect(consent.log.urls).toHaveLength(1);
    expect(consent.log.outcomes).toEqual(['ok']);
    expect(requestsTo(since(start), '/auth')).toHaveLength(1);
    expect(requestsTo(since(start), '/reg', 'POST')).toHaveLength(1);
    expect(consent.log.browserErrors).toEqual([]);
  });

  test('file: a second runCli invocation reuses the token (no authorization, no token request)', async () => {
    const tree = await cliTree({ backend: 'file' });
    const login = await runCli(['auth', 'login', 'notion'], {
      cwd: tree.dir,
      openBrowser: headlessBrowser,
    });
    expect(login.stdout).toContain('Logged in to "notion"');
    expect(login.code).toBe(0);
    const file = join(tree.dir, 'tokens.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(storedRecords(file)).toHaveLength(1);

    const start = as.requests.length;
    const call = await runCli(['tools', 'call', 'notion', 'whoami'], { cwd: tree.dir });
    expect(call.stdout).toContain('"sub":"alice"');
    expect(call.stderr).not.toContain('open this URL');
    expect(call.code).toBe(0);
    expect(requestsTo(since(start), '/auth')).toEqual([]);
    expect(requestsTo(since(start), '/token')).toEqual([]);
  });

  test('file: the built CLI, run as a separate process, reuses the token of an in-process login', async () => {
    const main = join(ROOT, 'dist', 'cli', 'main.js');
    expect(existsSync(main), 'dist/cli/main.js is missing: run `npm run build` first').toBe(true);
    const tree = await cliTree({ backend: 'file' });
    const login = await runCli(['auth', 'login', 'notion'], {
      cwd: tree.dir,
      openBrowser: headlessBrowser,
    });
    expect(login.code).toBe(0);
    const stored = storedRecords(join(tree.dir, 'tokens.json'))[0];

    const start = as.requests.length;
    const mcpStart = mcp.requests.length;
    // Asynchronous: the servers of this process must answer the child.
    const child = await execFileAsync(
      process.execPath,
      [BIN, 'tools', 'call', 'notion', 'whoami'],
      {
        cwd: tree.dir,
        env: { PATH: process.env.PATH ?? '', HOME: tree.dir, CI: '1' },
        timeout: 15_000,
      },
    ).catch((error: { code?: number; stdout?: string; stderr?: string }) => error);
    expect(child.stdout).toContain('"sub":"alice"');
    expect((child as { code?: number }).code ?? 0).toBe(0);
    expect(requestsTo(since(start), '/auth')).toEqual([]);
    expect(requestsTo(since(start), '/token')).toEqual([]);
    // The child sent the token the in-process login stored.
    const sent = mcp.requests.slice(mcpStart).filter((request) => request.token !== undefined);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((request) => request.token === stored?.access_token)).toBe(true);
  });

  testWith(redis)(
    'redis: login, then a second runCli invocation and a separate process reuse the token',
    async () => {
      const prefix = `mcp-agent-ts-e2e-${process.pid}-${Date.now()}`;
      cleanups.push(() => deleteRedisKeys(REDIS_URL, prefix));
      const tree = await cliTree({
        backend: 'redis',
        store: [`redis_url: ${REDIS_URL}`, `redis_prefix: ${prefix}`],
      });
      const login = await runCli(['auth', 'login', 'notion'], {
        cwd: tree.dir,
        openBrowser: headlessBrowser,
      });
      expect(login.stdout).toContain('Logged in to "notion"');
      expect(login.code).toBe(0);

      const start = as.requests.length;
      const call = await runCli(['tools', 'call', 'notion', 'whoami'], { cwd: tree.dir });
      expect(call.stdout).toContain('"sub":"alice"');
      expect(call.code).toBe(0);
      const child = await execFileAsync(
        process.execPath,
        [BIN, 'tools', 'call', 'notion', 'whoami'],
        {
          cwd: tree.dir,
          env: { PATH: process.env.PATH ?? '', HOME: tree.dir, CI: '1' },
          timeout: 15_000,
        },
      );
      expect(child.stdout).toContain('"sub":"alice"');
      expect(requestsTo(since(start), '/auth')).toEqual([]);
      expect(requestsTo(since(start), '/token')).toEqual([]);
    },
  );
});

describe('other ways to consent', () => {
  test('--no-browser: the URL is printed on its own line, the pasted redirect URL completes the login', async () => {
    const tree = await cliTree({ backend: 'file' });
    const cli = startCli(['auth', 'login', 'notion', '--no-browser'], {
      cwd: tree.dir,
      openBrowser: async () => {
        throw new Error('--no-browser must not open a browser');
      },
    });
    const printed = await cli.line(new RegExp(`^${as.issuer}/auth\\?`));
    const url = new URL(printed);
    expect(url.href).toBe(printed);
    const redirectUri = url.searchParams.get('redirect_uri') ?? '';
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const landed = await followAuthorization(url, { stopAtRedirectUri: redirectUri });
    expect(landed.finalUrl.searchParams.get('code')).toBeTruthy();
    cli.stdin.write(`${landed.finalUrl.href}\n`);
    const code = await cli.done;
    cli.stdin.end();
    expect(cli.stderr()).toContain('(Not opening a browser: --no-browser.)');
    expect(cli.stdout()).toContain('Logged in to "notion"');
    expect(code).toBe(0);
    // The loopback receiver that ran alongside is closed too.
    const stillListening = await fetch(redirectUri).then(
      () => true,
      () => false,
    );
    expect(stillListening).toBe(false);
    const call = await runCli(['tools', 'call', 'notion', 'whoami'], { cwd: tree.dir });
    expect(call.stdout).toContain('"sub":"alice"');
  });

  test('--device: the code and verification URL are printed and the login completes', async () => {
    const tree = await cliTree({ backend: 'file' });
    const start = as.requests.length;
    const login = await runCli(['auth', 'login', 'notion', '--device'], { cwd: tree.dir });
    expect(login.stdout).toContain('Logged in to "notion"');
    expect(login.code).toBe(0);
    const lines = login.stderr.split('\n');
    const visit = lines.findIndex((line) => line.startsWith('To authorize server "notion"'));
    expect(visit).toBeGreaterThanOrEqual(0);
    expect(lines[visit + 1]).toBe(`${as.issuer}/device`);
    expect(lines[visit + 2]).toMatch(/^and enter the code: [A-Z]{4}-?[A-Z]{4}$/);
    expect(requestsTo(since(start), '/auth')).toEqual([]);
    expect(
      tokenRequests(since(start), 'urn:ietf:params:oauth:grant-type:device_code').length,
    ).toBeGreaterThan(0);
    const call = await runCli(['tools', 'call', 'notion', 'whoami'], { cwd: tree.dir });
    expect(call.stdout).toContain('"sub":"alice"');
  });

  test('device grant through the library polls at the advertised interval (injected sleep and clock)', async () => {
    const { settings } = await settingsFor({ backend: 'memory', oauth: ['flow: device'] });
    const clock = manualClock(Date.now());
    const sleeps: number[] = [];
    const consent = headlessConsent({ approveDevices: false });
    const { tokens } = openManager(settings, cleanups, {
      consent,
      now: clock.now,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock.advance(ms);
        // Let the automatic approval (started by the device authorization) land first.
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    const auth = serverAuthOf(tokens, settings);
    const record = await auth.authorize();
    expect(record.issuer).toBe(as.issuer);
    expect(consent.log.devicePrompts).toHaveLength(1);
    expect(consent.log.devicePrompts[0]?.verificationUri).toBe(`${as.issuer}/device`);
    expect(sleeps.length).toBeGreaterThan(0);
    expect(sleeps.every((ms) => ms === 1000)).toBe(true);
    expect(consent.log.outcomes).toEqual(['ok']);
  });
});

describe('the token on every transport', () => {
  test('SSE: the login and the token work on the legacy SSE transport', async () => {
    const { settings } = await settingsFor({
      backend: 'memory',
      transport: 'sse',
      url: mcp.sseUrl,
      oauth: [`resource: ${mcp.url}`, `authorization_server: ${as.issuer}`],
    });
    const consent = headlessConsent();
    const { tokens } = openManager(settings, cleanups, { consent });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const mcpStart = mcp.requests.length;
    const connection = await registry.connect('notion');
    const whoami = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(whoami).toMatchObject({ sub: 'alice', aud: mcp.url });
    expect(consent.log.urls).toHaveLength(1);
    const seen = mcp.requests.slice(mcpStart);
    // The event stream stays open (no status yet); it went with the token, as did the messages.
    expect(seen.some((request) => request.path === '/sse' && request.token)).toBe(true);
    expect(
      seen.some(
        (request) => request.path === '/messages' && request.token && request.status === 202,
      ),
    ).toBe(true);
  });

  test('a server whose metadata only its 401 challenge names (resource_metadata) is reached: the first request goes without a token', async () => {
    // The SSE endpoint (/sse) has no well-known metadata of its own: only the challenge of its
    // 401 names the metadata (RFC 9728 §5.1), which discovery must try first.
    const { settings } = await settingsFor({
      backend: 'memory',
      transport: 'sse',
      url: mcp.sseUrl,
      oauth: [`resource: ${mcp.url}`],
    });
    const consent = headlessConsent();
    const { tokens } = openManager(settings, cleanups, { consent });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const connection = await registry.connect('notion');
    expect(JSON.parse(resultText(await connection.callTool('whoami', {}))).sub).toBe('alice');
  });

  function websocketSettings() {
    return settingsFor({
      backend: 'memory',
      transport: 'websocket',
      url: mcp.wsUrl,
      oauth: [`resource: ${mcp.url}`, `authorization_server: ${as.issuer}`],
    });
  }

  test('WebSocket: the stored token goes on the handshake', async () => {
    const { settings } = await websocketSettings();
    const consent = headlessConsent();
    const { tokens } = openManager(settings, cleanups, { consent });
    await serverAuthOf(tokens, settings).authorize();
    const registry = openRegistryWith(settings, tokens, cleanups);
    const mcpStart = mcp.requests.length;
    const connection = await registry.connect('notion');
    const whoami = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(whoami).toMatchObject({ sub: 'alice', aud: mcp.url });
    const handshakes = mcp.requests.slice(mcpStart).filter((request) => request.path === '/ws');
    expect(handshakes.map((request) => request.status)).toEqual([101]);
    expect(handshakes[0]?.token).toBeTruthy();
    expect(consent.log.urls).toHaveLength(1);
  });

  test('a WebSocket handshake refused for want of a token logs in and the retried connection works', async () => {
    const { settings } = await websocketSettings();
    const consent = headlessConsent();
    const { tokens } = openManager(settings, cleanups, { consent });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const mcpStart = mcp.requests.length;
    // One connect: refused (401) → login → the handshake again with the token → initialize.
    const connection = await registry.connect('notion');
    const whoami = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(whoami).toMatchObject({ sub: 'alice', aud: mcp.url });
    const handshakes = mcp.requests.slice(mcpStart).filter((request) => request.path === '/ws');
    expect(handshakes.at(-1)?.status).toBe(101);
    expect(consent.log.urls).toHaveLength(1);
  });
});

describe('refresh', () => {
  test('a token within refresh_leeway_seconds is refreshed before the next call (injected clock); the refresh token rotates', async () => {
    const { settings, dir } = await settingsFor({ backend: 'file' });
    const clock = manualClock(Date.now());
    const consent = headlessConsent();
    const { tokens, store } = openManager(settings, cleanups, {
      consent,
      now: clock.now,
      cwd: dir,
    });
    const auth = serverAuthOf(tokens, settings);
    const start = as.requests.length;
    const first = await auth.authorize();
    const key = (await auth.target()).key;
    const firstRefresh = first.refreshToken?.reveal();
    expect(firstRefresh).toBeTruthy();
    expect(await auth.token()).toBeDefined();
    expect(tokenRequests(since(start), REFRESH)).toEqual([]);

    // 30 s before expiry: inside the 60 s leeway.
    clock.set((first.expiresAt ?? 0) - 30_000);
    const registry = openRegistryWith(settings, tokens, cleanups);
    const whoami = JSON.parse(
      resultText(await (await registry.connect('notion')).callTool('whoami', {})),
    );
    expect(whoami.sub).toBe('alice');
    const refreshes = tokenRequests(since(start), REFRESH);
    expect(refreshes).toHaveLength(1);
    expect(field(refreshes[0]?.body, 'refresh_token')).toBe(firstRefresh);
    // RFC 8707: the same resource on authorize, code exchange and refresh.
    const authorize = requestsTo(since(start), '/auth')[0];
    expect(field(authorize?.query, 'resource')).toBe(mcp.url);
    expect(field(tokenRequests(since(start), 'authorization_code')[0]?.body, 'resource')).toBe(
      mcp.url,
    );
    expect(field(refreshes[0]?.body, 'resource')).toBe(mcp.url);
    const stored = await store.get(key);
    expect(stored?.record.refreshToken?.reveal()).toBeTruthy();
    expect(stored?.record.refreshToken?.reveal()).not.toBe(firstRefresh);
    expect(stored?.record.accessToken.reveal()).not.toBe(first.accessToken.reveal());
    expect(requestsTo(since(start), '/auth')).toHaveLength(1);
  });

  test('CLI: a token due for refresh is refreshed by the next command, which works; the refresh token rotates', async () => {
    const tree = await cliTree({ backend: 'file' });
    const login = await runCli(['auth', 'login', 'notion'], {
      cwd: tree.dir,
      openBrowser: headlessBrowser,
    });
    expect(login.code).toBe(0);
    const file = join(tree.dir, 'tokens.json');
    const before = storedRecords(file)[0];
    makeDue(file);
    const start = as.requests.length;
    const call = await runCli(['tools', 'call', 'notion', 'whoami'], { cwd: tree.dir });
    expect(call.stdout).toContain('"sub":"alice"');
    expect(call.code).toBe(0);
    const refreshes = tokenRequests(since(start), REFRESH);
    expect(refreshes).toHaveLength(1);
    expect(field(refreshes[0]?.body, 'refresh_token')).toBe(before?.refresh_token);
    expect(requestsTo(since(start), '/auth')).toEqual([]);
    const after = storedRecords(file)[0];
    expect(after?.refresh_token).toBeTruthy();
    expect(after?.refresh_token).not.toBe(before?.refresh_token);
    expect(after?.access_token).not.toBe(before?.access_token);
    // The refreshed token is used as is by the command after.
    const again = await runCli(['tools', 'call', 'notion', 'whoami'], { cwd: tree.dir });
    expect(again.code).toBe(0);
    expect(tokenRequests(since(start), REFRESH)).toHaveLength(1);
  });
});

describe('refresh of short-lived tokens', () => {
  test('a token whose lifetime is shorter than refresh_leeway_seconds is not refreshed on every request', async () => {
    const shortAs = await startAuthorizationServer({ accessTokenTtl: 2 });
    const shortMcp = await startProtectedMcpServer({ issuer: shortAs.issuer });
    cleanups.push(
      () => shortAs.close(),
      () => shortMcp.close(),
    );
    const { settings } = await settingsFor({ backend: 'memory', url: shortMcp.url });
    const consent = headlessConsent();
    const { tokens } = openManager(settings, cleanups, { consent });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const connection = await registry.connect('notion');
    await connection.callTool('whoami', {});
    await connection.callTool('whoami', {});
    // A 2 s token is inside the 60 s leeway from the moment it arrives; one refresh (or none)
    // is reasonable for a few requests, not one per request, each rotating the refresh token.
    expect(tokenRequests(shortAs.requests, REFRESH).length).toBeLessThanOrEqual(1);
  });
});

describe('step-up and recovery', () => {
  test('step-up: echo needs mcp:write; a new authorization asks for the union and the call succeeds', async () => {
    const { settings } = await settingsFor({ backend: 'memory', scopes: ['mcp:read'] });
    const consent = headlessConsent();
    const { tokens } = openManager(settings, cleanups, { consent });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const start = as.requests.length;
    const connection = await registry.connect('notion');
    const echoed = await connection.callTool('echo', { text: 'stepped up' });
    expect(resultText(echoed)).toBe('stepped up');
    // The second login probes the kept registration first (a request without state).
    const asked = authorizations(since(start));
    expect(asked).toHaveLength(2);
    const first = (field(asked[0]?.query, 'scope') ?? '').split(' ');
    const second = (field(asked[1]?.query, 'scope') ?? '').split(' ');
    expect(first).toContain('mcp:read');
    expect(first).not.toContain('mcp:write');
    expect(second).toEqual(expect.arrayContaining(['mcp:read', 'mcp:write']));
    const whoami = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(whoami.scope.split(' ')).toEqual(expect.arrayContaining(['mcp:read', 'mcp:write']));
    expect(consent.log.urls).toHaveLength(2);
    // The user is told what the step-up is for: the scope the server asked for in addition.
    expect(consent.log.infos[0]?.added).toBeUndefined();
    expect(consent.log.infos[1]?.added).toEqual(['mcp:write']);
  });

  /**
   * Logged in by one token manager; the tests then use a second one on the same store, as
   * another process would (a manager keeps the token it used, so tampering with the store is seen
   * only by a manager that has not used one yet).
   */
  async function loggedIn() {
    const { settings } = await settingsFor({ backend: 'memory' });
    const consent = headlessConsent();
    const { tokens: first, store } = openManager(settings, cleanups, { consent });
    const auth = serverAuthOf(first, settings);
    const record = await auth.authorize();
    const { key } = await auth.target();
    const tokens = new TokenManager({
      store,
      oauth: settings.oauth,
      fetch: (input, init) => fetch(input, init),
      consent,
    });
    return { settings, consent, tokens, store, auth, record, key };
  }

  test('a 401 for a garbage stored access token refreshes once and succeeds', async () => {
    const { settings, consent, tokens, store, record, key } = await loggedIn();
    await store.put(key, { ...record, accessToken: new Secret('garbage-access-token') });
    const start = as.requests.length;
    const mcpStart = mcp.requests.length;
    const registry = openRegistryWith(settings, tokens, cleanups);
    const whoami = JSON.parse(
      resultText(await (await registry.connect('notion')).callTool('whoami', {})),
    );
    expect(whoami.sub).toBe('alice');
    expect(tokenRequests(since(start), REFRESH)).toHaveLength(1);
    expect(requestsTo(since(start), '/auth')).toEqual([]);
    expect(consent.log.urls).toHaveLength(1);
    const refused = mcp.requests.slice(mcpStart).filter((request) => request.status === 401);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.token).toBe('garbage-access-token');
  });

  test('a 401 with a revoked refresh token (and a garbage access token) logs in again once and succeeds', async () => {
    const { settings, consent, tokens, store, record, key } = await loggedIn();
    const refresh = record.refreshToken?.reveal() ?? '';
    const found = await as.provider.RefreshToken.find(refresh);
    expect(found).toBeDefined();
    await found?.destroy();
    await store.put(key, { ...record, accessToken: new Secret('garbage-access-token') });
    const start = as.requests.length;
    const registry = openRegistryWith(settings, tokens, cleanups);
    const whoami = JSON.parse(
      resultText(await (await registry.connect('notion')).callTool('whoami', {})),
    );
    expect(whoami.sub).toBe('alice');
    const refreshes = tokenRequests(since(start), REFRESH);
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.status).toBe(400);
    expect(authorizations(since(start))).toHaveLength(1);
    expect(consent.log.urls).toHaveLength(2);
    expect((await store.get(key))?.record.refreshToken?.reveal()).not.toBe(refresh);
  });

  test('an expired token whose refresh token was revoked leads to a new login (interactive), not an error', async () => {
    const { settings } = await settingsFor({ backend: 'memory' });
    const clock = manualClock(Date.now());
    const consent = headlessConsent();
    const { tokens } = openManager(settings, cleanups, { consent, now: clock.now });
    const auth = serverAuthOf(tokens, settings);
    const record = await auth.authorize();
    const found = await as.provider.RefreshToken.find(record.refreshToken?.reveal() ?? '');
    await found?.destroy();
    // Past expiry on the client's clock: the proactive refresh is refused (invalid_grant).
    clock.advance(2 * 3600_000);
    const start = as.requests.length;
    const registry = openRegistryWith(settings, tokens, cleanups);
    const whoami = JSON.parse(
      resultText(await (await registry.connect('notion')).callTool('whoami', {})),
    );
    expect(whoami.sub).toBe('alice');
    expect(tokenRequests(since(start), REFRESH)).toHaveLength(1);
    expect(authorizations(since(start))).toHaveLength(1);
  });

  test('without a way to log in (pendingLogins: false), the same failure is OAUTH_LOGIN_REQUIRED naming auth login', async () => {
    const { settings, store, record, key } = await loggedIn();
    await store.put(key, {
      ...record,
      accessToken: new Secret('garbage-access-token'),
      refreshToken: new Secret('garbage-refresh-token'),
    });
    const tokens = new TokenManager({ store, oauth: settings.oauth, fetch, pendingLogins: false });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const error = await registry.connect('notion').then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(McpAgentError);
    expect(error).not.toBeInstanceOf(AuthorizationRequiredError);
    expect(String((error as Error).message)).toContain('mcp-agent auth login notion');
  });

  test('without a consent, the failure hands the login over: an AuthorizationRequiredError carrying the URL', async () => {
    const { settings, store, record, key } = await loggedIn();
    await store.put(key, {
      ...record,
      accessToken: new Secret('garbage-access-token'),
      refreshToken: new Secret('garbage-refresh-token'),
    });
    const tokens = new TokenManager({ store, oauth: settings.oauth, fetch });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const error = await registry.connect('notion').then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(AuthorizationRequiredError);
    const handed = error as AuthorizationRequiredError;
    expect(handed.code).toBe('OAUTH_LOGIN_REQUIRED');
    expect(handed.server).toBe('notion');
    const url = new URL(handed.authorizationUrl);
    expect(url.origin).toBe(new URL(as.issuer).origin);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')?.startsWith(`${handed.flowId}.`)).toBe(true);
    expect(handed.message).not.toContain(url.searchParams.get('state') ?? 'no-state');
  });
});

describe('logout, status and doctor', () => {
  test('logout revokes the refresh and the access token at the AS, then deletes them', async () => {
    const tree = await cliTree({ backend: 'file' });
    await runCli(['auth', 'login', 'notion'], { cwd: tree.dir, openBrowser: headlessBrowser });
    const file = join(tree.dir, 'tokens.json');
    const stored = storedRecords(file)[0];
    const start = as.requests.length;
    const logout = await runCli(['auth', 'logout', 'notion'], { cwd: tree.dir });
    expect(logout.code).toBe(0);
    expect(logout.stdout).toContain('revoked 2 tokens');
    const revocations = requestsTo(since(start), '/token/revocation', 'POST');
    expect(revocations.map((request) => field(request.body, 'token_type_hint'))).toEqual([
      'refresh_token',
      'access_token',
    ]);
    expect(revocations.map((request) => field(request.body, 'token'))).toEqual([
      stored?.refresh_token,
      stored?.access_token,
    ]);
    expect(revocations.every((request) => request.status === 200)).toBe(true);
    expect(storedRecords(file)).toEqual([]);
    expect(await as.provider.RefreshToken.find(String(stored?.refresh_token))).toBeUndefined();
    const status = await runCli(['auth', 'status'], { cwd: tree.dir });
    expect(status.stdout).toContain('notion: not logged in (mcp-agent auth login notion)');
  });

  test('auth status shows scopes, expiry and refresh, never a token value', async () => {
    const tree = await cliTree({ backend: 'file' });
    await runCli(['auth', 'login', 'notion'], { cwd: tree.dir, openBrowser: headlessBrowser });
    const stored = storedRecords(join(tree.dir, 'tokens.json'))[0];
    const human = await runCli(['auth', 'status'], { cwd: tree.dir });
    const json = await runCli(['--json', 'auth', 'status', 'notion'], { cwd: tree.dir });
    expect(human.stdout).toMatch(
      /notion: logged in at .* \(the agent's token, from a person's sign-in\); scopes: .*mcp:read.*; refresh token: yes/,
    );
    const row = JSON.parse(json.stdout).servers[0].tokens[0];
    expect(row).toMatchObject({
      issuer: as.issuer,
      resource: mcp.url,
      refresh_token: true,
      grant: 'authorization_code',
    });
    for (const value of [stored?.access_token, stored?.refresh_token]) {
      expect(typeof value).toBe('string');
      for (const output of [human.stdout, human.stderr, json.stdout, json.stderr]) {
        expect(output).not.toContain(value as string);
      }
    }
  });

  test('auth status with another encryption_key says the token cannot be read, not that there is none', async () => {
    const first = 'CANARY-first-encryption-key-1';
    const tree = await cliTree({ backend: 'file', store: [`encryption_key: ${first}`] });
    const login = await runCli(['auth', 'login', 'notion'], {
      cwd: tree.dir,
      openBrowser: headlessBrowser,
    });
    expect(login.code).toBe(0);
    const second = 'CANARY-second-encryption-key-2';
    const config = join(tree.dir, 'mcp_agent.config.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(first, second));
    const human = await runCli(['auth', 'status', 'notion'], { cwd: tree.dir });
    expect(human.stdout).toContain('notion: not logged in (mcp-agent auth login notion)');
    expect(human.stdout).toContain(
      'notion: a stored token cannot be read: it is encrypted with another oauth.token_store.encryption_key',
    );
    const json = await runCli(['--json', 'auth', 'status', 'notion'], { cwd: tree.dir });
    expect(JSON.parse(json.stdout).servers[0].unreadable).toEqual(['other-key']);
    for (const output of [human.stdout, human.stderr, json.stdout, json.stderr]) {
      expect(output).not.toContain(first);
      expect(output).not.toContain(second);
    }
  });

  test('doctor before login prints each step and says the login is missing, with the fix', async () => {
    const tree = await cliTree({ backend: 'file' });
    const doctor = await runCli(['doctor', 'notion'], { cwd: tree.dir });
    expect(doctor.code).toBe(1);
    const out = doctor.stdout;
    expect(out).toMatch(/^ok {3}configuration: streamable_http server at .*authentication: oauth/m);
    expect(out).toMatch(
      new RegExp(
        `^ok {3}discovery: resource ${mcp.url}; protected-resource metadata found; authorization server ${as.issuer}; PKCE S256 advertised`,
        'm',
      ),
    );
    expect(out).toMatch(/^ok {3}registration: dynamic client registration at /m);
    expect(out).toMatch(/^FAIL login: no token stored for .* \(backend: file\)$/m);
    expect(out).toContain('     fix: mcp-agent auth login notion');
    expect(out).toMatch(/^FAIL call: /m);
  });

  test('doctor after login: every step ok, and one call', async () => {
    const tree = await cliTree({ backend: 'file' });
    await runCli(['auth', 'login', 'notion'], { cwd: tree.dir, openBrowser: headlessBrowser });
    const doctor = await runCli(['--json', 'doctor', 'notion'], { cwd: tree.dir });
    expect(doctor.code).toBe(0);
    const steps = JSON.parse(doctor.stdout).steps as { step: string; ok: boolean }[];
    expect(steps.map((step) => [step.step, step.ok])).toEqual([
      ['configuration', true],
      ['discovery', true],
      ['registration', true],
      ['login', true],
      ['refresh', true],
      ['call', true],
    ]);
  });

  test('doctor reports a refresh the authorization server refused as a failed step with the fix', async () => {
    const tree = await cliTree({ backend: 'file' });
    await runCli(['auth', 'login', 'notion'], { cwd: tree.dir, openBrowser: headlessBrowser });
    const file = join(tree.dir, 'tokens.json');
    const stored = storedRecords(file)[0];
    await (await as.provider.RefreshToken.find(String(stored?.refresh_token)))?.destroy();
    makeDue(file);
    const start = as.requests.length;
    const doctor = await runCli(['doctor', 'notion'], { cwd: tree.dir });
    expect(doctor.code).toBe(1);
    const refused = tokenRequests(since(start), REFRESH);
    expect(refused.map((request) => request.status)).toEqual([400]);
    expect(doctor.stdout).toMatch(/^FAIL refresh: .*invalid_grant/m);
    expect(doctor.stdout).not.toContain('ok   refresh');
    expect(doctor.stdout).toContain('     fix: mcp-agent auth login notion');
  });

  test('tools call with no browser available prints the URL; opening it completes the call', async () => {
    const tree = await cliTree({ backend: 'file' });
    // No openBrowser and no display: the URL is all the user gets.
    const cli = startCli(['tools', 'call', 'notion', 'whoami'], { cwd: tree.dir, env: {} });
    const printed = await cli.line(new RegExp(`^${as.issuer}/auth\\?`));
    expect(cli.stderr()).toContain('(Not opening a browser: there is no graphical display');
    await followAuthorization(printed);
    const code = await cli.done;
    cli.stdin.end();
    expect(cli.stdout()).toContain('"sub":"alice"');
    expect(code).toBe(0);
  });
});

describe('clients without dynamic registration, and Entra-style servers', () => {
  test('a pre-registered public and a confidential client work; without client_id the error names the AS and client_id', async () => {
    const port = await freePort();
    const redirect = `http://127.0.0.1:${port}/callback`;
    const client = {
      application_type: 'native' as const,
      redirect_uris: [redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code' as const],
    };
    const github = await startAuthorizationServer({
      registration: false,
      clients: [
        { ...client, client_id: 'public-client', token_endpoint_auth_method: 'none' },
        {
          ...client,
          client_id: 'confidential-client',
          client_secret: 'a-long-client-secret-for-the-test',
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
    });
    const server = await startProtectedMcpServer({ issuer: github.issuer });
    cleanups.push(
      () => github.close(),
      () => server.close(),
    );

    const publicTree = await cliTree({
      url: server.url,
      ports: [port],
      oauth: ['client_id: public-client'],
    });
    const login = await runCli(['auth', 'login', 'notion'], {
      cwd: publicTree.dir,
      openBrowser: headlessBrowser,
    });
    expect(login.stdout).toContain('Logged in to "notion"');
    expect(login.code).toBe(0);
    expect(requestsTo(github.requests, '/reg')).toEqual([]);
    const call = await runCli(['tools', 'call', 'notion', 'whoami'], { cwd: publicTree.dir });
    expect(call.stdout).toContain('"client_id":"public-client"');

    const confidentialTree = await cliTree({
      url: server.url,
      ports: [port],
      oauth: ['client_id: confidential-client', 'client_secret: a-long-client-secret-for-the-test'],
    });
    const start = github.requests.length;
    const confidential = await runCli(['auth', 'login', 'notion'], {
      cwd: confidentialTree.dir,
      openBrowser: headlessBrowser,
    });
    expect(confidential.code).toBe(0);
    const exchange = tokenRequests(github.requests.slice(start), 'authorization_code')[0];
    // RFC 6749 §2.3.1: both parts form-encoded, then base64.
    const basic = /^Basic (.+)$/.exec(exchange?.headers.authorization ?? '')?.[1] ?? '';
    const [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':');
    expect(decodeURIComponent(id ?? '')).toBe('confidential-client');
    expect(decodeURIComponent(secret ?? '')).toBe('a-long-client-secret-for-the-test');
    expect(exchange?.body?.client_secret).toBeUndefined();
    expect(exchange?.status).toBe(200);

    const noClientTree = await cliTree({ url: server.url, ports: [port] });
    let opened = false;
    const refused = await runCli(['auth', 'login', 'notion'], {
      cwd: noClientTree.dir,
      openBrowser: async () => {
        opened = true;
        return true;
      },
    });
    expect(refused.code).toBe(1);
    expect(opened).toBe(false);
    const message = refused.stderr;
    expect(message).toContain(github.issuer);
    expect(message).toContain('client_id');
    expect(message).toContain('mcp.servers.notion.auth.oauth.client_id');
    const json = await runCli(['--json', 'auth', 'login', 'notion'], { cwd: noClientTree.dir });
    expect(JSON.parse(json.stdout).error.code).toBe('OAUTH_REGISTRATION');
  });

  test('Entra-style (resourceIndicators off, include_resource_parameter: false): no resource parameter on any request', async () => {
    const entra = await startAuthorizationServer({ resourceIndicators: false });
    const server = await startProtectedMcpServer({ issuer: entra.issuer });
    entra.defaultResource = server.url;
    cleanups.push(
      () => entra.close(),
      () => server.close(),
    );
    const { settings, dir } = await settingsFor({
      backend: 'file',
      url: server.url,
      oauth: ['include_resource_parameter: false'],
    });
    const clock = manualClock(Date.now());
    const consent = headlessConsent();
    const { tokens } = openManager(settings, cleanups, { consent, now: clock.now, cwd: dir });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const whoami = JSON.parse(
      resultText(await (await registry.connect('notion')).callTool('whoami', {})),
    );
    expect(whoami).toMatchObject({ sub: 'alice', aud: server.url });
    // And a refresh, to see that request too.
    clock.advance(3600_000 - 30_000);
    const auth = serverAuthOf(tokens, settings);
    await auth.token();
    expect(tokenRequests(entra.requests, REFRESH)).toHaveLength(1);
    const oauthRequests = entra.requests.filter(
      (request) => request.path === '/auth' || request.path === '/token',
    );
    expect(oauthRequests.length).toBeGreaterThanOrEqual(3);
    for (const request of oauthRequests) {
      expect(request.query.resource, `${request.method} ${request.path}`).toBeUndefined();
      expect(request.body?.resource, `${request.method} ${request.path}`).toBeUndefined();
      expect(request.status, `${request.method} ${request.path}`).toBeLessThan(400);
    }
  });
});
