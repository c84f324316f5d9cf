// node.ts
import { createServer } from 'node:http';
import { createMcpAuth, loopbackHostCheck, type McpAuthOptions } from 'mcp-agent-ts/middleware';
import { withMcpAuth } from 'mcp-agent-ts/node';
import { sessionHandler } from './server-v1.js';

/** An SDK v1 server on plain node:http, protected: every request is authenticated first. */
export async function startNode(options: McpAuthOptions, port = 8000) {
  // Bound to loopback: only its own Host and Origin (DNS rebinding), as serve does there.
  const auth = await createMcpAuth({ hostCheck: loopbackHostCheck(port), ...options });
  const mcp = sessionHandler();
  const server = createServer(withMcpAuth(auth, (req, res, body) => mcp(req, res, body)));
  await new Promise<void>((listening) => server.listen(port, '127.0.0.1', listening));
  return { auth, mcp, server };
}
