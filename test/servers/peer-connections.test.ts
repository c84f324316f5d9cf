/**
 * Connections opened for peers (issue 15, item 2): a peer that can answer gets a connection of its
 * own declaring its capabilities, opened at its first call (listing uses one connection per
 * capability set, shared, on which the server's requests are refused), closed (its Streamable
 * HTTP session ended) when the peer goes away, also while it is still opening; past
 * `maxPeerConnections`, or `maxPeerConnectionsPerGroup` for one group, a peer shares the
 * connection that declares nothing, with one warning, and its calls still work. A call's
 * `read_timeout_seconds` stands still while its server's request waits for the peer (timers
 * injected: nothing waits).
 */
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import * as z from 'zod';
import { settingsSchema } from '../../src/config/schema/settings.js';
import type { Logger } from '../../src/logger.js';
import {
  ASK_ALLOWANCE_MS,
  CallsInFlight,
  type CallTimers,
} from '../../src/servers/calls-in-flight.js';
import type { DownstreamPeer } from '../../src/servers/peer.js';
import { ServerRegistry, type ServerRegistryOptions } from '../../src/servers/registry.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';

let down: McpHttpServer;
const seen: (ClientCapabilities | undefined)[] = [];
let onSessionClosed: () => void = () => {};
/** Resolved by the `hang` tool when it starts; it ends when its call is cancelled. */
let onHang: () => void = () => {};

beforeAll(async () => {
  down = await startMcpHttpServer({
    setup: (server) => {
      server.registerTool('caps', {}, async () => {
        seen.push(server.server.getClientCapabilities());
        return { content: [{ type: 'text', text: 'ok' }] };
      });
      server.registerTool(
        'ask',
        { inputSchema: { label: z.string() } },
        async ({ label }, extra) => {
          try {
            const result = await extra.sendRequest(
              {
                method: 'elicitation/create',
                params: {
                  mode: 'form',
                  message: label,
                  requestedSchema: { type: 'object', properties: {} },
                },
              },
              ElicitResultSchema,
              { timeout: 30 * 60_000 },
            );
            return { content: [{ type: 'text', text: result.action }] };
          } catch (error) {
            return { isError: true, content: [{ type: 'text', text: String(error) }] };
          }
        },
      );
      server.registerTool('hang', {}, (extra) => {
        onHang();
        return new Promise((resolve) => {
          extra.signal.addEventListener('abort', () =>
            resolve({ content: [{ type: 'text', text: 'cancelled' }] }),
          );
        });
      });
      server.server.onclose = () => onSessionClosed();
    },
  });
});

afterAll(async () => {
  await down?.close();
});

