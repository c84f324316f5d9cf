// server-v2.ts
/**
 * The existing MCP server the recipes protect, built with the MCP SDK v2
 * (`@modelcontextprotocol/server`): the same three tools and prompt as `server-v1.ts`, served either by
 * `createMcpHandler` (stateless, 2026-07-28 and 2025 clients) or by the Web-standard
 * `WebStandardStreamableHTTPServerTransport` (stateful, one per session). Nothing here knows about
 * tokens: the tools read who calls (`currentCaller()`, or the SDK's `ctx.http.authInfo`).
 */
import {
  type AuthInfo,
  type CallToolResult,
  createMcpHandler,
  McpServer,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import { currentCaller } from 'mcp-agent-ts/middleware';
import * as z from 'zod';
import { whoami } from './server-v1.js';

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/** The server's tools (SDK v2 `McpServer`). */
export function createServerV2(): McpServer {
  const server = new McpServer({ name: 'existing-server-v2', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Who is calling' }, (ctx) =>
    whoami(ctx.http?.authInfo),
  );
  server.registerTool(
    'add',
    { description: 'Add two numbers', inputSchema: z.object({ a: z.number(), b: z.number() }) },
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

/** `createMcpHandler` over {@link createServerV2}: `{ fetch(request, { authInfo }) }`. */
export function statelessHandler() {
  return createMcpHandler(() => createServerV2());
}

/** The Web-standard stateful handling: a transport per session, opened by a request without one. */
export interface WebSessionHandler {
  (request: Request, options: { authInfo?: AuthInfo; parsedBody?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** A {@link WebSessionHandler} over {@link createServerV2}. */
export function webSessionHandler(): WebSessionHandler {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  /** A new session's transport, registered under its id once `initialize` gave it one. */
  const open = async () => {
    const transport: WebStandardStreamableHTTPServerTransport =
      new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => crypto.randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, transport),
        onsessionclosed: (id) => void sessions.delete(id),
      });
    await createServerV2().connect(transport);
    return transport;
  };
  const notFound = () =>
    Response.json(
      { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null },
      { status: 404 },
    );
  const handle: WebSessionHandler = async (request, options) => {
    const id = request.headers.get('mcp-session-id');
    const transport = id === null ? await open() : sessions.get(id);
    return transport ? transport.handleRequest(request, options) : notFound();
  };
  handle.close = async () => {
    await Promise.all([...sessions.values()].map((transport) => transport.close()));
  };
  return handle;
}
