/**
 * The server side of the HTTP+SSE transport (MCP 2024-11-05), which the v2 SDK no longer ships,
 * on its `Transport`: the GET that opens the session is answered by an event stream whose first
 * event (`endpoint`) names the URL to POST messages to; each message POSTed there is handed to
 * the server and answered 202, and what the server sends goes down the stream as `message`
 * events. Deprecated by the protocol since 2025-03-26: kept for clients that still use it.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AuthInfo,
  type JSONRPCMessage,
  type MessageExtraInfo,
  parseJSONRPCMessage,
  type Transport,
} from '@modelcontextprotocol/server';

/** One session's event stream and its message URL. */
export class SseServerTransport implements Transport {
  /** The session's id, a UUID; the message URL carries it as `sessionId`. */
  readonly sessionId: string = randomUUID();
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage, extra?: MessageExtraInfo) => void) | undefined;
  readonly #endpoint: string;
  readonly #res: ServerResponse;
  #open = false;
  #closed = false;

  /** `endpoint`: the message URL (relative), without the session id; `res`: the GET's response. */
  constructor(endpoint: string, res: ServerResponse) {
    this.#endpoint = endpoint;
    this.#res = res;
  }

  /** Open the stream and announce the message URL; the stream's end closes the transport. */
  async start(): Promise<void> {
    if (this.#open || this.#closed) throw new Error('this SSE transport has already started');
    this.#res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
    });
    const url = new URL(this.#endpoint, 'http://localhost');
    url.searchParams.set('sessionId', this.sessionId);
    this.#res.write(`event: endpoint\ndata: ${url.pathname}${url.search}\n\n`);
    this.#open = true;
    this.#res.on('close', () => this.#ended());
  }

  /** Send `message` down the stream as a `message` event. */
  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.#open) throw new Error('Not connected');
    this.#res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  /** End the stream. */
  async close(): Promise<void> {
    if (this.#open) this.#res.end();
    this.#ended();
  }

  /**
   * A POST of the session (`body`: its JSON, already read and checked): handed to the server with
   * the caller's `auth`, answered 202; 400 for a body that is not JSON or not a JSON-RPC message,
   * 500 once the stream has gone.
   */
  async handlePostMessage(
    req: IncomingMessage & { auth?: AuthInfo },
    res: ServerResponse,
    body: unknown,
  ): Promise<void> {
    if (!this.#open) {
      res.writeHead(500).end('SSE connection not established');
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      res.writeHead(400).end(`Unsupported content-type: ${type || '(none)'}`);
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(body);
    } catch (error) {
      this.onerror?.(error instanceof Error ? error : new Error('invalid message'));
      res.writeHead(400).end('Invalid message');
      return;
    }
    this.onmessage?.(message, req.auth ? { authInfo: req.auth } : {});
    res.writeHead(202).end('Accepted');
  }

  #ended(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#open = false;
    this.onclose?.();
  }
}
