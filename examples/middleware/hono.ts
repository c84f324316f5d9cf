// hono.ts
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { type McpAuthVariables, mcpAuthMetadata, requireMcpAuth } from 'mcp-agent-ts/hono';
import { createMcpAuth, loopbackHostCheck, type McpAuthOptions } from 'mcp-agent-ts/middleware';
import { statelessHandler } from './server-v2.js';

/** An SDK v2 server (`createMcpHandler`) in Hono, protected, on Node (`@hono/node-server`). */
export async function startHono(options: McpAuthOptions, port = 8000) {
  // Bound to loopback: only its own Host and Origin (DNS rebinding), as serve does there.
  const auth = await createMcpAuth({ hostCheck: loopbackHostCheck(port), ...options });
  const mcp = statelessHandler();
  const app = new Hono<{ Variables: McpAuthVariables }>();
  app.use(mcpAuthMetadata(auth));
  app.all('/mcp', requireMcpAuth(auth), (c) =>
    mcp.fetch(c.req.raw, { authInfo: c.get('authInfo') }),
  );
  const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
  await new Promise((listening) => server.once('listening', listening));
  return { auth, mcp, server };
}
