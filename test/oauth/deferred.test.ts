/**
 * Deferred logins through the library, against the real oidc-provider authorization server and the
 * protected MCP server: a TokenManager without a consent hands the login over as an
 * AuthorizationRequiredError, the headless browser walks its URL up to the redirect, and a second
 * TokenManager on the same file store (another "process") completes it. Replays, altered states,
 * another server or identity, expiry, a foreign `iss`, and what never appears in a message.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Settings } from '../../src/config/schema/settings.js';
import { AuthorizationRequiredError, McpAgentError } from '../../src/errors.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import type { TokenStore } from '../../src/stores/token-store.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { type ManualClock, manualClock } from '../support/clock.js';
import { loadConfig } from '../support/config.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import {
  openManager,
  openRegistryWith,
  requestsTo,
  resultText,
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

const TIMEOUT_S = 300;

/** Two servers on the same MCP server (`notion` and `linear`), a file store, a free loopback port. */
async function settingsFor(): Promise<{ settings: Settings; dir: string }> {
  const port = await freePort();
  const server = (name: string) => `
    ${name}:
      transport: streamable_http
      url: ${mcp.url}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]`;
  const loaded = loadConfig(`
mcp:
  servers:${server('notion')}${server('linear')}
oauth:
  loopback_ports: [${port}]
  flow_timeout_seconds: ${TIMEOUT_S}
  token_store:
    backend: file
    path: ./tokens.json
`);
  cleanups.push(loaded.cleanup);
  return loaded;
}

/** What a handed-over login looks like: the error, its URL, and where the browser ends. */
interface HandOver {
  readonly error: AuthorizationRequiredError;
  readonly url: URL;
  readonly state: string;
  readonly redirectUri: string;
}

/** Two "processes" (managers with their own store instance) on one file store and clock. */
async function twoProcesses(clock: ManualClock = manualClock(Date.now())) {
  const { settings, dir } = await settingsFor();
  const a = openManager(settings, cleanups, { now: clock.now, cwd: dir });
  const b = openManager(settings, cleanups, { now: clock.now, cwd: dir });
  return { settings, dir, clock, a, b, file: join(dir, 'tokens.json') };
}

/** The login `authorize()` hands over (it must throw an AuthorizationRequiredError). */
async function handOver(tokens: TokenManager, settings: Settings, name = 'notion') {
  const error = await serverAuthOf(tokens, settings, name)
    .authorize()
    .then(
      () => undefined,
      (failure: unknown) => failure,
    );
  expect(error).toBeInstanceOf(AuthorizationRequiredError);
  const handed = error as AuthorizationRequiredError;
  const url = new URL(handed.authorizationUrl);
  return {
    error: handed,
    url,
    state: url.searchParams.get('state') ?? '',
    redirectUri: url.searchParams.get('redirect_uri') ?? '',
  } satisfies HandOver;
}

/** Walk the URL headlessly; stop at the redirect URI nobody listens on and return that address. */
async function approve(login: HandOver): Promise<URL> {
  const landed = await followAuthorization(login.url, { stopAtRedirectUri: login.redirectUri });
  expect(landed.finalUrl.searchParams.get('code')).toBeTruthy();
  return landed.finalUrl;
}

