/**
 * The Redis the benchmarks use: REDIS_URL, else redis://127.0.0.1:6379, else a redis-server
 * started here on a free loopback port (stopped by `close()`).
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort } from './report.mjs';

async function redisAnswers(url) {
  const client = createClient({ url, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** A Redis to use: `{ url, started, close() }`; `started` when no configured one answered. */
export async function redisForBench() {
  const configured = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(configured)) return { url: configured, started: false, close() {} };
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`no Redis at ${configured} and no redis-server to start: set REDIS_URL`);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-bench-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { cwd: dir, stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(url)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    started: `started redis-server on port ${port} (nothing answered at ${configured})`,
    close() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Delete every key under `prefix:` in the Redis at `url`. */
export async function deletePrefix(url, prefix) {
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    for await (const batch of client.scanIterator({ MATCH: `${prefix}:*`, COUNT: 500 })) {
      const keys = Array.isArray(batch) ? batch.map(String) : [String(batch)];
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    client.destroy();
  }
}
