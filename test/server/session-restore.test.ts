/**
 * Restoring a 2025-11-25 session on another replica writes the SDK's internals (one module,
 * src/server/session-restore.ts). These tests fail loudly when an SDK upgrade changes them: the
 * fields must exist on a fresh server and transport, and a restored pair must answer a request
 * of the session as the initialised one would, with the client's capabilities, info and version.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { afterEach, expect, test } from 'vitest';
import { createMcpServer, type ToolCatalog } from '../../src/server/mcp-server.js';
import { checkRestorable, restoreSession } from '../../src/server/session-restore.js';

const catalog: ToolCatalog = {
  list: async () => [
    {
      definition: { name: 'ping', inputSchema: { type: 'object' } },
      scopes: [],
      call: async () => ({ content: [{ type: 'text', text: 'pong' }] }),
    },
  ],
  find: async () => undefined,
  scopesFor: () => [],
};

const SESSION = {
  sessionId: 'restored-session-id-0123456789abcdef',
  protocolVersion: '2025-06-18',
  clientInfo: { name: 'restored-client', version: '3.1.4' },
  clientCapabilities: { elicitation: { url: {} }, sampling: {} },
};

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((closed) => server.close(closed));
  }
});

function freshPair() {
  const server = createMcpServer(catalog, { name: 'restore-test', version: '1.0.0' });
  const transport = new NodeStreamableHTTPServerTransport({
    sessionIdGenerator: () => 'never-used',
  });
  return { server, transport };
}

test('a fresh server and transport have the internals a restore writes', () => {
  const { server, transport } = freshPair();
  expect(() => checkRestorable(server, transport)).not.toThrow();
  const web = (transport as unknown as { _webStandardTransport: Record<string, unknown> })
    ._webStandardTransport;
  expect(web._initialized).toBe(false);
  expect(web.sessionId).toBeUndefined();
});

test('a transport without them is refused, naming what changed', () => {
  const { server } = freshPair();
  const changed = { _webStandardTransport: { initialised: false } };
  expect(() =>
    checkRestorable(server, changed as unknown as NodeStreamableHTTPServerTransport),
  ).toThrow(/internals .* have changed \(transport\._webStandardTransport\._initialized/);
});

test('a restored session answers its requests, negotiated as its record says', async () => {
  const { server, transport } = freshPair();
  await server.connect(transport);
  restoreSession(server, transport, SESSION);
  expect(server.getClientCapabilities()).toEqual(SESSION.clientCapabilities);
  expect(server.getClientVersion()).toEqual(SESSION.clientInfo);
  expect(server.getNegotiatedProtocolVersion()).toBe('2025-06-18');
  expect(transport.sessionId).toBe(SESSION.sessionId);

  const http = createServer((req, res) => {
    void transport.handleRequest(req, res);
  });
  servers.push(http);
  await new Promise<void>((listening) => http.listen(0, '127.0.0.1', listening));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  const post = (sessionId: string) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }),
    });
  const answered = await post(SESSION.sessionId);
  expect(answered.status).toBe(200);
  expect(await answered.text()).toContain('"name":"ping"');
  expect((await post('another-session-id')).status).toBe(404);
});
