// langchain.ts
import type { DynamicStructuredTool } from '@langchain/core/tools';
import { loadMcpTools } from '@langchain/mcp-adapters';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { AgentAuthScope } from '../../src/index.js';

/**
 * LangChain tools of a configured server that uses OAuth. The adapters take no `fetch`; they take
 * a connected MCP SDK v1 `Client` (the SDK they run on). Give its transport the server's
 * auth-aware `fetch`: its requests carry the token, refresh it and step up to more scope. `auth` is
 * the agent's own (`createAgentAuth(...)`) or an end user's (`.forUser(id)`).
 */
export async function langchainTools(
  auth: AgentAuthScope,
  name: string,
): Promise<DynamicStructuredTool[]> {
  const server = auth.server(name);
  // Log in before connecting: a person signing in may take longer than a request may.
  await server.login();
  const client = new Client({ name: 'my-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(server.url, { fetch: server.fetch }));
  return loadMcpTools(name, client);
}
