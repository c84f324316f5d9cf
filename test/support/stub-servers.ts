/**
 * Small stand-in servers for the bad-input tests: plain `node:http` / `node:https` servers on
 * 127.0.0.1 that answer every request the same way, a port nothing listens on, and a self-signed
 * certificate made with `openssl` at test time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';

/** A running stub: its base URL (`http://127.0.0.1:PORT`), the requests it saw, and `close()`. */
export interface Stub {
  readonly url: string;
  readonly requests: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

/** How a stub answers; a handler that never calls `response.end()` leaves the request hanging. */
export type StubHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** Reject with a clear message when `promise` has not settled after `ms` milliseconds. */
export function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function listen(server: Server, scheme: 'http' | 'https'): Promise<Stub> {
  const requests: Stub['requests'] = [];
  server.on('request', (request: IncomingMessage) => {
    requests.push({
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
    });
  });
  await bounded(
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    }),
    5_000,
    'listen',
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `${scheme}://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      bounded(
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
        5_000,
        'server close',
      ),
  };
}

/** An HTTP server on 127.0.0.1 that hands every request to `handler`. */
export function startHttpStub(handler: StubHandler): Promise<Stub> {
  return listen(createHttpServer(handler), 'http');
}

/** An HTTPS server on 127.0.0.1 with the given key and certificate (PEM). */
export function startHttpsStub(
  tls: { key: string; cert: string },
  handler: StubHandler,
): Promise<Stub> {
  return listen(createHttpsServer(tls, handler), 'https');
}

/**
 * A self-signed certificate for `host` (default `localhost`; an IP address goes in the subject
 * alternative name), written into `dir` as key.pem and cert.pem by `openssl`.
 */
export function selfSignedCertificate(
  dir: string,
  host = 'localhost',
): { key: string; cert: string; certFile: string } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const san = /^[\d.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=${san}`,
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore', timeout: 10_000 },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

/** A port on 127.0.0.1 that was just bound and closed, so connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await bounded(
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    }),
    5_000,
    'listen',
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await bounded(new Promise<void>((resolve) => server.close(() => resolve())), 5_000, 'close');
  return address.port;
}

/** A handler that answers `status` with a plain body that (like some servers do) echoes the request. */
export function echoRequest(status: number, headers: Record<string, string> = {}): StubHandler {
  return (request, response) => {
    request.resume();
    response.writeHead(status, { 'content-type': 'text/plain', ...headers });
    response.end(
      `${status} for ${request.method} ${request.url} (authorization: ${request.headers.authorization}, x-api-key: ${request.headers['x-api-key']})`,
    );
  };
}

/** A handler that answers `status` with `body` as JSON. */
export function answerJson(status: number, body: unknown): StubHandler {
  return (request, response) => {
    request.resume();
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
}
