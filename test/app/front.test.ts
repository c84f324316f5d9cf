/**
 * Front mode (issue 15, item 5): `front: down` serves one existing Streamable HTTP server as it
 * is, behind the development authorization server. Its tools keep their own names, per-tool scopes
 * are keyed by those names, logs and progress still reach the caller, and the downstream server
 * only ever sees its own configured credential, never a caller's token. Bad input: an unknown
 * server, other servers configured beside it, an app module, namespaced `tool_scopes` keys.
 */
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  ProgressNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import type { Logger } from '../../src/logger.js';
import { connectWithLogin, HeadlessOAuthProvider } from '../interop/support.js';
import {
  DOWNSTREAM_KEY,
  type ServedApp,
  startServedApp,
  textOf,
  userTokens,
} from '../server/serve-support.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';

const warnings: string[] = [];
const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message) => warnings.push(message),
  error: () => {},
};

/** The fronted server's own tools, beside its `whoami` and `echo`. */
function moreTools(server: McpServer): void {
  server.server.registerCapabilities({ logging: {} });
  server.registerTool('secret', { description: 'Needs mcp:admin' }, () => ({
    content: [{ type: 'text', text: 'the secret' }],
  }));
  server.registerTool('steps', { description: 'Logs and reports progress' }, async (extra) => {
    await extra.sendNotification({
      method: 'notifications/message',
      params: { level: 'info', data: 'step log' },
    });
    const token = extra._meta?.progressToken;
    if (token !== undefined) {
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress: 1, total: 1 },
      });
    }
    return { content: [{ type: 'text', text: 'stepped' }] };
  });
}

let served: ServedApp;
/** A second configured server, which front mode must never start. */
let other: McpHttpServer;
const callerTokens: string[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  other = await startMcpHttpServer();
  served = await startServedApp({
    downstream: true,
    downstreamSetup: moreTools,
    sections: { front: 'down' },
    servers: { other: { transport: 'streamable_http', url: `${other.origin}/mcp` } },
    authorization: {
      tool_scopes: { echo: ['mcp:admin'], down_secret: ['mcp:admin'] },
    },
    logger,
  });
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await served?.close();
  await other?.close();
});

/** A client calling with a token it was given (no OAuth of its own). */
async function withToken(token: string): Promise<Client> {
  callerTokens.push(token);
  const client = new Client({ name: 'front-static', version: '1.0.0' });
  clients.push(client);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(served.resource), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

describe('front mode in front of a Streamable HTTP server', () => {
  test('the SDK v1 client logs in and sees the server’s tools under their own names', async () => {
    const provider = new HeadlessOAuthProvider('alice', 'front test');
    const client = new Client({ name: 'front-v1', version: '1.0.0' });
    clients.push(client);
    await connectWithLogin(
      client,
      () => new StreamableHTTPClientTransport(new URL(served.resource), { authProvider: provider }),
      (first) => first.finishAuth(provider.takeCode()),
      UnauthorizedError,
    );
    callerTokens.push(provider.saved?.access_token ?? '');
    const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
    // No `down_` prefix, no app tools (workflows-store-credentials), nothing of "other".
    expect(names).toEqual(['echo', 'secret', 'steps', 'whoami']);
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBeTruthy();
    // The namespaced name is not a tool in front mode.
    const namespaced = await client.callTool({ name: 'down_whoami', arguments: {} });
    expect(namespaced.isError).toBe(true);
  });

  test('tool_scopes by the tool’s own name: 403 insufficient_scope without it, the call with it', async () => {
    const plain = await userTokens(served.as.issuer, served.resource, 'bob');
    const client = await withToken(plain.accessToken);
    await expect(client.callTool({ name: 'echo', arguments: { text: 'hi' } })).rejects.toThrow(
      /insufficient_scope/,
    );
    const admin = await userTokens(
      served.as.issuer,
      served.resource,
      'carol',
      'mcp:tools mcp:admin',
    );
    const allowed = await withToken(admin.accessToken);
    expect(textOf(await allowed.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe(
      'echo hi',
    );
  });

  test('a namespaced tool_scopes key still protects its tool, with a warning naming the key to write', async () => {
    expect(warnings).toContain(
      'authorization.tool_scopes key "down_secret" is read as "secret" too: in front mode tools keep their own names; write "secret"',
    );
    const plain = await userTokens(served.as.issuer, served.resource, 'dave');
    const client = await withToken(plain.accessToken);
    await expect(client.callTool({ name: 'secret', arguments: {} })).rejects.toThrow(
      /insufficient_scope/,
    );
  });

  test('the downstream server’s logs and progress reach the caller', async () => {
    const plain = await userTokens(served.as.issuer, served.resource, 'erin');
    const client = await withToken(plain.accessToken);
    const logs: unknown[] = [];
    const progress: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params);
    });
    client.setNotificationHandler(ProgressNotificationSchema, (n) => {
      progress.push(n.params);
    });
    await client.setLoggingLevel('info');
    const result = await client.request(
      {
        method: 'tools/call',
        params: { name: 'steps', arguments: {}, _meta: { progressToken: 'p-1' } },
      },
      CallToolResultSchema,
    );
    expect(textOf(result)).toBe('stepped');
    expect(logs).toContainEqual(expect.objectContaining({ logger: 'down', data: 'step log' }));
    expect(progress).toContainEqual(expect.objectContaining({ progressToken: 'p-1', progress: 1 }));
  });

  test('the downstream server got its own credential only, never a caller’s token', () => {
    const requests = served.down?.requests ?? [];
    expect(requests.length).toBeGreaterThan(0);
    expect(callerTokens.filter(Boolean).length).toBeGreaterThanOrEqual(5);
    for (const request of requests) {
      expect(request.headers.authorization).toBe(`Bearer ${DOWNSTREAM_KEY}`);
      const headers = JSON.stringify(request.headers);
      for (const token of callerTokens) if (token) expect(headers).not.toContain(token);
    }
  });

  test('another configured server is not started, not served, and a warning names it', () => {
    expect(other.requests).toEqual([]);
    expect(warnings).toContain(
      'front mode serves server "down" only; not started and not served: "other"',
    );
  });
});

describe('front mode refuses', () => {
  const settings = (front: string) =>
    settingsSchema.parse({
      front,
      mcp: {
        servers: {
          alpha: { command: 'node', args: ['-e', ''] },
          beta: { command: 'node', args: ['-e', ''] },
        },
      },
    });

  test('a server that is not configured, listing the configured ones', async () => {
    await expect(createApp({ settings: settings('gamma'), env: {} })).rejects.toThrow(
      'front: "gamma" is not a configured server; mcp.servers has "alpha", "beta".',
    );
    await expect(
      createApp({ settings: settings('alpha'), front: 'alpha_x', env: {} }),
    ).rejects.toMatchObject({ code: 'USAGE' });
  });

  test('an app module (its tools would not be served)', async () => {
    await expect(
      createApp({
        settings: settings('alpha'),
        env: {},
        setup: (app) => {
          app.tool('add', {}, () => 'x');
        },
      }),
    ).rejects.toThrow(
      'front mode serves server "alpha" as it is and nothing else, but the app module defines tool "add"; serve without front to serve them.',
    );
  });
});
