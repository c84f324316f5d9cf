/**
 * Hostile-endpoint benchmark (issue 13 item 8), on the built library (dist/): memory while servers
 * we do not control stream without end. `npm run bench` runs it after bench/lifecycle.mjs, under
 * `node --expose-gc` (it needs `gc()`).
 *
 * Prints one `BENCH <name> <number>` line per figure (and `#` lines that explain them):
 *
 * - outbound.hostile_stream_heap_growth_kib: memory (V8 heap used + external buffers) after a
 *   full GC, minus the same before, around 400 token requests (8 at a time, through 8 token
 *   managers of a service account) to a token endpoint that answers each with a JSON body that
 *   never ends. Each request must fail with RESPONSE_LIMIT. Goal: flat (within the noise of a
 *   run, a few hundred KiB either way).
 * - outbound.hostile_stream_bytes_sent_mib: what that endpoint wrote meanwhile (the client reads
 *   64 KiB of each answer; the rest is what the sockets took before the connection closed).
 *   A `#` line also gives the highest memory sampled during the run, garbage not yet collected
 *   included (so not a measure of what is held).
 * - outbound.hostile_mcp_heap_growth_kib, outbound.hostile_mcp_bytes_sent_mib: the same for 100
 *   tools/call requests (4 at a time) to an MCP server whose every answer is a JSON body without
 *   end (`max_response_bytes: 1048576`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createHttpStack,
  createTokenStore,
  loadSettings,
  ServerRegistry,
  TokenManager,
} from '../dist/index.js';

if (typeof globalThis.gc !== 'function') {
  throw new Error('run with node --expose-gc (npm run bench does)');
}

function bench(name, value) {
  console.log(`BENCH ${name} ${value}`);
}

function note(text) {
  console.log(`# ${text}`);
}

/** Heap used + external buffers (where response bodies live), in bytes. */
function memory() {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

async function settledMemory() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return memory();
}

/** A server whose `stream(req)` routes answer a JSON body without end; `bytes` counts what it wrote. */
async function hostileServer(routes) {
  const stats = { bytes: 0, streams: 0 };
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const server = createServer((req, res) => {
    const body = [];
    req.on('data', (part) => body.push(part));
    req.on('end', () => {
      const route = routes[(req.url ?? '/').split('?')[0]];
      if (!route) {
        res.writeHead(404).end();
        return;
      }
      const answer = route(req, Buffer.concat(body).toString('utf8'), res);
      if (answer === undefined) return;
      // A JSON body that never ends: written as fast as the client takes it, until it goes.
      stats.streams += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      let open = true;
      res.on('close', () => {
        open = false;
      });
      const write = (data) => {
        stats.bytes += data.length;
        return res.write(data);
      };
      const pump = () => {
        while (open && write(chunk)) {}
        if (open) res.once('drain', pump);
      };
      write(Buffer.from(answer));
      pump();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    stats,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/**
 * Run `total` calls of `call`, `concurrency` at a time, sampling memory; each must fail with
 * RESPONSE_LIMIT. The peak includes garbage not yet collected.
 */
async function measure(label, server, total, concurrency, call) {
  // Warm up first (connections, compiled code, each worker's state): the baseline is then the
  // steady state, and what grows after it is what the answers leave behind.
  await run(Math.ceil(total / 4), concurrency, call);
  const before = await settledMemory();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, memory());
  }, 5);
  const started = performance.now();
  const streamsBefore = server.stats.streams;
  const bytesBefore = server.stats.bytes;
  await run(total, concurrency, call);
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  const after = await settledMemory();
  const streams = server.stats.streams - streamsBefore;
  note(
    `${label}: ${total} calls, ${streams} endless answers streamed, in ${seconds.toFixed(1)} s, ${concurrency} calls at a time; memory ${(before / 1048576).toFixed(1)} MiB before, ${(after / 1048576).toFixed(1)} MiB after (GC), ${(peak / 1048576).toFixed(1)} MiB at the highest sample (garbage included)`,
  );
  if (streams < total) throw new Error(`only ${streams} of ${total} calls reached the server`);
  return {
    growthKib: Math.round((after - before) / 1024),
    sentMib: Math.round((server.stats.bytes - bytesBefore) / (1024 * 1024)),
  };
}

/** `total` calls of `call(worker)`, `concurrency` workers at a time. */
async function run(total, concurrency, call) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < total) {
        next += 1;
        await expectLimit(() => call(worker));
      }
    }),
  );
}

