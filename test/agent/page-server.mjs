// A local stand-in of `uvx mcp-server-fetch` (and of the filesystem server) over stdio, for the
// model-provider examples' tests: one tool, named by the first argument (`fetch` by default),
// that answers every call with the same page.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import * as z from 'zod';

const name = process.argv[2] ?? 'fetch';
const server = new McpServer({ name: `${name}-stand-in`, version: '1.0.0' });
server.registerTool(
  name,
  { description: 'Fetches a URL (a fixed page).', inputSchema: { url: z.string().optional() } },
  async () => ({
    content: [{ type: 'text', text: 'MCP is an open protocol. It standardizes context.' }],
  }),
);
await server.connect(new StdioServerTransport());
