/**
 * Inbound benchmark (the agent as a protected MCP server), on the built library (dist/):
 * `npm run bench`. Prints one `BENCH <name> <number>` line per figure (`#` lines explain them):
 *
 * - inbound.cached_throughput_ratio: authenticated `tools/call` throughput of `createApp` with a
 *   cached verification ÷ the same app with authorization off. Goal ≥ 0.97.
 * - inbound.serve_vs_sdk_throughput_ratio: that authenticated throughput ÷ a server built from
 *   the MCP SDK alone (Express, `requireBearerAuth`, a jose verifier, stateless Streamable HTTP)
 *   with the same token. Goal ≥ 1.0.
 * - inbound.jwt_miss_cost_ratio: our verification of a JWT on a cache miss (hash, cache lookup,
 *   shape checks, key selection, jose) ÷ a bare `jose.jwtVerify` with the key at hand. Goal ≤ 1.5.
 * - inbound.introspection_calls_1000_concurrent: introspection requests caused by 1,000
 *   concurrent HTTP requests carrying one new opaque token. Goal 1.
 * - inbound.added_latency_p50_us / _p99_us: what authentication adds to a request with a cached
 *   token (BearerGuard.authenticate: header parsing, hash, cache hit, scope check), microseconds.
 * - inbound.cache_bytes_per_token: heap per cached verification, measured over 10,000 tokens
 *   (run with --expose-gc).
 *
 * Each server runs in its own process (bench/inbound-server.mjs) and the load comes from this one;
 * the three servers are measured in many short interleaved rounds (the order alternating) and the
 * median of the per-round ratios is printed, since the machine is shared and noisy.
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
  settingsSchema,
  VerificationCache,
} from '../dist/index.js';

const SERVER = fileURLToPath(new URL('./inbound-server.mjs', import.meta.url));
const RESOURCE = 'http://127.0.0.1/mcp';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const CONCURRENCY = 8;
const cleanups = [];

function print(name, value, note) {
  if (note) console.log(`# ${note}`);
  console.log(`BENCH ${name} ${value}`);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

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
{
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

// --- Throughput: three servers, interleaved ---------------------------------------------------
async function startServer(mode) {
  const child = spawn(process.execPath, [SERVER, mode], {
    env: { ...process.env, ISSUER, JWKS_URI, RESOURCE },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise((done, fail) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', done);
    child.once('exit', (code) => fail(new Error(`${mode} server exited (${code})`)));
  });
  cleanups.push(() => {
    child.stdin.end();
    return new Promise((done) => child.once('exit', done));
  });
  return JSON.parse(line).url;
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

const bearer = { authorization: `Bearer ${token}` };
const servers = {
  ours: { url: await startServer('ours'), headers: bearer },
  // The same request everywhere (the open server ignores the header): only the server differs.
  open: { url: await startServer('ours-open'), headers: bearer },
  sdk: { url: await startServer('sdk'), headers: bearer },
};
servers.ours.headers = await openSession(servers.ours.url, servers.ours.headers);
servers.open.headers = await openSession(servers.open.url, servers.open.headers);
// Warm up every server (JIT, connection pools) before measuring.
for (let i = 0; i < 4; i += 1) {
  for (const server of Object.values(servers)) {
    await callsPerSecond(server.url, server.headers, 1000);
  }
}
const cachedRatios = [];
const sdkRatios = [];
for (let round = 0; round < ROUNDS; round += 1) {
  // The order alternates, so a machine that speeds up or slows down within a round favours
  // no server.
  const order = round % 2 === 0 ? ['ours', 'open', 'sdk'] : ['sdk', 'open', 'ours'];
  const rate = {};
  for (const name of order) {
    rate[name] = await callsPerSecond(servers[name].url, servers[name].headers, REQUESTS);
  }
  if (round % 10 === 9) {
    console.log(
      `# round ${round + 1}: protected ${rate.ours.toFixed(0)}/s, open ${rate.open.toFixed(0)}/s, SDK-only ${rate.sdk.toFixed(0)}/s`,
    );
  }
  cachedRatios.push(rate.ours / rate.open);
  sdkRatios.push(rate.ours / rate.sdk);
}
print(
  'inbound.cached_throughput_ratio',
  median(cachedRatios).toFixed(3),
  `tools/call throughput, authorization on (cached) ÷ off; ${CONCURRENCY} in flight, ${REQUESTS} calls per round, median of ${ROUNDS}`,
);
print(
  'inbound.serve_vs_sdk_throughput_ratio',
  median(sdkRatios).toFixed(3),
  'ours (protected) ÷ Express + requireBearerAuth + jose + stateless SDK transport, same token',
);

// --- JWT verification on a cache miss ---------------------------------------------------------
{
  const jwks = new JwksCache({ uri: JWKS_URI, fetch });
  await jwks.refresh();
  const verifier = new JwtVerifier({ issuer: ISSUER, audiences: [RESOURCE], jwks });
  const noCache = new VerificationCache({ ttlSeconds: 0, namespace: 'bench' });
  const key = publicKey;
  const N = 300;
  const ratios = [];
  const ours = [];
  const bare = [];
  const timed = async (verify) => {
    const started = performance.now();
    for (let i = 0; i < N; i += 1) await verify();
    return (performance.now() - started) / N;
  };
  const viaCache = async () => {
    const result = await noCache.verify(token, verifier);
    if (!result.ok) throw new Error('verification failed');
  };
  const direct = () => jwtVerify(token, key, { issuer: ISSUER, audience: RESOURCE });
  await timed(viaCache);
  await timed(direct);
  // Short interleaved rounds, the order alternating, the median of the per-round ratios.
  for (let round = 0; round < 30; round += 1) {
    const first = round % 2 === 0;
    const a = first ? await timed(viaCache) : await timed(direct);
    const b = first ? await timed(direct) : await timed(viaCache);
    const [mine, theirs] = first ? [a, b] : [b, a];
    ours.push(mine);
    bare.push(theirs);
    ratios.push(mine / theirs);
  }
  console.log(
    `# per verification: ours ${(median(ours) * 1000).toFixed(1)} µs, bare jose ${(median(bare) * 1000).toFixed(1)} µs (RS256), median of 30 interleaved rounds`,
  );
  print('inbound.jwt_miss_cost_ratio', median(ratios).toFixed(3));
}

// --- Introspection single flight through HTTP -------------------------------------------------
{
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
{
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
