/**
 * SEP-2243 custom parameter headers on `serve`'s 2026-07-28 leg: a downstream tool whose schema
 * marks parameters with `x-mcp-header` is called only with `Mcp-Param-*` headers that carry the
 * same values (plain, or `=?base64?…?=` for non-ASCII); a missing, mismatched or badly encoded
 * header is HTTP 400 with -32020, and the tool does not run.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  checkParamHeaders,
  decodeParamValue,
  paramHeadersOf,
} from '../../src/server/param-headers.js';
import {
  inlineStdio,
  mcpHeaders,
  message,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  toolServerSource,
  type UserTokens,
  userTokens,
} from './serve-support.js';

const SCHEMA = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    count: { type: 'integer', 'x-mcp-header': 'Count' },
    note: { type: 'string' },
  },
  required: ['region'],
};

/** A stdio server on the v1 SDK whose tool `route` declares {@link SCHEMA} and echoes its region. */
const ROUTED = toolServerSource('route', SCHEMA, "'routed ' + r.params.arguments.region");

const TOOL = 'routed_route';
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};

let served: ServedApp;
let alice: UserTokens;
/** A configured server that answers every request with 500, and how many it got. */
let broken: Server;
let brokenRequests = 0;

beforeAll(async () => {
  broken = createServer((_req, res) => {
    brokenRequests += 1;
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
  const brokenUrl = `http://127.0.0.1:${(broken.address() as AddressInfo).port}/mcp`;
  served = await startServedApp({
    servers: {
      routed: inlineStdio(ROUTED),
      broken: { transport: 'streamable_http', url: brokenUrl, protocol: '2025-11-25' },
    },
  });
  alice = await userTokens(served.as.issuer, served.resource, 'alice');
}, 60_000);

afterAll(async () => {
  await served?.close();
  broken?.closeAllConnections();
  broken?.close();
});

function base64(text: string): string {
  return `=?base64?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

/** A 2026-07-28 `tools/call` of the routed tool with `args` and extra headers. */
function call(args: Record<string, unknown>, headers: Record<string, string>) {
  return raw(served.resource, {
    method: 'POST',
    headers: mcpHeaders(alice.accessToken, {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': TOOL,
      ...headers,
    }),
    body: rpc('tools/call', { name: TOOL, arguments: args, _meta: META }),
  });
}

function errorOf(body: string): { code: number; data?: { mismatch?: { header?: string } } } {
  return message(body).error as { code: number; data?: { mismatch?: { header?: string } } };
}

describe('serve on 2026-07-28', () => {
  test('lists the declarations and runs a call whose headers match', async () => {
    const listed = await raw(served.resource, {
      method: 'POST',
      headers: mcpHeaders(alice.accessToken, {
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/list',
      }),
      body: rpc('tools/list', { _meta: META }),
    });
    const { tools } = message(listed.body).result as {
      tools: { name: string; inputSchema: unknown }[];
    };
    expect(tools.find((tool) => tool.name === TOOL)?.inputSchema).toEqual(SCHEMA);
    const ok = await call(
      { region: 'eu-west', count: 3 },
      { 'mcp-param-region': 'eu-west', 'mcp-param-count': '3.0' },
    );
    expect(ok.status).toBe(200);
    expect(JSON.stringify(message(ok.body).result)).toContain('routed eu-west');
  });

  test('runs a call whose non-ASCII value comes Base64-encoded', async () => {
    const ok = await call({ region: 'Zürich' }, { 'mcp-param-region': base64('Zürich') });
    expect(ok.status).toBe(200);
    expect(JSON.stringify(message(ok.body).result)).toContain('routed Zürich');
  });

  test('needs no header for a parameter the body leaves out', async () => {
    const ok = await call({ region: 'us' }, { 'mcp-param-region': 'us' });
    expect(ok.status).toBe(200);
  });

  test.each([
    ['missing', { region: 'eu-west' }, {}, 'Mcp-Param-Region'],
    ['mismatched', { region: 'eu-west' }, { 'mcp-param-region': 'us-east' }, 'Mcp-Param-Region'],
    [
      'a mismatched integer',
      { region: 'eu', count: 3 },
      { 'mcp-param-region': 'eu', 'mcp-param-count': '4' },
      'Mcp-Param-Count',
    ],
    [
      'badly padded Base64',
      { region: 'Hello' },
      { 'mcp-param-region': '=?base64?SGVsbG8?=' },
      'Mcp-Param-Region',
    ],
    [
      'non-alphabet Base64',
      { region: 'Hello' },
      { 'mcp-param-region': '=?base64?SGVs!!!bG8=?=' },
      'Mcp-Param-Region',
    ],
  ])('refuses a %s header with 400 and -32020', async (_what, args, headers, header) => {
    const refused = await call(args, headers);
    expect(refused.status).toBe(400);
    const error = errorOf(refused.body);
    expect(error.code).toBe(-32020);
    expect(error.data?.mismatch?.header).toBe(header);
  });

  test("reads the tool's definition from its own server only: a broken server is not asked", async () => {
    const before = brokenRequests;
    const ok = await call({ region: 'eu' }, { 'mcp-param-region': 'eu' });
    expect(ok.status).toBe(200);
    expect(brokenRequests).toBe(before);
  });

  test("front mode checks the tool's headers under its own name", async () => {
    const front = await startServedApp({
      servers: {
        routed: inlineStdio(ROUTED),
      },
      sections: { front: 'routed' },
    });
    try {
      const token = (await userTokens(front.as.issuer, front.resource, 'alice')).accessToken;
      const headers = (extra: Record<string, string>) =>
        mcpHeaders(token, {
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'route',
          ...extra,
        });
      const body = rpc('tools/call', { name: 'route', arguments: { region: 'eu' }, _meta: META });
      const refused = await raw(front.resource, { method: 'POST', headers: headers({}), body });
      expect(refused.status).toBe(400);
      expect(errorOf(refused.body).data?.mismatch?.header).toBe('Mcp-Param-Region');
      const ok = await raw(front.resource, {
        method: 'POST',
        headers: headers({ 'mcp-param-region': 'eu' }),
        body,
      });
      expect(ok.status).toBe(200);
    } finally {
      await front.close();
    }
  });

  test('treats a value without the whole Base64 wrapper as literal text', async () => {
    const literal = `=?base64?${Buffer.from('Hello').toString('base64')}`;
    const ok = await call({ region: literal }, { 'mcp-param-region': literal });
    expect(ok.status).toBe(200);
  });
});

describe('param-headers', () => {
  test('declarations count only on a chain of properties', () => {
    const schema = {
      type: 'object',
      'x-mcp-header': 'Root',
      properties: {
        a: { type: 'object', properties: { b: { type: 'string', 'x-mcp-header': 'B' } } },
        list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' } },
        bad: { type: 'string', 'x-mcp-header': 'has space' },
      },
      allOf: [{ properties: { c: { type: 'string', 'x-mcp-header': 'C' } } }],
    };
    expect(paramHeadersOf(schema)).toEqual([{ path: ['a', 'b'], name: 'B', numeric: false }]);
  });

  test('decodes canonical Base64 UTF-8 and refuses the rest', () => {
    expect(decodeParamValue(base64('日本'))).toBe('日本');
    expect(decodeParamValue('=?base64??=')).toBe('');
    expect(decodeParamValue('plain')).toBe('plain');
    expect(decodeParamValue('=?base64?/w==?=')).toBeUndefined();
    expect(decodeParamValue('=?base64?SGVsbG9=?=')).toBeUndefined();
  });

  test('booleans compare as lower-case text; a null body value needs no header', () => {
    const declared = [{ path: ['on'], name: 'On', numeric: false }];
    expect(checkParamHeaders(declared, { on: true }, { 'mcp-param-on': 'true' })).toBeUndefined();
    expect(checkParamHeaders(declared, { on: true }, { 'mcp-param-on': 'True' })?.reason).toBe(
      'mismatch',
    );
    expect(checkParamHeaders(declared, { on: null }, {})).toBeUndefined();
  });
});
