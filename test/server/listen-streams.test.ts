/**
 * The bounds of `serve`'s 2026-07-28 `subscriptions/listen` streams (listen-streams.ts): one
 * principal holds at most as many open streams as sessions (16), its oldest ending when it opens
 * one more, so that one caller cannot take every stream the handler allows from the others; and
 * a stream ends when the token that opened it expires.
 */
import {
  type ClientRequest,
  createServer,
  type IncomingMessage,
  request,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createMcpHttpHandler } from '../../src/server/http.js';
import { ListenStreams } from '../../src/server/listen-streams.js';
import { waitFor } from '../support/net.js';
import {
  mcpHeaders,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  userTokens,
} from './serve-support.js';

let served: ServedApp;
const opened: (() => void)[] = [];

beforeAll(async () => {
  served = await startServedApp();
}, 60_000);

afterAll(async () => {
  for (const close of opened) close();
  await served?.close();
});

/** A raw stream of `url`: its first bytes, its end, and a way to drop it. */
interface RawStream {
  /** The first chunk of the body (the acknowledgement, for a listen stream). */
  readonly first: Promise<string>;
  /** Resolves when the response ends or its connection closes. */
  readonly ended: Promise<void>;
  isEnded(): boolean;
  /** Close the connection. */
  drop(): void;
}

function openStream(url: string, headers: Record<string, string>, body?: string): RawStream {
  const target = new URL(url);
  let ended = false;
  let markEnded: () => void = () => {};
  const endedPromise = new Promise<void>((resolve) => {
    markEnded = () => {
      ended = true;
      resolve();
    };
  });
  let requestOf: ClientRequest | undefined;
  const first = new Promise<string>((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: body === undefined ? 'GET' : 'POST',
        headers,
        agent: false,
      },
      (res: IncomingMessage) => {
        res.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8')));
        res.on('end', markEnded);
        res.on('close', markEnded);
        res.on('error', markEnded);
      },
    );
    req.on('error', (error) => {
      markEnded();
      reject(error);
    });
    req.on('close', markEnded);
    requestOf = req;
    opened.push(() => req.destroy());
    req.end(body);
  });
  return { first, ended: endedPromise, isEnded: () => ended, drop: () => requestOf?.destroy() };
}

/** The headers and body of a 2026-07-28 `subscriptions/listen` of tool list changes. */
function listenRequest(token: string | undefined): {
  headers: Record<string, string>;
  body: string;
} {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'listen-limits', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  return {
    headers: mcpHeaders(token, {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'subscriptions/listen',
    }),
    body: rpc('subscriptions/listen', { notifications: { toolsListChanged: true }, _meta: meta }),
  };
}

/** A listen stream on `url` (default: the served app's), by the holder of `token`. */
function listen(token: string | undefined, url = served.resource): RawStream {
  const { headers, body } = listenRequest(token);
  return openStream(url, headers, body);
}

test("a principal's 17th listen stream ends its oldest; another principal's stays open", async () => {
  const [alice, bob] = await Promise.all([
    userTokens(served.as.issuer, served.resource, 'alice'),
    userTokens(served.as.issuer, served.resource, 'bob'),
  ]);
  const streams = Array.from({ length: 16 }, () => listen(alice.accessToken));
  for (const stream of streams) {
    expect(await stream.first).toContain('notifications/subscriptions/acknowledged');
  }
  const bobs = listen(bob.accessToken);
  expect(await bobs.first).toContain('"toolsListChanged":true');
  const one = listen(alice.accessToken);
  expect(await one.first).toContain('notifications/subscriptions/acknowledged');
  // The oldest of alice's ends; the next one, the newest and bob's stay open.
  await streams[0]?.ended;
  expect([streams[1]?.isEnded(), one.isEnded(), bobs.isEnded()]).toEqual([false, false, false]);
});

let plain: Server | undefined;

afterAll(() => {
  plain?.closeAllConnections();
  plain?.close();
});

test('a stream ends when the token that opened it has expired, and is forgotten', async () => {
  const listens = new ListenStreams({ perPrincipal: 16, total: 100, now: () => 2_000 });
  let closedHere: () => void = () => {};
  const expiredClosed = new Promise<void>((resolve) => {
    closedHere = resolve;
  });
  plain = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': open\n\n');
    // Expired at 1 000 (the clock says 2 000); `late` at 10 000 stays open.
    listens.admit('carol', res, req.url === '/late' ? 10_000 : 1_000);
    if (req.url !== '/late') res.once('close', closedHere);
  });
  await new Promise<void>((resolve) => plain?.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  const late = openStream(`${base}/late`, {});
  expect(await late.first).toContain('open');
  const expired = openStream(`${base}/expired`, {});
  await Promise.all([expired.ended, expiredClosed]);
  expect(late.isEnded()).toBe(false);
  expect(listens.countOf('carol')).toBe(1);
});

let capped: Server | undefined;

afterAll(() => {
  capped?.closeAllConnections();
  capped?.close();
});

test('beyond maxSessions open streams in all, a new one gets 503 with Retry-After (authorization off too)', async () => {
  const handler = createMcpHttpHandler({
    catalog: served.app.catalog,
    info: { name: 'capped', version: '1.0.0' },
    maxSessions: 2,
  });
  capped = createServer(handler);
  await new Promise<void>((resolve) => capped?.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(capped.address() as AddressInfo).port}/mcp`;
  const streams = [listen(undefined, url), listen(undefined, url)];
  for (const stream of streams) {
    expect(await stream.first).toContain('notifications/subscriptions/acknowledged');
  }
  const refused = await raw(url, { method: 'POST', ...listenRequest(undefined) });
  expect(refused.status).toBe(503);
  expect(refused.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
  const request = JSON.parse(listenRequest(undefined).body) as { id: number };
  const refusal = await raw(url, {
    method: 'POST',
    ...listenRequest(undefined),
    body: JSON.stringify(request),
  });
  // The request's own id: a client matches the refusal to its listen request.
  expect(JSON.parse(refusal.body)).toMatchObject({ id: request.id, error: { code: -32603 } });
  expect(JSON.parse(refused.body)).toMatchObject({ error: { code: -32603 } });
  // An open stream that ends makes room for another.
  streams[0]?.drop();
  await streams[0]?.ended;
  const again = await waitFor('room for another stream', async () => {
    const next = listen(undefined, url);
    const first = await next.first.catch(() => '');
    if (first.includes('acknowledged')) return next;
    next.drop();
    return undefined;
  });
  expect(again.isEnded()).toBe(false);
  expect(streams[1]?.isEnded()).toBe(false);
});
