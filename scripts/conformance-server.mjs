// `npm run test:conformance` (after scripts/conformance.mjs): the official MCP conformance suite's
// SERVER scenarios against `serve` in front mode (docs/serve.md, "Protect one existing server"),
// in front of test/conformance/reference-server.mjs (a stdio server implementing what the
// scenarios call). Issue 15, item 6.
//
// Two runs, each at every revision in REVISIONS (the 2025 revisions on serve's sessions, 2026-07-28
// on its stateless modern leg, ADR 0004). The reference server speaks both eras; serve speaks
// 2026-07-28 to it at every revision (DOWNSTREAM_PROTOCOL, see there):
//   off: `createApp({ front: 'reference' })` with authorization off;
//   on:  the same protected by the development authorization server (`mcp-agent dev`'s), with a
//        JWT access token this script obtains by the client-credentials grant (a confidential
//        client it registers dynamically). The suite's server mode sends no header of its own, so
//        test/conformance/bearer.mjs, preloaded into the suite's process, adds the bearer to
//        every request to serve.
// Every (run, revision) is one suite process running all its scenarios, side by side (bounded).
// Each prints `conformance server: X/Y`, X the scenarios that pass; failures must be in
// test/conformance/server-baseline.yml (each entry says why), and an entry that passes is stale.
//
// Usage: node scripts/conformance-server.mjs [--run off|on]... [--revision <rev>]... [--verbose]
// Exit: 0 when every failure is in the baseline and no entry is stale; 1 otherwise; 2 on a
// usage or setup error.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as oauth from 'oauth4webapi';
import { parse as parseYaml } from 'yaml';
import { findChecks } from './conformance-checks.mjs';
import { requireProjectNode } from './node-runtime.mjs';

const REVISIONS = ['2025-11-25', '2025-06-18', '2026-07-28'];
const BASELINE = 'test/conformance/server-baseline.yml';
const SERVER = 'reference';
/**
 * The `protocol` of the reference server's entry: `auto` at every revision the suite speaks to
 * serve, so serve negotiates 2026-07-28 with it (as with any v2 server) and relays what the 2025
 * revisions' scenarios need on that wire: resource subscriptions (on a `subscriptions/listen`
 * stream naming the URIs), log messages (the caller's level in each request's envelope) and the
 * server's input requests.
 */
const DOWNSTREAM_PROTOCOL = 'auto';

const root = fileURLToPath(new URL('..', import.meta.url));
const toolsDir = join(root, '.tools', 'conformance');
const suiteEntry = join(
  toolsDir,
  'node_modules',
  '@modelcontextprotocol',
  'conformance',
  'dist',
  'index.js',
);
const undiciEntry = join(toolsDir, 'node_modules', 'undici', 'index.js');
const resultsDir = join(toolsDir, 'server-results');

function fail(message, code = 2) {
  console.error(`conformance server: ${message}`);
  process.exit(code);
}

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      run: { type: 'string', multiple: true },
      revision: { type: 'string', multiple: true },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (options.help) {
  console.log(
    'Usage: node scripts/conformance-server.mjs [--run off|on]... [--revision 2025-11-25|2025-06-18|2026-07-28]... [--verbose]',
  );
  process.exit(0);
}
requireProjectNode('conformance server');
const runsWanted = options.run ?? ['off', 'on'];
const revisions = options.revision ?? REVISIONS;
for (const run of runsWanted) if (!['off', 'on'].includes(run)) fail(`unknown --run ${run}`);
for (const rev of revisions) if (!REVISIONS.includes(rev)) fail(`unknown --revision ${rev}`);
if (!existsSync(suiteEntry)) {
  // The client-auth script installs the suite; reuse it.
  const install = spawnSync(
    process.execPath,
    [join(root, 'scripts/conformance.mjs'), '--install-only'],
    {
      stdio: 'inherit',
    },
  );
  if (install.status !== 0 || !existsSync(suiteEntry)) fail('the suite could not be installed');
}
if (!existsSync(join(root, 'dist', 'index.js')))
  fail('dist/index.js does not exist; run `npm run build` first');

const { createApp, settingsSchema } = await import(
  pathToFileURL(join(root, 'dist', 'index.js')).href
);
const { startDevAuthorizationServer } = await import(
  pathToFileURL(join(root, 'dist', 'dev', 'index.js')).href
);

