/**
 * Resumable Streamable HTTP streams through `serve` (MCP 2025-11-25, Transports, "Resumability
 * and Redelivery"): an SDK v1 caller's POST stream is cut (its socket destroyed) while a real
 * downstream tool is half-way; the tool goes on, serve keeps what the stream would have carried,
 * and the caller's SDK resumes with `Last-Event-ID` and receives the missed progress and the
 * result. A `Last-Event-ID` of another session gets 400 and nothing; a session id that is not the
 * caller's finds no session (another real principal: test/server/resumable-authorized.test.ts).
 * A stream resumed after its call completed ends after the replay; a result too large to keep is
 * replayed as an error for its request; ending a session drops its events. With
 * `resumableStreams: false` no stream carries an event id.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type App, createApp, type RunningApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { ANONYMOUS } from '../../src/server/http-sessions.js';
import { LOST_RESPONSE_MESSAGE, sessionOwner } from '../../src/server/session-events.js';
import { MemoryStreamEventStore, type StreamEventStore } from '../../src/stores/stream-events.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';

/** A promise and its resolver. */
function gate<T = void>() {
  let open: (value: T) => void = () => {};
  const opened = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

let steps = { first: gate(), second: gate() };

/** The downstream tool: progress 1, wait; progress 2, wait; progress 3 and the result. */
function downstreamTools(server: McpServer): void {
  server.registerTool('steps', {}, async (extra) => {
    const token = extra._meta?.progressToken;
    const progress = (n: number) =>
      token === undefined
        ? Promise.resolve()
        : extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: n, total: 3 },
          });
    await progress(1);
    await steps.first.opened;
    await progress(2);
    await steps.second.opened;
    await progress(3);
    return { content: [{ type: 'text', text: 'all steps done' }] };
  });
  server.registerTool('big', {}, async () => ({
    content: [{ type: 'text', text: `big ${'x'.repeat(20_000)}` }],
  }));
}

/** GET the session's stream from `lastEventId`: the status and the whole body, once it ends. */
async function resume(url: string, sessionId: string | undefined, lastEventId: string) {
  const response = await fetch(url, {
    headers: {
      accept: 'text/event-stream',
      'mcp-protocol-version': '2025-11-25',
      'mcp-session-id': sessionId ?? '',
      'last-event-id': lastEventId,
    },
  });
  return { status: response.status, body: await response.text() };
}

/** The memory store, telling the test when a message matching a test is kept. */
class WatchedStore extends MemoryStreamEventStore implements StreamEventStore {
  readonly #watches: { match: (message: unknown) => boolean; open: () => void }[] = [];

  /** Resolves once a message for which `match` holds is appended. */
  kept(match: (message: unknown) => boolean): Promise<void> {
    const { open, opened } = gate();
    this.#watches.push({ match, open });
    return opened;
  }

  override async append(owner: string, streamId: string, message: unknown): Promise<string> {
    const id = await super.append(owner, streamId, message);
    for (const watch of this.#watches.filter((item) => item.match(message))) watch.open();
    return id;
  }
}

const isProgress = (n: number) => (message: unknown) =>
  (message as { params?: { progress?: unknown } }).params?.progress === n;
const isResult = (message: unknown) =>
  (message as { result?: { content?: unknown } }).result?.content !== undefined;

let down: McpHttpServer;
let app: App;
let running: RunningApp;
const store = new WatchedStore();

/** A caller whose `tools/call` POST stream the test can cut, and whose resumes it can hold. */
function cuttable() {
  const calls: AbortController[] = [];
  const resumes: { lastEventId: string; status: number }[] = [];
  let hold: Promise<void> = Promise.resolve();
  const fetchCut = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const controller = new AbortController();
    init?.signal?.addEventListener('abort', () => controller.abort(), { once: true });
    const lastEventId = new Headers(init?.headers).get('last-event-id');
    if (init?.method === 'GET' && lastEventId) await hold;
    const response = await fetch(url, { ...init, signal: controller.signal });
    if (init?.method === 'POST' && String(init.body).includes('"tools/call"')) {
      calls.push(controller);
    }
    if (lastEventId) resumes.push({ lastEventId, status: response.status });
    return response;
  };
  const transport = new StreamableHTTPClientTransport(new URL(running.url), {
    fetch: fetchCut,
    reconnectionOptions: {
      initialReconnectionDelay: 1,
      maxReconnectionDelay: 5,
      reconnectionDelayGrowFactor: 1,
      maxRetries: 50,
    },
  });
  const client = new Client({ name: 'resuming', version: '1.0.0' });
  return {
    client,
    transport,
    calls,
    resumes,
    holdResumes(until: Promise<void>) {
      hold = until;
    },
  };
}

