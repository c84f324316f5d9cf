// The client under test of `npm run test:conformance` (scripts/conformance.mjs): the MCP
// conformance suite spawns `node test/conformance/client.mjs <server url>` once per client-auth
// scenario. It drives OUR library from dist/ (run `npm run build` first): the token manager
// (discovery, registration, PKCE, RFC 9207 checks, step-up), our auth-aware fetch inside the SDK's
// Streamable HTTP transport, and the server registry. Not the SDK's auth().
//
// Contract (see the suite): the server URL is the last argument; MCP_CONFORMANCE_SCENARIO names
// the scenario; MCP_CONFORMANCE_CONTEXT (JSON, only some scenarios) carries pre-registered
// credentials; MCP_CONFORMANCE_PROTOCOL_VERSION the revision (`protocol` of the server entry).
// Flow: connect → tools/list → tools/call test-tool {} → exit 0; any error is
// printed on stderr and exits 1. Plain JS so it runs on Node 20 without a build step of its own.
let library;
try {
  library = await import('../../dist/index.js');
} catch (error) {
  process.stderr.write(
    `conformance client: cannot load ../../dist/index.js (run \`npm run build\` first): ${error?.message ?? error}\n`,
  );
  process.exit(1);
}
const { createTokenStore, ServerRegistry, settingsSchema, startLoopbackReceiver, TokenManager } =
  library;

/** The client ID metadata document URL the suite expects (`auth/basic-cimd`); never fetched. */
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';

/**
 * Our own deadline, under the suite's 30 s kill: a scenario takes 1–3 s, but the runner starts up
 * to 15 clients at once, and on a loaded 2-core machine one login can take over 10 s.
 */
const OVERALL_TIMEOUT_MS = 25_000;

const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? 'unknown';
const verbose = process.env.CONFORMANCE_CLIENT_VERBOSE === '1';

function log(message) {
  process.stderr.write(`[client ${scenario}] ${message}\n`);
}

setTimeout(() => {
  log(`error: gave up after ${OVERALL_TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

/**
 * The pre-registered client of scenarios that have one (`auth/pre-registration`, the
 * client-credentials extension scenarios).
 */
function contextClient() {
  const raw = process.env.MCP_CONFORMANCE_CONTEXT;
  if (!raw) return {};
  let context;
  try {
    context = JSON.parse(raw);
  } catch {
    throw new Error('MCP_CONFORMANCE_CONTEXT is not JSON');
  }
  // Only trust a context that is about this scenario (it may be inherited from a parent).
  if (context?.name !== undefined && context.name !== scenario) return {};
  return {
    ...(typeof context?.client_id === 'string' ? { client_id: context.client_id } : {}),
    ...(typeof context?.client_secret === 'string' ? { client_secret: context.client_secret } : {}),
    // The client-credentials extension scenarios (SEP-1046): a service account, with a secret or
    // a private_key_jwt key.
    ...(scenario.startsWith('auth/client-credentials') ? { grant_type: 'client_credentials' } : {}),
    ...(typeof context?.private_key_pem === 'string'
      ? { private_key: context.private_key_pem }
      : {}),
    ...(typeof context?.signing_algorithm === 'string'
      ? { signing_algorithm: context.signing_algorithm }
      : {}),
  };
}

/**
 * A headless {@link Consent}: a loopback receiver on a port the system picks, and a "browser"
 * that GETs the authorization URL without following its redirect, then delivers the `Location`
 * (the callback) to the receiver. The callback GET is not awaited: the receiver answers it only
 * once the token manager waits for it, which happens after showAuthorizationUrl returns.
 */
function headlessConsent() {
  // The first login takes a port the system picks; later ones (step-up, a new authorization
  // server) try the same port first, so the redirect URI, and with it a dynamic registration for
  // the same issuer, stay the same, as with the CLI's fixed oauth.loopback_ports.
  let port;
  return {
    mode: 'code',
    async openReceiver(request) {
      const receiver = await startLoopbackReceiver({
        ports: port ? [port, 0] : [0],
        host: request.host,
        timeoutMs: 20_000,
      });
      port = Number(new URL(receiver.redirectUri).port);
      return receiver;
    },
    async showAuthorizationUrl(url) {
      if (verbose) log(`authorize: ${url.href}`);
      const response = await fetch(url, { redirect: 'manual' });
      await response.body?.cancel().catch(() => {});
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) {
        throw new Error(
          `the authorization endpoint answered HTTP ${response.status} without a redirect`,
        );
      }
      const callback = new URL(location, url);
      if (verbose) log(`callback: ${callback.href}`);
      fetch(callback, { redirect: 'manual' }).then(
        (answer) => answer.body?.cancel().catch(() => {}),
        (error) => log(`the callback request failed: ${error?.message ?? error}`),
      );
    },
    showDeviceCode() {
      throw new Error('the device authorization grant is not used by the conformance driver');
    },
  };
}

function stderrLogger() {
  const write = (level) => (message) => {
    if (verbose || level !== 'debug') log(`${level}: ${message}`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** The `protocol` of the server entry for the run's revision. */
function wireProtocol() {
  return process.env.MCP_CONFORMANCE_PROTOCOL_VERSION === '2026-07-28'
    ? '2026-07-28'
    : '2025-11-25';
}

async function main() {
  const serverUrl = process.argv.at(-1);
  if (!serverUrl || !URL.canParse(serverUrl)) {
    throw new Error('usage: node test/conformance/client.mjs <server url>');
  }
  const settings = settingsSchema.parse({
    mcp: {
      servers: {
        conf: {
          transport: 'streamable_http',
          url: serverUrl,
          // The revision of the run (the suite's MCP_CONFORMANCE_PROTOCOL_VERSION), pinned: at
          // 2026-07-28 the modern wire (server/discover), else the initialize handshake.
          protocol: wireProtocol(),
          // The opening deadline covers the login too (initialize gets the first 401).
          read_timeout_seconds: 22,
          http_timeout_seconds: 15,
          auth: {
            oauth: {
              enabled: true,
              client_metadata_url: CLIENT_METADATA_URL,
              ...contextClient(),
            },
          },
        },
      },
    },
    oauth: { token_store: { backend: 'memory' }, flow_timeout_seconds: 30 },
  });
  const logger = stderrLogger();
  const store = createTokenStore(settings.oauth.token_store);
  const tokens = new TokenManager({
    store,
    oauth: settings.oauth,
    fetch: (input, init) => fetch(input, init),
    consent: headlessConsent(),
    logger,
    clientName: 'mcp-agent-ts conformance client',
  });
  const registry = new ServerRegistry(settings, {
    logger,
    clientInfo: { name: 'mcp-agent-ts-conformance', version: '0' },
    authFor: (name, server) => tokens.forServer(name, server),
  });
  try {
    const connection = await registry.connect('conf');
    const tools = await connection.listTools();
    if (verbose) log(`tools: ${tools.map((tool) => tool.name).join(', ')}`);
    const result = await connection.callTool('test-tool', {});
    if (result.isError) throw new Error('tools/call test-tool returned an error result');
    if (verbose) log(`tools/call: ${JSON.stringify(result.content)}`);
  } finally {
    await registry.closeAll().catch(() => {});
    await store.close().catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`error: ${error instanceof Error ? error.message : String(error)}`);
    if (verbose && error instanceof Error && error.cause) {
      log(`cause: ${error.cause instanceof Error ? error.cause.message : String(error.cause)}`);
    }
    process.exit(1);
  },
);
