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
 *   auth-aware fetch (valid token in memory: the fast path) ÷ the same loop with a static
 *   Authorization header, interleaved rounds in one run. Goal ≤ 1.05. Beside it the µs per call
 *   of each loop (`lifecycle.static_call_us`, `lifecycle.authfetch_call_us`), the µs it adds per
 *   call (`lifecycle.authfetch_overhead_us`) and the same measured around a fetch that answers at
 *   once (`lifecycle.authfetch_isolated_us`); the same four for a token that needs a store read
 *   (`lifecycle.authfetch_file_read_*`, `lifecycle.authfetch_redis_read_*`: each call through a
 *   new TokenManager, as a caller's first call).
 * - lifecycle.stampede_<file|redis>_refreshes / _failed_calls / _wall_ms / _baseline_wall_ms:
 *   4 processes × 250 concurrent tool calls over one expired token on a shared file store, then
 *   Redis, against a token endpoint that answers after 200 ms and rotates refresh tokens. Goal 1
 *   refresh and 0 failed calls: anything else makes the bench exit with code 1.
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
import { Secret, TokenManager, withOAuth } from '../dist/index.js';
import { openAuth, pooledFetch, SERVER, toolCall, writeConfig } from './common.mjs';
import { deletePrefix, redisForBench } from './redis.mjs';
import { startStubServers } from './stub-servers.mjs';

const WORKER = fileURLToPath(new URL('./lifecycle-worker.mjs', import.meta.url));
const began = performance.now();
const cleanups = [];
/** Invariants the bench asserts that did not hold: the bench then exits with code 1. */
const failures = [];

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

/**
 * The auth-aware fetch's overhead, for a token in memory (the fast path) and for a token that
 * needs a store read (file, Redis): each call of the latter goes through a new TokenManager
 * sharing the discovery cache, as a caller's first call (or a new process's) does, so token()
 * reads the record from the store.
 *
 * - End to end: a sequential tools/call loop on loopback against the same loop with a static
 *   `Authorization` header (`*_call_us`, `*_overhead_ratio`, `*_overhead_us`).
 * - In isolation: the µs the auth-aware fetch adds around a fetch that answers at once, so the
 *   network's noise is not in it (`*_isolated_us`).
 *
 * Both in interleaved rounds, the order alternating; medians of the per-round figures.
 */
async function authFetchOverhead() {
  const opened = {};
  for (const backend of ['memory', 'file', 'redis']) {
    const dir = tempDir(`overhead-${backend}`);
    writeConfig(dir, {
      mcpUrl: stub.mcpUrl,
      backend,
      redisUrl,
      redisPrefix: `${redisPrefix}-overhead`,
    });
    opened[backend] = await openAuth(dir);
    await seed(stub, opened[backend], { expired: false });
  }
  const endpoint = new URL(stub.mcpUrl);
  /** The auth-aware `base`: the fast path, or through a new TokenManager (a store read). */
  const authFetch = (base, backend) => {
    if (backend === 'memory') return withOAuth(base, opened.memory.auth, endpoint);
    const { settings, store, tokens } = opened[backend];
    const manager = new TokenManager({
      store,
      oauth: settings.oauth,
      fetch: (input, init) => fetch(input, init),
      discoveryCache: tokens.discoveryCache,
    });
    return withOAuth(base, manager.forServer(SERVER, settings.mcp.servers[SERVER]), endpoint);
  };
  const fastFetch = authFetch(mcpFetch, 'memory');
  const staticHeader = { authorization: `Bearer ${stub.issueAccessToken()}` };
  const endToEnd = {
    static: (i) => toolCall(mcpFetch, stub.mcpUrl, i, staticHeader),
    memory: (i) => toolCall(fastFetch, stub.mcpUrl, i),
    file: (i) => toolCall(authFetch(mcpFetch, 'file'), stub.mcpUrl, i),
    redis: (i) => toolCall(authFetch(mcpFetch, 'redis'), stub.mcpUrl, i),
  };
  // In isolation: a fetch that answers at once; the static variant sends the header itself.
  const answered = new Response('{}', { status: 200 });
  const instant = async () => answered;
  const fastInstant = authFetch(instant, 'memory');
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: '{}',
  };
  const initWithHeader = { ...init, headers: { ...init.headers, ...staticHeader } };
  const isolated = {
    static: () => instant(stub.mcpUrl, initWithHeader),
    memory: () => fastInstant(stub.mcpUrl, init),
    file: () => authFetch(instant, 'file')(stub.mcpUrl, init),
    redis: () => authFetch(instant, 'redis')(stub.mcpUrl, init),
  };
  const timed = async (call, calls) => {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      const got = await call(i);
      if (got === false || got?.status === 401) {
        throw new Error('a call of the overhead loop failed');
      }
    }
    return ((performance.now() - t0) * 1000) / calls;
  };
  const rounds = Number(process.env.BENCH_OVERHEAD_ROUNDS ?? 20);
  const perRound = Number(process.env.BENCH_OVERHEAD_CALLS ?? 250);
  // The fast path and the static header take about a microsecond: many more calls per round.
  const isolatedCalls = { static: 20_000, memory: 20_000, file: 500, redis: 500 };
  /**
   * `names` of `variants` in interleaved rounds, the order alternating: per name, the µs per call
   * of each round. The fast path is measured apart from the store reads, so the garbage of a
   * new TokenManager per call is not collected during its rounds.
   */
  const interleave = async (variants, names, calls) => {
    for (const name of names) await timed(variants[name], calls[name]);
    const out = Object.fromEntries(names.map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) out[name].push(await timed(variants[name], calls[name]));
    }
    return out;
  };
  const med = (values) =>
    percentile(
      [...values].sort((x, y) => x - y),
      50,
    );
  const perRoundOf = () => ({
    static: perRound,
    memory: perRound,
    file: perRound,
    redis: perRound,
  });
  // Warm every path up (JIT, connections) before measuring.
  await interleave(endToEnd, ['static', 'memory', 'file', 'redis'], perRoundOf());
  const loops = {
    memory: await interleave(endToEnd, ['static', 'memory'], perRoundOf()),
    store: await interleave(endToEnd, ['static', 'file', 'redis'], perRoundOf()),
  };
  const alone = {
    memory: await interleave(isolated, ['static', 'memory'], isolatedCalls),
    store: await interleave(isolated, ['static', 'file', 'redis'], isolatedCalls),
  };
  note(
    `the auth-aware fetch: a sequential tools/call loop on loopback, ${rounds} interleaved rounds × ${perRound} calls per variant (order alternating; the fast path and the store reads measured apart, each against its own static loop), medians over the rounds`,
  );
  note('static: the same loop with a static Authorization header and no token manager');
  bench('lifecycle.static_call_us', med(loops.memory.static).toFixed(1));
  const what = {
    memory: 'the fast path: the token this process holds (memory store)',
    file: 'a token that needs a store read: each call through a new TokenManager (as a caller’s first call) reading the file store',
    redis: 'the same, reading Redis',
  };
  for (const name of ['memory', 'file', 'redis']) {
    const group = name === 'memory' ? 'memory' : 'store';
    const loop = loops[group];
    const iso = alone[group];
    const label = name === 'memory' ? 'authfetch' : `authfetch_${name}_read`;
    note(
      `${label}: ${what[name]}; _call_us: µs per call; _overhead_ratio and _overhead_us: ÷ and − the static loop of the same round (the machine's noise included); _isolated_us: what it adds around a fetch that answers at once (no network, less noise, but no contention with the I/O of a real call either)`,
    );
    bench(`lifecycle.${label}_call_us`, med(loop[name]).toFixed(1));
    bench(
      `lifecycle.${label}_overhead_ratio`,
      med(loop[name].map((us, i) => us / loop.static[i])).toFixed(3),
    );
    bench(
      `lifecycle.${label}_overhead_us`,
      med(loop[name].map((us, i) => us - loop.static[i])).toFixed(1),
    );
    bench(
      `lifecycle.${label}_isolated_us`,
      med(iso[name].map((us, i) => us - iso.static[i])).toFixed(1),
    );
  }
  for (const each of Object.values(opened)) await each.store.close();
}

