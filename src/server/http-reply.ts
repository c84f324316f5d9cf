/**
 * The answers the agent's HTTP front writes itself (the MCP transports write the others).
 *
 * @module
 */
import type { ServerResponse } from 'node:http';

/** Answer `status` with `headers` and `body`; only end the response once headers are sent. */
export function send(
  res: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string,
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, headers);
  res.end(body);
}

/** An answer to write, whatever writes it (node:http, a fetch `Response`, a framework's reply). */
export interface HttpAnswer {
  /** The HTTP status code. */
  readonly status: number;
  /** The response headers, by lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body (JSON, or empty for 204 and `HEAD`). */
  readonly body: string;
}

/** `status` with a JSON-RPC 2.0 error object (JSON-RPC 2.0 §5.1) of no request id. */
export function jsonRpcErrorAnswer(status: number, code: number, message: string): HttpAnswer {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }),
  };
}

/** Answer `status` with a JSON-RPC 2.0 error object (JSON-RPC 2.0 §5.1) of no request id. */
export function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
): void {
  const answer = jsonRpcErrorAnswer(status, code, message);
  send(res, answer.status, answer.headers, answer.body);
}

/** Answer 503 with `Retry-After` (RFC 9110 §10.2.3): no room for another session. */
export function tooManySessions(res: ServerResponse): void {
  send(
    res,
    503,
    { 'content-type': 'application/json', 'retry-after': '30' },
    JSON.stringify({ error: 'too_many_sessions' }),
  );
}

/**
 * Answer 503 with `Retry-After` (RFC 9110 §10.2.3) and a JSON-RPC error for the request `id`: no
 * room for another `subscriptions/listen` stream.
 */
export function tooManyListenStreams(res: ServerResponse, id: unknown): void {
  const error = { code: -32603, message: 'Subscription limit reached; retry later' };
  const requestId = typeof id === 'string' || typeof id === 'number' ? id : null;
  send(
    res,
    503,
    { 'content-type': 'application/json', 'retry-after': '30' },
    JSON.stringify({ jsonrpc: '2.0', id: requestId, error }),
  );
}
