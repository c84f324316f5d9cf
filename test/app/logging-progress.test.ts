/**
 * Logging, progress and cancellation through `serve` (issue 15, items 1 and 3), with SDK clients
 * as callers and real downstream servers: an SDK server over Streamable HTTP (tools that log,
 * report progress, wait for cancellation) and `@modelcontextprotocol/server-everything` over
 * stdio. Two callers at once show that one caller's log and progress never reach the other.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  ProgressNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as z from 'zod';
import { type App, createApp, type RunningApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import type { Logger } from '../../src/logger.js';
import { EVERYTHING } from '../support/everything.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';
import { freePort } from '../support/net.js';

const CANARY = 'canary-query-secret-5d1e';

type LogParams = z.infer<typeof LoggingMessageNotificationSchema>['params'];

/** Resolves once `count` parties have arrived (two calls in flight at once). */
function barrier(count: number) {
  let arrived = 0;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return () => {
    arrived += 1;
    if (arrived >= count) open();
    return opened;
  };
}

let arrive = barrier(2);
const DROPPED =
  'a log message of server "down" was dropped: calls of several sessions were in flight';
let droppedLines = 0;
let onAllDropped: () => void = () => {};
/** Resolves once serve has dropped six messages of "down" (two callers' three). */
const allDropped = new Promise<void>((resolve) => {
  onAllDropped = resolve;
});
/** Labels of the downstream calls that saw their cancellation. */
const cancelled: string[] = [];
let onCancelled: () => void = () => {};
let onEntered: () => void = () => {};

function downstreamTools(server: McpServer): void {
  server.server.registerCapabilities({ logging: {} });
  const label = {
    label: z.string(),
    count: z.number().optional(),
    from: z.number().optional(),
    together: z.boolean().optional(),
  };
  server.registerTool('chatty', { inputSchema: label }, async (args, extra) => {
    if (args.together) await arrive();
    for (let i = 0; i < (args.count ?? 3); i++) {
      await extra.sendNotification({
        method: 'notifications/message',
        params: { level: 'info', data: `${args.label}-${i}` },
      });
    }
    // Neither call ends before serve has read (and dropped) every message of both.
    if (args.together) await allDropped;
    return { content: [{ type: 'text', text: `done ${args.label}` }] };
  });
  server.registerTool('steps', { inputSchema: label }, async (args, extra) => {
    await arrive();
    const token = extra._meta?.progressToken;
    for (let i = args.from ?? 1; i <= 3 && token !== undefined; i++) {
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress: i, total: 3, message: args.label },
      });
    }
    return { content: [{ type: 'text', text: `done ${args.label}` }] };
  });
  server.registerTool('wait', { inputSchema: label }, async (args, extra) => {
    await new Promise<void>((resolve) => {
      extra.signal.addEventListener('abort', () => resolve(), { once: true });
      onEntered();
    });
    cancelled.push(args.label);
    onCancelled();
    return { content: [{ type: 'text', text: 'cancelled' }] };
  });
}

let down: McpHttpServer;
let app: App;
let running: RunningApp;
const lines: { level: string; message: string }[] = [];
const logger: Logger = {
  debug: (message) => {
    lines.push({ level: 'debug', message });
    if (message === DROPPED && ++droppedLines === 6) onAllDropped();
  },
  info: (message) => lines.push({ level: 'info', message }),
  warn: (message) => lines.push({ level: 'warn', message }),
  error: (message) => lines.push({ level: 'error', message }),
};

/** A connected caller and what it received. */
interface Caller {
  readonly client: Client;
  readonly logs: LogParams[];
}

async function caller(name: string): Promise<Caller> {
  const client = new Client({ name, version: '1.0.0' });
  const logs: LogParams[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    logs.push(notification.params);
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(running.url)));
  return { client, logs };
}

/**
 * The progress notifications `who` receives. The caller reads them itself: its token is its own,
 * not one its SDK made (whose handler may be gone when the result is read in the same chunk).
 */
