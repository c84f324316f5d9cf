/**
 * The node:http servers mcp-agent-ts listens with (the served app, the development authorization
 * server), with the time a client may take to send a request bounded (slowloris): Node's
 * `headersTimeout` and `requestTimeout`, checked every `connectionsCheckingInterval` (Node's
 * default, 30 s, would let a trickling connection live up to 30 s past its limit). A request too
 * slow is answered `408` and its connection closed. The limits end once the request has arrived:
 * a response may stream as long as it likes (an SSE stream).
 *
 * @module
 */
import { createServer, type RequestListener, type Server } from 'node:http';

/** How long a client may take to send a request, in milliseconds. */
export interface RequestTimeouts {
  /** To send the whole header section. Default 10 000. */
  readonly headersMs?: number;
  /** To send the whole request, body included (not the response). Default 30 000. */
  readonly requestMs?: number;
  /** How often open connections are checked against the limits. Default 1 000. */
  readonly checkIntervalMs?: number;
}

/** The limits served by default: headers within 10 s, the whole request within 30 s. */
export const DEFAULT_REQUEST_TIMEOUTS: Required<RequestTimeouts> = {
  headersMs: 10_000,
  requestMs: 30_000,
  checkIntervalMs: 1_000,
};

/**
 * A node:http server for `listener` whose clients must send each request within `timeouts`.
 *
 * @throws TypeError when a limit is not a positive number of milliseconds, or the header limit is
 *   longer than the request limit.
 */
export function createHttpServer(
  listener?: RequestListener,
  timeouts: RequestTimeouts = {},
): Server {
  const { headersMs, requestMs, checkIntervalMs } = { ...DEFAULT_REQUEST_TIMEOUTS, ...timeouts };
  for (const [name, value] of Object.entries({ headersMs, requestMs, checkIntervalMs })) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new TypeError(`${name} must be a positive number of milliseconds, not ${value}.`);
    }
  }
  if (headersMs > requestMs) {
    throw new TypeError(
      'headersMs must not be longer than requestMs (the headers are part of it).',
    );
  }
  return createServer(
    {
      headersTimeout: headersMs,
      requestTimeout: requestMs,
      connectionsCheckingInterval: checkIntervalMs,
    },
    listener,
  );
}
