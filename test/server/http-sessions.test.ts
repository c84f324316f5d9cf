/**
 * The served app through the official SDK clients (Streamable HTTP and legacy SSE) with tokens
 * of three users from the real development authorization server: tools and their scopes, the
 * caller's identity in handlers, sessions bound to their principal (IN-79, IN-80), workflow runs
 * bound to theirs, and the inbound token never sent downstream (IN-81).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import * as z from 'zod';
import { currentCaller } from '../../src/server/identity.js';
import { waitFor } from '../support/net.js';
import {
  DOWNSTREAM_KEY,
  initialize,
  mcpHeaders,
  message,
  raw,
  refreshed,
  rpc,
  type ServedApp,
  startServedApp,
  textOf,
  type UserTokens,
  userTokens,
} from './serve-support.js';

let served: ServedApp;
let alice: UserTokens;
let bob: UserTokens;
let root: UserTokens;
const clients: Client[] = [];

beforeAll(async () => {
  served = await startServedApp({
    downstream: true,
    authorization: { tool_scopes: { down_whoami: ['mcp:admin'] } },
    setup: (app) => {
      app.useCallerContext();
      app.tool('me', {}, async (_args, { caller }) => {
        // Let other calls interleave before reading the ambient caller.
        for (let turn = Math.floor(Math.random() * 4); turn > 0; turn--) {
          await new Promise((done) => setImmediate(done));
        }
        return {
          subject: caller?.subject ?? null,
          current: currentCaller()?.subject ?? null,
          issuer: caller?.issuer ?? null,
          clientId: caller?.clientId ?? null,
          scopes: caller?.scopes ?? [],
        };
      });
      app.tool('add', { a: z.number(), b: z.number() }, ({ a, b }) => String(a + b));
      app.tool('admin_report', {}, (_args, { caller }) => `report for ${caller?.subject}`, {
        scopes: ['mcp:admin'],
      });
      app.workflow('quick', async (input, { caller }) => ({ echo: input, by: caller?.subject }));
      app.workflow(
        'slow',
        (_input, { signal }) =>
          new Promise((_done, fail) => {
            signal.addEventListener('abort', () => fail(new Error('stopped')));
          }),
      );
    },
  });
  const { issuer } = served.as;
  [alice, bob, root] = await Promise.all([
    userTokens(issuer, served.resource, 'alice'),
    userTokens(issuer, served.resource, 'bob'),
    userTokens(issuer, served.resource, 'root', 'mcp:tools mcp:admin'),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await served?.close();
});

async function connect(token: string | undefined, kind: 'streamable' | 'sse' = 'streamable') {
  const client = new Client({ name: 'sessions-test', version: '1.0.0' });
  const requestInit = token ? { headers: { Authorization: `Bearer ${token}` } } : {};
  const transport =
    kind === 'streamable'
      ? new StreamableHTTPClientTransport(new URL(served.resource), { requestInit })
      : new SSEClientTransport(new URL(`${served.origin}/sse`), { requestInit });
  await client.connect(transport);
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const result = await client.callTool({ name, arguments: args });
  return { text: textOf(result), isError: result.isError === true };
}

/** Open a session with raw requests; its id. */
async function openSession(token: string): Promise<string> {
  const response = await raw(served.resource, {
    method: 'POST',
    headers: mcpHeaders(token),
    body: initialize(),
  });
  expect(response.status).toBe(200);
  const id = response.headers['mcp-session-id'];
  if (typeof id !== 'string') throw new Error('no session id');
  return id;
}

function onSession(token: string | undefined, session: string, body: string, method = 'POST') {
  return raw(served.resource, {
    method,
    headers: mcpHeaders(token, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }),
    ...(method === 'POST' ? { body } : {}),
  });
}

describe('tools through the SDK client (Streamable HTTP)', () => {
  test('initialize, tools/list (own, workflows, downstream) and tools/call', async () => {
    const client = await connect(alice.accessToken);
    expect(client.getServerVersion()?.name).toBe('served-test');
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'me',
        'add',
        'admin_report',
        'workflows-quick-run',
        'workflows-slow-run',
        'workflows-get_status',
        'workflows-cancel',
        'down_echo',
        'down_whoami',
      ]),
    );
    expect(await call(client, 'add', { a: 2, b: 3 })).toEqual({ text: '5', isError: false });
    expect((await call(client, 'add', { a: 'x' })).isError).toBe(true);
    expect(await call(client, 'down_echo', { text: 'hi' })).toEqual({
      text: 'echo hi',
      isError: false,
    });
  });

  test('a tool scope the token lacks fails the call (403 insufficient_scope); with it the tool runs', async () => {
    const client = await connect(alice.accessToken);
    await expect(client.callTool({ name: 'admin_report', arguments: {} })).rejects.toThrow(
      /insufficient_scope/,
    );
    await expect(client.callTool({ name: 'down_whoami', arguments: {} })).rejects.toThrow(
      /insufficient_scope/,
    );
    // The session goes on after the refusal.
    expect((await call(client, 'add', { a: 1, b: 1 })).text).toBe('2');
    const admin = await connect(root.accessToken);
    expect(await call(admin, 'admin_report')).toEqual({ text: 'report for root', isError: false });
    expect((await call(admin, 'down_whoami')).text).toBe('org -');
  });
});

