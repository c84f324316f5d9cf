/**
 * The two protocol revisions of `serve`, and `serve` replicas behind a load balancer, on the
 * built CLI (dist/): `node bench/revisions.mjs` (part of `npm run bench`). Prints one
 * `BENCH <name> <number>` line per figure (`#` lines explain them):
 *
 * - revisions.*: one `mcp-agent serve` (authorization off, memory token store), an app tool
 *   `echo`; 2026-07-28 stateless `tools/call`s (the request a real v2 client pinned to
 *   2026-07-28 sends, captured once and replayed: `Mcp-Method`, `Mcp-Name`,
 *   `MCP-Protocol-Version` and the `_meta` envelope) against 2025-11-25 `tools/call`s in open
 *   sessions (opened by real v2 clients in legacy mode), the same number in flight.
 *   `revisions.modern_rps`, `revisions.legacy_rps`, their ratio, and each one's server CPU per call.
 * - replicas.*: three `serve` processes sharing a Redis (`backend: redis`, a unique
 *   `redis_prefix` whose keys are deleted at the end) behind one HAProxy with two frontends,
 *   round robin without stickiness: one in front of the first replica only, one in front of all
 *   three. `replicas.one_rps`, `replicas.three_rps` (2025-11-25 session calls) and
 *   `replicas.modern_one_rps`, `replicas.modern_three_rps` (2026-07-28 calls), with their ratios.
 *
 * Every call's answer is checked (HTTP 200, the JSON-RPC result of its own id, not an error):
 * a failed call is counted, never as throughput, and any failure ends the run with exit code 1
 * once the figures are printed. The machine may be shared and noisy: the variants are measured
 * in short interleaved rounds (each one's calls cut in slices taken in turn, the order
 * alternating) and the medians of the per-round figures are printed. BENCH_REV_ROUNDS (20),
 * BENCH_REV_REQUESTS (240, calls per variant per round) change the sizes;
 * BENCH_ONLY=revisions,replicas runs some sections only. Needs HAProxy (HAPROXY_PATH, else
 * `haproxy` on the PATH) and a Redis (REDIS_URL, else 127.0.0.1:6379, else a `redis-server` it
 * starts): without them it says how to get them and exits with code 2.
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createClient } from 'redis';
import { Agent, fetch as undiciFetch } from 'undici';
import { deletePrefix, redisForBench } from './redis.mjs';
import { freePort, median, note, print } from './report.mjs';

const CLI = fileURLToPath(new URL('../bin/mcp-agent.js', import.meta.url));
const BUILT = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const HAPROXY = process.env.HAPROXY_PATH || 'haproxy';
const ROUNDS = Number(process.env.BENCH_REV_ROUNDS ?? 20);
const REQUESTS = Number(process.env.BENCH_REV_REQUESTS ?? 240);
const CONCURRENCY = 8;
const SLICES = 4;
const ONLY = process.env.BENCH_ONLY?.split(',');
const section = (name) => !ONLY || ONLY.includes(name);
/** What to undo at the end, last first; children are also killed when the process exits. */
const cleanups = [];
const children = new Set();

function missing(message) {
  console.error(`bench/revisions.mjs: ${message}`);
  process.exit(2);
}

let cleaning;
let interrupted = false;
/** Undo everything once (the main flow and a signal may both ask; both wait for the same). */
function cleanUp() {
  cleaning ??= (async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error) => console.error(`cleanup failed: ${error.message}`));
    }
  })();
  return cleaning;
}

// Whatever happens, no child outlives the bench.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`bench/revisions.mjs: ${signal}, stopping`);
    cleanUp().finally(() => process.exit(130));
  });
}

/** Start `command` and remember it; `stopped()` ends it (SIGTERM, then SIGKILL after 5 s). */
function startChild(command, args, options) {
  const child = spawn(command, args, options);
  children.add(child);
  const exited = new Promise((done) => child.once('exit', done));
  exited.then(() => children.delete(child));
  const stopped = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  cleanups.push(stopped);
  return child;
}

/** CPU time (µs, user + system) process `pid` has used, from /proc; undefined elsewhere. */
const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString() || 100);
function cpuOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return undefined;
  }
}

