/**
 * An MCP client transport over WebSocket, on the SDK's (v2) `Transport` type: v2 ships no WebSocket
 * transport, and v1's could not send headers. This one sends headers on the opening handshake
 * (undici's WebSocket) and uses the shared HTTP stack's dispatcher. Headers are sent on the
 * handshake only: a WebSocket has no later requests to carry them.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  type JSONRPCMessage,
  parseJSONRPCMessage,
  type Transport,
} from '@modelcontextprotocol/client';
import { type Dispatcher, WebSocket } from 'undici';

/** The MCP WebSocket subprotocol. */
const SUBPROTOCOL = 'mcp';

/** Options of {@link HeaderWebSocketTransport}. */
export interface HeaderWebSocketOptions {
  /** Handshake headers, computed when the connection opens. */
  readonly headers?: () =>
    | Readonly<Record<string, string>>
    | Promise<Readonly<Record<string, string>>>;
  readonly dispatcher?: Dispatcher;
  /**
   * Called once when the handshake is refused; resolving `true` retries it once with headers
   * computed again (OAuth: a refreshed token, or one from a new login).
   */
  readonly onRefused?: () => Promise<boolean>;
}

/** A WebSocket client transport with handshake headers. */
export class HeaderWebSocketTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly #url: URL;
  readonly #options: HeaderWebSocketOptions;
  #socket: WebSocket | undefined;

  constructor(url: URL, options: HeaderWebSocketOptions = {}) {
    this.#url = url;
    this.#options = options;
  }

  async start(): Promise<void> {
    if (this.#socket) throw new Error('HeaderWebSocketTransport already started');
    try {
      await this.#open();
    } catch (error) {
      if (!this.#options.onRefused || !(await this.#options.onRefused())) throw error;
      await this.#open();
    }
  }

  async #open(): Promise<void> {
    const headers = this.#options.headers ? { ...(await this.#options.headers()) } : undefined;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.#url, {
        protocols: SUBPROTOCOL,
        ...(headers ? { headers } : {}),
        ...(this.#options.dispatcher ? { dispatcher: this.#options.dispatcher } : {}),
      });
      this.#socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        resolve();
      };
      socket.onerror = (event) => {
        const error =
          (event as unknown as { error?: unknown }).error instanceof Error
            ? ((event as unknown as { error: Error }).error as Error)
            : new Error('WebSocket error');
        if (!opened) {
          reject(
            Object.assign(new Error('the WebSocket handshake was refused', { cause: error }), {
              code: 'WS_HANDSHAKE_REFUSED',
            }),
          );
          return;
        }
        this.onerror?.(error);
      };
      // A handshake that failed is not a closed connection: start() reports it (and may retry).
      socket.onclose = () => {
        if (opened) this.onclose?.();
      };
      socket.onmessage = (event) => {
        try {
          const text = typeof event.data === 'string' ? event.data : String(event.data);
          this.onmessage?.(parseJSONRPCMessage(JSON.parse(text)));
        } catch (error) {
          this.onerror?.(error instanceof Error ? error : new Error(String(error)));
        }
      };
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.#socket) throw new Error('Not connected');
    this.#socket.send(JSON.stringify(message));
  }

  async close(): Promise<void> {
    this.#socket?.close();
  }
}

/**
 * Send the opening handshake once more, by hand, to learn why it was refused: its status and
 * headers (a 401's `WWW-Authenticate`), which a WebSocket API does not expose. A 101 answer is
 * closed at once. `undefined` when the server cannot be reached.
 */
export function probeHandshake(
  url: URL,
  headers: Readonly<Record<string, string>>,
  timeoutMs = 10_000,
): Promise<{ status: number; headers: Headers } | undefined> {
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const request = send(
      new URL(url.href.replace(/^ws/, 'http')),
      {
        method: 'GET',
        headers: {
          ...headers,
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': randomBytes(16).toString('base64'),
          'sec-websocket-protocol': SUBPROTOCOL,
        },
        timeout: timeoutMs,
      },
      (response) => {
        const answer = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          if (typeof value === 'string') answer.set(name, value);
          else if (Array.isArray(value)) for (const item of value) answer.append(name, item);
        }
        response.resume();
        resolve({ status: response.statusCode ?? 0, headers: answer });
      },
    );
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 101, headers: new Headers() });
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
    request.end();
  });
}
