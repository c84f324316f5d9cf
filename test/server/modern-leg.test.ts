/**
 * `serve` speaks 2026-07-28 beside 2025-11-25 on the same URL (ADR 0004, point 2): a v2 client
 * pinned to 2026-07-28 (and one negotiating `auto`) lists and calls the same tools as a 2025-11-25
 * session of the same caller, with authorization on; `server/discover` answers.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  mcpHeaders,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  textOf,
  type UserTokens,
  userTokens,
} from './serve-support.js';

let served: ServedApp;
let front: ServedApp;
let alice: UserTokens;
let root: UserTokens;
const clients: Client[] = [];

beforeAll(async () => {
  served = await startServedApp({
    downstream: true,
    downstreamSetup: (server) => {
      server.server.registerCapabilities({ logging: {} });
      server.registerTool(
        'chatty',
        { description: 'Logs one line, then answers' },
        async (extra) => {
          await extra.sendNotification({
            method: 'notifications/message',
            params: { level: 'info', data: 'chatty says hi' },
          });
          return { content: [{ type: 'text', text: 'done' }] };
        },
      );
    },
    authorization: { tool_scopes: { down_echo: ['mcp:admin'] } },
    setup: (app) => {
      app.tool('add', {}, () => 'ok', { scopes: ['mcp:tools'] });
      app.tool('admin_report', {}, () => 'report', { scopes: ['mcp:admin'] });
    },
  });
  front = await startServedApp({ downstream: true, sections: { front: 'down' } });
  [alice, root] = await Promise.all([
    userTokens(served.as.issuer, served.resource, 'alice'),
    userTokens(served.as.issuer, served.resource, 'root', 'mcp:tools mcp:admin'),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await served?.close();
  await front?.close();
});

type Mode = 'legacy' | 'auto' | { pin: string };

async function connect(token: string, mode: Mode, app: ServedApp = served): Promise<Client> {
  const client = new Client(
    { name: 'modern-leg-test', version: '1.0.0' },
    { versionNegotiation: { mode } },
  );
  clients.push(client);
  const transport = new StreamableHTTPClientTransport(new URL(app.resource), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((tool) => tool.name).sort();
}

describe('2026-07-28 beside 2025-11-25 on one URL', () => {
  test('a pinned client negotiates 2026-07-28; a legacy one gets a 2025-11-25 session', async () => {
    const modern = await connect(root.accessToken, { pin: '2026-07-28' });
    const legacy = await connect(root.accessToken, 'legacy');
    expect(modern.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect(legacy.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect(modern.getServerVersion()?.name).toBe('served-test');
  });

  test('the same caller sees the same tools on both revisions (scopes, app and downstream tools)', async () => {
    for (const tokens of [alice, root]) {
      const modern = await connect(tokens.accessToken, { pin: '2026-07-28' });
      const legacy = await connect(tokens.accessToken, 'legacy');
      const names = await toolNames(modern);
      expect(names).toEqual(await toolNames(legacy));
      expect(names).toContain('add');
    }
    const rootTools = await toolNames(await connect(root.accessToken, { pin: '2026-07-28' }));
    expect(rootTools).toEqual(expect.arrayContaining(['add', 'admin_report', 'down_echo']));
  });

  test('calls an app tool and a downstream tool on 2026-07-28', async () => {
    const modern = await connect(root.accessToken, { pin: '2026-07-28' });
    expect(textOf(await modern.callTool({ name: 'add', arguments: {} }))).toBe('ok');
    const echoed = await modern.callTool({ name: 'down_echo', arguments: { text: 'hi' } });
    expect(textOf(echoed)).toBe('echo hi');
  });

  test("'auto' negotiation picks 2026-07-28 and calls tools", async () => {
    const auto = await connect(alice.accessToken, 'auto');
    expect(auto.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect(textOf(await auto.callTool({ name: 'add', arguments: {} }))).toBe('ok');
  });
});

describe('other clients and modes', () => {
  test('a v1 SDK client still gets a 2025-11-25 session on the same URL', async () => {
    const client = new V1Client({ name: 'v1-client', version: '1.0.0' });
    const transport = new V1Transport(new URL(served.resource), {
      requestInit: { headers: { authorization: `Bearer ${alice.accessToken}` } },
    });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe('served-test');
      const result = await client.callTool({ name: 'add', arguments: {} });
      expect(textOf(result)).toBe('ok');
      expect(transport.protocolVersion).toBe('2025-11-25');
      expect(transport.sessionId).toBeDefined();
    } finally {
      await client.close();
    }
  });

  test('front mode: the fronted server’s tools under their own names on 2026-07-28', async () => {
    const tokens = await userTokens(front.as.issuer, front.resource, 'alice');
    for (const mode of [{ pin: '2026-07-28' }, 'auto'] as const) {
      const client = await connect(tokens.accessToken, mode, front);
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect(await toolNames(client)).toContain('echo');
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'front' } });
      expect(textOf(echoed)).toBe('echo front');
    }
  });
});

describe('logging on 2026-07-28', () => {
  /** A raw 2026-07-28 call of `down_chatty`, with `level` in its envelope when given. */
  function chatty(level?: string) {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw-modern', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': {},
      ...(level ? { 'io.modelcontextprotocol/logLevel': level } : {}),
    };
    return raw(served.resource, {
      method: 'POST',
      headers: mcpHeaders(root.accessToken, {
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'down_chatty',
      }),
      body: rpc('tools/call', { name: 'down_chatty', arguments: {}, _meta: meta }),
    });
  }

  test("a downstream server's log line reaches the caller at the envelope's level, else not", async () => {
    const withLevel = await chatty('info');
    expect(withLevel.status).toBe(200);
    expect(withLevel.body).toContain('notifications/message');
    expect(withLevel.body).toContain('chatty says hi');
    const above = await chatty('error');
    expect(above.body).toContain('done');
    expect(above.body).not.toContain('chatty says hi');
    const without = await chatty();
    expect(without.body).toContain('done');
    expect(without.body).not.toContain('chatty says hi');
  });
});