// --- What the bench needs ---------------------------------------------------------------------
if (!existsSync(BUILT)) missing('dist/ is missing: run `npm run build` first.');
if (section('replicas') && spawnSync(HAPROXY, ['-v'], { stdio: 'ignore' }).status !== 0) {
  missing(
    `HAProxy is not installed (no \`${HAPROXY}\`): install it (Debian/Ubuntu: \`sudo apt-get install -y haproxy\`; macOS: \`brew install haproxy\`) or set HAPROXY_PATH; BENCH_ONLY=revisions runs without it.`,
  );
}
let redis;
if (section('replicas')) {
  try {
    redis = await redisForBench();
  } catch {
    missing(
      `no Redis answers at ${process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'} and no redis-server to start: start one (\`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""\`; Debian/Ubuntu: \`sudo apt-get install -y redis-server\`) or set REDIS_URL; BENCH_ONLY=revisions runs without it.`,
    );
  }
  cleanups.push(async () => redis.close());
  if (redis.started) note(redis.started);
}

const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-bench-revisions-'));
cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
// The same trivial app tool on every server and both revisions.
writeFileSync(
  join(dir, 'app.mjs'),
  "export default (app) => { app.tool('echo', {}, () => 'x'); };\n",
);

/** A config file in `dir`: `name`, with the token store `store` (YAML lines under token_store). */
function config(name, store) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: bench-${name}\noauth:\n  background_refresh: false\n  token_store:\n${store}`,
  );
  return file;
}

/** Start `mcp-agent serve` with `configFile` on a loopback port: its URL and pid. */
async function startServe(configFile) {
  const port = await freePort();
  const child = startChild(
    process.execPath,
    [CLI, '--config', configFile, '--json', 'serve', '--port', String(port), '--app', 'app.mjs'],
    { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk) => {
    err += chunk;
  });
  const url = await new Promise((done, fail) => {
    child.stdout.on('data', (chunk) => {
      out += chunk;
      try {
        done(JSON.parse(out).url);
      } catch {
        // not the whole document yet
      }
    });
    child.once('exit', (code) => fail(new Error(`serve exited (${code}): ${err}`)));
  });
  return { url, port, pid: child.pid };
}

/**
 * HAProxy with one frontend per entry of `frontends` ({ name: [backend ports] }), each balancing
 * round robin over its ports with no stickiness (no cookie, no source hash). Each server is
 * named `127.0.0.1:port` and that name sent as `Host`, so replicas bound to loopback (which
 * accept only their own `Host`) need not listen on every interface.
 */
async function startHaproxy(frontends) {
  const lines = [
    'global',
    '  maxconn 512',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 1m',
    '  timeout server 1m',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
  ];
  const urls = {};
  for (const [name, ports] of Object.entries(frontends)) {
    const port = await freePort();
    urls[name] = `http://127.0.0.1:${port}/mcp`;
    lines.push(
      `frontend ${name}`,
      `  bind 127.0.0.1:${port}`,
      `  default_backend ${name}_replicas`,
    );
    lines.push(`backend ${name}_replicas`, '  balance roundrobin', '  http-send-name-header Host');
    for (const backend of ports) {
      lines.push(`  server 127.0.0.1:${backend} 127.0.0.1:${backend} check inter 1s`);
    }
  }
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const child = startChild(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (chunk) => {
    err += chunk;
  });
  for (let i = 0; i < 100; i += 1) {
    if (child.exitCode !== null) throw new Error(`HAProxy exited: ${err.trim()}`);
    const answered = await fetch(urls[Object.keys(frontends)[0]], { method: 'GET' }).then(
      (response) => response.arrayBuffer().then(() => response.status !== 503),
      () => false,
    );
    if (answered) return urls;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`HAProxy did not answer: ${err.trim()}`);
}

// --- The requests: captured from real clients, replayed raw ----------------------------------
/** A v2 client in `mode` connected to `url`, and the `tools/call` POST it sent (headers, body). */
async function capture(url, mode) {
  const seen = [];
  const spy = (input, init) => {
    seen.push(init);
    return fetch(input, init);
  };
  const client = new Client(
    { name: 'bench-revisions', version: '1.0.0' },
    {
      versionNegotiation: { mode },
    },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: spy }));
  const result = await client.callTool({ name: 'echo', arguments: {} });
  if (result.content?.[0]?.text !== 'x') throw new Error(`echo answered ${JSON.stringify(result)}`);
  const sent = seen.find((init) => init?.body && JSON.parse(init.body).method === 'tools/call');
  return {
    client,
    version: client.getNegotiatedProtocolVersion(),
    headers: Object.fromEntries(new Headers(sent.headers).entries()),
    body: JSON.parse(sent.body),
  };
}

/** The JSON-RPC message of a response's text: JSON, or the last `data:` of an event stream. */
function messageOf(text) {
  const data = text.lastIndexOf('\ndata: {');
  const start = text.startsWith('{') ? 0 : data < 0 ? -1 : data + 7;
  if (start < 0) return undefined;
  const end = text.indexOf('\n', start);
  try {
    return JSON.parse(end < 0 ? text.slice(start) : text.slice(start, end));
  } catch {
    return undefined;
  }
}

