import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/** One request as the server received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** Header names are lower case. */
  readonly headers: IncomingHttpHeaders;
}

/** Options of {@link startMcpHttpServer}. */
export interface McpHttpServerOptions {
  /** Headers (lower-case names) every request must carry with exactly these values; else 401. */
  readonly require?: Readonly<Record<string, string>>;
  /** Adds tools to each session's server (a `whoami` tool is always there). */
  readonly setup?: (server: McpServer) => void;
}

/**
 * A Streamable HTTP (`/mcp`) and SSE (`GET /sse`, `POST /messages`) MCP server on 127.0.0.1 that
 * records every request it gets.
 */
export interface McpHttpServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** While set, every request is answered `307` to this origin with the same path and query. */
  redirectTo: string | undefined;
  /** How many GET event streams (on `path`, or any) are open, their response headers sent. */
  openStreams(path?: string): number;
  close(): Promise<void>;
}

/** Start an {@link McpHttpServer} on a free port. */
export async function startMcpHttpServer(
  options: McpHttpServerOptions = {},
): Promise<McpHttpServer> {
  const requests: RecordedRequest[] = [];
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const sse = new Map<string, SSEServerTransport>();
  const servers = new Set<McpServer>();
  const streams = new Map<ServerResponse, string>();

  const newMcpServer = (): McpServer => {
    const server = new McpServer({ name: 'test-http-server', version: '1.0.0' });
    server.registerTool(
      'whoami',
      { description: 'Says which organisation the request came from' },
      (extra) => ({
        content: [{ type: 'text', text: `org ${extra.requestInfo?.headers['x-org-id'] ?? '-'}` }],
      }),
    );
    options.setup?.(server);
    servers.add(server);
    return server;
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    if (url.pathname === '/mcp') {
      const sessionId = req.headers['mcp-session-id'];
      let transport = typeof sessionId === 'string' ? streamable.get(sessionId) : undefined;
      if (!transport) {
        if (req.method !== 'POST' || sessionId !== undefined) {
          res.writeHead(404).end();
          return;
        }
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            streamable.set(id, created);
          },
          onsessionclosed: (id) => {
            streamable.delete(id);
          },
        });
        transport = created;
        await newMcpServer().connect(created);
      }
      await transport.handleRequest(req, res);
      return;
    }
    if (url.pathname === '/sse' && req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res);
      sse.set(transport.sessionId, transport);
      res.on('close', () => sse.delete(transport.sessionId));
      await newMcpServer().connect(transport);
      return;
    }
    if (url.pathname === '/messages' && req.method === 'POST') {
      const transport = sse.get(url.searchParams.get('sessionId') ?? '');
      if (transport) await transport.handlePostMessage(req, res);
      else res.writeHead(404).end();
      return;
    }
    res.writeHead(404).end();
  };

  const http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ method: req.method ?? '', path: url.pathname, headers: { ...req.headers } });
    if (req.method === 'GET') {
      streams.set(res, url.pathname);
      res.on('close', () => streams.delete(res));
    }
    if (handle.redirectTo !== undefined) {
      res.writeHead(307, { location: `${handle.redirectTo}${url.pathname}${url.search}` }).end();
      return;
    }
    for (const [name, value] of Object.entries(options.require ?? {})) {
      if (req.headers[name] !== value) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
        return;
      }
    }
    route(req, res, url).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;

  const handle: McpHttpServer = {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    redirectTo: undefined,
    openStreams: (path) =>
      [...streams].filter(([res, on]) => res.headersSent && (path === undefined || on === path))
        .length,
    async close() {
      await Promise.all([...servers].map((server) => server.close().catch(() => {})));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return handle;
}
