/**
 * Inbound benchmark (the agent as a protected MCP server), on the built library (dist/):
 * `npm run bench`. Prints one `BENCH <name> <number>` line per figure (`#` lines explain them):
 *
 * - Throughput of six servers, each in its own process (bench/inbound-server.mjs), measured side
 *   by side: `serve` (ours, authorization on, cached verification), `serve_ctx` (the same with
 *   the caller context on), `serve_open` (authorization off), and three built from the MCP SDK
 *   alone: `sdk_cached` (its stateful Streamable HTTP server as its example builds it, with
 *   `requireBearerAuth` and a jose verifier that caches per token), `sdk_jose` (the same, jose on
 *   every request) and `sdk_stateless` (a new server and transport per request). For each,
 *   `inbound.<server>_rps` (calls per second) and `inbound.<server>_cpu_us` (server CPU per call);
 *   for each comparison, `inbound.<a>_throughput_ratio` (ratio of rps) and `inbound.<a>_cpu_ratio`
 *   (inverse ratio of CPU per call):
 *   - cached: serve ÷ serve_open. Goal ≥ 0.97.
 *   - serve_vs_sdk: serve ÷ sdk_cached, the strongest fair peer. Goal ≥ 1.0.
 *   - serve_vs_sdk_jose, serve_vs_sdk_stateless: serve ÷ the other two SDK servers.
 *   - serve_ctx_vs_sdk: serve_ctx ÷ sdk_cached; caller_context: serve_ctx ÷ serve.
 * - inbound.jwt_miss_cost_ratio: our verification of a JWT on a cache miss (hash, cache lookup,
 *   shape checks, key selection, jose) ÷ a bare `jose.jwtVerify` with the key at hand. Goal ≤ 1.5.
 *   inbound.jwt_miss_redis_cost_ratio: the same with the shared Redis cache (a GET that misses,
 *   then a SET); inbound.jwt_shared_hit_redis_cost_ratio: another replica reading it back. Each
 *   with its µs (`inbound.jwt_*_us`).
 * - inbound.introspection_calls_1000_concurrent: introspection requests caused by 1,000
 *   concurrent HTTP requests carrying one new opaque token. Goal 1.
 * - inbound.added_latency_p50_us / _p99_us: what authentication adds to a request with a cached
 *   token (BearerGuard.authenticate: header parsing, hash, cache hit, scope check), microseconds.
 * - inbound.cache_bytes_per_token: heap per cached verification, measured over 10,000 tokens
 *   (run with --expose-gc).
 *
 * The machine may be shared and noisy: the servers are measured in many short interleaved rounds
 * (the order alternating) and the median of the per-round figures is printed. BENCH_ROUNDS,
 * BENCH_REQUESTS, BENCH_JWT_ROUNDS, BENCH_JWT_TOKENS change the sizes; BENCH_ONLY=throughput,jwt
 * (memory, throughput, jwt, introspection, latency) runs some sections only.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  AppDefinition,
  BearerGuard,
  createApp,
  JwksCache,
  JwtVerifier,
  RedisKeyValueStore,
  settingsSchema,
  VerificationCache,
} from '../dist/index.js';
import { deletePrefix, redisForBench } from './redis.mjs';
import { median, note, print } from './report.mjs';

const SERVER = fileURLToPath(new URL('./inbound-server.mjs', import.meta.url));
const RESOURCE = 'http://127.0.0.1/mcp';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 240);
const CONCURRENCY = 8;
const SLICES = 4;
// BENCH_ONLY=throughput,jwt runs those sections only (while working on one).
const ONLY = process.env.BENCH_ONLY?.split(',');
const section = (name) => !ONLY || ONLY.includes(name);
const cleanups = [];

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

// --- The issuer: a key pair and a JWKS endpoint -----------------------------------------------
const { privateKey, publicKey } = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
let introspections = 0;
const issuerServer = createServer((req, res) => {
  if (req.url === '/jwks') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
    return;
  }
  if (req.url === '/introspect' && req.method === 'POST') {
    introspections += 1;
    req.resume();
    req.on('end', () =>
      // A little latency, as a real authorization server has.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            active: true,
            iss: ISSUER,
            sub: 'alice',
            aud: RESOURCE,
            scope: 'mcp:tools',
            client_id: 'bench',
            exp: Math.floor(Date.now() / 1000) + 3600,
          }),
        );
      }, 5),
    );
    return;
  }
  res.writeHead(404).end();
});
await new Promise((done) => issuerServer.listen(0, '127.0.0.1', done));
cleanups.push(() => new Promise((done) => issuerServer.close(done)));
const ISSUER = `http://127.0.0.1:${issuerServer.address().port}`;
const JWKS_URI = `${ISSUER}/jwks`;

function sign(subject = 'alice') {
  return new SignJWT({ scope: 'mcp:tools', client_id: 'bench' })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench-1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(RESOURCE)
    .setSubject(subject)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime('2h')
    .sign(privateKey);
}
const token = await sign();

// Measured first, while the heap holds nothing else that a collection could still free.
// --- Memory per cached token ------------------------------------------------------------------
if (section('memory')) {
  const jwks = new JwksCache({ uri: JWKS_URI, fetch });
  const verifier = new JwtVerifier({ issuer: ISSUER, audiences: [RESOURCE], jwks });
  const tokens = [];
  for (let i = 0; i < 10_000; i += 1) tokens.push(await sign(`user-${i}`));
  const gc = globalThis.gc;
  if (!gc) console.log('# run with --expose-gc for a precise figure');
  let cache = new VerificationCache({ ttlSeconds: 300, namespace: 'bench', maxEntries: 20_000 });
  for (const each of tokens) await cache.verify(each, verifier);
  if (cache.size !== 10_000) throw new Error(`cache holds ${cache.size} entries`);
  gc?.();
  gc?.();
  const full = process.memoryUsage().heapUsed;
  // What the cache alone keeps alive: the heap with it, minus the heap once it is dropped.
  cache = undefined;
  gc?.();
  gc?.();
  const dropped = process.memoryUsage().heapUsed;
  print(
    'inbound.cache_bytes_per_token',
    Math.round((full - dropped) / 10_000),
    'heap per cached verification (identity with the claims of a typical access token), over 10,000',
  );
}

// --- Throughput: six servers, interleaved -----------------------------------------------------
/** Start a server process: its URL, and `cpu()`, the CPU time it has used (µs, user + system). */
async function startServer(mode) {
  const child = spawn(process.execPath, [SERVER, mode], {
    // NODE_ENV=production, as Express apps are run in production (every server gets it alike).
    env: { ...process.env, NODE_ENV: 'production', ISSUER, JWKS_URI, RESOURCE },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  const next = () => new Promise((done) => waiting.push(done));
  const first = await Promise.race([
    next(),
    new Promise((_, fail) =>
      child.once('exit', (code) => fail(new Error(`${mode} server exited (${code})`))),
    ),
  ]);
  cleanups.push(() => {
    child.stdin.end();
    return new Promise((done) => child.once('exit', done));
  });
  const cpu = async () => {
    const answer = next();
    child.stdin.write('cpu\n');
    return (await answer).cpu;
  };
  return { url: first.url, cpu };
}

const dispatcher = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 30_000 });
cleanups.push(() => dispatcher.close());