const dispatcher = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 30_000 });
cleanups.push(() => dispatcher.close());

/** One replayed `tools/call` with `id`; whether its answer is the tool's result. Never throws. */
async function call(url, shape, id) {
  try {
    const response = await undiciFetch(url, {
      method: 'POST',
      dispatcher,
      headers: shape.headers,
      body: JSON.stringify({ ...shape.body, id }),
    });
    const text = await response.text();
    if (response.status !== 200) return false;
    const message = messageOf(text);
    return (
      message?.id === id &&
      message.error === undefined &&
      message.result?.isError !== true &&
      message.result?.content?.[0]?.text === 'x'
    );
  } catch {
    return false;
  }
}

let failures = 0;
let nextId = 1_000_000;

/**
 * `count` calls to `url`, CONCURRENCY in flight, worker i replaying `shapes[i % shapes.length]`;
 * the seconds taken and the calls that succeeded (failed ones are counted in `failures`).
 */
async function burst(url, shapes, count) {
  let started = 0;
  let succeeded = 0;
  const begin = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      while (started < count) {
        started += 1;
        nextId += 1;
        if (await call(url, shapes[worker % shapes.length], nextId)) succeeded += 1;
        else failures += 1;
      }
    }),
  );
  return { seconds: (performance.now() - begin) / 1000, succeeded };
}

/**
 * Interleaved rounds over `variants` ({ name: { url, shapes, pids? } }): per variant, the
 * per-round calls per second (successful calls ÷ wall time) and, with `pids`, CPU µs per call.
 */
async function measure(variants, redisCalls = async () => 0) {
  const names = Object.keys(variants);
  // Warm-up: JIT, connection pools, sessions restored on every replica.
  for (let i = 0; i < 2; i += 1) {
    for (const name of names) await burst(variants[name].url, variants[name].shapes, 400);
  }
  failures = 0;
  const rates = Object.fromEntries(names.map((name) => [name, []]));
  const cpu = Object.fromEntries(names.map((name) => [name, []]));
  const commands = Object.fromEntries(names.map((name) => [name, []]));
  const processCpu = (pids) => pids.reduce((sum, pid) => sum + (cpuOf(pid) ?? Number.NaN), 0);
  for (let round = 0; round < ROUNDS; round += 1) {
    const seconds = Object.fromEntries(names.map((name) => [name, 0]));
    const succeeded = Object.fromEntries(names.map((name) => [name, 0]));
    const cpuUsed = Object.fromEntries(names.map((name) => [name, 0]));
    const commandsUsed = Object.fromEntries(names.map((name) => [name, 0]));
    for (let slice = 0; slice < SLICES; slice += 1) {
      const order = (round * SLICES + slice) % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const { url, shapes, pids = [] } = variants[name];
        const commandsBefore = await redisCalls();
        const before = processCpu(pids);
        const result = await burst(url, shapes, REQUESTS / SLICES);
        cpuUsed[name] += processCpu(pids) - before;
        commandsUsed[name] += (await redisCalls()) - commandsBefore - 1;
        seconds[name] += result.seconds;
        succeeded[name] += result.succeeded;
      }
    }
    for (const name of names) {
      rates[name].push(succeeded[name] / seconds[name]);
      cpu[name].push(cpuUsed[name] / Math.max(1, succeeded[name]));
      commands[name].push(commandsUsed[name] / Math.max(1, succeeded[name]));
    }
    if (round % 5 === 4) {
      note(
        `round ${round + 1}: ${names.map((name) => `${name} ${rates[name].at(-1).toFixed(0)}/s`).join(', ')}`,
      );
    }
  }
  return { rates, cpu, commands };
}

/** The medians of `a ÷ b` per round, for rates and (inverted) CPU per call. */
function ratio(result, a, b) {
  const rounds = result.rates[a].map((_, i) => i);
  return {
    throughput: median(rounds.map((i) => result.rates[a][i] / result.rates[b][i])),
    cpu: median(rounds.map((i) => result.cpu[b][i] / result.cpu[a][i])),
  };
}

/** `CONCURRENCY` 2025-11-25 sessions at `url`, each opened by a v2 client in legacy mode. */
async function legacySessions(url) {
  const shapes = [];
  for (let i = 0; i < CONCURRENCY; i += 1) {
    const captured = await capture(url, 'legacy');
    if (captured.version !== '2025-11-25' || !captured.headers['mcp-session-id']) {
      throw new Error(`no 2025-11-25 session at ${url} (${captured.version})`);
    }
    cleanups.push(() => captured.client.close());
    shapes.push(captured);
  }
  return shapes;
}

