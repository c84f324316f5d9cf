/**
 * A node:http server on 127.0.0.1 in front of a Web `(Request) => Response` handler, the way a
 * Fetch-based framework (Next.js route handlers, Hono, Nitro) would host it: the request becomes a
 * `Request` (body streamed), the `Response` is written back (body streamed, so SSE works).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

/** A Web handler. */
export type WebHandler = (request: Request) => Response | Promise<Response>;

/** A running {@link serveWeb} server. */
export interface WebServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  close(): Promise<void>;
}

/** Serve `handler` on a free port of 127.0.0.1. */
export async function serveWeb(handler: WebHandler): Promise<WebServer> {
  const server = createServer((req, res) => {
    answer(handler, req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`handler failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function answer(handler: WebHandler, req: IncomingMessage, res: ServerResponse) {
  const aborted = new AbortController();
  res.on('close', () => aborted.abort());
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    for (const one of [value ?? []].flat()) headers.append(name, one);
  }
  const method = req.method ?? 'GET';
  const request = new Request(new URL(req.url ?? '/', `http://${req.headers.host}`), {
    method,
    headers,
    signal: aborted.signal,
    ...(method === 'GET' || method === 'HEAD'
      ? {}
      : { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' }),
  } as RequestInit);
  const response = await handler(request);
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') out[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  res.writeHead(response.status, out);
  if (!response.body) return void res.end();
  Readable.fromWeb(response.body as NodeReadableStream).pipe(res);
}