function progressOf(who: Caller): unknown[] {
  const seen: unknown[] = [];
  who.client.setNotificationHandler(ProgressNotificationSchema, (notification) => {
    seen.push(notification.params);
  });
  return seen;
}

/** `tools/call` of `name` with the caller's own progress token. */
function callWithToken(who: Caller, name: string, token: string, args: Record<string, unknown>) {
  return who.client.request(
    { method: 'tools/call', params: { name, arguments: args, _meta: { progressToken: token } } },
    CallToolResultSchema,
  );
}

function texts(logs: readonly LogParams[], logger: string): unknown[] {
  return logs.filter((log) => log.logger === logger).map((log) => log.data);
}

beforeAll(async () => {
  down = await startMcpHttpServer({ setup: downstreamTools });
  const closed = await freePort();
  const settings = settingsSchema.parse({
    name: 'relay',
    mcp: {
      servers: {
        down: { transport: 'streamable_http', url: `${down.origin}/mcp` },
        ev: { transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] },
        gone: {
          transport: 'streamable_http',
          url: `http://127.0.0.1:${closed}/mcp?key=${CANARY}`,
          read_timeout_seconds: 5,
        },
      },
    },
  });
  app = await createApp({ settings, env: { PATH: process.env.PATH ?? '' }, logger });
  running = await app.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  await running?.close();
  await app?.close();
  await down?.close();
});

