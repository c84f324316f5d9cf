/**
 * Replicas without affinity, end to end: three `mcp-agent serve` processes (the built CLI, dist/)
 * share a Redis (a unique `redis_prefix`, its keys deleted after) behind HAProxy balancing round
 * robin with no stickiness (test/support/haproxy.ts). 2025-11-25 clients — the SDK v1 client and
 * the SDK v2 client in its default legacy mode — initialize, list and call tools through the
 * balancer; the requests of one session land on different replicas (the `where` tool of the app
 * module answers with its process id); a stream answered by one replica is resumed on another
 * with `Last-Event-ID` (the events are in Redis). A workflow run is started, its replica killed (SIGKILL)
 * mid-run; `get_status` is answered through the balancer meanwhile, and another replica takes the
 * run over after its lease (30 s, serve's default) and finishes it.
 *
 * Authorization is on (the development authorization server; tokens of alice and bob): a
 * session's id sent with another principal's token gets 404 on every replica.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Inbound, startInbound } from '../app/delegated-support.js';
import { tempTree } from '../helpers/cli.js';
import { type UserTokens, userTokens } from '../server/serve-support.js';
import { haproxyBinary, type LoadBalancer, startLoadBalancer } from '../support/haproxy.js';
import { waitFor, within } from '../support/net.js';
import { deleteRedisKeys } from '../support/redis-server.js';
import { builtFile, describeWith, REDIS_URL, redisService } from '../support/services.js';

const redis = await redisService();
const PREFIX = `mcp-agent-test-serve-replicas-${randomUUID()}`;
const CLI = fileURLToPath(new URL('../../bin/mcp-agent.js', import.meta.url));

/** The app module every replica serves: where a request ran, and a workflow held by the test. */
const APP_MODULE = `export default (app) => {
  app.tool('where', {}, async () => String(process.pid));
  app.workflow('gated', async (input) => {
    const response = await fetch(input.gate + '?pid=' + process.pid);
    return { finishedBy: process.pid, gate: await response.text() };
  });
};
`;

interface Replica {
  readonly child: ChildProcess;
  readonly port: number;
}

let tree: ReturnType<typeof tempTree>;
let inbound: Inbound;
let alice: UserTokens;
let bob: UserTokens;
let balancer: LoadBalancer;
const replicas: Replica[] = [];

/** The gate the workflow waits at: its first caller is held, the next ones answered. */
const gate = {
  server: undefined as HttpServer | undefined,
  url: '',
  held: [] as ServerResponse[],
  hits: [] as number[],
};

/** Start `serve` on a free port; resolves once it printed its URL. */
async function serveProcess(config: string): Promise<Replica> {
  const child = spawn(
    process.execPath,
    // Not bound to loopback: a loopback bind accepts only its own `Host`, not the balancer's.
    [
      CLI,
      '--config',
      config,
      '--json',
      'serve',
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--app',
      'app.mjs',
    ],
    { cwd: tree.dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const url = await new Promise<string>((done, fail) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      try {
        done((JSON.parse(out) as { url: string }).url);
      } catch {
        // not the whole document yet
      }
    });
    child.once('exit', (code) => fail(new Error(`serve exited (${code}): ${err}`)));
  });
  return { child, port: Number(new URL(url).port) };
}

