/**
 * Lists and cacheable results on the MCP SDK v2 client, as they were on v1: a server's tools are
 * listed page after page, all of them (v2's own walk stops at 64 pages unless told otherwise; a
 * server that pages one tool at a time has 70 here), in the server's order; the connected
 * `Client` of `connect()` collects every page itself when asked without a cursor (the v2 API);
 * and a result that says it may be cached (`ttlMs`) is still asked of the server every time our
 * code reads it (v2 would answer from its response cache).
 */
import {
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { ServerRegistry } from '../../src/servers/registry.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';

const PAGES = 70;
const names = Array.from({ length: PAGES }, (_, page) => `tool-${page}`);
let paged: McpHttpServer;
let reads = 0;

beforeAll(async () => {
  paged = await startMcpHttpServer({
    setup: (server) => {
      server.server.registerCapabilities({ resources: {} });
      server.server.setRequestHandler(ListToolsRequestSchema, ({ params }) => {
        const page = Number(params?.cursor ?? 0);
        const tool: Tool = { name: `tool-${page}`, inputSchema: { type: 'object' } };
        return {
          tools: [tool],
          ...(page + 1 < PAGES ? { nextCursor: String(page + 1) } : {}),
        };
      });
      server.server.setRequestHandler(ReadResourceRequestSchema, ({ params }) => {
        reads += 1;
        return { contents: [{ uri: params.uri, text: `read ${reads}` }], ttlMs: 60_000 };
      });
    },
  });
});

afterAll(async () => {
  await paged?.close();
});

function registry(): ServerRegistry {
  const settings = settingsSchema.parse({
    mcp: {
      servers: { paged: { transport: 'streamable_http', url: `${paged.origin}/mcp` } },
    },
  });
  return new ServerRegistry(settings, { env: {} });
}

test('every page of the tools, past 64 pages, in the order the server gives them', async () => {
  const servers = registry();
  try {
    const connection = await servers.connect('paged');
    expect((await connection.listTools()).map((tool) => tool.name)).toEqual(names);
  } finally {
    await servers.closeAll();
  }
});

test("the connected Client's listTools() without a cursor collects every page itself", async () => {
  const servers = registry();
  try {
    const { client } = await servers.connect('paged');
    const listed = await client.listTools();
    expect(listed.tools.map((tool) => tool.name)).toEqual(names);
    expect(listed.nextCursor).toBeUndefined();
    // With a cursor, one page, as the server gave it.
    const page = await client.listTools({ cursor: '3' });
    expect(page.tools.map((tool) => tool.name)).toEqual(['tool-3']);
    expect(page.nextCursor).toBe('4');
  } finally {
    await servers.closeAll();
  }
});

test('a result with ttlMs is asked of the server at every read', async () => {
  const servers = registry();
  try {
    const connection = await servers.connect('paged');
    const read = () =>
      connection.request((options) =>
        connection.client.readResource({ uri: 'test://changing' }, options),
      );
    const first = await read();
    const second = await read();
    expect(first.contents[0]).toMatchObject({ text: `read ${reads - 1}` });
    expect(second.contents[0]).toMatchObject({ text: `read ${reads}` });
  } finally {
    await servers.closeAll();
  }
});
