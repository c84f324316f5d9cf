/**
 * A body the framework read before the middleware, in whatever form it handed it over: parsed JSON
 * (`express.json()`, Fastify's default parser), text or bytes (`express.text()`, `express.raw()`,
 * a Fastify parser with `parseAs: 'string' | 'buffer'`, kept for signatures), or something else.
 * Text and bytes are decoded as UTF-8 JSON and checked for tool scopes like a body the middleware
 * reads itself, then handed on parsed; any other form is refused while a tool scope needs the body
 * (review 16 #3: they went through unchecked). With the real frameworks and the development
 * authorization server's tokens.
 */
import { Readable } from 'node:stream';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireMcpAuth as expressAuth } from '../../src/middleware/express.js';
import { requireMcpAuth as fastifyAuth } from '../../src/middleware/fastify.js';
import { requireMcpAuth as honoAuth, type McpAuthVariables } from '../../src/middleware/hono.js';
import {
  createMcpAuth,
  type McpAuth,
  type McpAuthOutcome,
  type RequestInput,
} from '../../src/middleware/index.js';
import { mcpHeaders, raw, rpc, type UserTokens } from '../server/serve-support.js';
import { loopbackServers } from '../support/net.js';
import { type CoreWorld, startCoreWorld } from './core-world.js';

let world: CoreWorld;
let auth: McpAuth;
let alice: UserTokens;
const servers = loopbackServers();
const fastifies: FastifyInstance[] = [];

beforeAll(async () => {
  world = await startCoreWorld();
  ({ auth, alice } = world);
}, 30_000);

afterAll(async () => {
  await Promise.all(fastifies.map((app) => app.close()));
  await servers.closeAll();
  await world?.close();
});

const section = (extra: Record<string, unknown> = {}) => world.section(extra);

const call = (name: string) => rpc('tools/call', { name, arguments: {} });

/** A POST of alice's whose body the framework handed over as `parsedBody`. */
function posted(parsedBody: unknown): RequestInput {
  return {
    method: 'POST',
    url: '/mcp',
    headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'application/json' },
    parsedBody,
  };
}

/** The status the outcome answers with, or `next`. */
const statusOf = (outcome: McpAuthOutcome) =>
  outcome.action === 'respond' ? outcome.response.status : 'next';

/** `text` in each form a framework hands text or bytes over in. */
function forms(text: string): [string, unknown][] {
  const bytes = Buffer.from(text);
  return [
    ['string', text],
    ['Buffer', bytes],
    ['Uint8Array', new Uint8Array(bytes)],
    ['ArrayBuffer', new Uint8Array(bytes).buffer],
    ['DataView', new DataView(new Uint8Array(bytes).buffer)],
  ];
}

describe('the core', () => {
  test('text or bytes: a tool call without its scope is refused (403), an allowed one goes on parsed', async () => {
    for (const [form, body] of forms(call('admin_report'))) {
      expect(statusOf(await auth.authenticate(posted(body))), form).toBe(403);
    }
    for (const [form, body] of forms(call('add'))) {
      const outcome = await auth.authenticate(posted(body));
      expect(statusOf(outcome), form).toBe('next');
      expect(outcome.action === 'next' && outcome.parsedBody, form).toMatchObject({
        method: 'tools/call',
        params: { name: 'add' },
      });
    }
  });

  test('text or bytes that are not JSON: 400 Parse error; over maxBodyBytes: 413', async () => {
    for (const [form, body] of forms('{"method":"tools/call",')) {
      const outcome = await auth.authenticate(posted(body));
      expect(statusOf(outcome), form).toBe(400);
      expect(outcome.action === 'respond' && outcome.response.body).toContain('-32700');
    }
    const small = await createMcpAuth({ authorization: section(), maxBodyBytes: 64 });
    try {
      const large = JSON.stringify({ ...JSON.parse(call('add')), pad: 'x'.repeat(64) });
      for (const [form, body] of forms(large)) {
        expect(statusOf(await small.authenticate(posted(body))), form).toBe(413);
      }
    } finally {
      await small.close();
    }
  });

  test('a body in another form (a stream, a Blob, form fields, a Map): 400, never let through', async () => {
    const text = call('admin_report');
    for (const body of [
      Readable.from([text]),
      new Blob([text]),
      new URLSearchParams({ method: 'tools/call' }),
      new Map([['method', 'tools/call']]),
      () => text,
    ]) {
      const outcome = await auth.authenticate(posted(body));
      expect(statusOf(outcome), Object.prototype.toString.call(body)).toBe(400);
      expect(outcome.action === 'respond' && outcome.response.body).toMatch(
        /neither as JSON nor as text or bytes/,
      );
    }
  });

  test('without tool scopes the body is not needed: text is left as it is for the handler', async () => {
    const unscoped = await createMcpAuth({ authorization: section({ tool_scopes: {} }) });
    try {
      const outcome = await unscoped.authenticate(posted(call('admin_report')));
      expect(statusOf(outcome)).toBe('next');
      expect(outcome.action === 'next' && outcome.parsedBody).toBeUndefined();
    } finally {
      await unscoped.close();
    }
  });
});

