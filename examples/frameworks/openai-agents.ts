// openai-agents.ts
import { MCPServerStreamableHttp } from '@openai/agents-core';
import type { AgentAuthScope } from '../../src/index.js';

/**
 * An OpenAI Agents MCP server (give it to `new Agent({ mcpServers: [server] })`) for a configured
 * server that uses OAuth: every request goes through the server's auth-aware `fetch` (the token,
 * a refresh, a step-up to more scope inside the tool call). `auth` is the agent's own
 * (`createAgentAuth(...)`) or an end user's (`.forUser(id)`).
 */
export async function openAiMcpServer(
  auth: AgentAuthScope,
  name: string,
): Promise<MCPServerStreamableHttp> {
  const server = auth.server(name);
  // Log in first: OpenAI Agents gives a connection 5 s to open, too short for a person to sign in.
  await server.login();
  const mcp = new MCPServerStreamableHttp({ name, url: server.url.href, fetch: server.fetch });
  await mcp.connect();
  return mcp;
}
