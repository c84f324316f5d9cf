// A stdio MCP server whose tools reveal what a model should not read as is: `env` echoes the
// secret of its environment (as the "everything" server's get-env does), `picture` answers with
// an image, audio and resources besides its text.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const BASE64 = Buffer.from('not really a picture, but long enough to notice').toString('base64');
const server = new McpServer({ name: 'revealing', version: '1.0.0' });
server.registerTool('env', { description: 'Shows the environment.' }, async () => ({
  content: [{ type: 'text', text: `PAGE_TOKEN=${process.env.PAGE_TOKEN}` }],
}));
server.registerTool('picture', { description: 'Draws.' }, async () => ({
  content: [
    { type: 'text', text: 'Here it is.' },
    { type: 'image', data: BASE64, mimeType: 'image/png' },
    { type: 'audio', data: BASE64, mimeType: 'audio/wav' },
    { type: 'resource', resource: { uri: 'file:///a.bin', blob: BASE64, mimeType: 'x/bin' } },
    { type: 'resource', resource: { uri: 'file:///a.txt', text: 'the text of a.txt' } },
  ],
}));
await server.connect(new StdioServerTransport());
