/**
 * Bad 2026-07-28 requests to `serve` (ADR 0004, point 2): the SDK's header checks answer HTTP 400
 * -32020, an unsupported revision -32022; our own checks run first, so a request without a token
 * gets today's 401 and a tool the caller lacks a scope for gets 403 whatever its headers say.
 */
import { Buffer } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  challengeParams,
  mcpHeaders,
  message,
  type RawResponse,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  textOf,
  type UserTokens,
  userTokens,
} from './serve-support.js';

const MODERN = '2026-07-28';

let served: ServedApp;
let alice: UserTokens;
let root: UserTokens;

beforeAll(async () => {
  served = await startServedApp({
    setup: (app) => {
      app.tool('add', {}, () => 'ok', { scopes: ['mcp:tools'] });
      app.tool('admin_report', {}, () => 'report', { scopes: ['mcp:admin'] });
    },
  });
  [alice, root] = await Promise.all([
    userTokens(served.as.issuer, served.resource, 'alice'),
    userTokens(served.as.issuer, served.resource, 'root', 'mcp:tools mcp:admin'),
  ]);
}, 60_000);

afterAll(async () => {
  await served?.close();
});

/** The `_meta` envelope of a 2026-07-28 request naming `version`. */
function envelope(version = MODERN) {
  return {
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientInfo': { name: 'raw-modern', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
}

/** A `tools/call` of `name` as a 2026-07-28 request, with `headers` beside the standard ones. */
function callTool(
  token: string | undefined,
  name: string,
  headers: Record<string, string | undefined>,
  version = MODERN,
): Promise<RawResponse> {
  const all: Record<string, string> = mcpHeaders(token, { 'mcp-protocol-version': version });
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) delete all[key];
    else all[key] = value;
  }
  return raw(served.resource, {
    method: 'POST',
    headers: all,
    body: rpc('tools/call', { name, arguments: {}, _meta: envelope(version) }),
  });
}

function errorOf(response: RawResponse): { code: number; message: string } {
  return message(response.body).error as { code: number; message: string };
}

describe('2026-07-28 headers (HTTP 400, -32020)', () => {
  test('a request with its headers right is served', async () => {
    const response = await callTool(root.accessToken, 'add', {
      'mcp-method': 'tools/call',
      'mcp-name': 'add',
    });
    expect(response.status).toBe(200);
    expect(textOf(message(response.body).result)).toBe('ok');
  });

  test('without Mcp-Method', async () => {
    const response = await callTool(root.accessToken, 'add', { 'mcp-name': 'add' });
    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe(-32020);
  });

  test('with an Mcp-Name that is not the body’s name', async () => {
    const response = await callTool(root.accessToken, 'add', {
      'mcp-method': 'tools/call',
      'mcp-name': 'admin_report',
    });
    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe(-32020);
  });

  test('a non-ASCII name: raw UTF-8 bytes or a broken sentinel are refused, =?base64?…?= is read', async () => {
    const name = 'grüße';
    const rawBytes = Buffer.from(name, 'utf8').toString('latin1');
    for (const header of [rawBytes, '=?base64?not base64!?=']) {
      const response = await callTool(root.accessToken, name, {
        'mcp-method': 'tools/call',
        'mcp-name': header,
      });
      expect(response.status, header).toBe(400);
      expect(errorOf(response).code, header).toBe(-32020);
    }
    const encoded = `=?base64?${Buffer.from(name, 'utf8').toString('base64')}?=`;
    const response = await callTool(root.accessToken, name, {
      'mcp-method': 'tools/call',
      'mcp-name': encoded,
    });
    // Past the header check, the name reaches the catalog intact (no such tool here).
    expect(response.status).toBe(200);
    expect(textOf(message(response.body).result)).toBe(`Unknown tool: ${name}`);
  });
});

describe('our checks come first', () => {
  test('no token: the 401 and challenge of a 2025-11-25 request', async () => {
    const modern = await callTool(undefined, 'add', {
      'mcp-method': 'tools/call',
      'mcp-name': 'add',
    });
    const legacy = await raw(served.resource, {
      method: 'POST',
      headers: mcpHeaders(),
      body: rpc('tools/call', { name: 'add', arguments: {} }),
    });
    expect(modern.status).toBe(401);
    expect(modern.headers['www-authenticate']).toBe(legacy.headers['www-authenticate']);
    expect(challengeParams(modern.headers['www-authenticate']).resource_metadata).toBeDefined();
  });

  test('a tool the caller lacks a scope for: the same 403 whatever the headers say', async () => {
    const variants: Record<string, string | undefined>[] = [
      { 'mcp-method': 'tools/call', 'mcp-name': 'admin_report' },
      { 'mcp-method': 'tools/call', 'mcp-name': 'no_such_tool' },
      { 'mcp-method': undefined, 'mcp-name': undefined },
    ];
    const answers = await Promise.all(
      variants.map((headers) => callTool(alice.accessToken, 'admin_report', headers)),
    );
    for (const response of answers) {
      expect(response.status).toBe(403);
      expect(challengeParams(response.headers['www-authenticate']).error).toBe(
        'insufficient_scope',
      );
      expect(response.body).toBe(answers[0]?.body);
    }
  });
});

describe('revisions and discovery', () => {
  test('an unsupported revision: HTTP 400, -32022 naming the supported one', async () => {
    const response = await callTool(
      root.accessToken,
      'add',
      { 'mcp-method': 'tools/call', 'mcp-name': 'add' },
      '2099-01-01',
    );
    expect(response.status).toBe(400);
    const error = message(response.body).error as { code: number; data?: { supported?: string[] } };
    expect(error.code).toBe(-32022);
    expect(error.data?.supported).toContain(MODERN);
  });

  test('server/discover answers with the revisions served', async () => {
    const response = await raw(served.resource, {
      method: 'POST',
      headers: mcpHeaders(alice.accessToken, {
        'mcp-protocol-version': MODERN,
        'mcp-method': 'server/discover',
      }),
      body: rpc('server/discover', { _meta: envelope() }),
    });
    expect(response.status).toBe(200);
    const result = message(response.body).result as Record<string, unknown>;
    expect(JSON.stringify(result)).toContain(MODERN);
    expect(JSON.stringify(result)).toContain('served-test');
  });
});
