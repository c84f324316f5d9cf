/**
 * The server's challenge, asked for without credentials. A login without a challenge in hand (`auth login`) and without configured scopes asks the
 * server for its challenge and requests the scope it names (MCP "Scope Selection Strategy":
 * the challenge's scope before `scopes_supported`), as mcp-handler's servers need: their
 * metadata lists no scopes, and a token without the required scope is refused. And a server whose
 * metadata is named only in its challenge is found, even after a first probe that failed.
 */
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { loadConfig } from '../support/config.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import { headlessConsent, openManager, serverAuthOf } from './harness.js';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  as = await startAuthorizationServer();
  mcp = await startProtectedMcpServer({
    issuer: as.issuer,
    requiredScopes: ['mcp:read'],
    scopesSupported: [],
  });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

async function login(scopes: string) {
  const loaded = loadConfig(`
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${mcp.url}
      auth:
        oauth:
          enabled: true
${scopes}
oauth:
  loopback_ports: [${await freePort()}]
`);
  cleanups.push(loaded.cleanup);
  const consent = headlessConsent();
  const { tokens } = openManager(loaded.settings, cleanups, { consent });
  const start = mcp.requests.length;
  const record = await serverAuthOf(tokens, loaded.settings).authorize();
  const probes = mcp.requests
    .slice(start)
    .filter((request) => request.path === '/mcp' && !request.authorization);
  return { record, url: consent.log.urls[0], probes };
}

test('no configured scopes, no challenge in hand: the scope of the server challenge is requested', async () => {
  const { record, url, probes } = await login('');
  expect(url?.searchParams.get('scope')?.split(' ')).toContain('mcp:read');
  expect(record.scopes).toContain('mcp:read');
  expect(probes.map((request) => request.method)).toEqual(['GET']);
});

test('configured scopes win and the server is not asked', async () => {
  const { url, probes } = await login('          scopes: [mcp:write]');
  expect(url?.searchParams.get('scope')?.split(' ')).toEqual(['mcp:write', 'offline_access']);
  expect(probes).toEqual([]);
});

test('metadata named only in the challenge: found by the probe, which is tried again after a failure', async () => {
  const server = 'https://mcp.example.com/mcp';
  const prm = 'https://mcp.example.com/meta/prm';
  const issuer = 'https://auth.example.com';
  let up = false;
  const fetch = async (input: string | URL): Promise<Response> => {
    const url = String(input);
    if (url === server) {
      if (!up) throw new TypeError('fetch failed');
      return new Response(null, {
        status: 401,
        headers: { 'www-authenticate': `Bearer resource_metadata="${prm}", scope="files:read"` },
      });
    }
    if (url === prm) return Response.json({ resource: server, authorization_servers: [issuer] });
    if (url === `${issuer}/.well-known/oauth-authorization-server`) {
      return Response.json({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        code_challenge_methods_supported: ['S256'],
      });
    }
    return new Response('not found', { status: 404 });
  };
  const loaded = loadConfig(`
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${server}
      auth:
        oauth:
          enabled: true
`);
  cleanups.push(loaded.cleanup);
  const { tokens } = openManager(loaded.settings, cleanups, {
    fetch,
    lookup: async () => ['203.0.113.7'],
  });
  const auth = serverAuthOf(tokens, loaded.settings);
  await expect(auth.target()).rejects.toThrow(/No protected-resource metadata/);
  up = true;
  const target = await auth.target();
  expect(target.discovery.resourceMetadata?.resource).toBe(server);
  expect(target.discovery.authorizationServer.issuer).toBe(issuer);
});