beforeAll(async () => {
  down = await startMcpHttpServer({ setup: downstreamTools });
  const settings = settingsSchema.parse({
    name: 'relay',
    mcp: { servers: { down: { transport: 'streamable_http', url: `${down.origin}/mcp` } } },
  });
  app = await createApp({
    settings,
    env: { PATH: process.env.PATH ?? '' },
    resumableStreams: { retryMs: 5, store },
  });
  running = await app.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  await running?.close();
  await app?.close();
  await down?.close();
});

describe('a cut stream resumed with Last-Event-ID', () => {
  test('an SDK v1 caller receives the progress it missed and the result', async () => {
    steps = { first: gate(), second: gate() };
    const caller = cuttable();
    await caller.client.connect(caller.transport);
    try {
      const progress: number[] = [];
      const firstSeen = gate();
      const result = caller.client.callTool(
        { name: 'down_steps', arguments: {} },
        CallToolResultSchema,
        {
          onprogress: ({ progress: n }) => {
            progress.push(n);
            if (n === 1) firstSeen.open();
          },
        },
      );
      await firstSeen.opened;
      // Cut the POST stream: the socket goes; the tool goes on while the caller is away.
      const resumeAllowed = gate();
      caller.holdResumes(resumeAllowed.opened);
      caller.calls[0]?.abort();
      const secondKept = store.kept(isProgress(2));
      const resultKept = store.kept(isResult);
      steps.first.open();
      await secondKept;
      steps.second.open();
      await resultKept;
      // Everything after progress 1 was kept while nobody listened; now the caller resumes.
      resumeAllowed.open();
      const answer = await result;
      expect(answer.content).toEqual([{ type: 'text', text: 'all steps done' }]);
      expect(progress).toEqual([1, 2, 3]);
      expect(caller.resumes.map((resume) => resume.status)).toContain(200);
    } finally {
      await caller.client.close();
    }
  });

  test("another session's Last-Event-ID replays nothing (400); another principal finds no session", async () => {
    steps = { first: gate(), second: gate() };
    steps.first.open();
    steps.second.open();
    const eventIds: string[] = [];
    const owner = new Client({ name: 'owner', version: '1.0.0' });
    const ownerTransport = new StreamableHTTPClientTransport(new URL(running.url));
    await owner.connect(ownerTransport);
    const other = new Client({ name: 'other', version: '1.0.0' });
    const otherTransport = new StreamableHTTPClientTransport(new URL(running.url));
    await other.connect(otherTransport);
    try {
      await owner.request(
        {
          method: 'tools/call',
          params: { name: 'down_steps', arguments: {}, _meta: { progressToken: 't' } },
        },
        CallToolResultSchema,
        { onresumptiontoken: (token) => eventIds.push(token) },
      );
      expect(eventIds.length).toBeGreaterThan(1);
      const foreign = eventIds[0] ?? '';
      const headers = (session: string | undefined) => ({
        accept: 'text/event-stream',
        'mcp-protocol-version': '2025-11-25',
        'mcp-session-id': session ?? '',
        'last-event-id': foreign,
      });
      // The other session, with the owner's event id: refused, nothing replayed.
      const refused = await fetch(running.url, { headers: headers(otherTransport.sessionId) });
      expect(refused.status).toBe(400);
      expect(await refused.text()).not.toContain('progress');
      // The owner's own session resumes from it (the progress after it, then the result).
      const own = new AbortController();
      const resumed = await fetch(running.url, {
        headers: headers(ownerTransport.sessionId),
        signal: own.signal,
      });
      expect(resumed.status).toBe(200);
      const reader = resumed.body?.getReader();
      const chunk = await reader?.read();
      expect(new TextDecoder().decode(chunk?.value)).toContain('notifications/progress');
      own.abort();
      // A session id that is not the caller's finds no session at all.
      const unknown = await fetch(running.url, { headers: headers('not-a-session-of-mine') });
      expect(unknown.status).toBe(404);
    } finally {
      await owner.close();
      await other.close();
    }
  });
});