/** A peer answering form elicitations, whose end the test decides. */
function peer() {
  const listeners = new Set<() => void>();
  const one: DownstreamPeer = {
    capabilities: { elicitation: { form: {} } },
    elicit: async () => ({ action: 'decline' }),
    onClose: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const close = () => {
    for (const listener of listeners) listener();
  };
  return { peer: one, close };
}

function registry(
  maxPeerConnections: number,
  warnings: string[],
  options: ServerRegistryOptions = {},
) {
  const logger: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
  const settings = settingsSchema.parse({
    mcp: {
      servers: {
        down: { transport: 'streamable_http', url: `${down.origin}/mcp`, read_timeout_seconds: 5 },
      },
    },
  });
  return new ServerRegistry(settings, { env: {}, logger, maxPeerConnections, ...options });
}

/** Timers the test runs by hand: `fire(ms)` runs the pending timers set for `ms`. */
function manualTimers() {
  const pending = new Set<{ run: () => void; ms: number }>();
  const timers: CallTimers = {
    set(run, ms) {
      const timer = { run, ms };
      pending.add(timer);
      return timer;
    },
    clear(handle) {
      pending.delete(handle as { run: () => void; ms: number });
    },
  };
  return {
    timers,
    delays: () => [...pending].map((timer) => timer.ms),
    fire(ms: number) {
      for (const timer of [...pending]) {
        if (timer.ms !== ms) continue;
        pending.delete(timer);
        timer.run();
      }
    },
  };
}

function textOf(result: { content?: unknown }): string {
  const [first] = (result.content ?? []) as { text?: string }[];
  return first?.text ?? '';
}

test('past maxPeerConnections a peer shares the connection without capabilities, one warning', async () => {
  const warnings: string[] = [];
  const servers = registry(1, warnings);
  const [a, b, c] = [peer(), peer(), peer()];
  try {
    for (const one of [a, b, c]) {
      const connection = await servers.connect('down', { peer: one.peer });
      const result = await connection.callTool('caps', {});
      expect(result.isError).toBeFalsy();
    }
    expect(seen.splice(0)).toEqual([{ elicitation: { form: {} } }, {}, {}]);
    expect(warnings).toEqual([
      'server "down" reached its limit of connections of callers\' sessions (maxPeerConnections: 1); further sessions share one connection, on which the server cannot ask the caller anything (elicitation, sampling)',
    ]);
    // a keeps its own connection.
    expect(await servers.connect('down', { peer: a.peer })).not.toBe(await servers.connect('down'));
  } finally {
    await servers.closeAll();
  }
});

test("a peer's connection closes (its session ended downstream) when the peer goes away", async () => {
  const servers = registry(8, []);
  const a = peer();
  try {
    const own = await servers.connect('down', { peer: a.peer });
    const shared = await servers.connect('down');
    expect(own).not.toBe(shared);
    const closed = new Promise<void>((resolve) => {
      onSessionClosed = resolve;
    });
    a.close();
    await closed;
    // The shared connection is still open.
    expect((await shared.callTool('caps', {})).isError).toBeFalsy();
    expect(seen.splice(0)).toEqual([{}]);
  } finally {
    onSessionClosed = () => {};
    await servers.closeAll();
  }
});

test('tools are listed on one connection per capability set; the own connection opens at the first call', async () => {
  const servers = registry(8, []);
  const [a, b] = [peer(), peer()];
  try {
    const listing = await servers.connect('down', { peer: a.peer, listing: true });
    expect(await servers.connect('down', { peer: b.peer, listing: true })).toBe(listing);
    expect(listing).not.toBe(await servers.connect('down'));
    // The listing connection declares the capability set; the server's requests there are refused.
    expect(textOf(await listing.callTool('caps', {}))).toBe('ok');
    expect(seen.splice(0)).toEqual([{ elicitation: { form: {} } }]);
    const refused = await listing.callTool('ask', { label: 'while listing' });
    expect(textOf(refused)).toMatch(/-32600.*no request of the caller is in flight/);
    // A call opens a's own connection, which its listing then uses.
    const own = await servers.connect('down', { peer: a.peer });
    expect(own).not.toBe(listing);
    expect(await servers.connect('down', { peer: a.peer, listing: true })).toBe(own);
  } finally {
    await servers.closeAll();
  }
});

test('past maxPeerConnectionsPerGroup a group shares the connection, one warning; other groups do not', async () => {
  const warnings: string[] = [];
  const servers = registry(8, warnings, { maxPeerConnectionsPerGroup: 1 });
  const [a1, a2, a3, b1] = [peer(), peer(), peer(), peer()];
  const grouped = (one: ReturnType<typeof peer>, group: string) => ({ ...one.peer, group });
  try {
    const shared = await servers.connect('down');
    const alice = [grouped(a1, 'alice'), grouped(a2, 'alice'), grouped(a3, 'alice')];
    const [own, second, third] = await Promise.all(
      alice.map((one) => servers.connect('down', { peer: one })),
    );
    expect(own).not.toBe(shared);
    expect([second, third]).toEqual([shared, shared]);
    // Listed as its calls will go: on the shared connection.
    expect(await servers.connect('down', { peer: alice[1], listing: true })).toBe(shared);
    expect(await servers.connect('down', { peer: grouped(b1, 'bob') })).not.toBe(shared);
    expect(warnings).toEqual([
      'server "down" reached its limit of connections of one caller\'s sessions (maxPeerConnectionsPerGroup: 1); that caller\'s further sessions share one connection, on which the server cannot ask the caller anything (elicitation, sampling)',
    ]);
  } finally {
    await servers.closeAll();
  }
});

test('a peer that goes away while its connection is still opening: it is closed once open', async () => {
  const servers = registry(8, []);
  const a = peer();
  try {
    const closed = new Promise<void>((resolve) => {
      onSessionClosed = resolve;
    });
    const opening = servers.connect('down', { peer: a.peer });
    a.close();
    await opening;
    await closed;
    // A new peer's connection opens as usual.
    const b = peer();
    expect(
      textOf(await (await servers.connect('down', { peer: b.peer })).callTool('caps', {})),
    ).toBe('ok');
    seen.splice(0);
  } finally {
    onSessionClosed = () => {};
    await servers.closeAll();
  }
});

test('closeAll while a peer connection is opening closes it', async () => {
  const servers = registry(8, []);
  const closed = new Promise<void>((resolve) => {
    onSessionClosed = resolve;
  });
  const opening = servers.connect('down', { peer: peer().peer });
  opening.catch(() => {});
  await servers.closeAll();
  await closed;
  onSessionClosed = () => {};
  await expect(servers.connect('down', { peer: peer().peer })).rejects.toThrow(
    /registry was closed/,
  );
});

/** A peer whose elicitation waits until the test answers it. */
function waitingPeer() {
  let answer: (action: 'accept' | 'decline') => void = () => {};
  let onAsked: () => void = () => {};
  const asked = new Promise<void>((resolve) => {
    onAsked = resolve;
  });
  const one: DownstreamPeer = {
    capabilities: { elicitation: { form: {} } },
    elicit: () =>
      new Promise((resolve) => {
        answer = (action) => resolve({ action });
        onAsked();
      }),
  };
  return { peer: one, asked, answer: (action: 'accept' | 'decline') => answer(action) };
}

test("a call's read timeout stands still while its server waits for the peer, then runs again", async () => {
  const clock = manualTimers();
  const servers = registry(8, [], { timers: clock.timers });
  const TIMEOUT = 5_000;
  try {
    const asking = waitingPeer();
    const connection = await servers.connect('down', { peer: asking.peer });
    const call = connection.callTool('ask', { label: 'slow person' });
    await asking.asked;
    // Only the bound of the whole call is left while the person answers.
    expect(clock.delays()).toEqual([TIMEOUT + ASK_ALLOWANCE_MS]);
    clock.fire(TIMEOUT);
    asking.answer('accept');
    expect(textOf(await call)).toBe('accept');
    expect(clock.delays()).toEqual([]);

    // Without an ask, the call's own time runs out.
    const hanging = new Promise<void>((resolve) => {
      onHang = resolve;
    });
    const hang = connection.callTool('hang', {});
    await hanging;
    expect(clock.delays().sort((a, b) => a - b)).toEqual([TIMEOUT, TIMEOUT + ASK_ALLOWANCE_MS]);
    clock.fire(TIMEOUT);
    await expect(hang).rejects.toThrow(/did not answer in time/);
  } finally {
    onHang = () => {};
    await servers.closeAll();
  }
});

test('a call waiting for the peer still ends at its time plus the ask allowance', async () => {
  const clock = manualTimers();
  const servers = registry(8, [], { timers: clock.timers });
  try {
    const asking = waitingPeer();
    const connection = await servers.connect('down', { peer: asking.peer });
    const call = connection.callTool('ask', { label: 'gone for lunch' });
    await asking.asked;
    clock.fire(5_000 + ASK_ALLOWANCE_MS);
    await expect(call).rejects.toThrow(/did not answer in time/);
  } finally {
    await servers.closeAll();
  }
});

test('a deadline stops while any request waits for the peer and restarts in full after the last', () => {
  const clock = manualTimers();
  const calls = new CallsInFlight(clock.timers);
  const first = calls.track(1_000, 'call-1');
  expect(calls.related()).toBe('call-1');
  expect(clock.delays().sort((a, b) => a - b)).toEqual([1_000, 1_000 + ASK_ALLOWANCE_MS]);
  const one = calls.asking();
  const two = calls.asking();
  // A call started while the peer is asked starts stopped.
  const second = calls.track(2_000, undefined);
  expect(calls.related()).toBe('call-1');
  expect(clock.delays().sort((a, b) => a - b)).toEqual([
    1_000 + ASK_ALLOWANCE_MS,
    2_000 + ASK_ALLOWANCE_MS,
  ]);
  one();
  one();
  expect(clock.delays()).toHaveLength(2);
  two();
  expect(clock.delays().sort((a, b) => a - b)).toEqual([
    1_000,
    2_000,
    1_000 + ASK_ALLOWANCE_MS,
    2_000 + ASK_ALLOWANCE_MS,
  ]);
  clock.fire(1_000);
  expect(first.signal.aborted).toBe(true);
  // The SDK's (v2) own timeout error, which it passes on as it is.
  expect(first.signal.reason).toMatchObject({
    name: 'SdkError',
    code: 'REQUEST_TIMEOUT',
    message: 'Request timed out',
  });
  expect(second.signal.aborted).toBe(false);
  first.done();
  second.done();
  expect(clock.delays()).toEqual([]);
  expect(calls.related()).toBeUndefined();
});
