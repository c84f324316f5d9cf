// mcp-agent's examples/oauth/protected_by_oauth: an agent served as an MCP server that answers
// only callers bearing an access token of the configured authorization server (the
// `authorization:` section of mcp_agent.config.yaml). `hello_world` greets the verified caller;
// `finder` is an agent (a model of the `openai` section with the `fetch` server's tools) that
// acts for that caller.
// Run: `npx mcp-agent serve` in this folder (or `npx mcp-agent dev`, with a development
// authorization server).
import { type AppSetup, type CallerIdentity, defineApp } from 'mcp-agent-ts';

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
 * The app's tools. `finder` (`app.agent`) runs its agent for each caller: its servers are reached
 * as the caller reaches them (the caller's own tokens where they use OAuth), its model with the
 * app's `openai` section, its steps reported as progress.
 */
export const protectedAgent: AppSetup = (app) => {
  app.tool('hello_world', {}, (_args, { caller }) => hello(caller), {
    description: 'Greets the signed-in caller.',
  });
  app.agent(
    'finder',
    { instruction: FINDER_INSTRUCTION, serverNames: ['fetch'], provider: 'openai' },
    { description: 'Asks the finder agent, which can fetch URLs.' },
  );
};

// `mcp-agent serve` loads this: the agent's servers and model come from the same configuration.
export default defineApp(protectedAgent);
