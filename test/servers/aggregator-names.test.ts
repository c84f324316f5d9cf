/**
 * The aggregator's side of the served names: two tools of one server that would share a name are
 * both left out (whatever order the server lists them in), a name is resolved through the
 * server's listing, and `allowed_tools` takes the tools' own names (the old `SERVER/TOOL`
 * spelling of the same server too).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ToolNames } from '../../src/config/tool-names.js';
import type { Logger } from '../../src/logger.js';
import { ToolAggregator } from '../../src/servers/aggregator.js';
import { openRegistry } from '../support/config.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';

/** Names that give the tools `x` and `y` the same name: a hash collision, made to order. */
class CollidingNames extends ToolNames {
  override name(server: string, tool: string): string {
    return tool === 'x' || tool === 'y' ? `${server}_same` : super.name(server, tool);
  }
}

let forward: McpHttpServer;
let backward: McpHttpServer;
const cleanups: (() => unknown)[] = [];

function tools(order: readonly string[]) {
  return startMcpHttpServer({
    setup: (server) => {
      for (const tool of order) {
        server.registerTool(tool, {}, () => ({ content: [{ type: 'text', text: `ran ${tool}` }] }));
      }
    },
  });
}

beforeAll(async () => {
  forward = await tools(['x', 'y', 'files.read', 'keep']);
  backward = await tools(['keep', 'files.read', 'y', 'x']);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await forward?.close();
  await backward?.close();
});

const yaml = (extra = '') =>
  [
    'mcp:',
    '  servers:',
    '    fwd:',
    '      transport: streamable_http',
    `      url: ${forward.origin}/mcp`,
    extra,
    '    bwd:',
    '      transport: streamable_http',
    `      url: ${backward.origin}/mcp`,
    '',
  ].join('\n');

describe('names the aggregator serves', () => {
  test('two tools that would share a name are both left out, in either listing order, with a warning', async () => {
    const warned: string[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn: (message) => warned.push(message),
      error() {},
    };
    const registry = openRegistry(yaml(), cleanups);
    const aggregator = new ToolAggregator(registry, undefined, {
      names: new CollidingNames(['fwd', 'bwd']),
      logger,
    });
    const listed = await aggregator.listTools();
    const names = listed.map((tool) => tool.name);
    expect(names).not.toContain('fwd_same');
    expect(names).not.toContain('bwd_same');
    expect(
      listed
        .filter((tool) => tool.server === 'fwd')
        .map((tool) => tool.tool)
        .sort(),
    ).toEqual(
      listed
        .filter((tool) => tool.server === 'bwd')
        .map((tool) => tool.tool)
        .sort(),
    );
    expect(warned).toContain(
      '2 tools of server "fwd" would be named "fwd_same"; none of them is offered',
    );
    expect(warned).toContain(
      '2 tools of server "bwd" would be named "bwd_same"; none of them is offered',
    );
    await expect(aggregator.callTool('fwd_same', {})).rejects.toMatchObject({
      code: 'TOOL_UNKNOWN',
    });
  });

  test('a name reaches its tool through the listing; the old spelling hints at the new name', async () => {
    const aggregator = new ToolAggregator(openRegistry(yaml(), cleanups));
    const name = aggregator.names.name('fwd', 'files.read');
    expect(name).toMatch(/^fwd_files_read_[0-9a-f]{10}$/);
    expect(await aggregator.resolve(name)).toMatchObject({ server: 'fwd', tool: 'files.read' });
    expect((await aggregator.callTool(name, {})).content).toEqual([
      { type: 'text', text: 'ran files.read' },
    ]);
    await expect(aggregator.resolve('fwd/files.read')).rejects.toThrow(
      `the name of "files.read" of server "fwd" is "${name}"`,
    );
    await expect(aggregator.resolve('fwd_files_read')).rejects.toThrow(
      'Server "fwd" offers no tool named "fwd_files_read"',
    );
  });

  test('allowed_tools lists own names; the old FWD/TOOL spelling of its own server counts', async () => {
    const aggregator = new ToolAggregator(
      openRegistry(yaml('      allowed_tools: [keep, "fwd/files.read", "bwd/x", fwd_y]'), cleanups),
      ['fwd'],
    );
    expect((await aggregator.listTools()).map((tool) => tool.tool).sort()).toEqual([
      'files.read',
      'keep',
    ]);
    await expect(aggregator.callTool('fwd_y', {})).rejects.toThrow(
      'Tool "y" of server "fwd" is not in mcp.servers.fwd.allowed_tools.',
    );
  });
});
