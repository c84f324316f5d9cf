/**
 * A stdio MCP server whose tool names break the tool-name rule (a dot, a slash, `~1`, unicode, a
 * name past 64 characters) beside a plain one. Each tool answers `LABEL ran TOOL`, LABEL from the
 * environment, so a test can tell which server and tool a call reached. Plain ESM, so it runs
 * without a build: `node test/support/awkward-names-server.mjs`.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const AWKWARD_TOOLS = [
  'files.read',
  'a/b',
  'clock~1now',
  'café',
  `summarise-${'x'.repeat(70)}`,
  'plain_tool',
];

// The SDK warns on stderr about each awkward name; this server exists to have them.
console.warn = () => {};
const label = process.env.LABEL ?? 'server';
const server = new McpServer({ name: 'awkward-names', version: '1.0.0' });
for (const tool of AWKWARD_TOOLS) {
  server.registerTool(tool, { description: `Answers "${label} ran ${tool}".` }, async () => ({
    content: [{ type: 'text', text: `${label} ran ${tool}` }],
  }));
}
await server.connect(new StdioServerTransport());
