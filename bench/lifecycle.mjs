/**
 * Token lifecycle benchmark (issue 6), on the built library (dist/): `npm run bench`.
 *
 * Prints one `BENCH <name> <number>` line per figure (and `#` lines that explain them):
 *
 * - lifecycle.refreshes_1000_concurrent: refresh requests at the AS caused by 1,000 concurrent
 *   tool calls (through the auth-aware fetch) over one expired token in one process. Goal 1.
 * - lifecycle.failed_calls_1000_concurrent: calls of that run that did not get a result. Goal 0.
 * - lifecycle.refreshes_4_processes_redis: the same with 4 processes × 250 calls sharing Redis.
 *   Goal 1.
 * - lifecycle.lost_writes_1000_rotations: 4 processes sharing Redis call token() in a loop while
 *   the AS issues tokens that expire 1 ms after issue, so every call is due for a refresh that
 *   rotates the refresh token, until the AS has answered 1,000 refreshes (raced under the lease;
 *   a call may also adopt the token another process has just written). A lost or stale record
 *   shows as a refresh token the AS refuses (it was already rotated away) or as a stored refresh
 *   token that is not the AS's newest at the end. Goal 0.
 * - lifecycle.authfetch_overhead_ratio: a sequential tools/call loop on loopback through the
 *   auth-aware fetch (valid token in the memory store) ÷ the same loop with a static
 *   Authorization header, interleaved rounds in one run. Goal ≤ 1.05.
 * - lifecycle.redis_get_p50_us, lifecycle.redis_get_p99_us: TokenStore.get of one record on the
 *   Redis backend (the read every token() makes), in microseconds.
 *
 * The AS and MCP server are small node:http stubs (bench/stub-servers.mjs). Redis is REDIS_URL,
 * else redis://127.0.0.1:6379, else a redis-server started here on a free port.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret, withOAuth } from '../dist/index.js';
import { openAuth, pooledFetch, toolCall, writeConfig } from './common.mjs';
import { deletePrefix, redisForBench } from './redis.mjs';
import { startStubServers } from './stub-servers.mjs';

const WORKER = fileURLToPath(new URL('./lifecycle-worker.mjs', import.meta.url));
const began = performance.now();
const cleanups = [];

function bench(name, value) {
  console.log(`BENCH ${name} ${value}`);
}

function note(text) {
  console.log(`# ${text}`);
}

function tempDir(name) {
  const dir = mkdtempSync(join(tmpdir(), `mcp-agent-ts-bench-${name}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Store a record for `key`: expired (due for a refresh) or valid for an hour. */
async function seed(stub, opened, { expired }) {
  const now = Date.now();
  const accessToken = stub.issueAccessToken();
  const refreshToken = stub.issueRefreshToken();
  await opened.store.put(opened.key, {
    accessToken: new Secret(accessToken),
    refreshToken: new Secret(refreshToken),
    tokenType: 'Bearer',
    expiresAt: expired ? now - 1_000 : now + 3_600_000,
    obtainedAt: expired ? now - 3_600_000 : now,
    scopes: ['mcp:read'],
    issuer: opened.key.issuer,
    resource: opened.key.resource,
    server: opened.key.server,
  });
  return { accessToken, refreshToken };
}

