/**
 * serve's MCP server on the SDK v2 (ADR 0004, step 1), where v2 could have changed what a client
 * sees: sessions negotiate 2025-11-25 and earlier only and `server/discover` is not answered yet;
 * a tool's protocol error (v2 `ProtocolError`, or v1 `McpError` from a tool written for the v1
 * SDK) reaches the client as that JSON-RPC error, any other failure as an `isError` result; `/sse`
 * (our own transport) refuses what the SDK's refused, and warns once that it is deprecated.
 */
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { createMcpHttpHandler, type McpHttpHandler } from '../../src/server/http.js';
import type { ServedTool, ToolCatalog } from '../../src/server/mcp-server.js';
import { mcpHeaders, message, raw, rpc } from './serve-support.js';

/** A tool named `name` that runs `run`. */
function tool(name: string, run: () => Promise<never>): ServedTool {
  return { definition: { name, inputSchema: { type: 'object' } }, scopes: [], call: run };
}

const tools = [
  tool('v2_error', async () => {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'refused by v2', { why: 'v2' });
  }),
  tool('v1_error', async () => {
    throw new McpError(-32050, 'refused by v1', { why: 'v1' });
  }),
  tool('plain_error', async () => {
    throw Object.assign(new Error('it broke'), { code: 13 });
  }),
];

const catalog: ToolCatalog = {
  list: async () => tools,
  find: async (name) => tools.find((one) => one.definition.name === name),
  scopesFor: () => [],
};

const warnings: string[] = [];
const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (text) => warnings.push(text),
  error: () => {},
};

let handler: McpHttpHandler;
let http: Server;
let origin: string;
const clients: Client[] = [];

beforeAll(async () => {
  handler = createMcpHttpHandler({ catalog, info: { name: 'v2-test', version: '1.0.0' }, logger });
  http = createServer(handler);
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', () => done()));
  origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await handler.close();
  http.closeAllConnections();
  await new Promise<void>((done) => http.close(() => done()));
});

async function connect(kind: 'streamable' | 'sse'): Promise<Client> {
  const client = new Client({ name: 'v2-test', version: '1.0.0' });
  await client.connect(
    kind === 'streamable'
      ? new StreamableHTTPClientTransport(new URL(`${origin}/mcp`))
      : new SSEClientTransport(new URL(`${origin}/sse`)),
  );
  clients.push(client);
  return client;
}

/** An `initialize` asking for `protocolVersion`: the version answered, and the session's id. */
async function initializeAt(protocolVersion: string) {
  const response = await raw(`${origin}/mcp`, {
    method: 'POST',
    headers: mcpHeaders(),
    body: rpc('initialize', {
      protocolVersion,
      capabilities: {},
      clientInfo: { name: 'raw', version: '1.0.0' },
    }),
  });
  expect(response.status).toBe(200);
  const result = message(response.body).result as { protocolVersion: string };
  return { version: result.protocolVersion, session: String(response.headers['mcp-session-id']) };
}

describe('protocol revisions: 2025-11-25 and earlier only', () => {
  test('initialize: a 2026 revision gets 2025-11-25, a supported one itself', async () => {
    expect((await initializeAt('2026-07-28')).version).toBe('2025-11-25');
    expect((await initializeAt('2025-06-18')).version).toBe('2025-06-18');
    expect((await initializeAt('2024-11-05')).version).toBe('2024-11-05');
  });

  test('server/discover is not answered: in a session, or without one', async () => {
    const { session } = await initializeAt('2025-11-25');
    const inSession = await raw(`${origin}/mcp`, {
      method: 'POST',
      headers: mcpHeaders(undefined, {
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
      }),
      body: rpc('server/discover'),
    });
    const answer = message(inSession.body);
    expect(answer.result).toBeUndefined();
    expect((answer.error as { code: number }).code).toBe(-32601);
    const alone = await raw(`${origin}/mcp`, {
      method: 'POST',
      headers: mcpHeaders(undefined, { 'mcp-protocol-version': '2026-07-28' }),
      body: rpc('server/discover'),
    });
    expect(alone.status).toBe(400);
    expect(alone.body).not.toContain('supportedVersions');
  });
});

describe("a tool's errors", () => {
  test('ProtocolError (v2) and McpError (v1): the JSON-RPC error; others: an isError result', async () => {
    const client = await connect('streamable');
    const failure = async (name: string) => {
      const error = await client.callTool({ name, arguments: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(McpError);
      return { code: (error as McpError).code, data: (error as McpError).data };
    };
    expect(await failure('v2_error')).toEqual({ code: -32602, data: { why: 'v2' } });
    expect(await failure('v1_error')).toEqual({ code: -32050, data: { why: 'v1' } });
    const result = await client.callTool({ name: 'plain_error', arguments: {} });
    expect(result).toEqual({ isError: true, content: [{ type: 'text', text: 'it broke' }] });
  });
});

/** Open `/sse` by hand: the message URL its `endpoint` event names, and how to close it. */
function openSse(): Promise<{ endpoint: string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = get(`${origin}/sse`, { headers: { accept: 'text/event-stream' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const found = /event: endpoint\ndata: (\S+)\n\n/.exec(text);
        if (found?.[1]) resolve({ endpoint: found[1], close: () => req.destroy() });
      });
    });
    req.on('error', reject);
  });
}

describe('/sse (deprecated)', () => {
  test('works with the SDK client; one deprecation warning for the first client only', async () => {
    const first = await connect('sse');
    const second = await connect('sse');
    expect((await first.listTools()).tools.map((one) => one.name)).toContain('v2_error');
    expect((await second.callTool({ name: 'plain_error', arguments: {} })).isError).toBe(true);
    const deprecations = warnings.filter((text) => text.includes('/sse'));
    expect(deprecations).toHaveLength(1);
    expect(deprecations[0]).toMatch(/deprecated/);
  });

  test('a message that is not JSON by its type, or not JSON-RPC: 400; a good one: 202', async () => {
    const { endpoint, close } = await openSse();
    try {
      const post = (type: string, body: string) =>
        raw(`${origin}${endpoint}`, { method: 'POST', headers: { 'content-type': type }, body });
      expect((await post('text/plain', rpc('ping'))).status).toBe(400);
      expect((await post('application/json', '{"hello":"world"}')).status).toBe(400);
      const ok = await post('application/json; charset=utf-8', rpc('ping'));
      expect(ok.status).toBe(202);
      expect(ok.body).toBe('Accepted');
    } finally {
      close();
    }
  });
});