describe('a stream resumed after its call completed', () => {
  test('replays what followed the id, the result last, then ends', async () => {
    steps = { first: gate(), second: gate() };
    steps.first.open();
    steps.second.open();
    const tokens: string[] = [];
    const client = new Client({ name: 'late', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(running.url));
    await client.connect(transport);
    try {
      await client.request(
        {
          method: 'tools/call',
          params: { name: 'down_steps', arguments: {}, _meta: { progressToken: 'late' } },
        },
        CallToolResultSchema,
        { onresumptiontoken: (token) => tokens.push(token) },
      );
      // The body is read to its end: without the end of the stream this would never return.
      const replay = await resume(running.url, transport.sessionId, tokens[0] ?? '');
      expect(replay.status).toBe(200);
      const data = replay.body.split('\n').filter((line) => line.startsWith('data: '));
      expect(data).toHaveLength(4);
      expect(data[3]).toContain('all steps done');
      // Resumable again (nothing is left holding the stream).
      expect((await resume(running.url, transport.sessionId, tokens[1] ?? '')).status).toBe(200);
    } finally {
      await client.close();
    }
  });

  test('a result too large to keep is replayed as an error for its request, then the stream ends', async () => {
    const settings = settingsSchema.parse({
      name: 'relay',
      mcp: { servers: { down: { transport: 'streamable_http', url: `${down.origin}/mcp` } } },
    });
    const small = new MemoryStreamEventStore({ bounds: { bytesPerOwner: 8_000 } });
    const smallApp = await createApp({ settings, env: {}, resumableStreams: { store: small } });
    const served = await smallApp.listen({ host: '127.0.0.1', port: 0 });
    const client = new Client({ name: 'big', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(served.url));
    try {
      await client.connect(transport);
      const tokens: string[] = [];
      const answer = await client.request(
        { method: 'tools/call', params: { name: 'down_big', arguments: {} } },
        CallToolResultSchema,
        { onresumptiontoken: (token) => tokens.push(token) },
      );
      // Delivered live in full; only its copy for resumption was not kept.
      expect(JSON.stringify(answer)).toContain('xxxx');
      const replay = await resume(served.url, transport.sessionId, tokens[0] ?? '');
      expect(replay.status).toBe(200);
      const data = replay.body.split('\n').filter((line) => line.startsWith('data: '));
      expect(data).toHaveLength(1);
      const error = JSON.parse((data[0] ?? '').slice('data: '.length)) as {
        id?: unknown;
        error?: { message?: string };
      };
      expect(error.error?.message).toBe(LOST_RESPONSE_MESSAGE);
      expect(typeof error.id).toBe('number');
      expect(replay.body).not.toContain('xxxx');
    } finally {
      await client.close();
      await served.close();
      await smallApp.close();
    }
  });
});

describe('ending a session', () => {
  test('DELETE drops its events: the store finds none, a resume finds no session', async () => {
    steps = { first: gate(), second: gate() };
    steps.first.open();
    steps.second.open();
    const tokens: string[] = [];
    const client = new Client({ name: 'ending', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(running.url));
    await client.connect(transport);
    try {
      await client.request(
        { method: 'tools/call', params: { name: 'down_steps', arguments: {} } },
        CallToolResultSchema,
        { onresumptiontoken: (token) => tokens.push(token) },
      );
      const sessionId = transport.sessionId ?? '';
      const owner = sessionOwner(ANONYMOUS, sessionId);
      expect(await store.after(owner, tokens[0] ?? '')).toBeDefined();
      await transport.terminateSession();
      expect(await store.after(owner, tokens[0] ?? '')).toBeUndefined();
      expect((await resume(running.url, sessionId, tokens[0] ?? '')).status).toBe(404);
    } finally {
      await client.close();
    }
  });
});

describe('resumableStreams: false', () => {
  test('no event id on a stream: nothing to resume from', async () => {
    const settings = settingsSchema.parse({
      name: 'relay',
      mcp: { servers: { down: { transport: 'streamable_http', url: `${down.origin}/mcp` } } },
    });
    const plain = await createApp({ settings, env: {}, resumableStreams: false });
    const served = await plain.listen({ host: '127.0.0.1', port: 0 });
    const client = new Client({ name: 'plain', version: '1.0.0' });
    try {
      steps = { first: gate(), second: gate() };
      steps.first.open();
      steps.second.open();
      await client.connect(new StreamableHTTPClientTransport(new URL(served.url)));
      const tokens: string[] = [];
      const answer = await client.request(
        { method: 'tools/call', params: { name: 'down_steps', arguments: {} } },
        CallToolResultSchema,
        { onresumptiontoken: (token) => tokens.push(token) },
      );
      expect(answer.content).toEqual([{ type: 'text', text: 'all steps done' }]);
      expect(tokens).toEqual([]);
    } finally {
      await client.close();
      await served.close();
      await plain.close();
    }
  });
});

describe('resumableStreams.retryMs', () => {
  test('anything but a positive integer of milliseconds is a USAGE error', async () => {
    const settings = settingsSchema.parse({ name: 'relay', mcp: { servers: {} } });
    for (const retryMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(
        createApp({ settings, env: {}, resumableStreams: { retryMs } }),
      ).rejects.toMatchObject({ code: 'USAGE' });
    }
  });
});

describe('resumableStreams by default', () => {
  test('a stream opens with a priming event carrying an id and the default retry (1,000 ms)', async () => {
    const settings = settingsSchema.parse({ name: 'relay', mcp: { servers: {} } });
    const app = await createApp({ settings, env: {} });
    const served = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const response = await fetch(served.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-11-25',
            capabilities: {},
            clientInfo: { name: 'raw', version: '1.0.0' },
          },
        }),
      });
      const stream = await response.text();
      expect(stream).toMatch(/^id: \S+\nretry: 1000\ndata: *\n/m);
    } finally {
      await served.close();
      await app.close();
    }
  });
});
