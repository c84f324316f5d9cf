// mcp-agent's examples/oauth/protected_by_oauth: an agent served as an MCP server that answers
// only callers bearing an access token of the configured authorization server (the
// `authorization:` section of mcp_agent.config.yaml). `hello_world` greets the verified caller;
// `finder` runs an agent (a model with the `fetch` server's tools) for that caller.
// Run: `npx mcp-agent serve` in this folder (or `npx mcp-agent dev`, with a development
// authorization server).
import {
  type AgentAuth,
  type AppSetup,
  type CallerIdentity,
  createAgentAuth,
  defineApp,
  principalOf,
} from 'mcp-agent-ts';
import { Agent, type LlmOptions } from 'mcp-agent-ts/agent';
import * as z from 'zod';

const FINDER_INSTRUCTION = `You can fetch URLs. Find what best matches the request, fetch it, and
answer with its URI and the part of its contents that was asked for.`;

/** mcp-agent's greeting: the token's `username` claim, else its subject. */
export function hello(caller: CallerIdentity | undefined): string {
  if (!caller) return 'Hello, anonymous user!';
  const { username } = caller.claims;
  return typeof username === 'string'
    ? `Hello, ${username}!`
    : `Hello, user with ID ${caller.subject}!`;
}

/**
 * The app's tools. `finder`'s agent acts for the caller: its servers are reached with the
 * caller's own tokens where they use OAuth (`auth.forUser(principalOf(caller))`).
 */
export function protectedAgent(auth: AgentAuth, llm: LlmOptions = {}): AppSetup {
  return (app) => {
    app.tool('hello_world', {}, (_args, { caller }) => hello(caller), {
      description: 'Greets the signed-in caller.',
    });
    app.tool(
      'finder',
      { request: z.string() },
      async ({ request }, { caller, signal }) => {
        const context = caller ? { auth, user: principalOf(caller) } : { auth };
        const spec = { name: 'finder', instruction: FINDER_INSTRUCTION, serverNames: ['fetch'] };
        const model = await new Agent(spec, context).attachLlm('openai', llm);
        return model.generateStr(request, { signal });
      },
      { description: 'Asks the finder agent, which can fetch URLs.' },
    );
  };
}

// `mcp-agent serve` loads this: the agent's servers and model come from the same configuration.
export default defineApp((app) => protectedAgent(createAgentAuth())(app));
