/**
 * What the development authorization server fetches itself: oidc-provider reads a client's
 * `jwks_uri` (for `private_key_jwt`) and `sector_identifier_uri`, URLs anyone may register. Its
 * HTTP helper stops a request after 2.5 s but reads any size meanwhile (a fast endless body is
 * hundreds of MiB in that time); these agents close a connection once it has brought
 * {@link DEV_FETCH_MAX_BYTES}, and the time stays 2.5 s.
 *
 * @module
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';

/** Most bytes (headers and body) one fetch of the development server may bring: 256 KiB. */
export const DEV_FETCH_MAX_BYTES = 256 * 1024;

/** How long one fetch may take, as oidc-provider's default: 2.5 s. */
const DEV_FETCH_TIMEOUT_MS = 2_500;

type CreateConnection = (
  options: object,
  callback: (error: Error | null, socket: Duplex) => void,
) => Duplex;

/** `socket`, destroyed once it has received more than `max` bytes. */
function capped(socket: Duplex, max: number): Duplex {
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > max) {
      socket.destroy(new Error(`the answer is larger than ${max / 1024} KiB`));
    }
  });
  return socket;
}

/** An agent (no keep-alive: the count is per request) whose sockets are {@link capped}. */
function cappedAgent<T extends HttpAgent>(agent: T, max: number): T {
  const create = (agent as unknown as { createConnection: CreateConnection }).createConnection.bind(
    agent,
  );
  (agent as unknown as { createConnection: CreateConnection }).createConnection = (
    options,
    callback,
  ) => capped(create(options, callback), max);
  return agent;
}

/**
 * oidc-provider's `httpOptions`: the bounded agents, and the 2.5 s deadline (one signal per
 * request).
 */
export function devHttpOptions(
  max: number = DEV_FETCH_MAX_BYTES,
): (url: URL) => { signal: AbortSignal; agent: HttpAgent } {
  const http = cappedAgent(new HttpAgent({ keepAlive: false }), max);
  const https = cappedAgent(new HttpsAgent({ keepAlive: false }), max);
  return (url) => ({
    signal: AbortSignal.timeout(DEV_FETCH_TIMEOUT_MS),
    agent: url.protocol === 'http:' ? http : https,
  });
}