async function post(url, body, headers) {
  const response = await undiciFetch(url, {
    method: 'POST',
    dispatcher,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { response, text };
}

async function openSession(url, headers) {
  const { response } = await post(
    url,
    {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'bench', version: '1' },
      },
    },
    headers,
  );
  const session = response.headers.get('mcp-session-id');
  if (!session) throw new Error(`no session from ${url} (HTTP ${response.status})`);
  const withSession = { ...headers, 'mcp-session-id': session };
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, withSession);
  return withSession;
}

async function callsPerSecond(url, headers, count) {
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        next += 1;
        const { response, text } = await post(
          url,
          {
            jsonrpc: '2.0',
            id: next,
            method: 'tools/call',
            params: { name: 'echo', arguments: { text: 'x' } },
          },
          headers,
        );
        if (response.status !== 200 || !text.includes('"result"')) failed += 1;
      }
    }),
  );
  if (failed > 0) throw new Error(`${failed} of ${count} calls to ${url} failed`);
  return count / ((performance.now() - started) / 1000);
}

if (section('throughput')) {
  const bearer = { authorization: `Bearer ${token}` };
  // The same request everywhere (the open server ignores the header), the same keep-alive client,
  // the same tool and payload: only the server differs.
  const SERVERS = {
    serve: {
      mode: 'ours',
      what: 'ours, authorization on (cached verification), caller context off',
    },
    serve_ctx: { mode: 'ours-ctx', what: 'the same with app.useCallerContext()' },
    serve_open: { mode: 'ours-open', what: 'the same app with authorization off' },
    sdk_cached: {
      mode: 'sdk-cached',
      what: 'SDK stateful server (simpleStreamableHttp: createMcpExpressApp, requireBearerAuth, sessionIdGenerator), jose once per token then a Map keyed by the token',
    },
    sdk_jose: {
      mode: 'sdk-jose',
      what: 'the same SDK stateful server, jose jwtVerify on every request',
    },
    sdk_stateless: {
      mode: 'sdk-stateless',
      what: 'SDK stateless server (a new McpServer and transport per request), jose on every request',
    },
  };
  const servers = {};
  for (const [name, { mode }] of Object.entries(SERVERS)) {
    const { url, cpu } = await startServer(mode);
    // Every stateful server gets one session, opened once, as a client keeps it.
    const headers = mode === 'sdk-stateless' ? bearer : await openSession(url, bearer);
    servers[name] = { url, headers, cpu };
  }
  const names = Object.keys(servers);
  // Warm up every server (JIT, connection pools, the verification caches) before measuring.
  for (let i = 0; i < 2; i += 1) {
    for (const name of names) await callsPerSecond(servers[name].url, servers[name].headers, 500);
  }
  const rates = Object.fromEntries(names.map((name) => [name, []]));
  const cpuPerCall = Object.fromEntries(names.map((name) => [name, []]));
  // [figure, ours, the other, what it compares]
  const COMPARISONS = [
    ['cached', 'serve', 'serve_open', 'what authorization costs with a cached verification'],
    [
      'serve_vs_sdk',
      'serve',
      'sdk_cached',
      'against the SDK stateful server with the same verification policy (verify once, then cache); its cache skips the SHA-256 of the token ours does, and the event store and request logging of its example are left out, all in its favour',
    ],
    [
      'serve_vs_sdk_jose',
      'serve',
      'sdk_jose',
      'against the SDK stateful server as its users typically run it (jose on every request)',
    ],
    [
      'serve_vs_sdk_stateless',
      'serve',
      'sdk_stateless',
      'against the SDK stateless server (what earlier versions printed as serve_vs_sdk_throughput_ratio)',
    ],
    [
      'serve_ctx_vs_sdk',
      'serve_ctx',
      'sdk_cached',
      'ours with the caller context on, against the strongest peer',
    ],
    [
      'caller_context',
      'serve_ctx',
      'serve',
      'what app.useCallerContext() (an AsyncLocalStorage around each call) leaves of the throughput',
    ],
  ];
  const wallRatios = Object.fromEntries(COMPARISONS.map(([key]) => [key, []]));
  const cpuRatios = Object.fromEntries(COMPARISONS.map(([key]) => [key, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    // Each server's calls of a round are cut in SLICES slices taken in turn, the order
    // alternating, so a neighbour's burst of load (the machine is shared) lands on every server
    // of the round alike.
    const seconds = Object.fromEntries(names.map((name) => [name, 0]));
    const cpuBefore = {};
    for (const name of names) cpuBefore[name] = await servers[name].cpu();
    for (let slice = 0; slice < SLICES; slice += 1) {
      const order = (round * SLICES + slice) % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const perSlice = REQUESTS / SLICES;
        const { url, headers } = servers[name];
        seconds[name] += perSlice / (await callsPerSecond(url, headers, perSlice));
      }
    }
    const rate = {};
    const cpu = {};
    for (const name of names) {
      rate[name] = REQUESTS / seconds[name];
      cpu[name] = ((await servers[name].cpu()) - cpuBefore[name]) / REQUESTS;
      rates[name].push(rate[name]);
      cpuPerCall[name].push(cpu[name]);
    }
    if (round % 10 === 9) {
      note(
        `round ${round + 1}: ${names.map((name) => `${name} ${rate[name].toFixed(0)}/s`).join(', ')}`,
      );
    }
    for (const [key, a, b] of COMPARISONS) {
      wallRatios[key].push(rate[a] / rate[b]);
      cpuRatios[key].push(cpu[b] / cpu[a]);
    }
  }
  note(
    `tools/call on loopback, ${CONCURRENCY} in flight on one keep-alive pool, each server in its own process; ${REQUESTS} calls per server per round in ${SLICES} slices taken in turn (order alternating), ${ROUNDS} rounds; every figure is the median over the rounds`,
  );
  for (const [name, { what }] of Object.entries(SERVERS)) {
    print(`inbound.${name}_rps`, median(rates[name]).toFixed(0), `${name}: ${what}`);
    print(`inbound.${name}_cpu_us`, median(cpuPerCall[name]).toFixed(0));
  }
  note(
    '*_rps: calls per second (wall clock); *_cpu_us: CPU time of the server process per call. Below, each *_throughput_ratio is the ratio of the two rps of a round, and each *_cpu_ratio the inverse ratio of their CPU per call: the throughput ratio when each server has a core to itself, less swayed by the neighbours of a shared machine',
  );
  for (const [key, a, b, what] of COMPARISONS) {
    print(
      `inbound.${key}_throughput_ratio`,
      median(wallRatios[key]).toFixed(3),
      `${a} ÷ ${b}: ${what}`,
    );
    print(`inbound.${key}_cpu_ratio`, median(cpuRatios[key]).toFixed(3));
  }
}

// --- JWT verification on a cache miss: in memory, and with the shared Redis cache -------------
if (section('jwt')) {
  const jwks = new JwksCache({ uri: JWKS_URI, fetch });
  await jwks.refresh();
  const verifier = new JwtVerifier({ issuer: ISSUER, audiences: [RESOURCE], jwks });
  const redis = await redisForBench();
  if (redis.started) note(redis.started);
  const prefix = `mcp-agent-ts-bench-inbound-${process.pid}`;
  const shared = new RedisKeyValueStore({ url: redis.url, prefix: `${prefix}:verify` });
  const N = Number(process.env.BENCH_JWT_TOKENS ?? 200);
  const ROUNDS_JWT = Number(process.env.BENCH_JWT_ROUNDS ?? 30);
  // N different tokens: each round's caches are new (a new namespace), so every verification is
  // a miss in memory, and, with Redis, a miss there too (a GET, jose, then a SET) until a second
  // replica's cache (same namespace, its own memory) reads them back (a GET that hits).
  const tokens = [];
  for (let i = 0; i < N; i += 1) tokens.push(await sign(`miss-${i}`));
  const timed = async (verify) => {
    const started = performance.now();
    for (const each of tokens) await verify(each);
    return ((performance.now() - started) * 1000) / N;
  };
  const through = (cache) => async (each) => {
    const result = await cache.verify(each, verifier);
    if (!result.ok) throw new Error(`verification failed: ${result.description}`);
  };
  const newCache = (namespace, withShared) =>
    new VerificationCache({ ttlSeconds: 300, namespace, ...(withShared ? { shared } : {}) });
  const variants = {
    memory: () => through(newCache(`memory-${crypto.randomUUID()}`, false)),
    redis_miss: (namespace) => through(newCache(namespace, true)),
    redis_hit: (namespace) => through(newCache(namespace, true)),
    jose: () => (each) => jwtVerify(each, publicKey, { issuer: ISSUER, audience: RESOURCE }),
  };
  const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  const ratios = { memory: [], redis_miss: [], redis_hit: [] };
  for (let round = -2; round < ROUNDS_JWT; round += 1) {
    // The order alternates (the Redis hit always after the miss that wrote its entries).
    const order =
      round % 2 === 0
        ? ['memory', 'redis_miss', 'redis_hit', 'jose']
        : ['jose', 'redis_miss', 'redis_hit', 'memory'];
    const namespace = `redis-${crypto.randomUUID()}`;
    const us = {};
    for (const name of order) us[name] = await timed(variants[name](namespace));
    // Rounds below 0 warm up (JIT, the Redis connection).
    if (round < 0) continue;
    for (const name of Object.keys(variants)) samples[name].push(us[name]);
    for (const name of Object.keys(ratios)) ratios[name].push(us[name] / us.jose);
  }
  note(
    `JWT verification on a cache miss, RS256, µs per token; ${N} tokens per variant per round, ${ROUNDS_JWT} interleaved rounds, medians`,
  );
  print(
    'inbound.jwt_bare_jose_us',
    median(samples.jose).toFixed(1),
    'bare jose.jwtVerify, the key at hand',
  );
  print(
    'inbound.jwt_miss_us',
    median(samples.memory).toFixed(1),
    'ours, in-memory cache: SHA-256 of the token, lookup, shape checks, key selection, jose, remember',
  );
  print('inbound.jwt_miss_cost_ratio', median(ratios.memory).toFixed(3), 'jwt_miss ÷ bare jose');
  print(
    'inbound.jwt_miss_redis_us',
    median(samples.redis_miss).toFixed(1),
    'ours with the shared Redis cache (oauth.token_store.backend: redis), a token no replica has seen: the in-memory miss plus a Redis GET that misses and a SET of the result, awaited in the request',
  );
  print(
    'inbound.jwt_miss_redis_cost_ratio',
    median(ratios.redis_miss).toFixed(3),
    'jwt_miss_redis ÷ bare jose',
  );
  print(
    'inbound.jwt_shared_hit_redis_us',
    median(samples.redis_hit).toFixed(1),
    'another replica (its own memory cache empty) with a token one replica verified: a Redis GET that hits, no jose',
  );
  print(
    'inbound.jwt_shared_hit_redis_cost_ratio',
    median(ratios.redis_hit).toFixed(3),
    'jwt_shared_hit_redis ÷ bare jose',
  );
  await shared.close();
  await deletePrefix(redis.url, prefix);
  redis.close();
}

// --- Introspection single flight through HTTP -------------------------------------------------
if (section('introspection')) {
  const settings = settingsSchema.parse({
    authorization: {
      enabled: true,
      issuer_url: ISSUER,
      jwks_uri: JWKS_URI,
      introspection_endpoint: `${ISSUER}/introspect`,
      introspection_client_id: 'bench-rs',
      introspection_client_secret: 'bench-secret',
      resource_server_url: RESOURCE,
      expected_audiences: [RESOURCE],
    },
  });
  const definition = new AppDefinition();
  const app = await createApp({ settings, definition, env: {} });
  const running = await app.listen({ host: '127.0.0.1', port: 0 });
  const many = new Agent({ connections: 1000, keepAliveTimeout: 30_000 });
  const opaque = `opaque-${crypto.randomUUID()}`;
  const before = introspections;
  const statuses = await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      undiciFetch(running.url, {
        method: 'POST',
        dispatcher: many,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${opaque}`,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/list' }),
      }).then(async (response) => {
        await response.arrayBuffer();
        return response.status;
      }),
    ),
  );
  const refused = statuses.filter((status) => status === 401 || status === 403 || status === 503);
  if (refused.length > 0) throw new Error(`${refused.length} requests were refused`);
  print(
    'inbound.introspection_calls_1000_concurrent',
    introspections - before,
    'introspection requests for 1,000 concurrent requests with one new opaque token',
  );
  await many.close();
  await running.close();
  await app.close();
}

// --- Added latency of authentication (cached) -------------------------------------------------
if (section('latency')) {
  const jwks = new JwksCache({ uri: JWKS_URI, fetch });
  const verifier = new JwtVerifier({ issuer: ISSUER, audiences: [RESOURCE], jwks });
  const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'bench' });
  const guard = new BearerGuard({
    verifier,
    cache,
    resourceMetadataUrl: `${ISSUER}/.well-known/oauth-protected-resource/mcp`,
    requiredScopes: ['mcp:tools'],
  });
  const header = [`Bearer ${token}`];
  const warm = await guard.authenticate({ authorization: header });
  if (!warm.ok) throw new Error('guard refused the token');
  const samples = [];
  for (let i = 0; i < 20_000; i += 1) {
    const started = performance.now();
    await guard.authenticate({ authorization: header });
    samples.push((performance.now() - started) * 1000);
  }
  samples.sort((a, b) => a - b);
  print(
    'inbound.added_latency_p50_us',
    percentile(samples, 0.5).toFixed(1),
    'BearerGuard.authenticate with a cached token, 20,000 requests',
  );
  print('inbound.added_latency_p99_us', percentile(samples, 0.99).toFixed(1));
}

for (const cleanup of cleanups.reverse()) await cleanup();
process.exit(0);
