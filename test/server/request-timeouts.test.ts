/**
 * Slow senders (slowloris) against the served app and the development authorization server, over
 * raw sockets (node:net): a connection trickling its headers or its body is answered 408 and
 * closed once the limit is past (within the checking interval, not Node's 30 s one), a slow
 * request that finishes in time is served, and a long-lived SSE stream is not cut: the request
 * limit ends once the request has arrived. The limits are injected small (400 ms / 1 200 ms,
 * checked every 50 ms) so nothing here waits the documented 10 s / 30 s.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp, type RunningApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { createHttpServer } from '../../src/http-server.js';
import { initialize } from './serve-support.js';

const HEADERS_MS = 400;
const REQUEST_MS = 1_200;
const TIMEOUTS = { headersMs: HEADERS_MS, requestMs: REQUEST_MS, checkIntervalMs: 50 };
/** How late past a limit the cut may come on a busy machine (the interval is 50 ms). */
const SLACK_MS = 1_000;

/** What a raw connection saw. */
interface Outcome {
  /** The first line the server sent (`HTTP/1.1 408 Request Timeout`), or ''. */
  readonly statusLine: string;
  readonly received: string;
  /** Milliseconds from the first byte written to the close. */
  readonly elapsedMs: number;
}

/**
 * Open a connection to `port`, write `chunks` one by one `everyMs` apart (then nothing more), and
 * resolve when the server closes it, or as soon as `until` matches what was received.
 */
function send(
  port: number,
  chunks: readonly string[],
  everyMs: number,
  until?: RegExp,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const started = Date.now();
    let received = '';
    let next = 0;
    const writer = setInterval(() => {
      if (next < chunks.length) socket.write(chunks[next++] as string);
    }, everyMs);
    const done = () => {
      clearInterval(writer);
      resolve({
        statusLine: received.split('\r\n', 1)[0] ?? '',
        received,
        elapsedMs: Date.now() - started,
      });
    };
    socket.once('connect', () => socket.write(chunks[next++] as string));
    socket.on('data', (data: Buffer) => {
      // Answered: a client stops sending (writing on would only race the server's close).
      clearInterval(writer);
      received += data.toString('utf8');
      if (until?.test(received)) {
        socket.destroy();
        done();
      }
    });
    socket.once('close', done);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearInterval(writer);
      // A byte written as the server closed is answered by a reset: that is the close, and
      // whether the 408 came first is for the caller's expectations to say.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') done();
      else reject(error);
    });
  });
}

/** A header section that never ends: one byte at a time. */
function tricklingHeaders(host: string): string[] {
  return [
    `POST /mcp HTTP/1.1\r\nHost: ${host}\r\n`,
    ...'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  ];
}

/** Complete headers, then a body that never ends: one byte at a time. */
function tricklingBody(host: string): string[] {
  const head = `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n`;
  return [head, ...'{'.repeat(200)];
}

function expectCutAfter(outcome: Outcome, limitMs: number): void {
  expect(outcome.statusLine).toBe('HTTP/1.1 408 Request Timeout');
  expect(outcome.elapsedMs).toBeGreaterThanOrEqual(limitMs - 20);
  expect(outcome.elapsedMs).toBeLessThan(limitMs + SLACK_MS);
}

describe('the served app', () => {
  let running: RunningApp;
  let close: () => Promise<void>;
  let host: string;

  beforeAll(async () => {
    // Authorization off: the handler reads every body, so only the limits cut a slow one.
    const app = await createApp({ settings: settingsSchema.parse({}), env: {} });
    running = await app.listen({ host: '127.0.0.1', port: 0, timeouts: TIMEOUTS });
    host = `127.0.0.1:${running.port}`;
    close = async () => {
      await running.close();
      await app.close();
    };
  });

  afterAll(() => close?.());

  test('headers trickling past the limit: 408 and closed, within the checking interval', async () => {
    expectCutAfter(await send(running.port, tricklingHeaders(host), 25), HEADERS_MS);
  });

  test('a body trickling past the whole-request limit: 408 and closed', async () => {
    expectCutAfter(await send(running.port, tricklingBody(host), 25), REQUEST_MS);
  });

  test('a slow request that arrives in time is served', async () => {
    const body = initialize();
    const outcome = await send(
      running.port,
      [
        'POST /mcp HTTP/1.1\r\n',
        `Host: ${host}\r\nContent-Type: application/json\r\n`,
        `Accept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
        body.slice(0, 20),
        body.slice(20),
      ],
      60,
      /"serverInfo"/,
    );
    expect(outcome.statusLine).toBe('HTTP/1.1 200 OK');
  });

  test('an SSE stream outlives the request limit; a trickling request beside it is cut', async () => {
    const stream = connect(running.port, '127.0.0.1');
    let events = '';
    let closed = false;
    stream.on('data', (data: Buffer) => {
      events += data.toString('utf8');
    });
    stream.once('close', () => {
      closed = true;
    });
    stream.write(`GET /sse HTTP/1.1\r\nHost: ${host}\r\nAccept: text/event-stream\r\n\r\n`);
    try {
      const endpoint = await new Promise<string>((resolve) => {
        const look = () => {
          const found = /event: endpoint\ndata: (\S+)/.exec(events)?.[1];
          if (found) resolve(found);
          else stream.once('data', look);
        };
        look();
      });
      // The stream's request arrived at once; this one never does: when it is cut, the limit
      // has passed for the stream too.
      expectCutAfter(await send(running.port, tricklingBody(host), 25), REQUEST_MS);
      expect(closed).toBe(false);
      // And the stream still carries answers.
      const posted = await fetch(`http://${host}${endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: initialize(),
      });
      expect(posted.status).toBe(202);
      await new Promise<void>((resolve) => {
        const look = () =>
          events.includes('"serverInfo"') ? resolve() : stream.once('data', look);
        look();
      });
      expect(closed).toBe(false);
    } finally {
      stream.destroy();
    }
  });

  test('by default: headers within 10 s, the whole request within 30 s (docs/serve.md)', async () => {
    const app = await createApp({ settings: settingsSchema.parse({}), env: {} });
    const served = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect(served.server.headersTimeout).toBe(10_000);
      expect(served.server.requestTimeout).toBe(30_000);
    } finally {
      await served.close();
      await app.close();
    }
  });
});

describe('the development authorization server', () => {
  let as: DevAuthorizationServer;

  beforeAll(async () => {
    as = await startDevAuthorizationServer({
      port: 0,
      resources: ['http://127.0.0.1:9/mcp'],
      timeouts: TIMEOUTS,
    });
  });

  afterAll(() => as?.close());

  test('headers or a token request body trickling past the limits: 408 and closed', async () => {
    const { port, host: authority } = new URL(as.issuer);
    const [headers, body] = await Promise.all([
      send(Number(port), tricklingHeaders(authority), 25),
      send(
        Number(port),
        [
          `POST /token HTTP/1.1\r\nHost: ${authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n`,
          ...'a'.repeat(200),
        ],
        25,
      ),
    ]);
    expectCutAfter(headers, HEADERS_MS);
    expectCutAfter(body, REQUEST_MS);
  });
});

describe('createHttpServer', () => {
  test('the limits must be positive, and the header limit within the request limit', () => {
    for (const timeouts of [{ headersMs: 0 }, { requestMs: -1 }, { checkIntervalMs: Number.NaN }]) {
      expect(() => createHttpServer(undefined, timeouts)).toThrow(TypeError);
    }
    expect(() => createHttpServer(undefined, { headersMs: 2_000, requestMs: 1_000 })).toThrow(
      /headersMs must not be longer than requestMs/,
    );
  });
});