async function startGate(): Promise<void> {
  const server = createServer((req, res) => {
    const pid = Number(new URL(req.url ?? '/', 'http://gate').searchParams.get('pid'));
    gate.hits.push(pid);
    if (gate.hits.length === 1) gate.held.push(res);
    else res.end('released');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  gate.server = server;
  gate.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gate`;
}

describeWith([redis, builtFile('dist/cli/main.js'), haproxyBinary])(
  'three serve replicas behind a round-robin balancer without affinity',
  () => {
    beforeAll(async () => {
      tree = tempTree();
      inbound = await startInbound();
      writeFileSync(join(tree.dir, 'app.mjs'), APP_MODULE);
      const config = join(tree.dir, 'mcp_agent.config.yaml');
      writeFileSync(
        config,
        `name: serve-replicas
oauth:
  background_refresh: false
  token_store:
    backend: redis
    redis_url: ${REDIS_URL}
    redis_prefix: ${PREFIX}
    encryption_key: a passphrase every replica shares, long enough
authorization:
  enabled: true
  issuer_url: ${inbound.as.issuer}
  resource_server_url: ${inbound.resource}
  expected_audiences: [${inbound.resource}]
  required_scopes: [mcp:tools]
`,
      );
      await startGate();
      replicas.push(
        ...(await Promise.all([serveProcess(config), serveProcess(config), serveProcess(config)])),
      );
      balancer = await startLoadBalancer(replicas.map((replica) => replica.port));
      [alice, bob] = await Promise.all([
        userTokens(inbound.as.issuer, inbound.resource, 'alice'),
        userTokens(inbound.as.issuer, inbound.resource, 'bob'),
      ]);
    }, 60_000);

    afterAll(async () => {
      for (const res of gate.held) res.destroy();
      await balancer?.close();
      for (const { child } of replicas) if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.all(
        replicas.map(({ child }) =>
          child.exitCode === null && child.signalCode === null
            ? new Promise((done) => child.once('exit', done))
            : undefined,
        ),
      );
      gate.server?.closeAllConnections();
      gate.server?.close();
      await inbound?.as.close();
      tree?.cleanup();
      if (redis.available) await deleteRedisKeys(REDIS_URL, PREFIX);
    });

    test('an SDK v1 client: one session served by several replicas', async () => {
      const client = new ClientV1({ name: 'replicas-v1', version: '1.0.0' });
      await client.connect(
        new TransportV1(new URL(`${balancer.url}/mcp`), { requestInit: bearer(alice) }),
      );
      try {
        const { tools } = await client.listTools();
        expect(tools.map((tool) => tool.name)).toEqual(
          expect.arrayContaining(['where', 'workflows-gated-run', 'workflows-get_status']),
        );
        const pids = new Set<string>();
        for (let call = 0; call < 6; call++) pids.add(textOf(await client.callTool(whereCall)));
        expect(pids.size).toBeGreaterThan(1);
        const known = new Set(replicas.map(({ child }) => String(child.pid)));
        for (const pid of pids) expect(known).toContain(pid);
      } finally {
        await client.close();
      }
    });

    test('an SDK v2 client on 2026-07-28: stateless calls served by several replicas', async () => {
      const client = new ClientV2(
        { name: 'replicas-modern', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      await client.connect(
        new TransportV2(new URL(`${balancer.url}/mcp`), { requestInit: bearer(alice) }),
      );
      try {
        expect(client.getProtocolEra()).toBe('modern');
        const { tools } = await client.listTools();
        expect(tools.map((tool) => tool.name)).toContain('where');
        const pids = new Set<string>();
        for (let call = 0; call < 6; call++) pids.add(textOf(await client.callTool(whereCall)));
        expect(pids.size).toBeGreaterThan(1);
        const known = new Set(replicas.map(({ child }) => String(child.pid)));
        for (const pid of pids) expect(known).toContain(pid);
      } finally {
        await client.close();
      }
    });

    test('a stream answered by one replica is resumed on another with Last-Event-ID', async () => {
      const [first, second] = replicas.map(({ port }) => `http://127.0.0.1:${port}/mcp`);
      if (!first || !second) throw new Error('two replicas are needed');
      const opened = await post(first, alice, {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'replicas-raw', version: '1.0.0' },
        },
      });
      const session = opened.headers.get('mcp-session-id') ?? '';
      await opened.text();
      const answered = await post(
        first,
        alice,
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: whereCall },
        session,
      );
      const events = sseEvents(await answered.text());
      const priming = events[0];
      const result = events.find((event) => event.data.includes('"result"'));
      expect(priming?.data).toBe('');
      expect(result?.data).toContain(String(replicas[0]?.child.pid));

      // The client lost the stream after the priming event: it resumes on the second replica.
      const resumed = new AbortController();
      const response = await fetch(second, {
        headers: {
          ...bearer(alice).headers,
          accept: 'text/event-stream',
          'mcp-session-id': session,
          'mcp-protocol-version': '2025-11-25',
          'last-event-id': priming?.id ?? '',
        },
        signal: resumed.signal,
      });
      expect(response.status).toBe(200);
      // The stream was finished (its one request answered): replayed, then ended.
      const replayed = await within('the replay to end', response.text(), 10_000);
      resumed.abort();
      expect(sseEvents(replayed).find((event) => event.data.includes('"result"'))).toEqual(result);
    });

    test("a session's id with another principal's token is not found on any replica", async () => {
      const opened = await post(`${balancer.url}/mcp`, alice, {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'replicas-alice', version: '1.0.0' },
        },
      });
      const session = opened.headers.get('mcp-session-id') ?? '';
      await opened.text();
      for (const { port } of replicas) {
        const url = `http://127.0.0.1:${port}/mcp`;
        const request = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: whereCall };
        const stolen = await post(url, bob, request, session);
        expect(stolen.status).toBe(404);
        expect(await stolen.text()).toContain('Session not found');
        const own = await post(url, alice, request, session);
        expect(own.status).toBe(200);
        expect(await own.text()).toContain(
          String(replicas.find((r) => r.port === port)?.child.pid),
        );
      }
    });

    test('an SDK v2 client: a run whose replica is killed finishes on another', async () => {
      const client = new ClientV2({ name: 'replicas-v2', version: '1.0.0' });
      await client.connect(
        new TransportV2(new URL(`${balancer.url}/mcp`), { requestInit: bearer(alice) }),
      );
      try {
        const pids = new Set<string>();
        for (let call = 0; call < 6; call++) pids.add(textOf(await client.callTool(whereCall)));
        expect(pids.size).toBeGreaterThan(1);
        const started = JSON.parse(
          textOf(
            await client.callTool({
              name: 'workflows-gated-run',
              arguments: { run_parameters: { gate: gate.url } },
            }),
          ),
        ) as { run_id: string };
        const runner = await waitFor('the run to reach the gate', () => gate.hits[0], 10_000);
        const victim = replicas.find(({ child }) => child.pid === runner);
        if (!victim) throw new Error(`the run is on no replica of ours (pid ${runner})`);
        victim.child.kill('SIGKILL');
        await new Promise((exited) => victim.child.once('exit', exited));

        const status = async () =>
          JSON.parse(
            textOf(
              await client.callTool({
                name: 'workflows-get_status',
                arguments: { run_id: started.run_id },
              }),
            ),
          ) as { status: string; result?: { finishedBy: number; gate: string } };
        // Answered through the balancer by a live replica while the run waits for its lease.
        expect((await status()).status).toBe('running');
        await within(
          'another replica to take the run over',
          waitFor('the second run of the workflow', () => gate.hits[1], 70_000),
          75_000,
        );
        const done = await waitFor(
          'the run to finish',
          async () => {
            const state = await status();
            return state.status === 'running' ? undefined : state;
          },
          10_000,
        );
        expect(done.status).toBe('completed');
        expect(done.result?.gate).toBe('released');
        expect(done.result?.finishedBy).not.toBe(runner);
        expect(gate.hits[1]).not.toBe(runner);
      } finally {
        await client.close();
      }
    }, 120_000);
  },
);

const whereCall = { name: 'where', arguments: {} };

/** The `requestInit` of a client calling with `tokens`. */
function bearer(tokens: UserTokens): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${tokens.accessToken}` } };
}

/** A Streamable HTTP POST of `message` to `url` (in session `session`, if given). */
function post(
  url: string,
  tokens: UserTokens,
  message: unknown,
  session?: string,
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      ...bearer(tokens).headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } : {}),
    },
    body: JSON.stringify(message),
  });
}

/** The events of an event stream's text: each one's `id` and `data`. */
function sseEvents(text: string): { id: string; data: string }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const field = (name: string) =>
        lines
          .filter((line) => line.startsWith(`${name}:`))
          .map((line) => line.slice(name.length + 1).trim())
          .join('\n');
      return { id: field('id'), data: field('data') };
    })
    .filter((event) => event.id !== '');
}

function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.find((item) => item.type === 'text')?.text ?? '';
}
