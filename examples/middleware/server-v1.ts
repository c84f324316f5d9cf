// server-v1.ts
/**
 * The existing MCP server the recipes protect, built with the MCP SDK v1
 * (`@modelcontextprotocol/sdk`): an `McpServer` with three tools and a prompt, served by the SDK's
 * stateful `StreamableHTTPServerTransport` (one per session), as the SDK's own examples do. Nothing
 * here knows about tokens: the tools only read who calls (`currentCaller()`, or the SDK's
 * `extra.authInfo`), and the scopes of `admin_report` and of the prompt `audit` are in the
 * configuration (`tool_scopes`, `prompt_scopes`).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type AuthInfo, callerFromAuthInfo, currentCaller } from 'mcp-agent-ts/middleware';
import * as z from 'zod';

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/** What `whoami` answers: the caller as each way of reading it sees it. */
export function whoami(authInfo: AuthInfo | undefined): CallToolResult {
  return text(
    JSON.stringify({
      subject: currentCaller()?.subject ?? null,
      issuer: currentCaller()?.issuer ?? null,
      fromAuthInfo: callerFromAuthInfo(authInfo)?.subject ?? null,
      scopes: authInfo?.scopes ?? [],
      token: authInfo?.token ?? null,
    }),
  );
}

/** The server's tools (SDK v1 `McpServer`). */
export function createServer(): McpServer {
  const server = new McpServer({ name: 'existing-server', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Who is calling' }, (extra) =>
    whoami(extra.authInfo),
  );
  server.registerTool(
    'add',
    { description: 'Add two numbers', inputSchema: { a: z.number(), b: z.number() } },
    ({ a, b }) => text(String(a + b)),
  );
  server.registerTool('admin_report', { description: 'Needs mcp:admin' }, () =>
    text(`Report for ${currentCaller()?.subject}: all good.`),
  );
  server.registerPrompt('audit', { description: 'Needs mcp:admin' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'Audit the report.' } }],
  }));
  return server;
}

/** The SDK v1 handling of `/mcp`: a transport per session, opened by a request without one. */
export interface SessionHandler {
  (req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void>;
  close(): Promise<void>;
}

/** A {@link SessionHandler} over {@link createServer}. */
export function sessionHandler(): SessionHandler {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: IncomingMessage, res: ServerResponse, parsedBody?: unknown) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport && id !== undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          error: { code: -32001, message: 'Session not found' },
          id: null,
        }),
      );
      return;
    }
    if (!transport) {
      const opened: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => {
          transports.set(sessionId, opened);
        },
      });
      opened.onclose = () => {
        if (opened.sessionId) transports.delete(opened.sessionId);
      };
      await createServer().connect(opened);
      transport = opened;
    }
    await transport.handleRequest(req, res, parsedBody);
  };
  return Object.assign(handle, {
    async close() {
      await Promise.all([...transports.values()].map((transport) => transport.close()));
    },
  });
}
