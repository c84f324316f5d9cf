import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { calculatePKCECodeChallenge, generateRandomCodeVerifier } from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, type MockInstance, test, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { approveDevice, followAuthorization } from '../support/browser.js';
import { waitFor } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';

// The fixtures checked end to end with plain fetch and the MCP SDK, without the project's client.

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
let callback: Server;
let redirectUri: string;
const callbacks: URL[] = [];
const consoleSpies: MockInstance[] = [];

beforeAll(async () => {
  for (const method of ['log', 'info', 'warn', 'error'] as const) {
    consoleSpies.push(vi.spyOn(console, method));
  }
  as = await startAuthorizationServer({ accessTokenTtl: 300 });
  mcp = await startProtectedMcpServer({
    issuer: as.issuer,
    requiredScopes: ['mcp:read'],
    toolScopes: { echo: 'mcp:write' },
  });
  callback = createServer((req, res) => {
    callbacks.push(new URL(req.url ?? '/', redirectUri));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('You may close this window.');
  });
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
});

afterAll(async () => {
  for (const spy of consoleSpies) spy.mockRestore();
  callback.closeAllConnections();
  await new Promise<void>((resolve) => callback.close(() => resolve()));
  await mcp?.close();
  await as?.close();
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function register(metadata: Record<string, unknown> = {}): Promise<string> {
  const response = await fetch(as.url('/reg'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'fixture test',
      application_type: 'native',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
      token_endpoint_auth_method: 'none',
      ...metadata,
    }),
  });
  expect(response.status).toBe(201);
  const body = await json(response);
  expect(body.client_secret).toBeUndefined();
  return String(body.client_id);
}

async function token(
  server: AuthorizationServer,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(server.url('/token'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
  });
  return { status: response.status, body: await json(response) };
}

/** Authorization code + PKCE + resource through the headless browser; the callback's URL. */
async function authorize(clientId: string, scope: string, stop = false) {
  const verifier = generateRandomCodeVerifier();
  const url = new URL(as.url('/auth'));
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    resource: mcp.url,
    state: 'st4te',
    code_challenge: await calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  const seen = callbacks.length;
  const result = await followAuthorization(url, stop ? { stopAtRedirectUri: redirectUri } : {});
  return { result, verifier, callback: stop ? result.finalUrl : callbacks[seen] };
}

