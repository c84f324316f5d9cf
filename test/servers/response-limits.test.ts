/**
 * What a downstream MCP server sends is bounded too (issue 13 item 8): a JSON body in bytes and
 * in time, each event of an event stream in bytes (a stream itself may last). Real node:http
 * servers; the server side checks that the connection was closed.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import { ResponseLimitError } from '../../src/fetch.js';
import { withResponseLimits } from '../../src/servers/http.js';
import { openRegistry } from '../support/config.js';
import {
  drip,
  endless,
  type HostileServer,
  type Route,
  type Streamed,
  startHostileServer,
} from '../support/hostile-server.js';
import { within } from '../support/net.js';

async function stopped(answer: Streamed | undefined): Promise<void> {
  expect(answer).toBeDefined();
  await within(
    'the server seeing the connection close',
    answer?.closed ?? Promise.resolve(),
    5_000,
  );
  expect(answer?.bytes).toBeLessThan(16 * 1024 * 1024);
}

/** `count` events of `size` bytes of data each, lines ended with `eol`, then the end. */
function events(count: number, size: number, eol: string): Route {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < count; i++) res.write(`data: ${'y'.repeat(size)}${eol}${eol}`);
    res.end();
  };
}

/** A JSON-RPC result for `request` (a POST body). */
function answer(res: ServerResponse, id: unknown, result: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'evil-1' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id, result }));
}

/** An MCP endpoint that initializes properly, then answers tools/list without end. */
const hostileMcp: Route = (req, res, record) => {
  const message = JSON.parse(record.request || '{}') as {
    id?: unknown;
    method?: string;
    params?: { protocolVersion?: string };
  };
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  if (message.method === 'server/discover') {
    // As a 2025-11-25 server answers a request outside a session: the client falls back.
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32000, message: 'Bad Request: Server not initialized' },
      }),
    );
    return;
  }
  if (message.method === 'initialize') {
    answer(res, message.id, {
      protocolVersion: message.params?.protocolVersion,
      capabilities: { tools: {} },
      serverInfo: { name: 'evil', version: '1.0.0' },
    });
    return;
  }
  if (message.id === undefined) {
    res.writeHead(202).end();
    return;
  }
  endless(
    'application/json',
    `{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":{"tools":[],"x":"`,
  )(req, res, record);
};

let server: HostileServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  server = await startHostileServer({
    '/endless.json': endless('application/json', '{"x":"'),
    '/drip.json': drip('application/json', '{"x":"'),
    '/endless-event': endless('text/event-stream', 'event: message\ndata: '),
    '/events-lf': events(200, 1000, '\n'),
    '/events-crlf': events(200, 1000, '\r\n'),
    '/events-cr': events(200, 1000, '\r'),
    '/mcp': hostileMcp,
  });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await server?.close();
});

const limited = (maxBytes = 64 * 1024, bodyTimeoutMs = 10_000) =>
  withResponseLimits(globalThis.fetch, { maxBytes, bodyTimeoutMs, server: 'evil' });

async function readError(response: Response): Promise<unknown> {
  return response.text().then(
    () => undefined,
    (caught: unknown) => caught,
  );
}

describe('withResponseLimits', () => {
  test('a JSON body without end fails at the limit, naming the key to raise', async () => {
    const response = await limited()(server.url('/endless.json'));
    const error = await readError(response);
    expect(error).toBeInstanceOf(ResponseLimitError);
    expect((error as ResponseLimitError).message).toBe(
      `The response of server "evil" from ${server.url('/endless.json')} is larger than 64 KiB; the request was stopped and nothing of it was kept. Raise mcp.servers.evil.max_response_bytes if responses this large are expected.`,
    );
    await stopped(server.answers.at(-1));
  });

  test('a JSON body that drips is stopped at the deadline', async () => {
    const response = await limited(64 * 1024, 300)(server.url('/drip.json'));
    const error = await readError(response);
    expect((error as ResponseLimitError).limit).toBe('time');
    await stopped(server.answers.at(-1));
  });

  test('an event that never ends fails at the limit', async () => {
    const response = await limited()(server.url('/endless-event'));
    const error = await readError(response);
    expect((error as ResponseLimitError).message).toMatch(
      /^An event of server "evil" from .* is larger than 64 KiB/,
    );
    await stopped(server.answers.at(-1));
  });

  test.each([
    ['LF', '/events-lf'],
    ['CRLF', '/events-crlf'],
    ['CR', '/events-cr'],
  ])('a stream of many small events (%s line ends) is read whole', async (_eol, path) => {
    // 200 events of 1 KB: 200 KB in all, over the 64 KiB limit, each event far under it.
    const text = await (await limited()(server.url(path))).text();
    expect(text.length).toBeGreaterThan(200 * 1000);
  });

  test('responses without a body pass untouched', async () => {
    const response = await limited()(server.url('/nothing'), { method: 'HEAD' });
    expect(response.status).toBe(404);
  });
});

describe('a downstream server that answers without end', () => {
  test('tools/list fails with the limit (max_response_bytes), the connection is closed', async () => {
    const registry = openRegistry(
      `mcp:\n  servers:\n    evil:\n      transport: streamable_http\n      url: ${server.url('/mcp')}\n      max_response_bytes: 65536\n`,
      cleanups,
    );
    const connection = await registry.connect('evil');
    const error = await connection.listTools().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).code).toBe('RESPONSE_LIMIT');
    expect((error as McpAgentError).message).toMatch(
      /larger than 64 KiB.*mcp\.servers\.evil\.max_response_bytes/,
    );
    await stopped(server.answers.at(-1));
  });
});
