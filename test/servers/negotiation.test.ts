/**
 * ADR 0004 point 6: each server's `protocol` (auto, 2026-07-28, 2025-11-25) against real servers:
 * a v2 server serving both eras on one URL, the same server answering 2025-11-25 only, and
 * server-everything (v1) over stdio. Verdicts are remembered in the store (the second connect
 * does not probe), a legacy one expires (injected clock), and a server remembered as 2026-07-28
 * that answers as 2025-11-25 fails the request with our error and is asked again next time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import type { DownstreamPeer } from '../../src/servers/peer.js';
import { ServerRegistry } from '../../src/servers/registry.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { LEGACY_VERDICT_HORIZON_MS, VerdictStore } from '../../src/stores/verdicts.js';
import { tempTree } from '../helpers/cli.js';
import { manualClock } from '../support/clock.js';
import { loadConfig, q } from '../support/config.js';
import { type DualEraServer, startDualEraServer } from '../support/dual-era-server.js';
import { EVERYTHING } from '../support/everything.js';
import { within } from '../support/net.js';

let dual: DualEraServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  dual = await startDualEraServer();
});
afterAll(async () => {
  await dual?.close();
});
afterEach(async () => {
  dual.modern = true;
  dual.stateless = false;
  dual.requests.length = 0;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A verdict store on a memory backend, both on `clock`. */
function verdictStore(clock = manualClock()) {
  const kv = new MemoryKeyValueStore({ now: clock.now });
  return { kv, clock, store: new VerdictStore(kv, { now: clock.now }) };
}

/** A registry of server `s` (the lines given), remembering verdicts in `store`. */
function registryOf(
  lines: readonly string[],
  store: VerdictStore,
  peer?: DownstreamPeer,
): ServerRegistry {
  const yaml = ['mcp:', '  servers:', '    s:', ...lines.map((line) => `      ${line}`)].join('\n');
  const config = loadConfig(yaml);
  cleanups.push(config.cleanup);
  const registry = new ServerRegistry(config.settings, {
    env: {},
    verdicts: { store, authContext: 'app' },
    ...(peer ? { peer } : {}),
  });
  cleanups.push(() => within('registry.closeAll()', registry.closeAll(), 5_000));
  return registry;
}

function http(protocol?: string): string[] {
  return [
    'transport: streamable_http',
    `url: ${dual.url}`,
    ...(protocol ? [`protocol: ${q(protocol)}`] : []),
  ];
}

function text(result: CallToolResult): string {
  return result.content.map((item) => (item.type === 'text' ? item.text : '')).join('');
}

function methods(era: 'modern' | 'legacy'): string[] {
  return dual.requests.filter((request) => request.era === era).map((request) => request.method);
}

