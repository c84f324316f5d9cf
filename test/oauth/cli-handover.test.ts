/**
 * The CLI side of deferred logins and background events, against the real oidc-provider
 * authorization server and protected MCP server: `auth login --no-wait` prints the URL and
 * returns, `auth complete ADDRESS` finishes it (once), `auth status` shows the token and the last
 * background-refresh event (written directly, and recorded by the real scheduler).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { oauthSchema } from '../../src/config/schema/oauth.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { createTokenStore, type TokenStore } from '../../src/stores/token-store.js';
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
import { headlessConsent, serverAuthOf, tokenRequests } from './harness.js';

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

function configYaml(options: {
  url: string;
  port: number;
  oauth?: readonly string[];
  store?: readonly string[];
}): string {
  const oauth = (options.oauth ?? []).map((line) => `          ${line}`).join('\n');
  const store = (options.store ?? []).map((line) => `    ${line}`).join('\n');
  return `
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${options.url}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
${oauth}
oauth:
  loopback_ports: [${options.port}]
  token_store:
    backend: file
    path: ./tokens.json
${store}
`;
}

async function cliTree(options: Partial<Parameters<typeof configYaml>[0]> = {}) {
  const port = options.port ?? (await freePort());
  const tree = tempTree({
    'mcp_agent.config.yaml': configYaml({ url: mcp.url, ...options, port }),
  });
  cleanups.push(tree.cleanup);
  return tree;
}

/** A token store on the tree's file (what another process sees). */
function storeOf(dir: string, now?: () => number): TokenStore {
  const settings = oauthSchema.parse({
    token_store: { backend: 'file', path: './tokens.json' },
  }).token_store;
  const store = createTokenStore(settings, { cwd: dir, homeDir: dir, ...(now ? { now } : {}) });
  cleanups.push(() => store.close());
  return store;
}

/** Walk the authorization URL up to its redirect URI and return the address the browser ends on. */
async function approve(authorizationUrl: string): Promise<URL> {
  const url = new URL(authorizationUrl);
  const redirectUri = url.searchParams.get('redirect_uri') ?? '';
  const landed = await followAuthorization(url, { stopAtRedirectUri: redirectUri });
  expect(landed.finalUrl.searchParams.get('code')).toBeTruthy();
  return landed.finalUrl;
}

interface StatusJson {
  backend: string;
  servers: {
    server: string;
    tokens: {
      issuer: string;
      scopes: string[];
      refresh_token: boolean;
      expired: boolean;
      last_event: { type: string; at: string; message?: string; retry_at?: string } | null;
    }[];
  }[];
}

async function statusJson(dir: string): Promise<StatusJson> {
  const status = await runCli(['--json', 'auth', 'status'], { cwd: dir });
  expect(status.code, status.stderr).toBe(0);
  return JSON.parse(status.stdout) as StatusJson;
}

/** `auth login notion --no-wait --json`: exit 0 and its JSON. */
async function loginNoWait(dir: string) {
  const login = await runCli(['--json', 'auth', 'login', 'notion', '--no-wait'], { cwd: dir });
  expect(login.code, login.stderr).toBe(0);
  const json = JSON.parse(login.stdout) as Record<string, string>;
  return { login, json };
}