/** The 2026-07-28 `tools/call` a pinned v2 client sends to `url`. */
async function modernShape(url) {
  const captured = await capture(url, { pin: '2026-07-28' });
  await captured.client.close();
  const { headers, body } = captured;
  if (
    captured.version !== '2026-07-28' ||
    headers['mcp-method'] !== 'tools/call' ||
    headers['mcp-name'] !== 'echo' ||
    headers['mcp-protocol-version'] !== '2026-07-28' ||
    body.params?._meta?.['io.modelcontextprotocol/protocolVersion'] !== '2026-07-28'
  ) {
    throw new Error(`not a 2026-07-28 request: ${JSON.stringify({ headers, body })}`);
  }
  return captured;
}

const describe = (shape) =>
  `${Object.entries(shape.headers)
    .filter(([name]) => name.startsWith('mcp-'))
    .map(([name, value]) => `${name}: ${name === 'mcp-session-id' ? '…' : value}`)
    .join(
      ', ',
    )}; params._meta keys: ${Object.keys(shape.body.params?._meta ?? {}).join(', ') || 'none'}`;

const totalFailures = {};

async function revisions() {
  const single = await startServe(config('single', '    backend: memory\n'));
  const modern = await modernShape(single.url);
  const legacy = await legacySessions(single.url);
  note(`2026-07-28 request replayed (captured from a pinned v2 client): ${describe(modern)}`);
  note(`2025-11-25 request replayed (a v2 client in legacy mode): ${describe(legacy[0])}`);
  const result = await measure({
    modern: { url: single.url, shapes: [modern], pids: [single.pid] },
    legacy: { url: single.url, shapes: legacy, pids: [single.pid] },
  });
  totalFailures.revisions = failures;
  note(
    `one \`mcp-agent serve\` (authorization off, memory token store), an app tool \`echo\`, loopback; ${CONCURRENCY} calls in flight on one keep-alive pool; 2025-11-25: ${CONCURRENCY} sessions, one per worker; ${REQUESTS} calls per variant per round in ${SLICES} slices taken in turn (order alternating), ${ROUNDS} rounds; medians over the rounds; *_rps counts successful calls only, *_cpu_us is the serve process's CPU per call (from /proc, in clock ticks, hence coarse)`,
  );
  print(
    'revisions.modern_rps',
    median(result.rates.modern).toFixed(0),
    '2026-07-28: stateless tools/call, a server built for each request',
  );
  print('revisions.modern_cpu_us', median(result.cpu.modern).toFixed(0));
  print(
    'revisions.legacy_rps',
    median(result.rates.legacy).toFixed(0),
    '2025-11-25: tools/call within an open session (answered as an event stream)',
  );
  print('revisions.legacy_cpu_us', median(result.cpu.legacy).toFixed(0));
  const { throughput, cpu } = ratio(result, 'modern', 'legacy');
  print('revisions.modern_vs_legacy_throughput_ratio', throughput.toFixed(3), 'modern ÷ legacy');
  print('revisions.modern_vs_legacy_cpu_ratio', cpu.toFixed(3));
  print(
    'revisions.failures',
    failures,
    'calls whose answer was not the tool result (any is a bug)',
  );
}

/** A function answering how many commands the bench's Redis has run (the INFO itself is one). */
async function redisCommandCounter() {
  const client = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  cleanups.push(async () => client.destroy());
  return async () => {
    const info = await client.info('commandstats');
    return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, [, calls]) => sum + Number(calls), 0);
  };
}