// The scenarios of each revision, from the installed suite: `- name [rev,rev]`. A run that reports
// fewer (a suite that stopped half-way) fails.
const listing = spawnSync(process.execPath, [suiteEntry, 'list', '--server'], { encoding: 'utf8' });
if (listing.status !== 0) fail(`\`conformance list --server\` failed: ${listing.stderr}`);
const scenariosOf = (revision) =>
  [...listing.stdout.matchAll(/^\s+- (\S+) \[([^\]]*)\]$/gm)]
    .filter((m) => m[2].split(',').includes(revision))
    .map((m) => m[1]);

const baseline = parseYaml(readFileSync(join(root, BASELINE), 'utf8'))?.server ?? [];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A free loopback port (the resource URL must be known before the authorization server starts),
 * drawn below the ephemeral range: a port the kernel handed out (listen 0) may be taken by an
 * outgoing connection before the server binds it (test/support/net.ts does the same).
 */
async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port found below the ephemeral range after 50 attempts');
}

function settingsFor(authorization) {
  return settingsSchema.parse({
    name: 'conformance-front',
    front: SERVER,
    mcp: {
      servers: {
        [SERVER]: {
          transport: 'stdio',
          command: process.execPath,
          args: [join(root, 'test/conformance/reference-server.mjs')],
          protocol: DOWNSTREAM_PROTOCOL,
        },
      },
    },
    ...(authorization ? { authorization } : {}),
  });
}

/** serve in front mode, authorization off. */
async function startOpen() {
  const app = await createApp({
    settings: settingsFor(undefined),
    logger: quiet,
    cwd: root,
  });
  const running = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: running.url, close: () => running.close() };
}

/** serve in front mode behind the development authorization server, and a token for it. */
async function startProtected() {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const issuerServer = await startDevAuthorizationServer({
    port: 0,
    resources: [resource],
    scopes: ['mcp:tools'],
  });
  const app = await createApp({
    settings: settingsFor({
      enabled: true,
      issuer_url: issuerServer.issuer,
      resource_server_url: resource,
      expected_audiences: [resource],
      required_scopes: ['mcp:tools'],
      jwks_uri: issuerServer.jwksUri,
    }),
    logger: quiet,
    cwd: root,
  });
  const running = await app.listen({ host: '127.0.0.1', port });
  // The run is only worth its name if serve refuses a request without the token.
  const bare = await fetch(resource, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  await bare.body?.cancel();
  if (bare.status !== 401)
    fail(`serve answered ${bare.status} to a request without a token, not 401`);
  const token = await clientCredentialsToken(issuerServer.issuer, resource);
  return {
    url: running.url,
    token,
    close: async () => {
      await running.close();
      await issuerServer.close();
    },
  };
}

/** Register a confidential client and get an access token for `resource` (client credentials). */
async function clientCredentialsToken(issuer, resource) {
  const allow = { [oauth.allowInsecureRequests]: true };
  const issuerUrl = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(
    issuerUrl,
    await oauth.discoveryRequest(issuerUrl, { ...allow, algorithm: 'oauth2' }),
  );
  const registered = await oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(
      as,
      {
        client_name: 'conformance server run',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'mcp:tools',
      },
      allow,
    ),
  );
  const client = { client_id: registered.client_id };
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    client,
    oauth.ClientSecretBasic(registered.client_secret),
    new URLSearchParams({ scope: 'mcp:tools', resource }),
    allow,
  );
  return (await oauth.processClientCredentialsResponse(as, client, response)).access_token;
}

/** One suite process: every server scenario of `revision` against `url`. */
function runSuite({ label, url, revision, token }) {
  const out = join(resultsDir, label);
  const args = [
    ...(token ? ['--import', pathToFileURL(join(root, 'test/conformance/bearer.mjs')).href] : []),
    suiteEntry,
    'server',
    '--url',
    url,
    '--spec-version',
    revision,
    // `all`: the pending scenarios too (server-sse-polling, json-schema-2020-12), not only the
    // suite's default `active` set; the draft ones are filtered out by --spec-version.
    '--suite',
    'all',
    '--output-dir',
    out,
    '--timeout',
    '20000',
  ];
  const env = {
    ...process.env,
    ...(token
      ? {
          CONFORMANCE_BEARER_TOKEN: token,
          CONFORMANCE_BEARER_ORIGIN: new URL(url).origin,
          CONFORMANCE_UNDICI: pathToFileURL(undiciEntry).href,
        }
      : {}),
  };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
    });
    child.stderr.on('data', (chunk) => {
      text += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (options.verbose) process.stderr.write(text);
      resolve({ label, out, code, text });
    });
  });
}

