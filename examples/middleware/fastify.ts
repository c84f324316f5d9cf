// fastify.ts
import Fastify from 'fastify';
import { mcpAuthMetadata, requireMcpAuth } from 'mcp-agent-ts/fastify';
import { createMcpAuth, loopbackHostCheck, type McpAuthOptions } from 'mcp-agent-ts/middleware';
import { sessionHandler } from './server-v1.js';

/** An SDK v1 server in Fastify, protected: the token is checked before the body is parsed. */
export async function startFastify(options: McpAuthOptions, port = 8000) {
  // Bound to loopback: only its own Host and Origin (DNS rebinding), as serve does there.
  const auth = await createMcpAuth({ hostCheck: loopbackHostCheck(port), ...options });
  const mcp = sessionHandler();
  const app = Fastify();
  await app.register(mcpAuthMetadata(auth));
  app.all('/mcp', requireMcpAuth(auth), async (request, reply) => {
    reply.hijack();
    await mcp(request.raw, reply.raw, request.body);
  });
  await app.listen({ port, host: '127.0.0.1' });
  return { auth, mcp, server: app.server };
}