async function replicas() {
  const prefix = `mcp-agent-ts-bench-revisions-${process.pid}-${Date.now()}`;
  cleanups.push(() => deletePrefix(redis.url, prefix));
  const shared = config(
    'replica',
    `    backend: redis\n    redis_url: ${redis.url}\n    redis_prefix: ${prefix}\n    encryption_key: a passphrase every replica of the bench shares\n`,
  );
  const started = await Promise.all([startServe(shared), startServe(shared), startServe(shared)]);
  const urls = await startHaproxy({
    one: [started[0].port],
    three: started.map(({ port }) => port),
  });
  const legacy = { one: await legacySessions(urls.one), three: await legacySessions(urls.three) };
  const modern = await modernShape(urls.three);
  const pids = started.map(({ pid }) => pid);
  const variants = {
    one: { url: urls.one, shapes: legacy.one, pids },
    three: { url: urls.three, shapes: legacy.three, pids },
    modern_one: { url: urls.one, shapes: [modern], pids },
    modern_three: { url: urls.three, shapes: [modern], pids },
  };
  const result = await measure(variants, await redisCommandCounter());
  totalFailures.replicas = failures;
  note(
    `three \`mcp-agent serve\` (authorization off) sharing a Redis (backend: redis), behind one HAProxy (round robin, no stickiness) with two frontends: \`one\` in front of the first replica, \`three\` in front of all three; the same client load both ways (${CONCURRENCY} calls in flight, 2025-11-25: ${CONCURRENCY} sessions opened through that frontend, one per worker); ${REQUESTS} calls per variant per round, ${SLICES} slices, ${ROUNDS} interleaved rounds, medians; *_cpu_us is the CPU of the three serve processes per call`,
  );
  note(
    `this machine has ${availableParallelism()} cores shared by HAProxy, Redis, the client and the replicas: three replicas cannot be faster than one here, and three Node processes on two cores cost more CPU per call (less batching per process, more switching). Compare the two ratios: 2026-07-28 calls (no session, no Redis in the request) show that cost alone; 2025-11-25 calls add a session spread over every replica (each restores it once, then reads its record in Redis on every request). On a machine with a core per replica, the ratio is what to watch rise`,
  );
  print(
    'replicas.one_rps',
    median(result.rates.one).toFixed(0),
    '2025-11-25 session calls, one replica',
  );
  print('replicas.one_cpu_us', median(result.cpu.one).toFixed(0));
  print('replicas.three_rps', median(result.rates.three).toFixed(0), 'the same, three replicas');
  print('replicas.three_cpu_us', median(result.cpu.three).toFixed(0));
  const legacyRatio = ratio(result, 'three', 'one');
  print('replicas.three_vs_one_throughput_ratio', legacyRatio.throughput.toFixed(3), 'three ÷ one');
  print('replicas.three_vs_one_cpu_ratio', legacyRatio.cpu.toFixed(3));
  print(
    'replicas.one_redis_commands_per_call',
    median(result.commands.one).toFixed(2),
    'Redis commands per 2025-11-25 call as INFO commandstats counts them: those a Lua script runs included (an EVAL appending an event to its stream and its session index runs about 11), and every client of that Redis (a neighbour using it adds to both)',
  );
  print('replicas.three_redis_commands_per_call', median(result.commands.three).toFixed(2));
  print('replicas.modern_redis_commands_per_call', median(result.commands.modern_three).toFixed(2));
  print(
    'replicas.modern_one_rps',
    median(result.rates.modern_one).toFixed(0),
    '2026-07-28 stateless calls, one replica',
  );
  print(
    'replicas.modern_three_rps',
    median(result.rates.modern_three).toFixed(0),
    'three replicas',
  );
  const modernRatio = ratio(result, 'modern_three', 'modern_one');
  print(
    'replicas.modern_three_vs_one_throughput_ratio',
    modernRatio.throughput.toFixed(3),
    'modern three ÷ modern one',
  );
  const revisionRatio = ratio(result, 'modern_one', 'one');
  print(
    'replicas.modern_vs_legacy_throughput_ratio',
    revisionRatio.throughput.toFixed(3),
    'modern one ÷ one: the two revisions on a replica with the Redis store (a 2025-11-25 call there reads its session record and keeps its stream events in Redis; revisions.* uses the memory store)',
  );
  print('replicas.modern_vs_legacy_cpu_ratio', revisionRatio.cpu.toFixed(3));
  print('replicas.failures', failures, 'calls whose answer was not the tool result (any is a bug)');
}

let code = 0;
const benchStarted = performance.now();
note(
  `${new Date().toISOString()}, load average ${loadavg()
    .map((each) => each.toFixed(2))
    .join(' ')}`,
);
try {
  if (section('revisions')) await revisions();
  if (section('replicas')) await replicas();
  const failed = Object.values(totalFailures).reduce((sum, each) => sum + each, 0);
  if (failed > 0) {
    console.error(`bench/revisions.mjs: ${failed} calls failed (see the *.failures lines)`);
    code = 1;
  }
} catch (error) {
  if (!interrupted) console.error(error);
  code = interrupted ? 130 : 1;
} finally {
  await cleanUp();
}
note(
  `took ${((performance.now() - benchStarted) / 1000).toFixed(0)} s; load average ${loadavg()
    .map((each) => each.toFixed(2))
    .join(' ')}`,
);
process.exit(code);