/** A fetch that adds `Authorization: Bearer <accessToken>`. */
function bearer(accessToken: string): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${accessToken}`);
    return fetch(input, { ...init, headers });
  };
}

async function mcpClient(accessToken: string, sse = false): Promise<Client> {
  const client = new Client({ name: 'fixture-test', version: '1.0.0' });
  await client.connect(
    sse
      ? new SSEClientTransport(new URL(mcp.sseUrl), { fetch: bearer(accessToken) })
      : new StreamableHTTPClientTransport(new URL(mcp.url), { fetch: bearer(accessToken) }),
  );
  return client;
}

/** A fresh access token for `mcp.url` with `scope`, through DCR and the code flow. */
async function accessTokenFor(scope: string): Promise<string> {
  const clientId = await register();
  const { verifier, callback: landed } = await authorize(clientId, scope);
  const issued = await token(as, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code: landed?.searchParams.get('code') ?? '',
    code_verifier: verifier,
    redirect_uri: redirectUri,
  });
  return String(issued.body.access_token);
}

/** The status and `www-authenticate` of a refused WebSocket handshake, or `open`. */
function handshake(
  headers: Record<string, string>,
): Promise<WebSocket | { status: number; challenge: string | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(mcp.wsUrl, 'mcp', { headers });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => {
      resolve({
        status: response.statusCode ?? 0,
        challenge: response.headers['www-authenticate'],
      });
      response.resume();
    });
    socket.once('error', reject);
  });
}

describe('authorization server and protected MCP server fixtures', () => {
  test('metadata: RFC 8414 + OIDC discovery and RFC 9728 protected-resource metadata', async () => {
    const metadata = await json(await fetch(as.url('/.well-known/oauth-authorization-server')));
    expect(metadata).toMatchObject({
      issuer: as.issuer,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      registration_endpoint: as.url('/reg'),
      revocation_endpoint: as.url('/token/revocation'),
      introspection_endpoint: as.url('/token/introspection'),
      device_authorization_endpoint: as.url('/device/auth'),
      scopes_supported: ['openid', 'offline_access', 'mcp:read', 'mcp:write', 'mcp:admin'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    });
    expect(await json(await fetch(as.url('/.well-known/openid-configuration')))).toEqual(metadata);

    expect(mcp.resourceMetadataUrl).toBe(
      mcp.url.replace('/mcp', '/.well-known/oauth-protected-resource/mcp'),
    );
    expect(await json(await fetch(mcp.resourceMetadataUrl))).toEqual({
      resource: mcp.url,
      authorization_servers: [as.issuer],
      scopes_supported: ['mcp:read', 'mcp:write'],
      bearer_methods_supported: ['header'],
    });
  });

  test('the MCP endpoint answers 401 with a challenge without a token or with a bad one', async () => {
    const init = {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    };
    const bare = await fetch(mcp.url, init);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toBe(
      `Bearer scope="mcp:read", resource_metadata="${mcp.resourceMetadataUrl}"`,
    );
    const bad = await fetch(mcp.url, {
      ...init,
      headers: { ...init.headers, authorization: 'Bearer not-a-jwt' },
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(mcp.requests.at(-1)).toMatchObject({
      path: '/mcp',
      authorization: true,
      token: 'not-a-jwt',
    });
  });

  test('DCR, code flow with PKCE and resource, whoami, 403 on a scoped tool, refresh rotation, revocation', async () => {
    const clientId = await register();
    const { result, verifier, callback: landed } = await authorize(clientId, 'mcp:read');
    expect(result.status).toBe(200);
    expect(landed?.searchParams.get('iss')).toBe(as.issuer);
    expect(landed?.searchParams.get('state')).toBe('st4te');
    const code = landed?.searchParams.get('code') ?? '';
    expect(code).not.toBe('');

    const exchanged = await token(as, {
      grant_type: 'authorization_code',
      client_id: clientId,
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
      resource: mcp.url,
    });
    expect(exchanged.status).toBe(200);
    expect(exchanged.body).toMatchObject({
      token_type: 'Bearer',
      scope: 'mcp:read',
      expires_in: 300,
    });
    const accessToken = String(exchanged.body.access_token);
    expect(decodeJwt(accessToken)).toMatchObject({
      iss: as.issuer,
      aud: mcp.url,
      sub: 'alice',
      scope: 'mcp:read',
      client_id: clientId,
    });
    // The recorded token request keeps the secrets the tests need.
    expect(as.requests.find((r) => r.path === '/token')?.body).toMatchObject({
      code,
      code_verifier: verifier,
    });

    const client = await mcpClient(accessToken);
    const whoami = await client.callTool({ name: 'whoami' });
    expect(JSON.parse((whoami.content as [{ text: string }])[0].text)).toMatchObject({
      sub: 'alice',
      scope: 'mcp:read',
      aud: mcp.url,
    });
    await expect(client.callTool({ name: 'echo', arguments: { text: 'hi' } })).rejects.toThrow();
    await client.close();

    const forbidden = await fetch(mcp.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${accessToken}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}',
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="${mcp.resourceMetadataUrl}"`,
    );

    // Refresh without `resource`: the granted one is used; the refresh token rotates.
    const firstRefresh = String(exchanged.body.refresh_token);
    const refreshed = await token(as, {
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: firstRefresh,
    });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(String(refreshed.body.access_token)).aud).toBe(mcp.url);
    expect(refreshed.body.refresh_token).not.toBe(firstRefresh);
    const reused = await token(as, {
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: firstRefresh,
    });
    expect(reused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // Reuse revoked the whole grant, so the rotated token is dead too.
    const after = await token(as, {
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: String(refreshed.body.refresh_token),
    });
    expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    // Revocation (RFC 7009) and introspection on a fresh grant, paste-style this time.
    const pasted = await authorize(clientId, 'mcp:read mcp:write', true);
    expect(pasted.result.status).toBe(303);
    expect(callbacks.at(-1)?.searchParams.get('code')).not.toBe(
      pasted.callback?.searchParams.get('code'),
    );
    const second = await token(as, {
      grant_type: 'authorization_code',
      client_id: clientId,
      code: pasted.callback?.searchParams.get('code') ?? '',
      code_verifier: pasted.verifier,
      redirect_uri: redirectUri,
    });
    expect(second.body.scope).toBe('mcp:read mcp:write');
    const refreshToken = String(second.body.refresh_token);
    const introspect = async () =>
      json(
        await fetch(as.url('/token/introspection'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: clientId, token: refreshToken }),
        }),
      );
    expect(await introspect()).toMatchObject({ active: true, client_id: clientId, sub: 'alice' });
    const revoked = await fetch(as.url('/token/revocation'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: clientId,
        token: refreshToken,
        token_type_hint: 'refresh_token',
      }),
    });
    expect(revoked.status).toBe(200);
    expect(await introspect()).toEqual({ active: false });
    expect(
      await token(as, {
        grant_type: 'refresh_token',
        client_id: clientId,
        refresh_token: refreshToken,
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  test('denied authorization comes back to the redirect URI as access_denied with iss', async () => {
    const clientId = await register();
    as.setApproval('deny');
    try {
      const { callback: landed } = await authorize(clientId, 'mcp:read');
      expect(landed?.searchParams.get('error')).toBe('access_denied');
      expect(landed?.searchParams.get('iss')).toBe(as.issuer);
    } finally {
      as.setApproval('approve');
    }
  });

  test('device authorization grant with a headless user', async () => {
    const clientId = await register();
    const started = await fetch(as.url('/device/auth'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, scope: 'mcp:read', resource: mcp.url }),
    });
    const device = await json(started);
    expect(device).toMatchObject({ interval: 1, verification_uri: as.url('/device') });
    const poll = () =>
      token(as, {
        grant_type: DEVICE_GRANT,
        client_id: clientId,
        device_code: String(device.device_code),
      });
    expect(await poll()).toMatchObject({ status: 400, body: { error: 'authorization_pending' } });

    const approved = await approveDevice({
      verification_uri: String(device.verification_uri),
      user_code: String(device.user_code),
    });
    expect(approved.status).toBe(200);
    const issued = await poll();
    expect(issued.status).toBe(200);
    expect(decodeJwt(String(issued.body.access_token))).toMatchObject({
      aud: mcp.url,
      scope: 'mcp:read',
    });
    expect(issued.body.refresh_token).toEqual(expect.any(String));
  });

  test('Entra-style server: resource refused, default audience, confidential client, auto device approval', async () => {
    const entra = await startAuthorizationServer({
      resourceIndicators: false,
      registration: false,
      deviceApproval: 'auto',
      clients: [
        {
          client_id: 'confidential',
          client_secret: 'sekrit',
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
        },
      ],
    });
    try {
      expect((await fetch(entra.url('/reg'), { method: 'POST' })).status).toBe(404);
      const basic = {
        authorization: `Basic ${Buffer.from('confidential:sekrit').toString('base64')}`,
      };
      const device = async (params: Record<string, string>) =>
        json(
          await fetch(entra.url('/device/auth'), {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic },
            body: new URLSearchParams({ scope: 'mcp:read', ...params }),
          }),
        );
      expect(await device({ resource: mcp.url })).toMatchObject({ error: 'invalid_target' });

      entra.defaultResource = mcp.url;
      const started = await device({});
      const poll = () =>
        token(entra, { grant_type: DEVICE_GRANT, device_code: String(started.device_code) }, basic);
      const issued = await waitFor('the automatic device approval', async () => {
        const polled = await poll();
        return polled.body.error === 'authorization_pending' ? undefined : polled;
      });
      expect(issued.status).toBe(200);
      expect(decodeJwt(String(issued.body.access_token))).toMatchObject({
        iss: entra.issuer,
        aud: mcp.url,
        client_id: 'confidential',
      });
      expect(entra.serverErrors).toEqual([]);
      expect(entra.requests.find((r) => r.path === '/token')?.headers.authorization).toBe(
        basic.authorization,
      );
    } finally {
      await entra.close();
    }
  });

  test('legacy SSE and WebSocket are protected the same way', async () => {
    const accessToken = await accessTokenFor('mcp:read');
    const client = await mcpClient(accessToken, true);
    const whoami = await client.callTool({ name: 'whoami' });
    expect((whoami.content as [{ text: string }])[0].text).toContain('"sub":"alice"');
    await client.close();
    expect((await fetch(mcp.sseUrl)).status).toBe(401);

    expect(await handshake({})).toEqual({
      status: 401,
      challenge: `Bearer scope="mcp:read", resource_metadata="${mcp.resourceMetadataUrl}"`,
    });
    const socket = await handshake({ authorization: `Bearer ${accessToken}` });
    if (!(socket instanceof WebSocket)) throw new Error(`refused with ${socket.status}`);
    const reply = new Promise<{ result: { content: [{ text: string }] } }>((resolve) =>
      socket.once('message', (data) => resolve(JSON.parse(String(data)))),
    );
    socket.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'whoami', arguments: {} },
      }),
    );
    expect(JSON.parse((await reply).result.content[0].text)).toMatchObject({ aud: mcp.url });
    socket.close();
  });

  test('oidc-provider wrote nothing to the console', () => {
    expect(consoleSpies.flatMap((spy) => spy.mock.calls)).toEqual([]);
    expect(as.serverErrors).toEqual([]);
  });
});
