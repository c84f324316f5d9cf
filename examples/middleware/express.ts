// express.ts
import type { Server } from 'node:http';
import express from 'express';
import { mcpAuthMetadata, requireMcpAuth } from 'mcp-agent-ts/express';
import { createMcpAuth, loopbackHostCheck, type McpAuthOptions } from 'mcp-agent-ts/middleware';
import { sessionHandler } from './server-v1.js';

/** An SDK v1 server in Express, protected; `options`: e.g. `{ configPath: 'mcp_agent.config.yaml' }`. */
export async function startExpress(options: McpAuthOptions, port = 8000) {
  // Bound to loopback: only its own Host and Origin (DNS rebinding), as serve does there.
  const auth = await createMcpAuth({ hostCheck: loopbackHostCheck(port), ...options });
  const mcp = sessionHandler();
  const app = express();
  app.use(mcpAuthMetadata(auth));
  // No body parser before it: the token is checked first, then the body read if a scope needs it.
  app.all('/mcp', requireMcpAuth(auth), (req, res) => mcp(req, res, req.body));
  const server: Server = app.listen(port, '127.0.0.1');
  await new Promise((listening) => server.once('listening', listening));
  return { auth, mcp, server };
}
