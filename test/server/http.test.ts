/**
 * The served app's HTTP front against the real development authorization server: the RFC 9728
 * metadata (both paths, methods, CORS, caching, built from configuration only), every challenge
 * of the response contract (security.md §0.1: C0, C400, C401, C403, C503), the loopback
 * `Host`/`Origin` check, the body cap, and the start-up self-check.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { McpAgentError } from '../../src/errors.js';
import { recordingLogger } from '../oauth/harness.js';
import { freePort, loopbackServers } from '../support/net.js';
import {
  challengeParams,
  expectUnavailable,
  initialize,
  mcpHeaders,
  message,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  type UserTokens,
  userTokens,
} from './serve-support.js';

const DOCS = 'https://docs.example/agent';

let served: ServedApp;
let alice: UserTokens;
let admin: UserTokens;
let prmUrl: string;
const servers = loopbackServers();
const mount = servers.listen;

beforeAll(async () => {
  served = await startServedApp({
    authorization: {
      service_documentation_url: DOCS,
      resource_name: 'The test agent',
      tool_scopes: { down_whoami: ['mcp:admin'] },
    },
    setup: (app) => {
      app.tool('add', {}, () => 'ok', { scopes: ['mcp:tools'] });
      app.tool('admin_report', {}, () => 'report', { scopes: ['mcp:admin'] });
    },
  });
  prmUrl = `${served.origin}/.well-known/oauth-protected-resource/mcp`;
  [alice, admin] = await Promise.all([
    userTokens(served.as.issuer, served.resource, 'alice'),
    userTokens(served.as.issuer, served.resource, 'root', 'mcp:tools mcp:admin'),
  ]);
}, 60_000);

afterAll(async () => {
  await servers.closeAll();
  await served?.close();
});

describe('protected-resource metadata (RFC 9728, IN-83, IN-84)', () => {
  test('served at the path-inserted URL and at the root, from the configuration', async () => {
    for (const url of [prmUrl, `${served.origin}/.well-known/oauth-protected-resource`]) {
      const response = await fetch(url);
      expect(response.status, url).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const document = (await response.json()) as Record<string, unknown>;
      expect(document).toEqual({
        resource: served.resource,
        authorization_servers: [served.as.issuer],
        scopes_supported: ['mcp:tools', 'mcp:admin'],
        bearer_methods_supported: ['header'],
        resource_name: 'The test agent',
        resource_documentation: DOCS,
      });
      expect(document.scopes_supported).not.toContain('offline_access');
    }
  });

  test('HEAD answers the headers, OPTIONS the CORS preflight; other methods get 405', async () => {
    const head = await raw(prmUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['access-control-allow-origin']).toBe('*');
    const preflight = await raw(prmUrl, {
      method: 'OPTIONS',
      headers: {
        origin: `http://localhost:${new URL(served.origin).port}`,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'mcp-protocol-version',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
    expect(preflight.headers['access-control-allow-methods']).toContain('GET');
    expect(preflight.headers['access-control-allow-headers']).toContain('mcp-protocol-version');
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const refused = await raw(prmUrl, { method, body: '{}' });
      expect(refused.status, method).toBe(405);
      expect(refused.headers.allow).toBe('GET, HEAD, OPTIONS');
    }
  });

  test('Host and X-Forwarded-* never change resource or resource_metadata (IN-12b)', async () => {
    // Without the loopback check, a foreign Host reaches the handler.
    const open = await mount(served.app.createHandler());
    const spoof = {
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      forwarded: 'host=evil.example;proto=https',
    };
    const document = await raw(`${open}/.well-known/oauth-protected-resource/mcp`, {
      headers: spoof,
    });
    expect(document.status).toBe(200);
    expect(JSON.parse(document.body).resource).toBe(served.resource);
    const challenged = await raw(`${open}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders(), ...spoof },
      body: initialize(),
    });
    expect(challenged.status).toBe(401);
    expect(challengeParams(challenged.headers['www-authenticate']).resource_metadata).toBe(prmUrl);
    expect(challenged.headers['www-authenticate']).not.toContain('evil');
    // On the loopback server, an allowed alias (localhost) does not change them either.
    const alias = await raw(prmUrl, {
      headers: { host: `localhost:${new URL(served.origin).port}`, 'x-forwarded-host': 'x.test' },
    });
    expect(JSON.parse(alias.body).resource).toBe(served.resource);
  });
});

describe('challenges (security.md §0.1)', () => {
  async function post(headers: Record<string, string | string[]>, path = '/mcp') {
    return raw(`${served.origin}${path}`, {
      method: 'POST',
      headers: { ...mcpHeaders(), ...headers },
      body: initialize(),
    });
  }

  test('no credentials: 401 with resource_metadata and the baseline scope, no error (C0, IN-01)', async () => {
    for (const headers of [
      {},
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'DPoP abc' },
      // A session id alone never authenticates.
      { 'mcp-session-id': 'a'.repeat(32) },
    ]) {
      const response = await post(headers);
      expect(response.status, JSON.stringify(headers)).toBe(401);
      const challenge = response.headers['www-authenticate'] ?? '';
      expect(challenge).toMatch(/^Bearer /);
      expect(challengeParams(challenge)).toEqual({
        resource_metadata: prmUrl,
        scope: 'mcp:tools',
      });
      expect(challenge).not.toContain('error=');
      expect(response.headers['cache-control']).toBe('no-store');
    }
  });

  test('a valid token only in the query is ignored: 401 without error (IN-07)', async () => {
    const response = await post({}, `/mcp?access_token=${alice.accessToken}`);
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).not.toContain('error=');
    // With a header as well it is two methods: malformed (IN-08).
    const both = await post(
      { authorization: `Bearer ${alice.accessToken}` },
      `/mcp?access_token=${alice.accessToken}`,
    );
    expect(both.status).toBe(400);
    expect(challengeParams(both.headers['www-authenticate']).error).toBe('invalid_request');
  });

  test('malformed credentials: 400 invalid_request (C400, IN-04, IN-06)', async () => {
    for (const authorization of [
      'Bearer',
      'Bearer a b',
      'Bearer "quoted"',
      `Bearer\t${alice.accessToken}`,
      [`Bearer ${alice.accessToken}`, `Bearer ${alice.accessToken}`],
    ]) {
      const response = await post({ authorization });
      expect(response.status, String(authorization).slice(0, 20)).toBe(400);
      const params = challengeParams(response.headers['www-authenticate']);
      expect(params.error).toBe('invalid_request');
      expect(params.resource_metadata).toBe(prmUrl);
      expect(JSON.parse(response.body).error).toBe('invalid_request');
    }
  });

  test('a bad token: 401 invalid_token (C401)', async () => {
    const [header = '', payload = '', signature = ''] = alice.accessToken.split('.');
    const tampered = `${header}.${payload}.${signature.slice(0, -4)}${signature.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    for (const token of ['not-a-token', 'a.b.c', tampered, 'x'.repeat(9000)]) {
      const response = await post({ authorization: `Bearer ${token}` });
      expect(response.status, token.slice(0, 20)).toBe(401);
      const params = challengeParams(response.headers['www-authenticate']);
      expect(params.error).toBe('invalid_token');
      expect(params.resource_metadata).toBe(prmUrl);
    }
  });

  test('a header larger than Node accepts: 431, and the server goes on (IN-09)', async () => {
    const response = await raw(`${served.origin}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders(), authorization: `Bearer ${'a'.repeat(20_000)}` },
      body: initialize(),
    });
    expect(response.status).toBe(431);
    expect((await post({ authorization: `Bearer ${alice.accessToken}` })).status).toBe(200);
  });

  test('a missing required scope: 403 insufficient_scope naming every scope (C403)', async () => {
    const settings = settingsSchema.parse({
      authorization: {
        enabled: true,
        issuer_url: served.as.issuer,
        resource_server_url: served.resource,
        expected_audiences: [served.resource],
        required_scopes: ['mcp:tools', 'mcp:admin'],
      },
    });
    const strict = await createApp({ settings, env: {} });
    try {
      const origin = await mount(strict.createHandler());
      const refused = await raw(`${origin}/mcp`, {
        method: 'POST',
        headers: mcpHeaders(alice.accessToken),
        body: initialize(),
      });
      expect(refused.status).toBe(403);
      const params = challengeParams(refused.headers['www-authenticate']);
      expect(params.error).toBe('insufficient_scope');
      expect(params.scope).toBe('mcp:tools mcp:admin');
      expect(params.resource_metadata).toBe(prmUrl);
      const allowed = await raw(`${origin}/mcp`, {
        method: 'POST',
        headers: mcpHeaders(admin.accessToken),
        body: initialize(),
      });
      expect(allowed.status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  test('a tool scope missing: 403 before dispatch, app tool and tool_scopes (C403)', async () => {
    const opened = await post({ authorization: `Bearer ${alice.accessToken}` });
    const session = String(opened.headers['mcp-session-id']);
    for (const [name, scope] of [
      ['admin_report', 'mcp:tools mcp:admin'],
      ['down_whoami', 'mcp:tools mcp:admin'],
    ] as const) {
      const response = await raw(`${served.origin}/mcp`, {
        method: 'POST',
        headers: mcpHeaders(alice.accessToken, { 'mcp-session-id': session }),
        body: rpc('tools/call', { name, arguments: {} }),
      });
      expect(response.status, name).toBe(403);
      const params = challengeParams(response.headers['www-authenticate']);
      expect(params).toMatchObject({
        error: 'insufficient_scope',
        scope,
        resource_metadata: prmUrl,
      });
    }
    // A scope the token has: goes through.
    const add = await raw(`${served.origin}/mcp`, {
      method: 'POST',
      headers: mcpHeaders(alice.accessToken, { 'mcp-session-id': session }),
      body: rpc('tools/call', { name: 'add', arguments: {} }),
    });
    expect(add.status).toBe(200);
    expect(message(add.body)).toMatchObject({ result: { content: [{ text: 'ok' }] } });
  });

  test('verification down: 503 with Retry-After and no challenge (C503)', async () => {
    const deadIssuer = `http://127.0.0.1:${await freePort()}`;
    const logger = recordingLogger();
    const settings = settingsSchema.parse({
      authorization: {
        enabled: true,
        issuer_url: deadIssuer,
        resource_server_url: served.resource,
        expected_audiences: [served.resource],
      },
    });
    const down = await createApp({ settings, env: {}, logger });
    try {
      expect(logger.calls.some((call) => call.level === 'warn')).toBe(true);
      const origin = await mount(down.createHandler());
      const response = await raw(`${origin}/mcp`, {
        method: 'POST',
        headers: mcpHeaders(alice.accessToken),
        body: initialize(),
      });
      expectUnavailable(response);
    } finally {
      await down.close();
    }
  });
});

describe('loopback Host and Origin check (IN-12c)', () => {
  const port = () => new URL(served.origin).port;

  test('a foreign Host is refused with 403 on every path, before anything else', async () => {
    for (const host of ['evil.example', `evil.example:${port()}`, '127.0.0.1:1', '10.0.0.1']) {
      for (const path of ['/mcp', '/.well-known/oauth-protected-resource/mcp', '/sse', '/x']) {
        const response = await raw(`${served.origin}${path}`, {
          method: path === '/mcp' ? 'POST' : 'GET',
          headers: { ...mcpHeaders(alice.accessToken), host },
          body: path === '/mcp' ? initialize() : undefined,
        });
        expect(response.status, `${path} ${host}`).toBe(403);
        expect(JSON.parse(response.body).error).toBe('forbidden');
      }
    }
  });

  test('a foreign Origin is refused with 403 on the MCP endpoints', async () => {
    for (const origin of [
      'http://evil.example',
      `http://evil.example:${port()}`,
      'null',
      `file://127.0.0.1:${port()}`,
      `http://localhost:${Number(port()) + 1}`,
    ]) {
      for (const path of ['/mcp', '/sse']) {
        const response = await raw(`${served.origin}${path}`, {
          method: path === '/mcp' ? 'POST' : 'GET',
          headers: { ...mcpHeaders(alice.accessToken), origin },
          body: path === '/mcp' ? initialize() : undefined,
        });
        expect(response.status, `${path} ${origin}`).toBe(403);
      }
    }
  });

  test('the metadata is readable cross-origin (CORS open) on a loopback bind', async () => {
    // A browser-based client on another origin (the MCP Inspector, http://localhost:6274) reads
    // the public metadata; the document says `access-control-allow-origin: *`.
    const response = await raw(prmUrl, { headers: { origin: 'http://localhost:6274' } });
    expect(response.headers['access-control-allow-origin'] ?? null).toBe('*');
    expect(response.status).toBe(200);
  });

  test('loopback names with the port, and a matching Origin, are accepted', async () => {
    for (const headers of [
      { host: `127.0.0.1:${port()}` },
      { host: `localhost:${port()}` },
      { host: `LOCALHOST:${port()}`, origin: `http://localhost:${port()}` },
      { host: `[::1]:${port()}`, origin: `http://127.0.0.1:${port()}` },
    ]) {
      const response = await raw(`${served.origin}/mcp`, {
        method: 'POST',
        headers: { ...mcpHeaders(alice.accessToken), ...headers },
        body: initialize(),
      });
      expect(response.status, JSON.stringify(headers)).toBe(200);
    }
  });
});

describe('request bodies', () => {
  const big = Buffer.alloc(4 * 1024 * 1024 + 10, 0x20);

  test('a body over 4 MiB is refused with 413 (declared or streamed)', async () => {
    const declared = await raw(`${served.origin}/mcp`, {
      method: 'POST',
      headers: mcpHeaders(alice.accessToken, { 'content-length': String(big.length) }),
      body: big,
    });
    expect(declared.status).toBe(413);
    expect(message(declared.body)).toMatchObject({ error: { code: -32600 } });
    const streamed = await raw(`${served.origin}/mcp`, {
      method: 'POST',
      headers: mcpHeaders(alice.accessToken, { 'transfer-encoding': 'chunked' }),
      body: big,
    });
    expect(streamed.status).toBe(413);
  });

  test('a body just under the cap is read (and is not JSON: 400 parse error)', async () => {
    const response = await raw(`${served.origin}/mcp`, {
      method: 'POST',
      headers: mcpHeaders(alice.accessToken),
      body: Buffer.alloc(4 * 1024 * 1024 - 10, 0x61),
    });
    expect(response.status).toBe(400);
    expect(message(response.body)).toMatchObject({ error: { code: -32700 } });
  });
});

describe('start-up checks', () => {
  async function started(resource: string) {
    const logger = recordingLogger();
    const settings = settingsSchema.parse({
      authorization: {
        enabled: true,
        issuer_url: served.as.issuer,
        resource_server_url: resource,
        expected_audiences: [resource],
      },
    });
    const app = await createApp({ settings, env: {}, logger });
    const running = await app.listen({ port: 0 });
    await running.close();
    await app.close();
    return logger.calls.filter((call) => call.level === 'warn').map((call) => call.message);
  }

  test('resource_server_url with another path than /mcp: a warning', async () => {
    const warnings = await started('http://127.0.0.1:9/agent');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('does not end in /mcp');
  });

  test('another origin: the reverse-proxy warning; the same URL: none', async () => {
    const warnings = await started('https://agent.example.com/mcp');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('reverse proxy');
    expect(warnings[0]).toContain('https://agent.example.com/mcp');
    const port = await freePort();
    const logger = recordingLogger();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const app = await createApp({
      settings: settingsSchema.parse({
        authorization: {
          enabled: true,
          issuer_url: served.as.issuer,
          resource_server_url: resource,
          expected_audiences: [resource],
        },
      }),
      env: {},
      logger,
    });
    const running = await app.listen({ port });
    await running.close();
    await app.close();
    expect(logger.calls.filter((call) => call.level === 'warn')).toEqual([]);
  });

  test('a non-HTTPS issuer that is not loopback is a start-up error (IN-85)', async () => {
    const settings = settingsSchema.parse({
      authorization: {
        enabled: true,
        issuer_url: 'http://as.example',
        resource_server_url: 'https://agent.example.com/mcp',
        expected_audiences: ['https://agent.example.com/mcp'],
      },
    });
    const failure = await createApp({ settings, env: {} }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(McpAgentError);
    expect((failure as McpAgentError).code).toBe('CONFIG_INVALID');
  });

  test('a resource_server_url with a fragment is a start-up error (IN-85)', async () => {
    const resource = 'http://127.0.0.1:9/mcp#fragment';
    const outcome = await Promise.resolve()
      .then(() =>
        createApp({
          settings: settingsSchema.parse({
            authorization: {
              enabled: true,
              issuer_url: served.as.issuer,
              resource_server_url: resource,
              expected_audiences: [resource],
            },
          }),
          env: {},
        }),
      )
      .then(
        async (app) => {
          await app.close();
          return 'started';
        },
        () => 'refused',
      );
    expect(outcome).toBe('refused');
  });
});
