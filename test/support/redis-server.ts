/**
 * A private `redis-server` for the store tests: on a free loopback port, without persistence,
 * killed and restarted on the same port by the test.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort, within } from './net.js';

/** Whether a `redis-server` binary is on the PATH. */
export const redisServerInstalled: boolean =
  spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** A running `redis-server` child process. */
export interface RedisServer {
  readonly port: number;
  /** `redis://[:password@]127.0.0.1:port`. */
  readonly url: string;
  /** Kill the server (SIGKILL, as a crash would) and wait for it to exit. */
  kill(): Promise<void>;
  /** Start a new server on the same port (after {@link kill}). */
  restart(): Promise<void>;
  /** Kill the server if it runs and remove its directory. */
  stop(): Promise<void>;
}

/** Start `redis-server` on a free port (or `port`), with `requirepass` if `password` is given. */
export async function startRedisServer(
  options: { port?: number; password?: string } = {},
): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-redis-'));
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    args.push('--dir', dir, '--daemonize', 'no');
    if (options.password !== undefined) args.push('--requirepass', options.password);
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      };
      started.stdout?.on('data', onData);
      started.stderr?.on('data', onData);
      started.once('exit', (code) =>
        reject(new Error(`redis-server on port ${port} exited (${code}): ${output.slice(-500)}`)),
      );
      started.once('error', reject);
    });
    await within(`redis-server on port ${port}`, ready, 5_000);
  };

  const kill = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await within('redis-server to exit', exited, 5_000);
  };

  await start();
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    kill,
    restart: start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether a Redis server answers PING at `url` (within about a second). */
export async function redisReachable(url: string): Promise<boolean> {
  const client = createClient({
    url,
    socket: { connectTimeout: 1_000, reconnectStrategy: false },
  });
  client.on('error', () => {});
  try {
    await within(
      'redis PING',
      client.connect().then(() => client.ping()),
      2_000,
    );
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** Delete every key under `prefix` at `url` (test cleanup); returns how many were deleted. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    let deleted = 0;
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      const keys = Array.isArray(batch) ? batch.map(String) : [String(batch)];
      if (keys.length > 0) deleted += await client.del(keys);
    }
    return deleted;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** A raw client on `url` for looking at what a store wrote; `destroy()` it afterwards. */
export async function rawRedis(url: string): Promise<ReturnType<typeof createClient>> {
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  return client;
}
