/**
 * A node:http server that misbehaves on purpose: routes that stream a body without end, drip a
 * byte now and then, or answer a fixed JSON document. Each streamed answer records how many bytes
 * it wrote and settles `closed` when the client has gone (the proof that a request was stopped).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One answer a streaming route gave. */
export interface Streamed {
  readonly path: string;
  /** The request body, as text. */
  request: string;
  /** Body bytes written so far (what the socket took). */
  bytes: number;
  /** Resolves when the connection closed. */
  readonly closed: Promise<void>;
}

/** A route handler. */
export type Route = (req: IncomingMessage, res: ServerResponse, record: Streamed) => void;

/** A running {@link startHostileServer}. */
export interface HostileServer {
  readonly origin: string;
  url(path: string): string;
  /** Every answer, in order. */
  readonly answers: Streamed[];
  /** Requests per path (without the query). */
  count(path: string): number;
  close(): Promise<void>;
}

/** Start a server answering `routes[path]` (404 JSON otherwise) on 127.0.0.1. */
export async function startHostileServer(
  routes: Readonly<Record<string, Route>>,
): Promise<HostileServer> {
  const answers: Streamed[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    let done: () => void = () => {};
    const record: Streamed = {
      path,
      request: '',
      bytes: 0,
      closed: new Promise((resolve) => (done = resolve)),
    };
    res.on('close', () => done());
    answers.push(record);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      record.request = Buffer.concat(chunks).toString('utf8');
      const route = routes[path];
      if (!route) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"not_found"}');
        return;
      }
      route(req, res, record);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    answers,
    count: (path) => answers.filter((answer) => answer.path === path).length,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answer `body` as JSON with `status`. */
export function json(body: unknown, status = 200): Route {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

/**
 * Write `prefix`, then `filler` in 16 KiB chunks as fast as the client takes them, for ever (until
 * the client goes). No content-length: the limit must count bytes as they come.
 */
export function endless(contentType: string, prefix: string, filler = 'x'): Route {
  return (_req, res, record) => {
    res.writeHead(200, { 'content-type': contentType });
    const chunk = Buffer.from(filler.repeat(Math.ceil((16 * 1024) / filler.length)));
    const write = (data: Buffer | string) => {
      record.bytes += Buffer.byteLength(data);
      return res.write(data);
    };
    let open = true;
    res.on('close', () => {
      open = false;
    });
    const pump = () => {
      while (open && write(chunk)) {
        // keep writing while the socket takes it
      }
      if (open) res.once('drain', pump);
    };
    write(prefix);
    pump();
  };
}

/** Write `prefix`, then one byte of `filler` every `everyMs` milliseconds, for ever. */
export function drip(contentType: string, prefix: string, everyMs = 20): Route {
  return (_req, res, record) => {
    res.writeHead(200, { 'content-type': contentType });
    res.write(prefix);
    record.bytes += Buffer.byteLength(prefix);
    const timer = setInterval(() => {
      res.write(' ');
      record.bytes += 1;
    }, everyMs);
    res.on('close', () => clearInterval(timer));
  };
}