/** Start `count` worker processes on `dir`, start them together, and collect their results. */
async function runWorkers(count, job) {
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(job)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const entry = { child, stdout: '' };
    child.stdout.on('data', (chunk) => {
      entry.stdout += chunk.toString();
    });
    entry.exited = new Promise((resolve) => child.once('exit', resolve));
    return entry;
  });
  const deadline = Date.now() + 30_000;
  while (!children.every((each) => each.stdout.includes('ready\n'))) {
    if (Date.now() > deadline) throw new Error('the bench workers did not start');
    if (children.some((each) => each.child.exitCode !== null)) {
      throw new Error('a bench worker exited before it was ready');
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (const { child } of children) child.stdin.write('go\n');
  await Promise.all(children.map((each) => each.exited));
  return children.map(({ stdout }) => {
    const line = stdout.split('\n').find((each) => each.startsWith('result '));
    return line ? JSON.parse(line.slice('result '.length)) : { ok: 0, failed: job.count };
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

const stub = await startStubServers();
cleanups.push(() => stub.close());
const redis = await redisForBench();
cleanups.push(() => redis.close());
if (redis.started) note(redis.started);
const redisUrl = redis.url;
const redisPrefix = `mcp-agent-ts-bench-${process.pid}`;
cleanups.push(() => deletePrefix(redisUrl, redisPrefix));
const mcpFetch = pooledFetch();
cleanups.push(() => mcpFetch.close());

try {
  // 1. 1,000 concurrent tool calls over one expired token, one process, memory store.
  {
    const dir = tempDir('memory');
    writeConfig(dir, { mcpUrl: stub.mcpUrl, backend: 'memory' });
    const opened = await openAuth(dir);
    stub.setExpiresIn(3600);
    await seed(stub, opened, { expired: true });
    stub.resetCounts();
    const authFetch = withOAuth(mcpFetch, opened.auth, new URL(stub.mcpUrl));
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => toolCall(authFetch, stub.mcpUrl, i)),
    );
    bench('lifecycle.refreshes_1000_concurrent', stub.state.refreshes);
    bench('lifecycle.failed_calls_1000_concurrent', results.filter((ok) => !ok).length);
    await opened.store.close();
  }

  // 2. 4 processes × 250 concurrent tool calls over one expired token, sharing Redis.
  const redisDir = tempDir('redis');
  writeConfig(redisDir, {
    mcpUrl: stub.mcpUrl,
    backend: 'redis',
    redisUrl,
    redisPrefix,
  });
  const shared = await openAuth(redisDir);
  {
    stub.setExpiresIn(3600);
    await seed(stub, shared, { expired: true });
    stub.resetCounts();
    const results = await runWorkers(4, {
      dir: redisDir,
      mode: 'calls',
      count: 250,
      mcpUrl: stub.mcpUrl,
    });
    bench('lifecycle.refreshes_4_processes_redis', stub.state.refreshes);
    note(
      `4 processes × 250 calls: ${results.reduce((sum, each) => sum + each.failed, 0)} failed, ${stub.state.invalidGrants} refresh tokens refused`,
    );
  }

  // 3. 1,000 rotations raced by 4 processes sharing Redis.
  {
    // Tokens that expire a millisecond after they are issued: every token() call is due.
    // (expires_in 0 would mean "no expiry" to the library.)
    stub.setExpiresIn(0.001);
    await seed(stub, shared, { expired: true });
    stub.resetCounts();
    const t0 = performance.now();
    const results = await runWorkers(4, {
      dir: redisDir,
      mode: 'rotate',
      count: 1000,
      mcpUrl: stub.mcpUrl,
      issuer: stub.issuer,
    });
    const seconds = (performance.now() - t0) / 1000;
    const stored = await shared.store.get(shared.key);
    const stale = stored?.record.refreshToken?.reveal() !== stub.state.latestRefreshToken ? 1 : 0;
    bench('lifecycle.lost_writes_1000_rotations', stub.state.invalidGrants + stale);
    const failed = results.reduce((sum, each) => sum + each.failed, 0);
    const perProcess = results.map((each) => each.ok + each.failed);
    const calls = perProcess.reduce((sum, each) => sum + each, 0);
    const errors = [...new Set(results.flatMap((each) => each.errors ?? []))];
    note(
      `rotations: ${stub.state.refreshes} refreshes for ${calls} token() calls of 4 processes (${perProcess.join(' + ')}) in ${seconds.toFixed(1)} s, ${stub.state.invalidGrants} refresh tokens refused, final record ${stale ? 'STALE' : 'current'}, ${failed} calls failed${errors.length ? ` (${errors.join(', ')})` : ''}`,
    );
    stub.setExpiresIn(3600);
  }

  // 4. The auth-aware fetch's overhead on a tools/call loop (valid token, memory store).
  {
    const dir = tempDir('overhead');
    writeConfig(dir, { mcpUrl: stub.mcpUrl, backend: 'memory' });
    const opened = await openAuth(dir);
    await seed(stub, opened, { expired: false });
    const staticToken = stub.issueAccessToken();
    const authFetch = withOAuth(mcpFetch, opened.auth, new URL(stub.mcpUrl));
    const staticHeader = { authorization: `Bearer ${staticToken}` };
    const loop = async (withAuth, calls) => {
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) {
        const ok = withAuth
          ? await toolCall(authFetch, stub.mcpUrl, i)
          : await toolCall(mcpFetch, stub.mcpUrl, i, staticHeader);
        if (!ok) throw new Error('a tools/call of the overhead loop failed');
      }
      return performance.now() - t0;
    };
    // Warm both paths up (JIT, connections) before measuring.
    await loop(true, 1_500);
    await loop(false, 1_500);
    // Interleaved rounds (the order alternates), so drift of the machine hits both alike; the
    // figure is the median of the per-round ratios (a GC pause or a noisy neighbour in one round
    // does not decide it).
    const rounds = 20;
    const perRound = 500;
    const ratios = [];
    let authMs = 0;
    let staticMs = 0;
    for (let round = 0; round < rounds; round++) {
      let a;
      let b;
      if (round % 2 === 0) {
        a = await loop(true, perRound);
        b = await loop(false, perRound);
      } else {
        b = await loop(false, perRound);
        a = await loop(true, perRound);
      }
      authMs += a;
      staticMs += b;
      ratios.push(a / b);
    }
    ratios.sort((x, y) => x - y);
    const calls = rounds * perRound;
    bench('lifecycle.authfetch_overhead_ratio', percentile(ratios, 50).toFixed(3));
    note(
      `tools/call loop: ${((authMs * 1000) / calls).toFixed(1)} µs through the auth-aware fetch, ${((staticMs * 1000) / calls).toFixed(1)} µs with a static header (${calls} calls each; ratio of the totals ${(authMs / staticMs).toFixed(3)})`,
    );
    await opened.store.close();
  }

  // 5. TokenStore.get latency on Redis.
  {
    await seed(stub, shared, { expired: false });
    for (let i = 0; i < 500; i++) await shared.store.get(shared.key);
    const samples = [];
    for (let i = 0; i < 5_000; i++) {
      const t0 = process.hrtime.bigint();
      const got = await shared.store.get(shared.key);
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (!got) throw new Error('the record vanished from Redis');
    }
    samples.sort((a, b) => a - b);
    bench('lifecycle.redis_get_p50_us', Math.round(percentile(samples, 50)));
    bench('lifecycle.redis_get_p99_us', Math.round(percentile(samples, 99)));
  }
  await shared.store.close();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
  note(`lifecycle bench took ${((performance.now() - began) / 1000).toFixed(1)} s`);
}
process.exit(0);
