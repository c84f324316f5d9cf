// langchain.ts
import type { DynamicStructuredTool } from '@langchain/core/tools';
import { loadMcpTools } from '@langchain/mcp-adapters';
import type { AgentAuthScope } from '../../src/index.js';

/**
 * LangChain tools of a configured server that uses OAuth. The adapters take no `fetch`; they take
 * a connected MCP SDK `Client`: ours, whose requests carry the token, refresh it and step up to
 * more scope. `auth` is the agent's own (`createAgentAuth(...)`) or an end user's (`.forUser(id)`).
 */
export async function langchainTools(
  auth: AgentAuthScope,
  name: string,
): Promise<DynamicStructuredTool[]> {
  const client = await auth.connect(name);
  return loadMcpTools(name, client);
}