async function expectLimit(call) {
  const error = await call().then(
    () => undefined,
    (caught) => caught,
  );
  if (error?.code !== 'RESPONSE_LIMIT') {
    throw new Error(`expected RESPONSE_LIMIT, got ${error?.code ?? 'success'}: ${error?.message}`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-bench-outbound-'));
const http = createHttpStack();
const cleanups = [() => rmSync(dir, { recursive: true, force: true }), () => http.close()];
try {
  // 1. A token endpoint that never ends its answer.
  const as = await hostileServer({
    '/.well-known/oauth-authorization-server': (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          issuer: as.origin,
          token_endpoint: `${as.origin}/token`,
          token_endpoint_auth_methods_supported: ['client_secret_post'],
        }),
      );
      return undefined;
    },
    '/token': () => '{"access_token":"',
  });
  cleanups.push(() => as.close());
  writeFileSync(
    join(dir, 'mcp_agent.config.yaml'),
    `mcp:
  servers:
    svc:
      transport: streamable_http
      url: ${as.origin}/mcp
      auth:
        oauth:
          enabled: true
          grant_type: client_credentials
          authorization_server: ${as.origin}
          client_id: bench
          client_secret: bench-secret
`,
  );
  const { settings } = loadSettings({ cwd: dir, env: {}, homeDir: dir, dotenv: false });
  const store = createTokenStore(settings.oauth.token_store);
  cleanups.push(() => store.close());
  // One token manager per worker (identity): one manager shares one request among its callers.
  const auths = Array.from({ length: 8 }, (_, i) =>
    new TokenManager({
      store,
      oauth: settings.oauth,
      fetch: http.fetch,
      identity: `bench-${i}`,
    }).forServer('svc', settings.mcp.servers.svc),
  );
  const token = await measure('token endpoint', as, 400, 8, (worker) => auths[worker].token());
  bench('outbound.hostile_stream_heap_growth_kib', token.growthKib);
  bench('outbound.hostile_stream_bytes_sent_mib', token.sentMib);

  // 2. An MCP server whose every answer after initialize never ends.
  const mcp = await hostileServer({
    '/mcp': (req, body, res) => {
      const message = JSON.parse(body || '{}');
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return undefined;
      }
      if (message.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'bench' });
        res.end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: message.id,
            result: {
              protocolVersion: message.params.protocolVersion,
              capabilities: { tools: {} },
              serverInfo: { name: 'hostile', version: '1.0.0' },
            },
          }),
        );
        return undefined;
      }
      if (message.id === undefined) {
        res.writeHead(202).end();
        return undefined;
      }
      return `{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":{"content":[],"x":"`;
    },
  });
  cleanups.push(() => mcp.close());
  const registry = new ServerRegistry(
    {
      mcp: {
        servers: {
          hostile: {
            ...settings.mcp.servers.svc,
            url: `${mcp.origin}/mcp`,
            auth: undefined,
            max_response_bytes: 1024 * 1024,
          },
        },
      },
    },
    { env: {}, http },
  );
  cleanups.push(() => registry.closeAll());
  const connection = await registry.connect('hostile');
  const calls = await measure('MCP server', mcp, 100, 4, () => connection.callTool('anything', {}));
  bench('outbound.hostile_mcp_heap_growth_kib', calls.growthKib);
  bench('outbound.hostile_mcp_bytes_sent_mib', calls.sentMib);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
process.exit(0);
