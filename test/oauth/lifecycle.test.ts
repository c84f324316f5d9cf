/**
 * The token lifecycle under load and faults, with the real components: oidc-provider as the AS
 * (short-lived tokens, refresh-token rotation), the SDK MCP server that checks its JWTs, the file
 * and Redis stores, several OS processes on the built library (test/oauth/lifecycle-worker.mjs),
 * a redis-server spawned here so it can be killed and restarted, and a fault-injecting HTTP proxy
 * in front of the AS. Clocks are injected; real waits happen only where processes are involved.
 *
 * Six of these tests were written as `bug: …` tests that failed against the implementation of
 * the time (a refused grant retried by waiting callers and processes, a valid token unused while
 * discovery was down, Retry-After ignored on 5xx and non-JSON 429 answers, Redis commands without
 * a time limit); they pass since the fixes and are kept as regression tests, marked "regression".
 * A test named `bug: …` shows a defect that is still there, and fails until it is fixed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import type { Settings } from '../../src/config/schema/settings.js';
import { Secret } from '../../src/config/secret.js';
import { AuthorizationRequiredError, McpAgentError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { withOAuth } from '../../src/oauth/auth-fetch.js';
import type { OAuthFetch } from '../../src/oauth/protocol/registration.js';
import { LEASE_TTL_MS } from '../../src/oauth/refresh.js';
import {
  type RefreshEvent,
  RefreshScheduler,
  type SchedulerTimers,
} from '../../src/oauth/scheduler.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { storageKey, type TokenKey } from '../../src/stores/record.js';
import { RedisKeyValueStore } from '../../src/stores/redis.js';
import {
  createTokenStore,
  LEASE_KEY_PREFIX,
  type StoredToken,
  TokenStore,
} from '../../src/stores/token-store.js';
import {
  type AuthorizationServer,
  type AuthorizationServerRequest,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { type ManualClock, manualClock } from '../support/clock.js';
import { loadConfig } from '../support/config.js';
import { freePort, waitFor, within } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import { deleteRedisKeys, rawRedis } from '../support/redis-server.js';
import {
  describeWith,
  REDIS_URL,
  redisServerBinary as redisServer,
  redisService,
  testWith,
} from '../support/services.js';
import {
  headlessConsent,
  openRegistryWith,
  recordingLogger,
  resultText,
  serverAuthOf,
  tokenRequests,
} from './harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('./lifecycle-worker.mjs', import.meta.url));
const DIST_INDEX = join(ROOT, 'dist', 'index.js');
const sharedRedis = await redisService();
const REFRESH = 'refresh_token';
/** Access token lifetime at the shared AS: the refresh leeway is then half of it, 15 s. */
const TTL_S = 30;

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  as = await startAuthorizationServer({ accessTokenTtl: TTL_S });
  mcp = await startProtectedMcpServer({ issuer: as.issuer, requiredScopes: ['mcp:read'] });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

// ---------------------------------------------------------------------------------------------
// Set-up helpers
// ---------------------------------------------------------------------------------------------

interface LoginOptions {
  readonly backend?: 'memory' | 'file' | 'redis';
  readonly redisUrl?: string;
  /** The MCP server (default: the shared one). */
  readonly url?: string;
  readonly now?: () => number;
  readonly fetch?: OAuthFetch;
  readonly logger?: Logger;
  readonly backgroundRefresh?: RefreshScheduler;
  /** Use this store instead of the configured one. */
  readonly store?: (settings: Settings, dir: string) => TokenStore;
}

