// mastra.ts
import { MCPClient } from '@mastra/mcp';
import type { AgentAuthScope } from '../../src/index.js';

/**
 * Mastra's MCP client on configured servers that use OAuth: each server's requests go through
 * its auth-aware `fetch` (the token, a refresh, a step-up to more scope). One client per
 * identity: `auth` is the agent's own (`createAgentAuth(...)`) or an end user's (`.forUser(id)`).
 */
export async function mastraMcpClient(
  auth: AgentAuthScope,
  names: readonly string[],
): Promise<MCPClient> {
  // Log in first: Mastra gives a connection 3 s to open, too short for a person to sign in.
  for (const name of names) await auth.login(name);
  const servers = names.map((name) => {
    const server = auth.server(name);
    return [name, { url: server.url, fetch: server.fetch }] as const;
  });
  return new MCPClient({
    id: `mcp-agent-ts:${auth.identity}`,
    servers: Object.fromEntries(servers),
  });
}