/** Scenario → checks, from `<out>/server-<scenario>-<timestamp>/checks.json`. */
function resultsIn(dir) {
  const results = new Map();
  for (const file of findChecks(dir)) {
    const name = relative(dir, dirname(file))
      .split(/[\\/]/)
      .at(-1)
      .replace(/^server-/, '')
      .replace(/-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/, '');
    results.set(name, JSON.parse(readFileSync(file, 'utf8')));
  }
  return results;
}

const bad = (check) => check.status === 'FAILURE' || check.status === 'WARNING';
const whole = new Set(baseline.map(String).filter((e) => !e.includes(':')));
const perCheck = new Set(baseline.map(String).filter((e) => e.includes(':')));

/** The verdict of one suite process, printed; true when it holds to the baseline. */
function judge(result, title, revision) {
  const results = resultsIn(result.out);
  const missing = scenariosOf(revision).filter((name) => !results.has(name));
  let passed = 0;
  let ok = true;
  const lines = [];
  const seen = new Set();
  for (const [scenario, checks] of [...results].sort(([a], [b]) => a.localeCompare(b))) {
    const failing = checks.filter(bad);
    if (failing.length === 0) {
      passed++;
      if (whole.has(scenario)) {
        ok = false;
        lines.push(`  ! stale baseline entry: ${scenario} now passes`);
      }
      continue;
    }
    const excused = failing.filter(
      (c) => whole.has(scenario) || perCheck.has(`${scenario}:${c.id}`),
    );
    for (const c of excused) seen.add(`${scenario}:${c.id}`);
    const unexcused = failing.length - excused.length;
    if (unexcused > 0) ok = false;
    lines.push(
      `  ${unexcused > 0 ? '✗' : '~'} ${scenario}${unexcused > 0 ? '' : ' — expected (baseline)'}`,
    );
    for (const c of failing) {
      const why = String(c.errorMessage ?? c.description ?? '').split('\n')[0];
      lines.push(`      ${excused.includes(c) ? '~' : '-'} ${c.id} [${c.status}]: ${why}`);
    }
  }
  if (missing.length > 0) {
    ok = false;
    lines.push(
      `  ✗ no result for ${missing.join(', ')}; the suite said:\n${result.text.slice(-2000)}`,
    );
  }
  console.log(`${title}`);
  for (const line of lines) console.log(line);
  console.log(`conformance server: ${passed}/${results.size} (${title})`);
  return ok;
}

rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });
const started = Date.now();
const servers = [];
try {
  const plans = [];
  // One serve (and one reference server) per suite process: a stdio server is one connection
  // shared by every caller, and serve drops a log message it cannot attribute to a single caller
  // (docs/serve.md, "Logging"); two suite processes calling tools on one connection at once would
  // make tools-call-with-logging depend on timing. The suite runs its scenarios one by one.
  for (const run of runsWanted) {
    for (const revision of revisions) {
      const served = run === 'on' ? await startProtected() : await startOpen();
      servers.push(served);
      plans.push({
        label: `${run}-${revision}`,
        run,
        revision,
        url: served.url,
        token: served.token,
      });
    }
  }
  const results = await Promise.all(plans.map((plan) => runSuite(plan)));
  let ok = true;
  console.log(
    `MCP conformance server scenarios: serve --front ${SERVER} (test/conformance/reference-server.mjs)`,
  );
  for (const [i, result] of results.entries()) {
    const plan = plans[i];
    const title = `authorization ${plan.run}, ${plan.revision}`;
    ok = judge(result, title, plan.revision) && ok;
  }
  console.log(`conformance server: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!ok) {
    console.log(
      `FAILED: failures outside ${BASELINE} or stale entries; checks.json under ${relative(root, resultsDir)}/`,
    );
    process.exitCode = 1;
  } else {
    console.log(`OK: no server-scenario failures outside ${BASELINE}`);
  }
} finally {
  await Promise.all(servers.map((s) => s.close().catch(() => {})));
}
process.exit(process.exitCode ?? 0);