/** POST a `tools/call` of `name` as alice to `origin`. */
function callOn(origin: string, name: string) {
  return raw(`${origin}/mcp`, {
    method: 'POST',
    headers: mcpHeaders(alice.accessToken),
    body: call(name),
  });
}

describe('Express: express.text() and express.raw() before requireMcpAuth', () => {
  for (const [parser, parse] of [
    ['express.text()', express.text({ type: '*/*' })],
    ['express.raw()', express.raw({ type: '*/*' })],
  ] as const) {
    test(`${parser}: 403 without the scope; the handler gets the JSON that was checked`, async () => {
      const app = express();
      app.post('/mcp', parse, expressAuth(auth), (req, res) => {
        res.json({ body: req.body as unknown });
      });
      const origin = await servers.listen(app);
      expect((await callOn(origin, 'admin_report')).status).toBe(403);
      const allowed = await callOn(origin, 'add');
      expect(allowed.status, allowed.body).toBe(200);
      expect(JSON.parse(allowed.body).body).toMatchObject({ params: { name: 'add' } });
    });
  }
});

describe("Fastify: a JSON parser with parseAs 'string' or 'buffer'", () => {
  for (const parseAs of ['string', 'buffer'] as const) {
    test(`parseAs '${parseAs}': 403 without the scope; the handler gets the JSON that was checked`, async () => {
      const app = Fastify();
      fastifies.push(app);
      app.removeContentTypeParser('application/json');
      app.addContentTypeParser('application/json', { parseAs }, (_request, body, done) =>
        done(null, body),
      );
      app.post('/mcp', fastifyAuth(auth), async (request) => ({
        body: request.body,
      }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      expect((await callOn(origin, 'admin_report')).status).toBe(403);
      const allowed = await callOn(origin, 'add');
      expect(allowed.status, allowed.body).toBe(200);
      expect(JSON.parse(allowed.body).body).toMatchObject({ params: { name: 'add' } });
    });
  }
});

describe('Hono: a body a middleware before requireMcpAuth read already', () => {
  test("it comes from Hono's cache as text: 403 without the scope, 400 when not JSON, parsed when allowed", async () => {
    const app = new Hono<{ Variables: McpAuthVariables }>();
    app.use('/mcp', async (c, next) => {
      await c.req.text();
      await next();
    });
    app.post('/mcp', honoAuth(auth), (c) => c.json({ body: c.get('parsedBody') }));
    const send = (body: string) =>
      app.request('/mcp', { method: 'POST', headers: mcpHeaders(alice.accessToken), body });
    expect((await send(call('admin_report'))).status).toBe(403);
    expect((await send('{"method":')).status).toBe(400);
    const allowed = await send(call('add'));
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { body: unknown }).body).toMatchObject({
      params: { name: 'add' },
    });
  });
});