function configYaml(options: {
  backend: string;
  url: string;
  port: number;
  redisUrl?: string | undefined;
  prefix?: string | undefined;
}): string {
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
oauth:
  loopback_ports: [${options.port}]
  token_store:
    backend: ${options.backend}
    path: ./tokens.json
${options.prefix ? `    redis_url: ${options.redisUrl}\n    redis_prefix: ${options.prefix}\n` : ''}`;
}

const plainFetch: OAuthFetch = (input, init) => fetch(input, init);

/** A TokenManager on `store` (cleaned up), with a headless login unless `consent` is false. */
function managerFor(
  settings: Settings,
  store: TokenStore,
  options: LoginOptions & { consent?: boolean } = {},
): TokenManager {
  const tokens = new TokenManager({
    store,
    oauth: settings.oauth,
    fetch: options.fetch ?? plainFetch,
    ...(options.consent === false ? {} : { consent: headlessConsent() }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.backgroundRefresh ? { backgroundRefresh: options.backgroundRefresh } : {}),
  });
  cleanups.push(() => tokens.close());
  return tokens;
}

/** Load a config for `notion` on `backend`, log in headlessly, and return everything. */
async function loggedIn(options: LoginOptions = {}) {
  const backend = options.backend ?? 'memory';
  const redisUrl = options.redisUrl ?? REDIS_URL;
  const prefix =
    backend === 'redis'
      ? `mcp-agent-ts-lifecycle-${process.pid}-${Math.random().toString(36).slice(2)}`
      : undefined;
  if (prefix) cleanups.push(() => deleteRedisKeys(redisUrl, prefix).catch(() => 0));
  const loaded = loadConfig(
    configYaml({
      backend,
      url: options.url ?? mcp.url,
      port: await freePort(),
      redisUrl,
      prefix,
    }),
  );
  cleanups.push(loaded.cleanup);
  const { settings, dir } = loaded;
  const store =
    options.store?.(settings, dir) ??
    createTokenStore(settings.oauth.token_store, {
      cwd: dir,
      homeDir: dir,
      ...(options.now ? { now: options.now } : {}),
    });
  cleanups.push(() => store.close().catch(() => {}));
  const tokens = managerFor(settings, store, options);
  const auth = serverAuthOf(tokens, settings);
  const record = await auth.authorize();
  const { key } = await auth.target();
  return { settings, dir, store, tokens, auth, record, key };
}

/** Rewrite the stored record's expiry (what time does to it), unconditionally. */
async function setExpiry(store: TokenStore, key: TokenKey, expiresAt: number): Promise<void> {
  const stored = await store.get(key);
  if (!stored) throw new Error('no stored record');
  await store.put(key, {
    ...stored.record,
    expiresAt,
    obtainedAt: expiresAt - TTL_S * 1000,
  });
}

/** Make the AS forget a refresh token, so that using it is `invalid_grant`. */
async function revoke(server: AuthorizationServer, refreshToken: Secret | undefined) {
  const found = await server.provider.RefreshToken.find(refreshToken?.reveal() ?? '');
  expect(found, 'the refresh token is known to the AS').toBeDefined();
  await found?.destroy();
}

function refreshesSince(server: AuthorizationServer, start: number): AuthorizationServerRequest[] {
  return tokenRequests(server.requests.slice(start), REFRESH);
}

async function settledAll<T>(
  count: number,
  run: () => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(Array.from({ length: count }, run));
}

function rejections<T>(results: PromiseSettledResult<T>[]): unknown[] {
  return results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
}

function values<T>(results: PromiseSettledResult<T>[]): T[] {
  return results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
}

/** Whether `init` is a refresh-token grant to a token endpoint. */
function isRefresh(input: string | URL, init: RequestInit | undefined): boolean {
  return (
    new URL(String(input)).pathname === '/token' &&
    String(init?.body ?? '').includes('grant_type=refresh_token')
  );
}

function initializeRequest(): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'lifecycle-test', version: '1.0.0' },
      },
    }),
  };
}

/** An AS and an MCP server of their own (for tests that stop the AS). */
async function dedicatedServers(accessTokenTtl: number) {
  const server = await startAuthorizationServer({ accessTokenTtl });
  const resource = await startProtectedMcpServer({
    issuer: server.issuer,
    requiredScopes: ['mcp:read'],
  });
  cleanups.push(
    () => server.close(),
    () => resource.close(),
  );
  return { server, resource };
}

// ---------------------------------------------------------------------------------------------
// Fake timers for the scheduler (nothing runs until the test says so)
// ---------------------------------------------------------------------------------------------

interface FakeTimer {
  readonly run: () => void;
  readonly ms: number;
  readonly at: number;
  cleared: boolean;
  fired: boolean;
}

function fakeTimers(clock: ManualClock) {
  const all: FakeTimer[] = [];
  const pending = () => all.filter((timer) => !timer.cleared && !timer.fired);
  const impl: SchedulerTimers = {
    set(run, ms) {
      const timer: FakeTimer = { run, ms, at: clock.now() + ms, cleared: false, fired: false };
      all.push(timer);
      return timer;
    },
    clear(handle) {
      (handle as FakeTimer).cleared = true;
    },
  };
  return {
    impl,
    pending,
    cleared: () => all.filter((timer) => timer.cleared),
    /** Wait until a timer is set (the scheduler reads the store first). */
    next: () => waitFor('a scheduled refresh', () => pending()[0]),
    /** Move the clock to `timer` and run it. */
    fire(timer: FakeTimer) {
      clock.set(Math.max(clock.now(), timer.at));
      timer.fired = true;
      timer.run();
    },
  };
}

/** A scheduler on `clock` with fake timers, recording its events. */
function backgroundOn(clock: ManualClock) {
  const timers = fakeTimers(clock);
  const scheduler = new RefreshScheduler({ now: clock.now, timers: timers.impl });
  // token() starts a watch() without awaiting it; keep each one so the test can await them all.
  const watches: Promise<void>[] = [];
  const watch = scheduler.watch.bind(scheduler);
  scheduler.watch = (target) => {
    const watching = watch(target);
    watches.push(watching);
    return watching;
  };
  /** Every watch() started so far has scheduled (or not) its refresh. */
  const watched = async (): Promise<void> => {
    while (watches.length > 0) await Promise.all(watches.splice(0));
  };
  const events: RefreshEvent[] = [];
  scheduler.on((event) => events.push(event));
  const event = <T extends RefreshEvent['type']>(type: T, after = 0) =>
    waitFor(`a "${type}" event`, () =>
      events
        .slice(after)
        .find((each): each is Extract<RefreshEvent, { type: T }> => each.type === type),
    );
  return { timers, scheduler, events, event, watched };
}

// ---------------------------------------------------------------------------------------------
// OS processes on the built library
// ---------------------------------------------------------------------------------------------

/** A worker process (test/oauth/lifecycle-worker.mjs) and the lines it printed. */
class WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  #cursor = 0;
  #partial = '';

  constructor() {
    this.child = spawn(process.execPath, [WORKER], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const text = this.#partial + chunk.toString();
      const parts = text.split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve([code, signal])),
    );
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  send(command: Record<string, unknown>): void {
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  /** The next line (after the last one taken) that starts with one of `prefixes`. */
  take(prefixes: readonly string[], ms = 15_000): Promise<string> {
    return waitFor(
      `a worker line starting with ${prefixes.join(' or ')}`,
      () => {
        for (let i = this.#cursor; i < this.lines.length; i++) {
          const line = this.lines[i] ?? '';
          if (prefixes.some((prefix) => line.startsWith(prefix))) {
            this.#cursor = i + 1;
            if (line.startsWith('failed ')) throw new Error(`worker: ${line}`);
            return line;
          }
        }
        if (!this.alive) throw new Error(`the worker exited: ${this.stderr}`);
        return undefined;
      },
      ms,
    );
  }

  /** Let it go (it exits at the end of stdin), or kill it if it is stuck. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * The worker processes, started once (they load the library while the first tests run) and
 * given one job per test: each job opens its own store and TokenManager, so nothing but the OS
 * process is shared between tests. The crash test gets a process of its own, which it kills.
 */
let workers: WorkerProcess[] = [];
let crashWorker: WorkerProcess | undefined;

beforeAll(() => {
  expect(existsSync(DIST_INDEX), 'dist/index.js is missing: run `npm run build` first').toBe(true);
  workers = Array.from({ length: 4 }, () => new WorkerProcess());
  crashWorker = new WorkerProcess();
});

afterAll(async () => {
  await Promise.all([...workers, ...(crashWorker ? [crashWorker] : [])].map((each) => each.stop()));
});

/** What `token()` gave each call of one worker: a token value or an error code. */
type WorkerResult = { token?: string | null; error?: string; message?: string }[];

/**
 * Have `count` workers prepare a job on the config in `dir`; once every one is ready (store
 * open, discovery warm), start them all at once and collect what each got.
 */
async function runWorkers(dir: string, count: number, calls: number): Promise<WorkerResult[]> {
  const chosen = workers.slice(0, count);
  for (const worker of chosen) worker.send({ op: 'prepare', dir, mode: 'token', calls });
  for (const worker of chosen) await worker.take(['ready', 'failed']);
  for (const worker of chosen) worker.send({ op: 'go' });
  const results: WorkerResult[] = [];
  for (const worker of chosen) {
    const line = await worker.take(['result ', 'failed']);
    results.push(JSON.parse(line.slice('result '.length)) as WorkerResult);
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// A fault-injecting HTTP proxy in front of the AS
// ---------------------------------------------------------------------------------------------

type Fault =
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly ms: number }
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly headers: Record<string, string>;
      readonly body: string;
    }
  | { readonly kind: 'drop' };

interface FaultProxy {
  readonly origin: string;
  /** What happens to token endpoint requests; everything else passes. */
  fault: Fault;
  /** Token endpoint requests the proxy received. */
  tokenHits: number;
  /** An OAuth fetch that sends every request for the AS's origin through the proxy. */
  readonly fetch: OAuthFetch;
  close(): Promise<void>;
}

async function startFaultProxy(target: AuthorizationServer): Promise<FaultProxy> {
  const upstream = new URL(target.issuer);
  const sockets = new Set<Socket>();
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  };
  const server = createServer((req, res) => {
    const isToken = new URL(req.url ?? '/', 'http://proxy').pathname === '/token';
    if (!isToken) return forward(req, res);
    proxy.tokenHits += 1;
    const fault = proxy.fault;
    switch (fault.kind) {
      case 'pass':
        return forward(req, res);
      case 'delay':
        setTimeout(() => forward(req, res), fault.ms);
        return;
      case 'answer':
        req.resume();
        req.on('end', () => res.writeHead(fault.status, fault.headers).end(fault.body));
        return;
      case 'drop':
        req.socket.destroy();
        return;
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const proxy: FaultProxy = {
    origin,
    fault: { kind: 'pass' },
    tokenHits: 0,
    fetch: (input, init) => {
      const url = new URL(String(input));
      if (url.origin === upstream.origin) {
        const via = new URL(origin);
        url.host = via.host;
      }
      return fetch(url, init);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  cleanups.push(() => proxy.close());
  return proxy;
}

// ---------------------------------------------------------------------------------------------
// A redis-server of our own, with persistence, that can be killed and restarted
// ---------------------------------------------------------------------------------------------

interface OwnRedis {
  readonly url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `redis-server` on a free port with an append-only file fsynced on every write: killed with
 * SIGKILL and restarted, it comes back with its data, as a production Redis with persistence
 * does (the shared fixture runs without persistence, where a restart loses everything).
 */
async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-lifecycle-redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        dir,
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      };
      started.stdout?.on('data', onData);
      started.stderr?.on('data', onData);
      started.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    });
    await within(`redis-server on port ${port}`, ready, 5_000);
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await within('redis-server to exit', exited, 5_000);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// =============================================================================================
// Tests
// =============================================================================================

describe('single flight in one process', () => {
  test.each(['memory', 'file'] as const)(
    '%s: 200 concurrent token() over one expired token → exactly 1 refresh grant; every caller gets the same new token',
    async (backend) => {
      const clock = manualClock(Date.now());
      const { auth, store, key, record } = await loggedIn({ backend, now: clock.now });
      clock.set((record.expiresAt ?? 0) + 1_000);
      const start = as.requests.length;
      const results = await settledAll(200, () => auth.token());
      expect(rejections(results)).toEqual([]);
      const seen = new Set(values(results).map((token) => token?.reveal()));
      expect(seen.size).toBe(1);
      const [token] = [...seen];
      expect(token).toBeTruthy();
      expect(token).not.toBe(record.accessToken.reveal());
      expect((await store.get(key))?.record.accessToken.reveal()).toBe(token);
      const refreshes = refreshesSince(as, start);
      expect(refreshes).toHaveLength(1);
      expect(refreshes[0]?.status).toBe(200);
    },
  );

  test('50 concurrent tool calls over one expired token → 1 refresh grant; every request goes out with the new token', async () => {
    const clock = manualClock(Date.now());
    const { settings, tokens, store, key, record } = await loggedIn({ now: clock.now });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const connection = await registry.connect('notion');
    expect(JSON.parse(resultText(await connection.callTool('whoami', {}))).sub).toBe('alice');
    clock.set((record.expiresAt ?? 0) + 1_000);
    const start = as.requests.length;
    const mcpStart = mcp.requests.length;
    const results = await settledAll(50, () => connection.callTool('whoami', {}));
    expect(rejections(results)).toEqual([]);
    for (const result of values(results)) expect(JSON.parse(resultText(result)).sub).toBe('alice');
    expect(refreshesSince(as, start)).toHaveLength(1);
    const stored = (await store.get(key))?.record.accessToken.reveal();
    const sent = mcp.requests.slice(mcpStart).filter((each) => each.method === 'POST');
    expect(sent).toHaveLength(50);
    expect(new Set(sent.map((each) => each.token))).toEqual(new Set([stored]));
    expect(sent.every((each) => each.status === 200)).toBe(true);
  });

  test('a refused refresh (invalid_grant): 200 concurrent refreshIfDue() → 1 refresh grant, all get the same OAUTH_LOGIN_REQUIRED; the unchanged record is deleted', async () => {
    const clock = manualClock(Date.now());
    const { auth, store, key, record } = await loggedIn({ now: clock.now });
    await revoke(as, record.refreshToken);
    clock.set((record.expiresAt ?? 0) + 1_000);
    const start = as.requests.length;
    const results = await settledAll(200, () => auth.refreshIfDue());
    expect(values(results)).toEqual([]);
    const errors = new Set(rejections(results));
    expect(errors.size).toBe(1);
    const [error] = [...errors];
    expect(error).toBeInstanceOf(McpAgentError);
    expect(error).toMatchObject({ code: 'OAUTH_LOGIN_REQUIRED' });
    expect((error as Error).message).toContain('invalid_grant');
    expect((error as Error).message).toContain('mcp-agent auth login notion');
    const refreshes = refreshesSince(as, start);
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.status).toBe(400);
    expect(await store.get(key)).toBeUndefined();
  });

  test('a refused refresh through the auth-aware fetch: 100 concurrent requests → 1 refresh grant, every one fails with the same handed-over login (no user to ask)', async () => {
    const clock = manualClock(Date.now());
    const { settings, store, record } = await loggedIn({ now: clock.now });
    await revoke(as, record.refreshToken);
    clock.set((record.expiresAt ?? 0) + 1_000);
    const headless = managerFor(settings, store, { now: clock.now, consent: false });
    const auth = serverAuthOf(headless, settings);
    const authFetch = withOAuth(fetch, auth, new URL(mcp.url));
    const start = as.requests.length;
    const results = await settledAll(100, () => authFetch(mcp.url, initializeRequest()));
    expect(values(results)).toEqual([]);
    const errors = rejections(results);
    expect(errors).toHaveLength(100);
    const flows = new Set<string>();
    for (const error of errors) {
      expect(error).toBeInstanceOf(AuthorizationRequiredError);
      expect(error).toMatchObject({ code: 'OAUTH_LOGIN_REQUIRED', server: 'notion' });
      flows.add((error as AuthorizationRequiredError).flowId);
    }
    // One login is handed over, not one per request.
    expect(flows.size).toBe(1);
    expect(refreshesSince(as, start)).toHaveLength(1);
  });

  test('regression: a caller whose read was answered before a refused refresh deleted the record, but reached it after that flight ended, does not send the refused refresh token again', async () => {
    // The interleaving the file and Redis stores allow: the read of caller B is served (old
    // record) while caller A's refresh is in flight, and reaches B after A's flight has ended and
    // invalid_grant deleted the record. B takes the lease and finds no record on the re-read; it
    // used to fall back to the stale one (`latest ?? stored` in refreshHeld) and refresh with the
    // refresh token the AS had just refused.
    const clock = manualClock(Date.now());
    let hold: (() => void) | undefined;
    let holdNext = false;
    class HeldReadStore extends TokenStore {
      override async get(key: TokenKey): Promise<StoredToken | undefined> {
        const value = await super.get(key);
        if (holdNext) {
          holdNext = false;
          await new Promise<void>((resolve) => {
            hold = resolve;
          });
        }
        return value;
      }
    }
    const { auth, store, key, record } = await loggedIn({
      now: clock.now,
      store: () =>
        new HeldReadStore(new MemoryKeyValueStore({ now: clock.now }), { now: clock.now }),
    });
    await revoke(as, record.refreshToken);
    clock.set((record.expiresAt ?? 0) + 1_000);
    const start = as.requests.length;
    const a = auth.token();
    // A reads first; the next read (B's) is held.
    await new Promise((resolve) => setImmediate(resolve));
    holdNext = true;
    const b = auth.token();
    expect(await a).toBeUndefined();
    expect(await store.get(key)).toBeUndefined();
    await waitFor('the held read', () => hold);
    hold?.();
    expect(await b).toBeUndefined();
    const refreshes = refreshesSince(as, start);
    expect(refreshes.map((each) => each.status)).toEqual([400]);
  });
});

describe('single flight across processes', () => {
  async function acrossProcesses(backend: 'file' | 'redis') {
    const { dir, store, key, record } = await loggedIn({ backend });
    await setExpiry(store, key, Date.now() - 1_000);
    const start = as.requests.length;
    const results = (await runWorkers(dir, 4, 25)).flat();
    expect(results).toHaveLength(100);
    expect(results.filter((each) => each.error !== undefined)).toEqual([]);
    const seen = new Set(results.map((each) => each.token));
    const stored = (await store.get(key))?.record;
    expect(seen).toEqual(new Set([stored?.accessToken.reveal()]));
    expect(stored?.accessToken.reveal()).not.toBe(record.accessToken.reveal());
    expect(stored?.refreshToken?.reveal()).not.toBe(record.refreshToken?.reveal());
    const refreshes = refreshesSince(as, start);
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.status).toBe(200);
    // No process used a refresh token the AS had already rotated away.
    expect(
      as.requests.slice(start).filter((each) => each.path === '/token' && each.status !== 200),
    ).toEqual([]);
    // The token all of them got is good at the MCP server.
    const answer = await fetch(mcp.url, {
      ...initializeRequest(),
      headers: {
        ...(initializeRequest().headers as Record<string, string>),
        authorization: `Bearer ${stored?.accessToken.reveal()}`,
      },
    });
    expect(answer.status).toBe(200);
    await answer.body?.cancel();
  }

  test('file store: 4 processes × 25 concurrent token() over one expired token → 1 refresh grant, one token everywhere, no invalid_grant', async () => {
    await acrossProcesses('file');
  });

  testWith(sharedRedis)(
    'redis store: 4 processes × 25 concurrent token() over one expired token → 1 refresh grant, one token everywhere, no invalid_grant',
    async () => {
      await acrossProcesses('redis');
    },
  );

  test('regression: file store, a refused refresh token, 4 processes: one invalid_grant in all (the processes waiting on the lease do not send it again), no token, the record deleted', async () => {
    // Each waiting process used to find the record gone under the lease, fall back to its stale
    // copy and send the refused refresh token again: one invalid_grant per process.
    const { dir, store, key, record } = await loggedIn({ backend: 'file' });
    await revoke(as, record.refreshToken);
    await setExpiry(store, key, Date.now() - 1_000);
    const start = as.requests.length;
    const results = (await runWorkers(dir, 4, 5)).flat();
    // token() hands out no token (the request then goes without, and its 401 asks for a login).
    expect(results.every((each) => each.token === null)).toBe(true);
    expect(await store.get(key)).toBeUndefined();
    expect(refreshesSince(as, start).map((each) => each.status)).toEqual([400]);
  });
});

describe('rotation safety', () => {
  test('a refresh response without refresh_token keeps the old refresh token with the new access token', async () => {
    const clock = manualClock(Date.now());
    const stripRefreshToken: OAuthFetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!isRefresh(input, init) || response.status !== 200) return response;
      const json = (await response.json()) as Record<string, unknown>;
      expect(json.refresh_token).toBeTruthy();
      delete json.refresh_token;
      return new Response(JSON.stringify(json), {
        status: 200,
        headers: { 'content-type': 'application/json;charset=utf-8', 'cache-control': 'no-store' },
      });
    };
    const { auth, store, key, record } = await loggedIn({
      now: clock.now,
      fetch: stripRefreshToken,
    });
    clock.set((record.expiresAt ?? 0) + 1_000);
    const start = as.requests.length;
    const token = await auth.token();
    expect(refreshesSince(as, start)).toHaveLength(1);
    const stored = (await store.get(key))?.record;
    expect(token?.reveal()).toBe(stored?.accessToken.reveal());
    expect(stored?.accessToken.reveal()).not.toBe(record.accessToken.reveal());
    expect(stored?.refreshToken?.reveal()).toBe(record.refreshToken?.reveal());
    expect(stored?.expiresAt).toBe(clock.now() + TTL_S * 1000);
  });

  test('invalid_grant after another process rotated the record meanwhile: the record is not deleted (only one still holding the failed refresh token is)', async () => {
    const clock = manualClock(Date.now());
    let store: TokenStore | undefined;
    let key: TokenKey | undefined;
    // Another process refreshes between this one's read under the lease and the AS's answer.
    const peerRotates: OAuthFetch = async (input, init) => {
      if (isRefresh(input, init) && store && key) {
        const current = await store.get(key);
        if (current) {
          await store.put(key, {
            ...current.record,
            accessToken: new Secret('access-written-by-a-peer'),
            refreshToken: new Secret('refresh-written-by-a-peer'),
            obtainedAt: clock.now(),
            expiresAt: clock.now() + TTL_S * 1000,
          });
        }
      }
      return fetch(input, init);
    };
    const login = await loggedIn({ now: clock.now, fetch: peerRotates });
    ({ store, key } = login);
    await revoke(as, login.record.refreshToken);
    clock.set((login.record.expiresAt ?? 0) + 1_000);
    const start = as.requests.length;
    const outcome = await login.auth.refreshIfDue().catch((error: unknown) => error);
    expect(refreshesSince(as, start).map((each) => each.status)).toEqual([400]);
    // The peer's record survives; whatever this caller was told, the next one gets the peer's token.
    expect(outcome === 'refreshed' || isLoginRequired(outcome)).toBe(true);
    const kept = await store.get(key);
    expect(kept?.record.refreshToken?.reveal()).toBe('refresh-written-by-a-peer');
    expect((await login.auth.token())?.reveal()).toBe('access-written-by-a-peer');
  });
});

function isLoginRequired(error: unknown): boolean {
  return error instanceof McpAgentError && error.code === 'OAUTH_LOGIN_REQUIRED';
}

describe('a crash between the AS answer and the write', () => {
  test('SIGKILL right after the refresh response: the file still parses, the old record and a lapsing lease remain; the next run asks to log in again, clearly', async () => {
    const { dir, store, key, record, settings } = await loggedIn({ backend: 'file' });
    await setExpiry(store, key, Date.now() - 1_000);
    const start = as.requests.length;
    const worker = crashWorker;
    if (!worker) throw new Error('no crash worker');
    worker.send({ op: 'prepare', dir, mode: 'crash', calls: 1 });
    await worker.take(['ready', 'failed']);
    worker.send({ op: 'go' });
    const [, signal] = await within('the worker to die', worker.exited, 15_000);
    expect(signal).toBe('SIGKILL');
    expect(worker.lines).toContain('answered 200');
    expect(worker.lines.some((line) => line.startsWith('result '))).toBe(false);
    // The AS rotated: the refresh token in the store has been used.
    expect(refreshesSince(as, start).map((each) => each.status)).toEqual([200]);

    const file = join(dir, 'tokens.json');
    const contents = JSON.parse(readFileSync(file, 'utf8')) as {
      entries: Record<string, { value: string; version: number; expiresAt?: number }>;
    };
    const id = storageKey(key);
    const kept = JSON.parse(contents.entries[id]?.value ?? '{}') as Record<string, unknown>;
    expect(kept.refresh_token).toBe(record.refreshToken?.reveal());
    const lease = contents.entries[`${LEASE_KEY_PREFIX}${id}`];
    expect(lease, 'the dead process still holds the lease').toBeDefined();
    expect(lease?.expiresAt).toBeGreaterThan(Date.now());
    expect(lease?.expiresAt).toBeLessThanOrEqual(Date.now() + LEASE_TTL_MS);
    expect(readdirTmp(dir)).toEqual([]);

    // The next run, once the lease has lapsed (its clock moved past it, not a real wait).
    const later = () => Date.now() + LEASE_TTL_MS + 1_000;
    const nextStore = createTokenStore(settings.oauth.token_store, {
      cwd: dir,
      homeDir: dir,
      now: later,
    });
    cleanups.push(() => nextStore.close());
    const next = serverAuthOf(
      managerFor(settings, nextStore, { now: later, consent: false }),
      settings,
    );
    const began = Date.now();
    const error = await next.refreshIfDue().catch((caught: unknown) => caught);
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(McpAgentError);
    expect(error).toMatchObject({ code: 'OAUTH_LOGIN_REQUIRED' });
    expect((error as Error).message).toContain('mcp-agent auth login notion');
    expect(await next.token()).toBeUndefined();
    const after = JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, unknown> };
    expect(after.entries[id]).toBeUndefined();
    expect(after.entries[`${LEASE_KEY_PREFIX}${id}`]).toBeUndefined();
  });
});

/** Temporary files a store left beside its file. */
function readdirTmp(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

describe('outages of the authorization server', () => {
  test('AS stopped, token still valid but inside the leeway: token() returns it and logs a warning; tool calls keep working', async () => {
    const { server, resource } = await dedicatedServers(120);
    const clock = manualClock(Date.now());
    const logger = recordingLogger();
    const { settings, tokens, auth, record } = await loggedIn({
      url: resource.url,
      now: clock.now,
      logger,
    });
    const registry = openRegistryWith(settings, tokens, cleanups);
    const connection = await registry.connect('notion');
    expect(JSON.parse(resultText(await connection.callTool('whoami', {}))).sub).toBe('alice');
    await server.close();
    clock.set((record.expiresAt ?? 0) - 30_000);
    expect((await auth.token())?.reveal()).toBe(record.accessToken.reveal());
    const warning = logger.calls.find((call) => call.level === 'warn');
    expect(warning?.message).toContain('"notion"');
    expect(warning?.message).toContain('could not be refreshed');
    expect(warning?.message).toContain('until it expires');
    expect(JSON.parse(resultText(await connection.callTool('whoami', {}))).sub).toBe('alice');
  });

  test('AS stopped, token expired: one clear OAUTH_TOKEN error naming the AS, one refresh attempt for 10 concurrent callers', async () => {
    const { server, resource } = await dedicatedServers(120);
    const clock = manualClock(Date.now());
    let attempts = 0;
    const counting: OAuthFetch = (input, init) => {
      if (isRefresh(input, init)) attempts += 1;
      return fetch(input, init);
    };
    const { auth, record } = await loggedIn({ url: resource.url, now: clock.now, fetch: counting });
    await server.close();
    clock.set((record.expiresAt ?? 0) + 1_000);
    const results = await settledAll(10, () => auth.token());
    const errors = rejections(results);
    expect(errors).toHaveLength(10);
    expect(new Set(errors.map((error) => (error as Error).message)).size).toBe(1);
    const error = errors[0] as McpAgentError;
    expect(error).toBeInstanceOf(McpAgentError);
    expect(error.code).toBe('OAUTH_TOKEN');
    expect(error.message).toContain('"notion"');
    expect(error.message).toContain('expired');
    expect(error.message).toContain(server.issuer);
    expect(attempts).toBe(1);
  });

  test('regression: AS stopped, a valid token and a cold discovery cache (a new process, or the same one 6 minutes later): token() still gives the stored token', async () => {
    // The token key is built from discovery, and discovery needs the AS's metadata: with the AS
    // down and nothing cached, token() used to fail on discovery (or return undefined), so a
    // token good for another hour was not sent and the call failed.
    const { server, resource } = await dedicatedServers(3600);
    const clock = manualClock(Date.now());
    const { settings, store, record, auth } = await loggedIn({ url: resource.url, now: clock.now });
    await server.close();
    const reveal = (token: unknown) => (token instanceof Secret ? token.reveal() : token);
    // The same process, once its 5-minute discovery cache has lapsed.
    clock.advance(6 * 60_000);
    expect(reveal(await auth.token().catch((error: unknown) => error))).toBe(
      record.accessToken.reveal(),
    );
    // A new process.
    const fresh = serverAuthOf(
      managerFor(settings, store, { now: clock.now, consent: false }),
      settings,
    );
    expect(reveal(await fresh.token().catch((error: unknown) => error))).toBe(
      record.accessToken.reveal(),
    );
  });
});

describeWith(redisServer)('outages of Redis (a redis-server of our own, with persistence)', () => {
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await startOwnRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test('killed (SIGKILL) mid-flight and restarted: calls keep the token in use, store reads get STORE_UNAVAILABLE quickly; afterwards the same client works and the record survived', async () => {
    const { auth, store, key, record } = await loggedIn({
      backend: 'redis',
      redisUrl: redis.url,
    });
    expect((await auth.token())?.reveal()).toBe(record.accessToken.reveal());
    const inFlight = settledAll(50, () => auth.token());
    await redis.kill();
    for (const result of await inFlight) {
      if (result.status === 'fulfilled') {
        expect(result.value?.reveal()).toBe(record.accessToken.reveal());
      } else {
        expect(result.reason).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      }
    }
    // The token this process already uses keeps working while Redis is away (no store read)…
    expect((await auth.token())?.reveal()).toBe(record.accessToken.reveal());
    // …and what does need the store fails quickly with one clear error.
    const began = Date.now();
    const during = await store.get(key).catch((error: unknown) => error);
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(during).toBeInstanceOf(McpAgentError);
    expect(during).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect((during as Error).message).toContain(redis.url.replace('redis://', ''));
    await redis.start();
    const after = await waitFor(
      'the store to answer again',
      async () => (await store.get(key).catch(() => undefined))?.record.accessToken.reveal(),
      8_000,
    );
    expect(after).toBe(record.accessToken.reveal());
    expect((await auth.token())?.reveal()).toBe(record.accessToken.reveal());
    expect((await store.get(key))?.record.refreshToken?.reveal()).toBe(
      record.refreshToken?.reveal(),
    );
  });

  test('its connections killed (CLIENT KILL TYPE normal): an error at most, then the same client reconnects; nothing lost', async () => {
    const { auth, store, key, record } = await loggedIn({
      backend: 'redis',
      redisUrl: redis.url,
    });
    const raw = await rawRedis(redis.url);
    try {
      const inFlight = settledAll(20, () => auth.token());
      await raw.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal']);
      for (const result of await inFlight) {
        if (result.status === 'rejected') {
          expect(result.reason).toMatchObject({ code: 'STORE_UNAVAILABLE' });
        } else {
          expect(result.value?.reveal()).toBe(record.accessToken.reveal());
        }
      }
    } finally {
      raw.destroy();
    }
    const after = await waitFor(
      'the store to answer again',
      async () => (await store.get(key).catch(() => undefined))?.record.accessToken.reveal(),
      5_000,
    );
    expect(after).toBe(record.accessToken.reveal());
    expect((await store.get(key))?.version).toBeGreaterThan(0);
  });

  test('regression: a Redis that stops answering (CLIENT PAUSE, as a hung server or a partition): a command gives up after commandTimeoutMs with STORE_UNAVAILABLE', async () => {
    // commandTimeoutMs used to bound only the connection: a command waited as long as Redis did.
    const prefix = `mcp-agent-ts-lifecycle-pause-${process.pid}`;
    const kv = new RedisKeyValueStore({ url: redis.url, prefix, commandTimeoutMs: 200 });
    cleanups.push(() => kv.close());
    await kv.set('probe', 'value');
    const raw = await rawRedis(redis.url);
    await raw.sendCommand(['CLIENT', 'PAUSE', '1000', 'ALL']);
    raw.destroy();
    const began = Date.now();
    const outcome = await kv.get('probe').catch((error: unknown) => error);
    const waited = Date.now() - began;
    expect({ outcome, gaveUpWithin600ms: waited < 600 }).toMatchObject({
      outcome: { code: 'STORE_UNAVAILABLE' },
      gaveUpWithin600ms: true,
    });
  });
});

describe('background refresh', () => {
  test('a token in use is refreshed before it expires without any request; "refreshed" event; a refused refresh → "needs-login", nothing more scheduled', async () => {
    const clock = manualClock(Date.now());
    const background = backgroundOn(clock);
    const { auth, store, key, record, tokens } = await loggedIn({
      now: clock.now,
      backgroundRefresh: background.scheduler,
    });
    expect(tokens.scheduler).toBe(background.scheduler);
    const first = await background.timers.next();
    const expiresAt = record.expiresAt ?? 0;
    // Inside the leeway window (15 s for a 30 s token), with jitter, before the expiry.
    expect(first.at).toBeLessThan(expiresAt);
    expect(first.at).toBeGreaterThanOrEqual(expiresAt - (TTL_S * 1000) / 2);
    const start = as.requests.length;
    const mcpStart = mcp.requests.length;
    background.timers.fire(first);
    const refreshed = await background.event('refreshed');
    expect(refreshed).toEqual({ type: 'refreshed', server: 'notion' });
    expect(refreshesSince(as, start)).toHaveLength(1);
    expect(mcp.requests.length).toBe(mcpStart);
    const stored = (await store.get(key))?.record;
    expect(stored?.accessToken.reveal()).not.toBe(record.accessToken.reveal());
    expect(stored?.expiresAt).toBeGreaterThan(clock.now());
    // The next refresh is scheduled for the new token; a request now needs no refresh.
    expect((await background.timers.next()).at).toBeGreaterThan(first.at);
    expect((await auth.token())?.reveal()).toBe(stored?.accessToken.reveal());
    expect(refreshesSince(as, start)).toHaveLength(1);
    // token() watches again (a new jittered time may replace the scheduled one): let it land.
    await background.watched();
    expect(background.timers.pending()).toHaveLength(1);
    const [second] = background.timers.pending();
    if (!second) throw new Error('unreachable');

    await revoke(as, stored?.refreshToken);
    const mark = background.events.length;
    background.timers.fire(second);
    const needsLogin = await background.event('needs-login', mark);
    expect(needsLogin.server).toBe('notion');
    expect(needsLogin.error.code).toBe('OAUTH_LOGIN_REQUIRED');
    expect(needsLogin.error.message).toContain('mcp-agent auth login notion');
    expect(refreshesSince(as, start).map((each) => each.status)).toEqual([200, 400]);
    expect(background.timers.pending()).toEqual([]);
    expect(background.scheduler.isWatching('notion')).toBe(false);
    expect(await store.get(key)).toBeUndefined();
  });

  test('regression: the jitter of the background refresh survives traffic: one time is drawn per token, not per request', async () => {
    // ServerAuth.token() calls scheduler.watch() on every request; nextRefreshAt() draws a new
    // random time in the first quarter of the leeway window each time (Math.random, not the
    // scheduler's injected random), and #schedule keeps the earliest. After n requests the timer
    // sits at the minimum of n draws, i.e. at the start of the window: every replica under load
    // fires at the same moment, which the jitter exists to prevent (and the timer is cleared and
    // set again on many requests).
    const clock = manualClock(Date.now());
    const background = backgroundOn(clock);
    const { auth, record } = await loggedIn({
      now: clock.now,
      backgroundRefresh: background.scheduler,
    });
    const first = await background.timers.next();
    for (let i = 0; i < 200; i++) await auth.token();
    await background.watched();
    const scheduled = background.timers.pending();
    expect(scheduled).toHaveLength(1);
    const windowStart = (record.expiresAt ?? 0) - (TTL_S * 1000) / 2;
    // One token, one drawn time: the requests do not move it (nor re-set the timer).
    expect({
      movedBy: Math.round(first.at - (scheduled[0]?.at ?? 0)),
      timersSet: background.timers.pending().length + background.timers.cleared().length,
      firstDrawAfterWindowStart: Math.round(first.at - windowStart),
    }).toEqual({
      movedBy: 0,
      timersSet: 1,
      firstDrawAfterWindowStart: Math.round(first.at - windowStart),
    });
  });

  test('switched off (the default): no scheduler, nothing refreshed behind the caller', async () => {
    // Nothing is left behind to run later: neither the login nor token() starts a background watch.
    const watch = vi.spyOn(RefreshScheduler.prototype, 'watch');
    cleanups.push(() => watch.mockRestore());
    const clock = manualClock(Date.now());
    const { tokens, auth, record } = await loggedIn({ now: clock.now });
    expect(tokens.scheduler).toBeUndefined();
    const events: RefreshEvent[] = [];
    cleanups.push(tokens.onRefreshEvent((event) => events.push(event)));
    const start = as.requests.length;
    expect((await auth.token())?.reveal()).toBe(record.accessToken.reveal());
    clock.set((record.expiresAt ?? 0) - 5_000);
    expect(watch).not.toHaveBeenCalled();
    expect(refreshesSince(as, start)).toEqual([]);
    expect(events).toEqual([]);
  });
});

describe('clock skew', () => {
  test.each([
    ['ahead', 300_000],
    ['behind', -300_000],
  ])('the local clock 5 minutes %s: login, calls and the refresh work', async (_, skew) => {
    let offset = 0;
    const now = () => Date.now() + skew + offset;
    const { settings, tokens, store, key, record } = await loggedIn({ now });
    // Expiry counted from expires_in on the local clock, whatever the AS's clock says.
    expect((record.expiresAt ?? 0) - now()).toBeGreaterThan((TTL_S - 5) * 1000);
    expect((record.expiresAt ?? 0) - now()).toBeLessThanOrEqual(TTL_S * 1000);
    const start = as.requests.length;
    const registry = openRegistryWith(settings, tokens, cleanups);
    const connection = await registry.connect('notion');
    expect(JSON.parse(resultText(await connection.callTool('whoami', {}))).sub).toBe('alice');
    // Not refreshed early (ahead) nor judged valid too long (behind): no refresh yet…
    expect(refreshesSince(as, start)).toEqual([]);
    // …and one once the token is due on the local clock.
    offset = (record.expiresAt ?? 0) - 5_000 - (Date.now() + skew);
    expect(JSON.parse(resultText(await connection.callTool('whoami', {}))).sub).toBe('alice');
    expect(refreshesSince(as, start)).toHaveLength(1);
    const stored = (await store.get(key))?.record;
    expect(stored?.accessToken.reveal()).not.toBe(record.accessToken.reveal());
    expect((stored?.expiresAt ?? 0) - now()).toBeGreaterThan((TTL_S - 5) * 1000);
    expect(JSON.parse(resultText(await connection.callTool('whoami', {}))).sub).toBe('alice');
    expect(refreshesSince(as, start)).toHaveLength(1);
  });
});

describe('a fault-injecting proxy in front of the AS', () => {
  async function throughProxy(options: { background?: boolean; logger?: Logger } = {}) {
    const proxy = await startFaultProxy(as);
    const clock = manualClock(Date.now());
    const background = backgroundOn(clock);
    const login = await loggedIn({
      now: clock.now,
      fetch: proxy.fetch,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.background ? { backgroundRefresh: background.scheduler } : {}),
    });
    expect(proxy.tokenHits).toBe(1);
    return { proxy, clock, background, ...login };
  }

  test('a slow token endpoint (300 ms): 50 concurrent callers wait for the one refresh', async () => {
    const { proxy, clock, auth, record } = await throughProxy();
    proxy.fault = { kind: 'delay', ms: 300 };
    clock.set((record.expiresAt ?? 0) + 1_000);
    const start = as.requests.length;
    const began = Date.now();
    const results = await settledAll(50, () => auth.token());
    expect(Date.now() - began).toBeGreaterThanOrEqual(290);
    expect(rejections(results)).toEqual([]);
    expect(new Set(values(results).map((token) => token?.reveal())).size).toBe(1);
    expect(proxy.tokenHits).toBe(2);
    expect(refreshesSince(as, start)).toHaveLength(1);
  });

  test('429 with Retry-After and an OAuth error body: "failed" retrying after exactly the server\'s 3 s, then "refreshed"', async () => {
    const { proxy, background, store, key, record } = await throughProxy({ background: true });
    const first = await background.timers.next();
    proxy.fault = {
      kind: 'answer',
      status: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '3' },
      body: JSON.stringify({ error: 'slow_down', error_description: 'too many refreshes' }),
    };
    const start = as.requests.length;
    background.timers.fire(first);
    const failed = await background.event('failed');
    expect(failed.retryInMs).toBe(3_000);
    expect(failed.error.message).toContain(as.issuer);
    expect(failed.error.message).toContain('slow_down');
    const retry = await background.timers.next();
    expect(retry.ms).toBe(3_000);
    proxy.fault = { kind: 'pass' };
    background.timers.fire(retry);
    await background.event('refreshed');
    expect(refreshesSince(as, start)).toHaveLength(1);
    expect((await store.get(key))?.record.accessToken.reveal()).not.toBe(
      record.accessToken.reveal(),
    );
  });

  test('5xx without Retry-After: retried with growing, jittered backoff (≤ 1 s, then ≤ 2 s), then refreshed', async () => {
    const { proxy, background } = await throughProxy({ background: true });
    const first = await background.timers.next();
    proxy.fault = {
      kind: 'answer',
      status: 502,
      headers: { 'content-type': 'text/html' },
      body: '<html>Bad Gateway</html>',
    };
    background.timers.fire(first);
    const one = await background.event('failed');
    expect(one.retryInMs).toBeGreaterThanOrEqual(500);
    expect(one.retryInMs).toBeLessThanOrEqual(1_000);
    expect(one.error.message).toContain(as.issuer);
    const mark = background.events.length;
    background.timers.fire(await background.timers.next());
    const two = await background.event('failed', mark);
    expect(two.retryInMs).toBeGreaterThanOrEqual(1_000);
    expect(two.retryInMs).toBeLessThanOrEqual(2_000);
    proxy.fault = { kind: 'pass' };
    background.timers.fire(await background.timers.next());
    await background.event('refreshed');
  });

  test('dropped connections: a token inside the leeway is still used (warning), an expired one is one clear OAUTH_TOKEN error naming the AS, the background refresh backs off', async () => {
    const logger = recordingLogger();
    const { proxy, clock, background, auth, record } = await throughProxy({
      background: true,
      logger,
    });
    const first = await background.timers.next();
    proxy.fault = { kind: 'drop' };
    clock.set((record.expiresAt ?? 0) - 5_000);
    expect((await auth.token())?.reveal()).toBe(record.accessToken.reveal());
    expect(logger.calls.some((call) => call.level === 'warn')).toBe(true);
    background.timers.fire(first);
    const failed = await background.event('failed');
    expect(failed.retryInMs).toBeLessThanOrEqual(1_000);
    clock.set((record.expiresAt ?? 0) + 1_000);
    const error = await auth.token().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    expect(error).toMatchObject({ code: 'OAUTH_TOKEN' });
    expect((error as Error).message).toContain(as.issuer);
    expect((error as Error).message).toContain('expired');
  });

  test.each([
    {
      what: '503 with an OAuth error body (maintenance)',
      status: 503,
      type: 'application/json',
      body: JSON.stringify({ error: 'temporarily_unavailable' }),
    },
    {
      what: '429 with a plain-text body (a rate limiter in front of the AS)',
      status: 429,
      type: 'text/plain',
      body: 'Too Many Requests',
    },
  ])('regression: Retry-After is honoured on a $what', async ({ status, type, body }) => {
    // Retry-After used to be read only from an oauth4webapi ResponseBodyError, which it raises
    // only for a 4xx answer with a JSON OAuth error; any 5xx, or a 429 from a proxy, became a
    // plain McpAgentError without retryAfterMs, and the scheduler retried after ~1 s, not 7 s.
    const { proxy, background } = await throughProxy({ background: true });
    const first = await background.timers.next();
    proxy.fault = {
      kind: 'answer',
      status,
      headers: { 'content-type': type, 'retry-after': '7' },
      body,
    };
    background.timers.fire(first);
    const failed = await background.event('failed');
    expect(failed.error.message).toContain(as.issuer);
    expect(failed.retryInMs).toBe(7_000);
  });
});
