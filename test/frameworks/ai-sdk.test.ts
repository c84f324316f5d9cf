/**
 * The Vercel AI SDK's MCP client (`@ai-sdk/mcp` 2.0.99: `createMCPClient` with its HTTP
 * transport) on a server protected by OAuth, through `createAgentAuth` and the recipe of
 * `docs/frameworks.md` (`examples/frameworks/ai-sdk.ts`): the transport's `fetch` option is the
 * server's `fetch`. The tools are those `client.tools()` gives `generateText`, executed as its
 * tool loop does; the cases of `sdk-cases.ts`: log in before connecting, list and execute tools,
 * refresh without a new login, step up to `mcp:admin` inside one tool execution, an end user
 * signing in as themself. With `handOverConsent()`, the login and a step-up inside a tool fail at
 * once with the URL (found through the AI SDK's errors by `authorizationRequiredIn`), completed
 * out of band.
 */
import type { MCPClient } from '@ai-sdk/mcp';
import { describe, expect, test } from 'vitest';
import { aiSdkMcpClient } from '../../examples/frameworks/ai-sdk.js';
import { type AgentAuthScope, authorizationRequiredIn } from '../../src/index.js';
import { ADMIN_SCOPE, scopesOf } from '../interop/support.js';
import { textOf } from '../server/serve-support.js';
import { protectedWorld, recipe, SERVER, signInHandedOver } from './protected-server.js';
import { describeSdkClient, type SdkClient } from './sdk-cases.js';

test('docs/frameworks.md shows the recipe this file runs', () => {
  const { example, inDocs } = recipe('ai-sdk.ts');
  expect(inDocs).toBe(example);
});

/** The tool `name` of `client.tools()`, executed as the AI SDK's tool loop does. */
async function execute(client: MCPClient, name: string, args: Record<string, unknown>) {
  const tool = (await client.tools())[name];
  if (!tool?.execute) throw new Error(`no tool ${name}`);
  return tool.execute(args, { toolCallId: `call-${name}`, messages: [], context: {} });
}

/** The recipe's client, seen through the tools an agent gets. */
async function agentTools(auth: AgentAuthScope, name: string): Promise<SdkClient> {
  const client = await aiSdkMcpClient(auth, name);
  return {
    listTools: async () => ({
      tools: Object.keys(await client.tools()).map((tool) => ({ name: tool })),
    }),
    callTool: ({ name: tool, arguments: args }) => execute(client, tool, args ?? {}),
    close: () => client.close(),
  };
}

describeSdkClient('Vercel AI SDK through the tools an agent gets (the recipe)', agentTools);

describe('Vercel AI SDK with nobody to ask in the process (handOverConsent)', () => {
  const current = protectedWorld({ handOver: true });

  test('a step-up inside a tool fails at once with its URL, through the AI SDK; completed out of band, the tool runs', async () => {
    const world = current();
    const dana = world.auth.forUser('user-dana');
    const first = await aiSdkMcpClient(dana, SERVER).catch((error: unknown) => error);
    const login = authorizationRequiredIn(first);
    if (!login) throw first;
    await dana.completeLogin(SERVER, await signInHandedOver(login.authorizationUrl, 'dana'));
    const client = await aiSdkMcpClient(dana, SERVER);
    world.closing(() => client.close());
    expect(textOf(await execute(client, 'whoami', {}))).toContain('"subject":"dana"');

    const refused = await execute(client, 'admin_report', {}).catch((error: unknown) => error);
    const stepUp = authorizationRequiredIn(refused);
    if (!stepUp) throw refused;
    const scope = new URL(stepUp.authorizationUrl).searchParams.get('scope');
    expect(scopesOf(scope)).toEqual(expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]));
    await dana.completeLogin(SERVER, await signInHandedOver(stepUp.authorizationUrl, 'dana'));
    expect(textOf(await execute(client, 'admin_report', {}))).toBe('Report for dana: all good.');
  });
});
