// A tiny downstream MCP server over stdio (built with the MCP SDK), so the example agent has
// downstream tools to aggregate without any external service.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const server = new McpServer({ name: 'clock', version: '1.0.0' });
server.registerTool('now', { description: 'The current time (ISO 8601, UTC).' }, async () => ({
  content: [{ type: 'text', text: new Date().toISOString() }],
}));
await server.connect(new StdioServerTransport());