/**
 * A refresh stampede that is not the easy case: 4 processes × 250 concurrent tool calls over one
 * expired token on a shared `backend` store, against a token endpoint that takes 200 ms and
 * rotates refresh tokens (a refresh token presented twice is refused). Goal: 1 refresh, no
 * refused refresh token, 0 failed calls; anything else fails the bench (exit code 1).
 */
async function slowStampede(backend) {
  const dir = tempDir(`stampede-${backend}`);
  writeConfig(dir, {
    mcpUrl: stub.mcpUrl,
    backend,
    redisUrl,
    redisPrefix: `${redisPrefix}-stampede`,
  });
  const opened = await openAuth(dir);
  const job = { dir, mode: 'calls', count: 250, mcpUrl: stub.mcpUrl };
  const wallOf = (results) => Math.round(Math.max(...results.map((each) => each.ms ?? Number.NaN)));
  stub.setExpiresIn(3600);
  await seed(stub, opened, { expired: true });
  stub.resetCounts();
  stub.setTokenDelay(200);
  let results;
  try {
    results = await runWorkers(4, job);
  } finally {
    stub.setTokenDelay(0);
  }
  const failed = results.reduce((sum, each) => sum + each.failed, 0);
  const { refreshes, invalidGrants } = stub.state;
  // The same calls with a token that is still good: what the stampede's wall time compares with.
  await seed(stub, opened, { expired: false });
  const baseline = await runWorkers(4, job);
  await opened.store.close();
  note(
    `stampede, ${backend} store: 1,000 concurrent tools/call (4 processes × 250) over one expired token; the token endpoint answers after 200 ms and rotates refresh tokens (refreshes counts every refresh request, refused ones too); wall time from the start to the last result, and the same calls with a good token (baseline)`,
  );
  bench(`lifecycle.stampede_${backend}_refreshes`, refreshes + invalidGrants);
  bench(`lifecycle.stampede_${backend}_failed_calls`, failed);
  bench(`lifecycle.stampede_${backend}_wall_ms`, wallOf(results));
  bench(`lifecycle.stampede_${backend}_baseline_wall_ms`, wallOf(baseline));
  const baselineFailed = baseline.reduce((sum, each) => sum + each.failed, 0);
  if (refreshes + invalidGrants !== 1 || failed !== 0 || baselineFailed !== 0) {
    failures.push(
      `stampede on ${backend}: ${refreshes} refreshes, ${invalidGrants} refresh tokens refused, ${failed} failed calls, ${baselineFailed} failed without a refresh (goal: 1, 0, 0, 0)`,
    );
  }
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

  // 4. The auth-aware fetch's overhead on a tools/call loop: fast path and store reads.
  await authFetchOverhead();

  // 4b. A refresh stampede across processes on a slow, rotating AS: file store, then Redis.
  for (const backend of ['file', 'redis']) await slowStampede(backend);

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
for (const failure of failures) console.error(`bench: ${failure}`);
process.exit(failures.length > 0 ? 1 : 0);
