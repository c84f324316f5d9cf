/**
 * A stdio MCP server with one tool, `fail`, whose result is always an error result
 * (`isError: true`), for the bad-input tests of `tools call`. Plain ESM, so it runs without a
 * build: `node test/support/error-tool-server.mjs`.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const server = new McpServer({ name: 'error-tool-server', version: '1.0.0' });

server.registerTool(
  'fail',
  { description: 'Always fails with the text "boom: the widget is jammed".' },
  async () => ({
    isError: true,
    content: [{ type: 'text', text: 'boom: the widget is jammed' }],
  }),
);

await server.connect(new StdioServerTransport());