describe('the caller in handlers', () => {
  test('context.caller, currentCaller() and ctx.http.authInfo (with an empty token)', async () => {
    const seen: unknown[] = [];
    const original = Server.prototype.setRequestHandler;
    type Handler = (
      request: { method: string; params?: { name?: string } },
      ctx: unknown,
    ) => unknown;
    const spy = vi.spyOn(Server.prototype, 'setRequestHandler').mockImplementation(function (
      this: Server,
      method: unknown,
      handler: unknown,
    ) {
      const wrapped: Handler = (request, ctx) => {
        if (request.method === 'tools/call' && request.params?.name === 'me') {
          seen.push((ctx as { http?: { authInfo?: unknown } }).http?.authInfo);
        }
        return (handler as Handler)(request, ctx);
      };
      return (original as (m: unknown, h: unknown) => void).call(this, method, wrapped);
    } as typeof original);
    try {
      const client = await connect(alice.accessToken);
      const me = JSON.parse((await call(client, 'me')).text) as Record<string, unknown>;
      expect(me).toMatchObject({
        subject: 'alice',
        current: 'alice',
        issuer: served.as.issuer,
        clientId: alice.clientId,
      });
      expect(me.scopes).toContain('mcp:tools');
    } finally {
      spy.mockRestore();
    }
    expect(seen).toHaveLength(1);
    const authInfo = seen[0] as {
      token: string;
      clientId: string;
      scopes: string[];
      expiresAt?: number;
      extra?: Record<string, unknown>;
    };
    expect(authInfo.token).toBe('');
    expect(authInfo.clientId).toBe(alice.clientId);
    expect(authInfo.scopes).toContain('mcp:tools');
    expect(authInfo.extra).toMatchObject({ issuer: served.as.issuer, subject: 'alice' });
    // Seconds, as the SDK's AuthInfo has it.
    expect(authInfo.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(authInfo.expiresAt).toBeLessThan(Date.now() / 1000 + 24 * 3600);
    expect(JSON.stringify(seen)).not.toContain(alice.accessToken);
  });

  test('concurrent calls of two users each see their own caller', async () => {
    const [a, b] = await Promise.all([connect(alice.accessToken), connect(bob.accessToken)]);
    const calls = Array.from({ length: 30 }, (_, i) => {
      const [client, user] = i % 2 === 0 ? [a, 'alice'] : [b, 'bob'];
      return call(client, 'me').then(({ text }) => ({ user, me: JSON.parse(text) }));
    });
    for (const { user, me } of await Promise.all(calls)) {
      expect(me).toMatchObject({ subject: user, current: user });
    }
  });
});

describe('sessions bound to their principal (IN-79, IN-80)', () => {
  test("another user's token on a session: 404; the same user's new token: goes on", async () => {
    const session = await openSession(alice.accessToken);
    const list = () => rpc('tools/list');
    // Bob, on every method.
    for (const method of ['POST', 'GET', 'DELETE']) {
      const response = await onSession(bob.accessToken, session, list(), method);
      expect(response.status, method).toBe(404);
      expect(message(response.body)).toMatchObject({ error: { code: -32001 } });
    }
    // No token at all: 401 (the session id is no credential).
    expect((await onSession(undefined, session, list())).status).toBe(401);
    // Alice with a refreshed token (a new value) and with a token from another client.
    const renewed = await refreshed(served.as.issuer, alice, served.resource);
    expect(renewed.accessToken).not.toBe(alice.accessToken);
    const other = await userTokens(served.as.issuer, served.resource, 'alice');
    for (const token of [alice.accessToken, renewed.accessToken, other.accessToken]) {
      const response = await onSession(token, session, list());
      expect(response.status).toBe(200);
      expect(message(response.body)).toHaveProperty('result.tools');
    }
    // Bob's DELETE did not end it; Alice's does.
    expect((await onSession(alice.accessToken, session, '', 'DELETE')).status).toBe(200);
    expect((await onSession(alice.accessToken, session, list())).status).toBe(404);
  });

  test('session ids: at least 128 random bits, distinct, not derived from the token', async () => {
    const ids = await Promise.all(Array.from({ length: 16 }, () => openSession(bob.accessToken)));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(id, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
      for (const part of bob.accessToken.split('.')) expect(part).not.toContain(id.slice(0, 12));
    }
  });
});

/** Open a legacy SSE stream with `token`; its `/messages?s=…&sessionId=…` endpoint, and a closer. */
async function openStream(token: string) {
  const abort = new AbortController();
  const stream = await fetch(`${served.origin}/sse`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  expect(stream.status).toBe(200);
  const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  const endpoint = await waitFor('the endpoint event', async () => {
    const { value } = await reader.read();
    text += Buffer.from(value ?? new Uint8Array()).toString('utf8');
    return /data: (\/messages\?\S*sessionId=\S+)/.exec(text)?.[1];
  });
  return { endpoint, close: () => abort.abort() };
}

/** Random bits in a session id: 122 for a UUID v4, else what its alphabet carries. */
function randomBits(id: string): number {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return 122;
  if (/^[0-9a-f]+$/i.test(id)) return id.length * 4;
  return Math.floor(id.length * 6);
}

describe('legacy SSE', () => {
  test('works with a token; refused without one', async () => {
    const client = await connect(alice.accessToken, 'sse');
    expect(JSON.parse((await call(client, 'me')).text)).toMatchObject({ subject: 'alice' });
    expect((await call(client, 'add', { a: 4, b: 5 })).text).toBe('9');
    await expect(connect(undefined, 'sse')).rejects.toThrow(/401|Unauthorized/i);
    const refused = await raw(`${served.origin}/sse`, { headers: { accept: 'text/event-stream' } });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toContain('resource_metadata=');
  });

  test("another user on a stream's messages: 404; a tool scope missing: 403", async () => {
    const { endpoint, close } = await openStream(alice.accessToken);
    try {
      const post = (token: string | undefined, body: string) =>
        raw(`${served.origin}${endpoint}`, { method: 'POST', headers: mcpHeaders(token), body });
      expect((await post(bob.accessToken, initialize())).status).toBe(404);
      expect((await post(undefined, initialize())).status).toBe(401);
      expect((await post(alice.accessToken, initialize())).status).toBe(202);
      const scoped = await post(
        alice.accessToken,
        rpc('tools/call', { name: 'admin_report', arguments: {} }),
      );
      expect(scoped.status).toBe(403);
      expect(scoped.headers['www-authenticate']).toContain('error="insufficient_scope"');
    } finally {
      close();
    }
  });

  test('SSE session ids carry at least 128 random bits too (IN-80)', async () => {
    const streams = await Promise.all([1, 2, 3, 4].map(() => openStream(bob.accessToken)));
    try {
      // The SDK's UUID (122 bits) and our own id (`s`): a message must name both.
      const ids = streams.map(({ endpoint }) =>
        String(new URL(endpoint, served.origin).searchParams.get('s')),
      );
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(randomBits(id), id).toBeGreaterThanOrEqual(128);
    } finally {
      for (const stream of streams) stream.close();
    }
  });
});

describe('workflows bound to their principal', () => {
  async function status(client: Client, runId: string) {
    return call(client, 'workflows-get_status', { run_id: runId });
  }

  test('run, get_status until completed, result; another user cannot see or cancel it', async () => {
    const [a, b] = await Promise.all([connect(alice.accessToken), connect(bob.accessToken)]);
    const started = await call(a, 'workflows-quick-run', { run_parameters: { n: 7 } });
    const { run_id: runId, workflow_id } = JSON.parse(started.text) as Record<string, string>;
    expect(workflow_id).toBe('quick');
    const done = await waitFor('the run to finish', async () => {
      const state = JSON.parse((await status(a, runId as string)).text) as Record<string, unknown>;
      return state.status === 'running' ? undefined : state;
    });
    expect(done).toMatchObject({
      status: 'completed',
      run_id: runId,
      result: { echo: { n: 7 }, by: 'alice' },
    });
    for (const name of ['workflows-get_status', 'workflows-cancel']) {
      const other = await call(b, name, { run_id: runId });
      expect(other.isError, name).toBe(true);
      expect(other.text).toContain('No workflow run');
    }
  });

  test('cancel stops a running run (its owner only)', async () => {
    const [a, b] = await Promise.all([connect(alice.accessToken), connect(bob.accessToken)]);
    const started = await call(a, 'workflows-slow-run', {});
    const runId = (JSON.parse(started.text) as { run_id: string }).run_id;
    expect(JSON.parse((await status(a, runId)).text)).toMatchObject({ status: 'running' });
    expect((await call(b, 'workflows-cancel', { run_id: runId })).isError).toBe(true);
    expect(JSON.parse((await status(a, runId)).text)).toMatchObject({ status: 'running' });
    const cancelled = await call(a, 'workflows-cancel', { run_id: runId });
    expect(JSON.parse(cancelled.text)).toMatchObject({ status: 'cancelled' });
    expect(JSON.parse((await status(a, runId)).text)).toMatchObject({ status: 'cancelled' });
  });
});

describe('the inbound token is never sent downstream (IN-81)', () => {
  test('the downstream server sees its own static header and never a caller token', async () => {
    const down = served.down;
    if (!down) throw new Error('no downstream server');
    const users = [alice, bob, root];
    for (const user of users) {
      const client = await connect(user.accessToken);
      expect((await call(client, 'down_echo', { text: 'canary' })).text).toBe('echo canary');
      await client.listTools();
    }
    const admin = await connect(root.accessToken);
    expect((await call(admin, 'down_whoami')).text).toBe('org -');
    expect(down.requests.length).toBeGreaterThan(0);
    for (const request of down.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${DOWNSTREAM_KEY}`);
      const headers = JSON.stringify(request.headers);
      for (const user of users) {
        for (const part of user.accessToken.split('.')) expect(headers).not.toContain(part);
      }
    }
  });
});
