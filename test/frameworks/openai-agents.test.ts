/**
 * OpenAI Agents JS (`@openai/agents-core` 0.20.0: `MCPServerStreamableHttp`, which runs the MCP
 * SDK v2 client underneath) on a server protected by OAuth, through `createAgentAuth` and the
 * recipe of `docs/frameworks.md` (`examples/frameworks/openai-agents.ts`): the server's `fetch`
 * given to `MCPServerStreamableHttp`. The tools are the agent's function tools
 * (`getAllMcpTools`), invoked as a run does; the cases of `sdk-cases.ts`: log in before connecting
 * (OpenAI Agents gives a connection 5 s), list and invoke tools, refresh without a new login, step
 * up to `mcp:admin` inside one tool call, an end user signing in as themself.
 */
import {
  type FunctionTool,
  getAllMcpTools,
  type MCPServerStreamableHttp,
  RunContext,
} from '@openai/agents-core';
import { expect, test } from 'vitest';
import { openAiMcpServer } from '../../examples/frameworks/openai-agents.js';
import type { AgentAuthScope } from '../../src/index.js';
import { recipe } from './protected-server.js';
import { describeSdkClient, type SdkClient } from './sdk-cases.js';

test('docs/frameworks.md shows the recipe this file runs', () => {
  const { example, inDocs } = recipe('openai-agents.ts');
  expect(inDocs).toBe(example);
});

/** The function tools of `server`, as a run gets them. */
async function functionTools(server: MCPServerStreamableHttp): Promise<FunctionTool[]> {
  return (await getAllMcpTools({
    mcpServers: [server],
    runContext: new RunContext({}),
  })) as FunctionTool[];
}

/** The recipe's server, seen through the function tools of a run. */
async function runTools(auth: AgentAuthScope, name: string): Promise<SdkClient> {
  const server = await openAiMcpServer(auth, name);
  return {
    listTools: async () => ({ tools: await functionTools(server) }),
    callTool: async ({ name: tool, arguments: args }) => {
      const found = (await functionTools(server)).find((each) => each.name === tool);
      if (!found) throw new Error(`no tool ${tool}`);
      // A run invokes the tool with the model's arguments; the result is the MCP content.
      const output = await found.invoke(new RunContext({}), JSON.stringify(args ?? {}));
      return { content: Array.isArray(output) ? output : [output] };
    },
    close: () => server.close(),
  };
}

describeSdkClient('OpenAI Agents through the function tools of a run (the recipe)', runTools);
