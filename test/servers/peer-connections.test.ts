/**
 * Connections opened for peers (issue 15, item 2): a peer that can answer gets a connection of its
 * own declaring its capabilities, closed (its Streamable HTTP session ended) when the peer goes
 * away; past `maxPeerConnections` a peer shares the connection that declares nothing, with one
 * warning, and its calls still work.
 */
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { settingsSchema } from '../../src/config/schema/settings.js';
import type { Logger } from '../../src/logger.js';
import type { DownstreamPeer } from '../../src/servers/peer.js';
import { ServerRegistry } from '../../src/servers/registry.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';

let down: McpHttpServer;
const seen: (ClientCapabilities | undefined)[] = [];
let onSessionClosed: () => void = () => {};

beforeAll(async () => {
  down = await startMcpHttpServer({
    setup: (server) => {
      server.registerTool('caps', {}, async () => {
        seen.push(server.server.getClientCapabilities());
        return { content: [{ type: 'text', text: 'ok' }] };
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

function registry(maxPeerConnections: number, warnings: string[]) {
  const logger: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
  const settings = settingsSchema.parse({
    mcp: { servers: { down: { transport: 'streamable_http', url: `${down.origin}/mcp` } } },
  });
  return new ServerRegistry(settings, { env: {}, logger, maxPeerConnections });
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
