/**
 * ADR 0004 point 6 and point 3: with `protocol: auto` the first request of a connection is the
 * `server/discover` probe, and a 401 there goes through our OAuth `fetch` exactly as one on
 * `initialize` would: one refresh (or login), the probe sent again with the new token, then the
 * fallback to `initialize` of this 2025-11-25 server (the SDK's v1 server behind JWT checks).
 */
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { createHttpStack, type FetchLike } from '../../src/servers/http.js';
import { ServerRegistry } from '../../src/servers/registry.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { loadConfig } from '../support/config.js';
import { freePort, within } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import {
  headlessConsent,
  openManager,
  resultText,
  serverAuthOf,
  tokenRequests,
} from './harness.js';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  as = await startAuthorizationServer();
  mcp = await startProtectedMcpServer({ issuer: as.issuer, requiredScopes: ['mcp:read'] });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

/** Each MCP request sent: its JSON-RPC method and the status it got. */
function recordingStack(seen: { method: string; status: number }[]) {
  const stack = createHttpStack();
  cleanups.push(() => stack.close());
  const fetch: FetchLike = async (input, init) => {
    const response = await stack.fetch(input, init);
    const body =
      typeof init?.body === 'string' ? (JSON.parse(init.body) as { method?: string }) : {};
    if (String(input).startsWith(mcp.url) && init?.method === 'POST') {
      seen.push({ method: body.method ?? '', status: response.status });
    }
    return response;
  };
  return { ...stack, fetch };
}

test('a 401 on the server/discover probe refreshes the token once, then the probe falls back to initialize', async () => {
  const port = await freePort();
  const { settings, cleanup } = loadConfig(`
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${mcp.url}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
oauth:
  loopback_ports: [${port}]
  token_store:
    backend: memory
`);
  cleanups.push(cleanup);
  const consent = headlessConsent();
  const { tokens: first, store } = openManager(settings, cleanups, { consent });
  const auth = serverAuthOf(first, settings);
  const record = await auth.authorize();
  const { key } = await auth.target();
  await store.put(key, { ...record, accessToken: new Secret('garbage-access-token') });
  const tokens = new TokenManager({
    store,
    oauth: settings.oauth,
    fetch: (input, init) => fetch(input, init),
    consent,
  });
  cleanups.push(() => tokens.close());

  const seen: { method: string; status: number }[] = [];
  const start = as.requests.length;
  const registry = new ServerRegistry(settings, {
    env: {},
    http: recordingStack(seen),
    authFor: (name, server) => tokens.forServer(name, server),
    verdicts: { store: store.verdicts, authContext: 'app' },
  });
  cleanups.push(() => within('registry.closeAll()', registry.closeAll(), 5_000));
  const connection = await registry.connect('notion');
  expect(connection.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
  expect(JSON.parse(resultText(await connection.callTool('whoami', {}))).sub).toBe('alice');

  expect(seen.slice(0, 3)).toEqual([
    { method: 'server/discover', status: 401 },
    { method: 'server/discover', status: 400 },
    { method: 'initialize', status: 200 },
  ]);
  expect(tokenRequests(as.requests.slice(start), 'refresh_token')).toHaveLength(1);
  expect(consent.log.urls).toHaveLength(1);

  // The legacy verdict is remembered for this server and identity: the next connect does not probe.
  seen.length = 0;
  const again = new ServerRegistry(settings, {
    env: {},
    http: recordingStack(seen),
    authFor: (name, server) => tokens.forServer(name, server),
    verdicts: { store: store.verdicts, authContext: 'app' },
  });
  cleanups.push(() => within('registry.closeAll()', again.closeAll(), 5_000));
  await again.connect('notion');
  expect(seen[0]).toEqual({ method: 'initialize', status: 200 });
});
