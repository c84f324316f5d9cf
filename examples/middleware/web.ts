// web.ts
import { serve } from '@hono/node-server';
import { createMcpAuth, loopbackHostCheck, type McpAuthOptions } from 'mcp-agent-ts/middleware';
import { withMcpAuth } from 'mcp-agent-ts/web';
import { webSessionHandler } from './server-v2.js';

/**
 * An SDK v2 server on the Web-standard transport, protected: `handler` is `(Request) => Response`,
 * what a Next.js route handler exports (`export const GET = handler, POST = handler, DELETE =
 * handler`), or Deno's and Bun's `serve` take; here it runs on Node.
 */
export async function startWeb(options: McpAuthOptions, port = 8000) {
  // Bound to loopback: only its own Host and Origin (DNS rebinding), as serve does there.
  const auth = await createMcpAuth({ hostCheck: loopbackHostCheck(port), ...options });
  const mcp = webSessionHandler();
  const handler = withMcpAuth(auth, (request, context) => mcp(request, context));
  const server = serve({ fetch: handler, port, hostname: '127.0.0.1' });
  await new Promise((listening) => server.once('listening', listening));
  return { auth, mcp, server };
}
