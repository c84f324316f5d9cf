// A stdio MCP server on the v2 SDK, of either era (as the conformance reference server): one text
// resource `test://logged` and one prompt `logged_prompt`, each of which sends one `info` log
// message (logger `content`) while it is read or fetched. On 2026-07-28 the SDK sends it only
// when the request's envelope names a level. Used by test/cli/server-logs.test.ts.
import { Server } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

function createServer({ era }) {
  const server = new Server(
    { name: 'logging-content-server', version: '1.0.0' },
    { capabilities: { resources: {}, prompts: {}, logging: {} } },
  );
  server.setRequestHandler('resources/list', () => ({
    resources: [{ uri: 'test://logged', name: 'logged', mimeType: 'text/plain' }],
  }));
  server.setRequestHandler('resources/read', async (request, ctx) => {
    await ctx.mcpReq.log('info', `read ${request.params.uri}`, 'content');
    return { contents: [{ uri: request.params.uri, mimeType: 'text/plain', text: 'the text' }] };
  });
  server.setRequestHandler('prompts/list', () => ({ prompts: [{ name: 'logged_prompt' }] }));
  server.setRequestHandler('prompts/get', async (request, ctx) => {
    await ctx.mcpReq.log('info', `got ${request.params.name}`, 'content');
    return { messages: [{ role: 'user', content: { type: 'text', text: 'the prompt' } }] };
  });
  if (era === 'legacy') server.setRequestHandler('logging/setLevel', () => ({}));
  return server;
}

serveStdio(createServer, {
  onerror: (error) => process.stderr.write(`logging-content-server: ${error.message}\n`),
});
