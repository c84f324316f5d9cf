/**
 * Concurrent first sign-ins to one downstream server: one dynamic client registration at the real
 * authorization server, whether the logins run in one process (each caller with its own token
 * manager on the shared store, as a served agent's callers do) or in separate OS processes sharing
 * a file or Redis store (test/oauth/registration-worker.mjs, on the built library).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { AuthorizationRequiredError } from '../../src/errors.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { createTokenStore } from '../../src/stores/token-store.js';
import { tempTree } from '../helpers/cli.js';
import {
  type AuthorizationServer,
  type AuthorizationServerRequest,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { loadConfig } from '../support/config.js';
import { freePort, waitFor } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import { deleteRedisKeys, redisReachable } from '../support/redis-server.js';
import { field, requestsTo, serverAuthOf, tokenRequests } from './harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('./registration-worker.mjs', import.meta.url));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** How long the first registration is held for a second one (without the lease) to arrive. */
const RACE_WINDOW_MS = 1_000;

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
let redisUp = false;
/** While set, the first registration request is held until a second arrives (or the window ends). */
let holding = false;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  let released: (() => void) | undefined;
  as = await startAuthorizationServer({
    hold: (request) => {
      if (!holding || request.path !== '/reg') return undefined;
      if (released) {
        released();
        return undefined;
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RACE_WINDOW_MS);
        released = () => {
          clearTimeout(timer);
          resolve();
        };
      }).finally(() => {
        released = undefined;
      });
    },
  });
  mcp = await startProtectedMcpServer({ issuer: as.issuer, requiredScopes: ['mcp:read'] });
  redisUp = await redisReachable(REDIS_URL);
});

afterEach(async () => {
  holding = false;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

function configYaml(port: number, store: readonly string[]): string {
  return `
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${mcp.url}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
oauth:
  loopback_ports: [${port}]
  token_store:
${store.map((line) => `    ${line}`).join('\n')}
`;
}

function registrations(requests: readonly AuthorizationServerRequest[]) {
  return requestsTo(requests, '/reg', 'POST');
}

describe('in one process', () => {
  test('8 callers, each with their own token manager on the shared store: one registration, every sign-in completes with it', async () => {
    const loaded = loadConfig(configYaml(await freePort(), ['backend: memory']));
    cleanups.push(loaded.cleanup);
    const store = createTokenStore(loaded.settings.oauth.token_store);
    cleanups.push(() => store.close());
    const callers = Array.from({ length: 8 }, (_, index) =>
      serverAuthOf(
        new TokenManager({
          store,
          oauth: loaded.settings.oauth,
          fetch: (input, init) => fetch(input, init),
          identity: `https://idp.example.com#caller-${index}`,
        }),
        loaded.settings,
      ),
    );
    await Promise.all(callers.map((auth) => auth.target()));
    const start = as.requests.length;
    holding = true;
    const handed = await Promise.all(
      callers.map((auth) => auth.authorize().catch((error: unknown) => error)),
    );
    expect(registrations(as.requests.slice(start))).toHaveLength(1);
    const urls = handed.map((error) => {
      expect(error).toBeInstanceOf(AuthorizationRequiredError);
      return new URL((error as AuthorizationRequiredError).authorizationUrl);
    });
    const clientIds = new Set(urls.map((url) => url.searchParams.get('client_id')));
    expect(clientIds.size).toBe(1);

    // Every caller's browser comes back; each code is exchanged with the one client.
    await Promise.all(
      callers.map(async (auth, index) => {
        const url = urls[index] as URL;
        const back = await followAuthorization(url, {
          stopAtRedirectUri: url.searchParams.get('redirect_uri') ?? '',
        });
        await auth.completeAuthorization(back.finalUrl);
      }),
    );
    const exchanges = tokenRequests(as.requests.slice(start), 'authorization_code');
    expect(exchanges).toHaveLength(8);
    expect(new Set(exchanges.map((request) => field(request.body, 'client_id')))).toEqual(
      clientIds,
    );
    expect(exchanges.every((request) => request.status === 200)).toBe(true);
  });
});

/** A worker process (test/oauth/registration-worker.mjs) and the lines it printed. */
class Worker {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';

  constructor() {
    this.child = spawn(process.execPath, [WORKER], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  send(command: Record<string, unknown>): void {
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  line(prefix: string): Promise<string> {
    return waitFor(
      `a worker line starting with ${prefix}`,
      () => {
        const failed = this.lines.find((line) => line.startsWith('failed'));
        if (failed) throw new Error(`worker: ${failed} ${this.stderr}`);
        if (this.child.exitCode !== null && !this.lines.some((l) => l.startsWith(prefix))) {
          throw new Error(`the worker exited: ${this.stderr}`);
        }
        return this.lines.find((line) => line.startsWith(prefix));
      },
      30_000,
    );
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

/** Two processes on the store of `dir` start their first login at the same moment. */
async function twoProcesses(dir: string): Promise<string[]> {
  const workers = [new Worker(), new Worker()];
  cleanups.push(() => {
    for (const worker of workers) worker.stop();
  });
  for (const worker of workers) worker.send({ op: 'prepare', dir });
  await Promise.all(workers.map((worker) => worker.line('ready')));
  holding = true;
  for (const worker of workers) worker.send({ op: 'go' });
  const results = await Promise.all(workers.map((worker) => worker.line('result ')));
  return results.map((line) => line.slice('result '.length));
}

describe('across processes sharing the store', () => {
  beforeAll(() => {
    expect(
      existsSync(join(ROOT, 'dist', 'index.js')),
      'dist/index.js is missing: run `npm run build` first',
    ).toBe(true);
  });

  test('file store: two processes, one registration, both logins use it', async () => {
    const tree = tempTree({
      'mcp_agent.config.yaml': configYaml(await freePort(), [
        'backend: file',
        'path: ./tokens.json',
      ]),
    });
    cleanups.push(tree.cleanup);
    const start = as.requests.length;
    const clientIds = await twoProcesses(tree.dir);
    expect(registrations(as.requests.slice(start))).toHaveLength(1);
    expect(clientIds[0]).toBeTruthy();
    expect(clientIds[1]).toBe(clientIds[0]);
  });

  test('Redis store: two processes, one registration, both logins use it', async () => {
    expect(
      redisUp,
      `Redis must answer at ${REDIS_URL} (start redis-server, or set REDIS_URL)`,
    ).toBe(true);
    const prefix = `mcp-agent-ts-registration-${process.pid}-${Date.now()}:`;
    cleanups.push(() => deleteRedisKeys(REDIS_URL, prefix));
    const tree = tempTree({
      'mcp_agent.config.yaml': configYaml(await freePort(), [
        'backend: redis',
        `redis_url: ${REDIS_URL}`,
        `redis_prefix: "${prefix}"`,
      ]),
    });
    cleanups.push(tree.cleanup);
    const start = as.requests.length;
    const clientIds = await twoProcesses(tree.dir);
    expect(registrations(as.requests.slice(start))).toHaveLength(1);
    expect(clientIds[0]).toBeTruthy();
    expect(clientIds[1]).toBe(clientIds[0]);
  });
});