/** The failure of `promise` (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<McpAgentError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(McpAgentError);
  return caught as McpAgentError;
}

function flowKeys(file: string): string[] {
  const contents = JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, unknown> };
  return Object.keys(contents.entries).filter((id) => id.startsWith('#flow:'));
}

async function verifierOf(store: TokenStore, state: string): Promise<string> {
  const flow = await store.flows.peek(state);
  expect(flow).toBeDefined();
  return flow?.codeVerifier.reveal() ?? '';
}

describe('a login handed over, completed by another process', () => {
  test('a request hands the login over; another manager on the same file store completes it; tools work', async () => {
    const { settings, clock, a, b, file } = await twoProcesses();
    const registryA = openRegistryWith(settings, a.tokens, cleanups);
    const connectError = await registryA.connect('notion').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(connectError).toBeInstanceOf(AuthorizationRequiredError);
    const handed = connectError as AuthorizationRequiredError;
    expect(handed).toMatchObject({
      code: 'OAUTH_LOGIN_REQUIRED',
      server: 'notion',
      issuer: as.issuer,
      expiresAt: clock.now() + TIMEOUT_S * 1000,
    });
    const url = new URL(handed.authorizationUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${as.issuer}/auth`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('resource')).toBe(mcp.url);
    const state = url.searchParams.get('state') ?? '';
    expect(state.startsWith(`${handed.flowId}.`)).toBe(true);
    const redirectUri = url.searchParams.get('redirect_uri') ?? '';
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(flowKeys(file)).toEqual([`#flow:${handed.flowId}`]);
    const verifier = await verifierOf(b.store, state);

    const address = await approve({ error: handed, url, state, redirectUri });
    expect(address.searchParams.get('state')).toBe(state);
    const start = as.requests.length;
    const record = await serverAuthOf(b.tokens, settings).completeAuthorization(address.href);
    expect(record).toMatchObject({ issuer: as.issuer, server: 'notion' });
    expect(record.scopes).toContain('mcp:read');
    const exchanges = tokenRequests(as.requests.slice(start), 'authorization_code');
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]?.body?.code_verifier).toBe(verifier);
    expect(exchanges[0]?.status).toBe(200);
    // Stored for both processes; the flow is gone.
    const key = (await serverAuthOf(a.tokens, settings).target()).key;
    expect((await a.store.get(key))?.record.accessToken.reveal()).toBe(record.accessToken.reveal());
    expect(flowKeys(file)).toEqual([]);

    const registryB = openRegistryWith(settings, b.tokens, cleanups);
    const tools = await (await registryB.connect('notion')).listTools();
    expect(tools.map((tool) => tool.name)).toContain('whoami');
    // The first process, which handed the login over, now finds the token too.
    const whoami = JSON.parse(
      resultText(await (await registryA.connect('notion')).callTool('whoami', {})),
    );
    expect(whoami).toMatchObject({ sub: 'alice', aud: mcp.url });
    expect(requestsTo(as.requests.slice(start), '/auth')).toEqual([]);
  });

  test('a replayed address is refused (OAUTH_CALLBACK) by either process, and exchanges no code', async () => {
    const { settings, a, b } = await twoProcesses();
    const login = await handOver(a.tokens, settings);
    const address = await approve(login);
    await serverAuthOf(b.tokens, settings).completeAuthorization(address);
    const start = as.requests.length;
    for (const tokens of [a.tokens, b.tokens]) {
      const error = await failure(serverAuthOf(tokens, settings).completeAuthorization(address));
      expect(error.code).toBe('OAUTH_CALLBACK');
      expect(error.message).toContain('unknown, expired or already completed');
    }
    expect(requestsTo(as.requests.slice(start), '/token')).toEqual([]);
  });

  test('an address whose state was altered is refused; the real one still completes', async () => {
    const { settings, a, b } = await twoProcesses();
    const login = await handOver(a.tokens, settings);
    const address = await approve(login);
    const auth = serverAuthOf(b.tokens, settings);
    const other = (await handOver(b.tokens, settings, 'linear')).error.flowId;
    const [flowId, secret = ''] = login.state.split('.');
    const flip = secret.endsWith('A') ? 'B' : 'A';
    for (const state of [
      `${flowId}.${secret.slice(0, -1)}${flip}`,
      `${flowId}.${secret.slice(1)}`,
      `${other}.${secret}`,
      `${flowId}`,
      'forged',
    ]) {
      const altered = new URL(address);
      altered.searchParams.set('state', state);
      const error = await failure(auth.completeAuthorization(altered));
      expect(error.code, state).toBe('OAUTH_CALLBACK');
    }
    const missing = new URL(address);
    missing.searchParams.delete('state');
    expect((await failure(auth.completeAuthorization(missing))).code).toBe('OAUTH_CALLBACK');
    expect((await failure(auth.completeAuthorization('not an address'))).code).toBe(
      'OAUTH_CALLBACK',
    );
    expect((await auth.completeAuthorization(address)).issuer).toBe(as.issuer);
  });

  test('completing on another server or identity is refused and does not consume the flow', async () => {
    const { settings, a, b } = await twoProcesses();
    const login = await handOver(a.tokens, settings);
    const address = await approve(login);
    const start = as.requests.length;
    const wrongServer = await failure(
      serverAuthOf(b.tokens, settings, 'linear').completeAuthorization(address),
    );
    expect(wrongServer.code).toBe('OAUTH_CALLBACK');
    expect(wrongServer.message).toContain('another server or user');
    const bob = new TokenManager({
      store: b.store,
      oauth: settings.oauth,
      fetch,
      identity: 'bob',
      now: () => Date.now(),
    });
    const wrongUser = await failure(serverAuthOf(bob, settings).completeAuthorization(address));
    expect(wrongUser.code).toBe('OAUTH_CALLBACK');
    expect(requestsTo(as.requests.slice(start), '/token')).toEqual([]);
    expect(await b.store.flows.peek(login.state)).toBeDefined();
    const record = await serverAuthOf(b.tokens, settings).completeAuthorization(address);
    expect(record.server).toBe('notion');
  });

  test('an expired flow (the clock past flow_timeout_seconds) is refused; a new one is handed over', async () => {
    const { settings, clock, a, b } = await twoProcesses();
    const login = await handOver(a.tokens, settings);
    const address = await approve(login);
    clock.advance(TIMEOUT_S * 1000);
    const error = await failure(serverAuthOf(b.tokens, settings).completeAuthorization(address));
    expect(error.code).toBe('OAUTH_CALLBACK');
    expect(error.message).toContain('expired');
    const again = await handOver(a.tokens, settings);
    expect(again.error.flowId).not.toBe(login.error.flowId);
    expect(again.error.expiresAt).toBe(clock.now() + TIMEOUT_S * 1000);
  });

  test('a callback whose iss names another issuer is refused (RFC 9207); no code is exchanged', async () => {
    const { settings, a, b } = await twoProcesses();
    const login = await handOver(a.tokens, settings);
    const address = await approve(login);
    expect(address.searchParams.get('iss')).toBe(as.issuer);
    const forged = new URL(address);
    forged.searchParams.set('iss', 'http://127.0.0.1:9/evil');
    const start = as.requests.length;
    const auth = serverAuthOf(b.tokens, settings);
    const error = await failure(auth.completeAuthorization(forged));
    expect(['OAUTH_AUTHORIZATION', 'OAUTH_CALLBACK']).toContain(error.code);
    expect(error.message).toMatch(/issuer/);
    expect(requestsTo(as.requests.slice(start), '/token')).toEqual([]);
    expect(await auth.storedRecords()).toEqual([]);
  });

  test('no message carries the code verifier, the state secret or the authorization code', async () => {
    const { settings, a, b, clock } = await twoProcesses();
    const login = await handOver(a.tokens, settings);
    const verifier = await verifierOf(a.store, login.state);
    const address = await approve(login);
    const code = address.searchParams.get('code') ?? '';
    const secret = login.state.split('.')[1] ?? '';
    expect(verifier.length).toBeGreaterThanOrEqual(43);
    const auth = serverAuthOf(b.tokens, settings);
    // The error's URL carries the state by design (not its message); never the verifier or a code.
    expect(JSON.stringify(login.error)).not.toContain(verifier);
    const messages: string[] = [login.error.message];
    const collect = async (callback: URL | string, by = auth) => {
      const error = await failure(by.completeAuthorization(callback));
      messages.push(error.message, String(error.cause ?? ''));
    };
    const denied = new URL(address);
    denied.searchParams.delete('code');
    denied.searchParams.set('error', 'access_denied');
    denied.searchParams.set('error_description', `no ${verifier} ${code} ${secret}`);
    await collect(address, serverAuthOf(b.tokens, settings, 'linear'));
    await collect(`${address.href}x`);
    const forged = new URL(address);
    forged.searchParams.set('iss', 'http://127.0.0.1:9');
    await collect(forged);
    await collect(denied);
    // Taken by the denied callback above: the real address is now a replay.
    await collect(address);
    const second = await handOver(a.tokens, settings);
    clock.advance(TIMEOUT_S * 1000);
    messages.push((await handOver(a.tokens, settings)).error.message);
    await collect(await approve(second));
    for (const message of messages) {
      for (const canary of [verifier, code, secret]) expect(message).not.toContain(canary);
    }
  });
});

describe('handing over, or not', () => {
  test('pendingLogins: false → a plain OAUTH_LOGIN_REQUIRED and nothing stored under #flow:', async () => {
    const { settings, dir, file } = await twoProcesses();
    const { store } = openManager(settings, cleanups, { cwd: dir });
    const tokens = new TokenManager({ store, oauth: settings.oauth, fetch, pendingLogins: false });
    const start = as.requests.length;
    const error = await failure(serverAuthOf(tokens, settings).authorize());
    expect(error).not.toBeInstanceOf(AuthorizationRequiredError);
    expect(error.code).toBe('OAUTH_LOGIN_REQUIRED');
    expect(error.message).toContain('mcp-agent auth login notion');
    await store.events.record('app', 'notion', { type: 'refreshed', at: 1 });
    expect(flowKeys(file)).toEqual([]);
    expect(requestsTo(as.requests.slice(start), '/reg')).toEqual([]);
  });

  test('one manager reuses its young pending flow; a much older one or more scopes start a new one', async () => {
    const { settings, clock, a, file } = await twoProcesses();
    const first = await handOver(a.tokens, settings);
    const second = await handOver(a.tokens, settings);
    expect(second.error.flowId).toBe(first.error.flowId);
    expect(second.error.authorizationUrl).toBe(first.error.authorizationUrl);
    const concurrent = await Promise.all([
      handOver(a.tokens, settings),
      handOver(a.tokens, settings),
    ]);
    expect(concurrent.map((login) => login.error.flowId)).toEqual([
      first.error.flowId,
      first.error.flowId,
    ]);
    expect(flowKeys(file)).toHaveLength(1);
    // A challenge for a scope the pending flow does not ask for: a new flow with the union.
    const auth = serverAuthOf(a.tokens, settings);
    const wider = await failure(auth.authorize({ challenge: { scope: 'mcp:write' } }));
    expect(wider).toBeInstanceOf(AuthorizationRequiredError);
    const widerFlow = (wider as AuthorizationRequiredError).flowId;
    expect(widerFlow).not.toBe(first.error.flowId);
    const scope = new URL((wider as AuthorizationRequiredError).authorizationUrl).searchParams.get(
      'scope',
    );
    expect(scope?.split(' ')).toEqual(expect.arrayContaining(['mcp:read', 'mcp:write']));
    expect((await handOver(a.tokens, settings)).error.flowId).toBe(widerFlow);
    clock.advance((TIMEOUT_S * 1000) / 2 + 1);
    const later = await handOver(a.tokens, settings);
    expect(later.error.flowId).not.toBe(widerFlow);
    // The earlier flows are still valid until they expire: all are kept.
    expect(flowKeys(file)).toHaveLength(3);
  });

  test('after a completion fails (access denied) the manager hands a new flow over, not the consumed one', async () => {
    const { settings, a } = await twoProcesses();
    const auth = serverAuthOf(a.tokens, settings);
    const login = await handOver(a.tokens, settings);
    as.setApproval('deny');
    let address: URL;
    try {
      const landed = await followAuthorization(login.url, { stopAtRedirectUri: login.redirectUri });
      address = landed.finalUrl;
    } finally {
      as.setApproval('approve');
    }
    expect(address.searchParams.get('error')).toBe('access_denied');
    const denied = await failure(auth.completeAuthorization(address));
    expect(denied.code).toBe('OAUTH_AUTHORIZATION');
    expect(await a.store.flows.peek(login.state)).toBeUndefined();
    // The person tries again: the manager must not hand over the flow that is gone.
    const retry = await handOver(a.tokens, settings);
    expect(await a.store.flows.peek(retry.state)).toBeDefined();
    expect(retry.error.flowId).not.toBe(login.error.flowId);
  });

  test('after another process completed the flow, the manager hands a new flow over, not the consumed one', async () => {
    const { settings, a, b } = await twoProcesses();
    const login = await handOver(a.tokens, settings);
    await serverAuthOf(b.tokens, settings).completeAuthorization(await approve(login));
    // The token is then refused (revoked, say) and the first process needs a login again.
    await serverAuthOf(b.tokens, settings).logout();
    const retry = await handOver(a.tokens, settings);
    expect(await a.store.flows.peek(retry.state)).toBeDefined();
    expect(retry.error.flowId).not.toBe(login.error.flowId);
  });

  test('a completion through the manager that handed the login over clears its pending flow', async () => {
    const { settings, a } = await twoProcesses();
    const auth = serverAuthOf(a.tokens, settings);
    const login = await handOver(a.tokens, settings);
    await a.store.events.record('app', 'notion', { type: 'needs-login', at: 1, message: 'm' });
    await auth.completeAuthorization(await approve(login));
    expect(await a.store.events.last('app', 'notion')).toBeUndefined();
    expect((await auth.status())[0]?.lastEvent).toBeUndefined();
    // A later login (after a logout) is a new flow.
    await auth.logout();
    const next = await handOver(a.tokens, settings);
    expect(next.error.flowId).not.toBe(login.error.flowId);
  });
});