describe('logging', () => {
  test('serve declares logging and a downstream log reaches the caller whose call caused it, tagged', async () => {
    const a = await caller('a');
    const b = await caller('b');
    try {
      expect(a.client.getServerCapabilities()?.logging).toEqual({});
      await a.client.setLoggingLevel('info');
      const result = await a.client.callTool({ name: 'down_chatty', arguments: { label: 'a' } });
      expect(result.isError).toBeFalsy();
      expect(texts(a.logs, 'down')).toEqual(['a-0', 'a-1', 'a-2']);
      expect(a.logs.find((log) => log.logger === 'down')?.level).toBe('info');
      expect(texts(b.logs, 'down')).toEqual([]);
      // Below the caller's level: not sent.
      await b.client.setLoggingLevel('warning');
      await b.client.callTool({ name: 'down_chatty', arguments: { label: 'b' } });
      expect(texts(b.logs, 'down')).toEqual([]);
      expect(texts(a.logs, 'down')).toEqual(['a-0', 'a-1', 'a-2']);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  // A message has no request id: while two callers' calls are in flight it belongs to neither.
  // The downstream tools end only once serve has dropped all six (else the test times out).
  test('on a shared connection, messages while two callers have calls in flight reach neither', async () => {
    arrive = barrier(2);
    const a = await caller('a');
    const b = await caller('b');
    try {
      const args = (label: string) => ({ label, together: true });
      const [ra, rb] = await Promise.all([
        a.client.callTool({ name: 'down_chatty', arguments: args('a') }),
        b.client.callTool({ name: 'down_chatty', arguments: args('b') }),
      ]);
      expect([ra.isError, rb.isError]).toEqual([undefined, undefined]);
      expect(texts(a.logs, 'down')).toEqual([]);
      expect(texts(b.logs, 'down')).toEqual([]);
      expect(droppedLines).toBe(6);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  }, 10_000);

  test("the app's own lines go to the caller at its level, secrets scrubbed", async () => {
    const a = await caller('a');
    try {
      await a.client.setLoggingLevel('warning');
      const result = await a.client.callTool({ name: 'gone_whoami', arguments: {} });
      expect(result.isError).toBe(true);
      const own = a.logs.filter((log) => log.logger === 'relay');
      expect(own.length).toBeGreaterThan(0);
      expect(own.every((log) => log.level === 'warning')).toBe(true);
      expect(own.map((log) => log.data)).toContainEqual({
        message: 'tool "gone_whoami" failed',
        tool: 'gone_whoami',
      });
      // The details (the server's URL, configuration keys) stay in the app's log.
      expect(lines.some((line) => line.message.startsWith('tool "gone_whoami" failed: '))).toBe(
        true,
      );
      expect(JSON.stringify(a.logs)).not.toContain(CANARY);
      expect(JSON.stringify(a.logs)).not.toContain('127.0.0.1');
      // At "error", the same warning is not sent.
      await a.client.setLoggingLevel('error');
      const before = a.logs.length;
      await a.client.callTool({ name: 'gone_whoami', arguments: {} });
      expect(a.logs.length).toBe(before);
    } finally {
      await a.client.close();
    }
  }, 30_000);

  test('a flooding server is rate-limited per caller: the excess is dropped, one warning', async () => {
    const a = await caller('a');
    const b = await caller('b');
    try {
      const warningsBefore = lines.filter((line) => line.message.includes('are dropped')).length;
      await a.client.callTool({ name: 'down_chatty', arguments: { label: 'f', count: 250 } });
      expect(texts(a.logs, 'down')).toHaveLength(100);
      const warnings = lines.filter((line) => line.message.includes('are dropped'));
      expect(warnings.length - warningsBefore).toBe(1);
      expect(warnings.at(-1)?.level).toBe('warn');
      // Another caller still gets its messages.
      await b.client.callTool({ name: 'down_chatty', arguments: { label: 'b' } });
      expect(texts(b.logs, 'down')).toEqual(['b-0', 'b-1', 'b-2']);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });
});

describe('progress and cancellation', () => {
  test("server-everything's long-running operation reports progress under the caller's token", async () => {
    const a = await caller('a');
    try {
      const seen = progressOf(a);
      const result = await callWithToken(a, 'ev_trigger-long-running-operation', 'ev-token', {
        duration: 0.3,
        steps: 3,
      });
      expect(result.isError).toBeFalsy();
      expect(seen).toEqual(
        [1, 2, 3].map((progress) => ({ progressToken: 'ev-token', progress, total: 3 })),
      );
    } finally {
      await a.client.close();
    }
  }, 30_000);

  test('two callers with the same progress token each get only their own progress', async () => {
    arrive = barrier(2);
    const a = await caller('a');
    const b = await caller('b');
    try {
      const seen = { a: progressOf(a), b: progressOf(b) };
      await Promise.all([
        callWithToken(a, 'down_steps', 'same', { label: 'a' }),
        callWithToken(b, 'down_steps', 'same', { label: 'b' }),
      ]);
      const shape = (label: string) =>
        [1, 2, 3].map((progress) => ({
          progressToken: 'same',
          progress,
          total: 3,
          message: label,
        }));
      expect(seen.a).toEqual(shape('a'));
      expect(seen.b).toEqual(shape('b'));
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  test('a first progress value of 0 reaches the caller (the conformance suite sends 0, 50, 100)', async () => {
    arrive = barrier(1);
    const a = await caller('a');
    try {
      const seen = progressOf(a);
      await callWithToken(a, 'down_steps', 'zero', { label: 'z', from: 0 });
      expect(seen.map((p) => (p as { progress: number }).progress)).toEqual([0, 1, 2, 3]);
    } finally {
      await a.client.close();
    }
  });

  test("a caller's cancellation cancels the downstream request", async () => {
    const a = await caller('a');
    try {
      const entered = new Promise<void>((resolve) => {
        onEntered = resolve;
      });
      const seen = new Promise<void>((resolve) => {
        onCancelled = resolve;
      });
      const abort = new AbortController();
      const call = a.client.callTool({ name: 'down_wait', arguments: { label: 'x' } }, undefined, {
        signal: abort.signal,
      });
      await entered;
      abort.abort('changed my mind');
      await expect(call).rejects.toThrow();
      await seen;
      expect(cancelled).toEqual(['x']);
    } finally {
      await a.client.close();
    }
  });
});
