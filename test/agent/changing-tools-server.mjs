// A stdio MCP server (the MCP SDK's McpServer) whose tools change: `grow` registers a `later`
// tool, which makes the SDK send notifications/tools/list_changed (before grow's own answer, on
// the same stdout). `lists` answers how many tools/list requests this process has received.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'changing', version: '1.0.0' });
const text = (value) => ({ content: [{ type: 'text', text: String(value) }] });
let lists = 0;
server.registerTool(
  'echo',
  { description: 'Echo the text back.', inputSchema: { text: z.string() } },
  async ({ text: value }) => text(value),
);
server.registerTool('grow', { description: 'Add the tool "later".' }, async () => {
  server.registerTool('later', { description: 'Added by grow.' }, async () => text('later'));
  return text('grown');
});
server.registerTool('lists', { description: 'The tools/list requests received.' }, async () =>
  text(lists),
);
const transport = new StdioServerTransport();
await server.connect(transport);
const deliver = transport.onmessage;
transport.onmessage = (message, extra) => {
  if (message.method === 'tools/list') lists += 1;
  deliver?.(message, extra);
};