describe('a server serving both eras', () => {
  test('auto: probed once, used on 2026-07-28; the second connect does not probe', async () => {
    const { store } = verdictStore();
    const first = await registryOf(http(), store).connect('s');
    expect(first.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect(text(await first.callTool('echo', { text: 'hi' }))).toBe('modern: hi');
    expect(methods('modern')).toEqual(['server/discover', 'tools/call']);
    expect(methods('legacy')).toEqual([]);

    dual.requests.length = 0;
    const second = await registryOf(http(), store).connect('s');
    expect(second.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect(dual.requests).toEqual([]);
    expect((await second.listTools()).map((tool) => tool.name).sort()).toEqual(['ask', 'echo']);
    // The first listing listens for list changes first (2026-07-28 has no other way to hear them).
    expect(methods('modern')).toEqual(['subscriptions/listen', 'tools/list']);
  });

  test("2026-07-28: the server's tool list change, on the listen stream, drops the cached list", async () => {
    const connection = await registryOf(http('2026-07-28'), verdictStore().store).connect('s');
    await connection.listTools();
    const changed = new Promise<void>((resolve) => connection.onToolsChanged(resolve));
    dual.notify.toolsChanged();
    await changed;
    await connection.listTools();
    expect(methods('modern')).toEqual([
      'server/discover',
      'subscriptions/listen',
      'tools/list',
      'tools/list',
    ]);
  });

  test('the pin: used on 2026-07-28', async () => {
    const connection = await registryOf(http('2026-07-28'), verdictStore().store).connect('s');
    expect(connection.client.getProtocolEra()).toBe('modern');
    expect(text(await connection.callTool('echo', { text: 'pinned' }))).toBe('modern: pinned');
  });

  test('2025-11-25: never probes, speaks the legacy leg', async () => {
    const connection = await registryOf(http('2025-11-25'), verdictStore().store).connect('s');
    expect(connection.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect(text(await connection.callTool('echo', { text: 'old' }))).toBe('legacy: old');
    expect(methods('modern')).toEqual([]);
    expect(methods('legacy')).toEqual(['initialize', 'notifications/initialized', 'tools/call']);
  });

  test("a 2026-07-28 server's form elicitation (InputRequiredResult) is answered by the peer", async () => {
    const asked: unknown[] = [];
    const peer: DownstreamPeer = {
      capabilities: { elicitation: { form: {} } },
      elicit: async (server, params) => {
        asked.push({ server, message: params.message });
        return { action: 'accept', content: { colour: 'teal' } };
      },
    };
    const connection = await registryOf(http(), verdictStore().store, peer).connect('s');
    expect(connection.client.getProtocolEra()).toBe('modern');
    expect(text(await connection.callTool('ask', {}))).toBe('modern colour: teal');
    expect(asked).toEqual([{ server: 's', message: 'Which colour?' }]);
    expect(methods('modern')).toEqual(['server/discover', 'tools/call', 'tools/call']);
  });

  test("without a peer that can answer, a 2026-07-28 server's ask is the tool's error result", async () => {
    const connection = await registryOf(http(), verdictStore().store).connect('s');
    const result = await connection.callTool('ask', {});
    expect(result.isError).toBe(true);
    expect(text(result)).toBe(
      'Server "s" asked for input this client cannot give (elicitation not declared).',
    );
  });
});

describe('a server speaking 2025-11-25 only', () => {
  test('auto: falls back to initialize, remembers it, and the legacy verdict expires', async () => {
    dual.modern = false;
    const { store, clock } = verdictStore();
    const first = await registryOf(http(), store).connect('s');
    expect(first.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect(text(await first.callTool('echo', { text: 'x' }))).toBe('legacy: x');
    expect(dual.requests.map((r) => r.method).slice(0, 2)).toEqual([
      'server/discover',
      'initialize',
    ]);

    dual.requests.length = 0;
    clock.advance(LEGACY_VERDICT_HORIZON_MS - 1);
    await registryOf(http(), store).connect('s');
    expect(dual.requests.map((r) => r.method)[0]).toBe('initialize');

    dual.requests.length = 0;
    clock.advance(1);
    await registryOf(http(), store).connect('s');
    expect(dual.requests.map((r) => r.method)[0]).toBe('server/discover');
  });

  test('the pin fails clearly, naming the server and the setting', async () => {
    dual.modern = false;
    const error = await registryOf(http('2026-07-28'), verdictStore().store)
      .connect('s')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).code).toBe('SERVER_CONNECT');
    expect((error as Error).message).toContain('"s"');
    expect((error as Error).message).toContain('does not offer MCP 2026-07-28');
    expect((error as Error).message).toContain('mcp.servers.s.protocol');
    expect(methods('legacy')).toEqual(['server/discover']);
  });
});

test('a server remembered as 2026-07-28 that answers as 2025-11-25: our error, the verdict dropped, the next connect probes', async () => {
  const { store, kv } = verdictStore();
  await registryOf(http(), store).connect('s');
  expect(await kv.keys()).toHaveLength(1);

  dual.modern = false;
  dual.requests.length = 0;
  const registry = registryOf(http(), store);
  const stale = await registry.connect('s');
  expect(stale.client.getProtocolEra()).toBe('modern');
  const error = await stale.callTool('echo', { text: 'x' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(McpAgentError);
  expect((error as Error).message).toMatch(
    /Server "s" was connected on MCP 2026-07-28 but answered as a 2025-11-25 server/,
  );
  expect(methods('legacy')).toEqual(['tools/call']);
  await expect.poll(() => kv.keys()).toEqual([]);

  // No silent downgrade: the next connect (of the same registry) probes and uses 2025-11-25.
  dual.requests.length = 0;
  const next = await registry.connect('s');
  expect(next).not.toBe(stale);
  expect(next.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
  expect(dual.requests.map((r) => r.method).slice(0, 2)).toEqual(['server/discover', 'initialize']);
});

test("a session's own connection that answers as 2025-11-25 is closed too: the session's next connect probes again", async () => {
  const { store } = verdictStore();
  const peer: DownstreamPeer = {
    capabilities: { elicitation: { form: {} } },
    elicit: async () => ({ action: 'accept', content: { colour: 'teal' } }),
  };
  // A registry without a peer of its own: sessions' peers get connections of their own.
  const registry = registryOf(http(), store);
  const own = await registry.connect('s', { peer });
  expect(own.client.getProtocolEra()).toBe('modern');

  dual.modern = false;
  const error = await own.callTool('echo', { text: 'x' }).catch((e: unknown) => e);
  expect((error as Error).message).toContain('answered as a 2025-11-25 server');
  // Not the stale connection again (it would fail every call until the session ended).
  const next = await registry.connect('s', { peer });
  expect(next).not.toBe(own);
  expect(next.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
  expect(text(await next.callTool('echo', { text: 'x' }))).toContain('x');
});

test('a 2026-07-28 resource subscription outlives the signal of the call that made it (the stream serves every watched URI)', async () => {
  const watchedUri = 'dual://watched/signal';
  const watching = await startDualEraServer({ watched: [watchedUri] });
  cleanups.push(() => watching.close());
  const yaml = `mcp:\n  servers:\n    w:\n      transport: streamable_http\n      url: ${watching.url}\n`;
  const config = loadConfig(yaml);
  cleanups.push(config.cleanup);
  const registry = new ServerRegistry(config.settings, { env: {} });
  cleanups.push(() => within('registry.closeAll()', registry.closeAll(), 5_000));
  const connection = await registry.connect('w');
  const updated: string[] = [];
  let heard: () => void = () => {};
  const arrived = new Promise<void>((resolve) => {
    heard = resolve;
  });
  connection.onChange((change) => {
    if (change.kind !== 'resource') return;
    updated.push(change.uri);
    heard();
  });
  const caller = new AbortController();
  await connection.subscribeResource(watchedUri, { signal: caller.signal });
  // The caller that subscribed first leaves; another still wants the URI (nothing is sent).
  caller.abort();
  watching.notify.resourceUpdated(watchedUri);
  await within('the update after the abort', arrived, 5_000);
  expect(updated).toEqual([watchedUri]);
});

test('a result without resultType (a stateless 2025-11-25 server) on a 2026-07-28 connection is our error too', async () => {
  const { store, kv } = verdictStore();
  await registryOf(http(), store).connect('s');
  dual.modern = false;
  dual.stateless = true;
  const stale = await registryOf(http(), store).connect('s');
  const error = await stale.callTool('echo', { text: 'x' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(McpAgentError);
  expect((error as Error).message).toContain('answered as a 2025-11-25 server');
  await expect.poll(() => kv.keys()).toEqual([]);
});

describe('stdio (server-everything, 2025-11-25)', () => {
  /** A stdio server that counts its starts in a file. */
  function counted(protocol?: string) {
    const tree = tempTree({});
    cleanups.push(tree.cleanup);
    const starts = join(tree.dir, 'starts');
    writeFileSync(starts, '');
    const script = join(tree.dir, 'counted.mjs');
    writeFileSync(
      script,
      [
        "import { appendFileSync } from 'node:fs';",
        `appendFileSync(${JSON.stringify(starts)}, 'x');`,
        `process.argv = [process.argv[0], ${JSON.stringify(EVERYTHING)}, 'stdio'];`,
        `await import(${JSON.stringify(new URL(`file://${EVERYTHING}`).href)});`,
      ].join('\n'),
    );
    const lines = [
      `command: ${q(process.execPath)}`,
      `args: [${q(script)}]`,
      ...(protocol ? [`protocol: ${q(protocol)}`] : []),
    ];
    return { lines, starts: () => readFileSync(starts, 'utf8').length };
  }

  test('auto: one probe process, then 2025-11-25; a remembered verdict spawns none', async () => {
    const { store } = verdictStore();
    const server = counted();
    const first = await registryOf(server.lines, store).connect('s');
    expect(first.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect((await first.listTools()).length).toBeGreaterThan(0);
    expect(server.starts()).toBe(2);

    await registryOf(server.lines, store).connect('s');
    expect(server.starts()).toBe(3);
  });

  test('2025-11-25: one process, no probe', async () => {
    const server = counted('2025-11-25');
    const connection = await registryOf(server.lines, verdictStore().store).connect('s');
    expect(connection.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect(server.starts()).toBe(1);
  });
});

test('the verdict key is a hash: no name, URL or credential in it', async () => {
  const { store, kv } = verdictStore();
  await registryOf([...http(), 'headers: { X-Api-Key: "very-secret-value" }'], store).connect('s');
  const keys = await kv.keys();
  expect(keys).toHaveLength(1);
  expect(keys[0]).toMatch(/^#protocol:[A-Za-z0-9_-]{43}$/);
  const stored = JSON.stringify(await kv.get(keys[0] ?? ''));
  expect(stored).not.toContain('very-secret-value');
});