describe('auth login --no-wait, then auth complete', () => {
  test('the URL is printed, the address completes the login once, status and tools see the token', async () => {
    const tree = await cliTree();
    const { login, json } = await loginNoWait(tree.dir);
    expect(json).toMatchObject({ server: 'notion', issuer: as.issuer });
    const url = new URL(json.authorization_url ?? '');
    expect(`${url.origin}${url.pathname}`).toBe(`${as.issuer}/auth`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const expires = Date.parse(json.expires_at ?? '');
    expect(expires - Date.now()).toBeGreaterThan(290_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(300_000);
    expect(login.stderr).not.toContain('warning');
    // The verifier the store keeps appears nowhere in the output.
    const state = url.searchParams.get('state') ?? '';
    const flow = await storeOf(tree.dir).flows.peek(state);
    const verifier = flow?.codeVerifier.reveal() ?? 'missing';
    expect(flow?.server).toBe('notion');

    const address = await approve(url.href);
    const code = address.searchParams.get('code') ?? '';
    const complete = await runCli(['auth', 'complete', address.href], { cwd: tree.dir });
    expect(complete.stdout).toContain('Logged in to "notion"');
    expect(complete.code).toBe(0);

    const status = await statusJson(tree.dir);
    expect(status.backend).toBe('file');
    expect(status.servers).toHaveLength(1);
    expect(status.servers[0]?.tokens).toHaveLength(1);
    expect(status.servers[0]?.tokens[0]).toMatchObject({
      issuer: as.issuer,
      refresh_token: true,
      expired: false,
      last_event: null,
    });
    const human = await runCli(['auth', 'status'], { cwd: tree.dir });
    expect(human.stdout).toContain('notion: logged in at');
    expect(human.stdout).not.toContain('background refresh:');

    const call = await runCli(['tools', 'call', 'notion', 'whoami'], { cwd: tree.dir });
    expect(call.stdout).toContain('"sub":"alice"');
    expect(call.code).toBe(0);

    const again = await runCli(['auth', 'complete', address.href], { cwd: tree.dir });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/unknown, expired or already completed/);
    const againJson = await runCli(['--json', 'auth', 'complete', address.href], { cwd: tree.dir });
    expect(againJson.code).toBe(1);
    expect(JSON.parse(againJson.stdout).error.code).toBe('OAUTH_CALLBACK');

    for (const output of [login, complete, again, againJson, human, call]) {
      const text = output.stdout + output.stderr;
      expect(text).not.toContain(verifier);
      expect(text).not.toContain(code);
    }
  });

  test('without --json the URL and the next step are the result, on stdout; the exit is 0 and nothing waits', async () => {
    const tree = await cliTree();
    const login = await runCli(['auth', 'login', 'notion', '--no-wait'], {
      cwd: tree.dir,
      openBrowser: async () => {
        throw new Error('--no-wait must not open a browser');
      },
    });
    expect(login.code).toBe(0);
    expect(login.stderr).toBe('');
    const lines = login.stdout.split('\n');
    const printed = lines.find((line) => line.trim().startsWith(`${as.issuer}/auth?`));
    expect(printed).toBeDefined();
    expect(login.stdout).toContain("mcp-agent auth complete 'ADDRESS'");
    const complete = await runCli(
      ['auth', 'complete', (await approve(printed?.trim() ?? '')).href],
      {
        cwd: tree.dir,
      },
    );
    expect(complete.code).toBe(0);
  });

  test('--no-wait with --device is a usage error (exit 2); auth complete without an address too', async () => {
    const tree = await cliTree();
    const start = as.requests.length;
    const both = await runCli(['auth', 'login', 'notion', '--no-wait', '--device'], {
      cwd: tree.dir,
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('cannot be combined with --device');
    const none = await runCli(['auth', 'complete'], { cwd: tree.dir });
    expect(none.code).toBe(2);
    const junk = await runCli(['auth', 'complete', 'http://127.0.0.1:1/callback?code=x'], {
      cwd: tree.dir,
    });
    expect(junk.code).toBe(1);
    expect(junk.stderr).toContain('state');
    expect(as.requests.slice(start)).toEqual([]);
  });

  test('a confidential client: neither the client secret, the verifier nor the code appears in any output', async () => {
    const port = await freePort();
    const secret = 'CANARY-client-secret-for-handover-3k9d';
    const confidential = await startAuthorizationServer({
      registration: false,
      clients: [
        {
          client_id: 'confidential-client',
          client_secret: secret,
          token_endpoint_auth_method: 'client_secret_basic',
          application_type: 'native',
          redirect_uris: [`http://127.0.0.1:${port}/callback`],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      ],
    });
    const server = await startProtectedMcpServer({ issuer: confidential.issuer });
    cleanups.push(
      () => confidential.close(),
      () => server.close(),
    );
    const tree = await cliTree({
      url: server.url,
      port,
      oauth: ['client_id: confidential-client', `client_secret: ${secret}`],
    });
    const outputs = [];
    const { login, json } = await loginNoWait(tree.dir);
    outputs.push(login);
    const state = new URL(json.authorization_url ?? '').searchParams.get('state') ?? '';
    const verifier = (await storeOf(tree.dir).flows.peek(state))?.codeVerifier.reveal() ?? '';
    expect(verifier.length).toBeGreaterThanOrEqual(43);
    const address = await approve(json.authorization_url ?? '');
    const code = address.searchParams.get('code') ?? '';
    const forged = new URL(address);
    forged.searchParams.set('iss', 'http://127.0.0.1:9');
    for (const argv of [
      ['--json', 'auth', 'complete', forged.href],
      ['auth', 'complete', forged.href],
    ]) {
      const refused = await runCli(argv, { cwd: tree.dir });
      expect(refused.code).toBe(1);
      outputs.push(refused);
    }
    // The forged callback took the flow: a new one, completed.
    const retry = await loginNoWait(tree.dir);
    outputs.push(retry.login);
    const done = await runCli(
      [
        '--json',
        '--verbose',
        'auth',
        'complete',
        (await approve(retry.json.authorization_url ?? '')).href,
      ],
      { cwd: tree.dir },
    );
    expect(done.code, done.stderr).toBe(0);
    outputs.push(done);
    const exchange = tokenRequests(confidential.requests, 'authorization_code').at(-1);
    expect(exchange?.headers.authorization).toMatch(/^Basic /);
    for (const output of outputs) {
      const text = output.stdout + output.stderr;
      for (const canary of [secret, verifier, code]) expect(text).not.toContain(canary);
    }
  });
});

describe('auth status shows the last background-refresh event', () => {
  async function loggedInTree(options: Partial<Parameters<typeof configYaml>[0]> = {}) {
    const tree = await cliTree(options);
    const { json } = await loginNoWait(tree.dir);
    const complete = await runCli(
      ['auth', 'complete', (await approve(json.authorization_url ?? '')).href],
      {
        cwd: tree.dir,
      },
    );
    expect(complete.code).toBe(0);
    return tree;
  }

  test('an event written to the store: the human line and last_event; a new login clears it', async () => {
    const tree = await loggedInTree();
    const store = storeOf(tree.dir);
    const now = Date.now();
    await store.events.record('app', 'notion', {
      type: 'failed',
      at: now - 120_000,
      message: 'The authorization server answered 503.',
      retryAt: now + 600_000,
    });
    const human = await runCli(['auth', 'status', 'notion'], { cwd: tree.dir });
    expect(human.code).toBe(0);
    const line = human.stdout.split('\n').find((text) => text.startsWith('  background refresh: '));
    expect(line).toMatch(
      /^ {2}background refresh: failed 2 min ago \(The authorization server answered 503\.\); next attempt in 10 min$/,
    );
    const event = (await statusJson(tree.dir)).servers[0]?.tokens[0]?.last_event;
    expect(event).toEqual({
      type: 'failed',
      at: new Date(now - 120_000).toISOString(),
      message: 'The authorization server answered 503.',
      retry_at: new Date(now + 600_000).toISOString(),
    });

    await store.events.record('app', 'notion', {
      type: 'needs-login',
      at: now,
      message: 'Server "notion" needs a new login.',
    });
    const stopped = await runCli(['auth', 'status'], { cwd: tree.dir });
    expect(stopped.stdout).toContain(
      '  background refresh: stopped 0 s ago: Server "notion" needs a new login.',
    );
    // Another identity's event is not shown for the app.
    await store.events.clear('app', 'notion');
    await store.events.record('bob', 'notion', { type: 'refreshed', at: now });
    expect((await statusJson(tree.dir)).servers[0]?.tokens[0]?.last_event).toBeNull();

    await store.events.record('app', 'notion', { type: 'refreshed', at: now });
    const { json } = await loginNoWait(tree.dir);
    const complete = await runCli(
      ['auth', 'complete', (await approve(json.authorization_url ?? '')).href],
      {
        cwd: tree.dir,
      },
    );
    expect(complete.code).toBe(0);
    expect((await statusJson(tree.dir)).servers[0]?.tokens[0]?.last_event).toBeNull();
  });

  test('the real scheduler (backgroundRefresh: true) refreshes a due token and records "refreshed"; status shows it', async () => {
    // A 1 s leeway keeps the jittered schedule within about 250 ms of real time.
    const tree = await loggedInTree({ store: ['refresh_leeway_seconds: 1'] });
    const loaded = loadConfig(readFileSync(join(tree.dir, 'mcp_agent.config.yaml'), 'utf8'));
    cleanups.push(loaded.cleanup);
    const { settings } = loaded;
    const stored = (await statusJson(tree.dir)).servers[0]?.tokens[0];
    expect(stored?.last_event).toBeNull();
    const expiresAt = Date.parse(
      JSON.parse((await runCli(['--json', 'auth', 'status'], { cwd: tree.dir })).stdout).servers[0]
        .tokens[0].expires_at,
    );
    // Just before the refresh point (expiry minus the leeway): the token is still good.
    const clock = manualClock(expiresAt - 1_001);
    const store = createTokenStore(settings.oauth.token_store, {
      cwd: tree.dir,
      homeDir: tree.dir,
      now: clock.now,
    });
    cleanups.push(() => store.close());
    const tokens = new TokenManager({
      store,
      oauth: settings.oauth,
      fetch,
      now: clock.now,
      backgroundRefresh: true,
      consent: headlessConsent(),
    });
    cleanups.push(() => tokens.close());
    const auth = serverAuthOf(tokens, settings);
    const start = as.requests.length;
    expect(await auth.token()).toBeDefined();
    expect(tokenRequests(as.requests.slice(start), 'refresh_token')).toEqual([]);
    await waitFor(
      'the refresh to be scheduled',
      () => tokens.scheduler?.isWatching('notion') || undefined,
      5_000,
    );
    // Past the refresh point: when the timer fires the token is due.
    clock.advance(2_000);
    const event = await waitFor(
      'a recorded background event',
      () => store.events.last('app', 'notion'),
      5_000,
    );
    expect(event).toEqual({ type: 'refreshed', at: clock.now() });
    expect(tokenRequests(as.requests.slice(start), 'refresh_token')).toHaveLength(1);

    const human = await runCli(['auth', 'status'], { cwd: tree.dir });
    // The event is on the manual clock (an hour ahead of the CLI's): only its shape is checked.
    expect(human.stdout).toMatch(
      /\n {2}background refresh: refreshed (just now|\d+ (s|min) ago)\n/,
    );
    const json = await statusJson(tree.dir);
    expect(json.servers[0]?.tokens[0]?.last_event?.type).toBe('refreshed');
  });
});
