// ai-sdk.ts
import { createMCPClient, type MCPClient } from '@ai-sdk/mcp';
import type { AgentAuthScope } from '../../src/index.js';

/**
 * A Vercel AI SDK MCP client on a configured server that uses OAuth: its HTTP transport sends
 * every request through the server's auth-aware `fetch` (the token, a refresh, a step-up to more
 * scope inside the tool call). `auth` is the agent's own (`createAgentAuth(...)`) or an end
 * user's (`.forUser(id)`). Give `await client.tools()` to `generateText` or `streamText`.
 */
export async function aiSdkMcpClient(auth: AgentAuthScope, name: string): Promise<MCPClient> {
  const server = auth.server(name);
  // Log in before connecting: a person signing in may take longer than a request may.
  await server.login();
  return createMCPClient({
    transport: { type: 'http', url: server.url.href, fetch: server.fetch },
  });
}
