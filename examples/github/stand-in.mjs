#!/usr/bin/env node
// A local stand-in for a GitHub MCP server reached over SSE with static headers, for the example
// in this folder. It accepts a request only with `Authorization: Bearer $GITHUB_TOKEN` and an
// `X-Org-Id` header (401 otherwise), and offers two tools.
//
//   GITHUB_TOKEN=… node examples/github/stand-in.mjs [PORT]      (default port 8765)
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { z } from 'zod';

const token = process.env.GITHUB_TOKEN;
if (!token) {
  process.stderr.write('error: set GITHUB_TOKEN to the token the stand-in should accept\n');
  process.exit(2);
}
const port = Number(process.argv[2] ?? process.env.PORT ?? 8765);
const sessions = new Map();

function authorized(req) {
  return (
    req.headers.authorization === `Bearer ${token}` && typeof req.headers['x-org-id'] === 'string'
  );
}

function mcpServer(org) {
  const server = new McpServer({ name: 'github-stand-in', version: '1.0.0' });
  server.registerTool(
    'whoami',
    { description: 'The organisation the request came for' },
    async () => ({
      content: [{ type: 'text', text: `organisation ${org}` }],
    }),
  );
  server.registerTool(
    'list_repositories',
    {
      description: 'Repositories of the organisation',
      inputSchema: { prefix: z.string().optional() },
    },
    async ({ prefix }) => ({
      content: [
        {
          type: 'text',
          text: ['mcp-agent', 'mcp-agent-ts', 'notes']
            .filter((name) => !prefix || name.startsWith(prefix))
            .map((name) => `${org}/${name}`)
            .join('\n'),
        },
      ],
    }),
  );
  return server;
}

const http = createServer(async (req, res) => {
  if (!authorized(req)) {
    res.writeHead(401, { 'www-authenticate': 'Bearer' }).end('unauthorized');
    return;
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/sse') {
    const transport = new SSEServerTransport('/messages', res);
    sessions.set(transport.sessionId, transport);
    res.on('close', () => sessions.delete(transport.sessionId));
    await mcpServer(String(req.headers['x-org-id'])).connect(transport);
    return;
  }
  if (req.method === 'POST' && url.pathname === '/messages') {
    const transport = sessions.get(url.searchParams.get('sessionId'));
    if (!transport) {
      res.writeHead(404).end('unknown session');
      return;
    }
    await transport.handlePostMessage(req, res);
    return;
  }
  res.writeHead(404).end('not found');
});
http.listen(port, '127.0.0.1', () => {
  process.stderr.write(`GitHub stand-in listening on http://127.0.0.1:${port}/sse\n`);
});
