import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  type MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';
import { type WebSocket, WebSocketServer } from 'ws';
import type { RecordedRequest } from './mcp-http-server.js';

/** A server-side MCP transport over one `ws` socket. */
export class ServerWebSocketTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  readonly #socket: WebSocket;
  readonly #extra: MessageExtraInfo;

  constructor(socket: WebSocket, extra: MessageExtraInfo) {
    this.#socket = socket;
    this.#extra = extra;
  }

  async start(): Promise<void> {
    this.#socket.on('message', (data) => {
      try {
        this.onmessage?.(JSONRPCMessageSchema.parse(JSON.parse(String(data))), this.#extra);
      } catch (error) {
        this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      }
    });
    this.#socket.on('close', () => this.onclose?.());
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.#socket.send(JSON.stringify(message));
  }

  async close(): Promise<void> {
    this.#socket.close();
  }
}

/** A WebSocket MCP server (subprotocol `mcp`) on 127.0.0.1 that records every handshake. */
export interface WsMcpServer {
  /** `ws://127.0.0.1:<port>/ws` */
  readonly url: string;
  readonly port: number;
  /** The opening handshakes, accepted or not. */
  readonly handshakes: RecordedRequest[];
  /** How many sockets are open right now. */
  openSockets(): number;
  close(): Promise<void>;
}

/**
 * Start a {@link WsMcpServer}. Handshakes without the `require`d headers (lower-case names, exact
 * values) are answered 401. Each socket gets its own McpServer with a `whoami` tool.
 */
export async function startWsMcpServer(
  options: { readonly require?: Readonly<Record<string, string>> } = {},
): Promise<WsMcpServer> {
  const handshakes: RecordedRequest[] = [];
  const servers = new Set<McpServer>();
  const sockets = new Set<Socket>();
  let open = 0;
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('mcp') ? 'mcp' : false),
  });
  const http = createServer((_req, res) => res.writeHead(404).end());
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    handshakes.push({ method: req.method ?? '', path: url.pathname, headers: { ...req.headers } });
    const allowed = Object.entries(options.require ?? {}).every(
      ([name, value]) => req.headers[name] === value,
    );
    if (!allowed || url.pathname !== '/ws') {
      socket.end(
        `HTTP/1.1 ${allowed ? '404 Not Found' : '401 Unauthorized'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      open++;
      ws.on('close', () => open--);
      const mcp = new McpServer({ name: 'test-ws-server', version: '1.0.0' });
      mcp.registerTool('whoami', { description: 'Says which organisation connected' }, (extra) => ({
        content: [{ type: 'text', text: `org ${extra.requestInfo?.headers['x-org-id'] ?? '-'}` }],
      }));
      servers.add(mcp);
      void mcp.connect(new ServerWebSocketTransport(ws, { requestInfo: { headers: req.headers } }));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    port,
    handshakes,
    openSockets: () => open,
    async close() {
      await Promise.all([...servers].map((server) => server.close().catch(() => {})));
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
