// hosted-agent.ts
import {
  type AgentAuth,
  type AppSetup,
  authorizationRequiredIn,
  principalOf,
} from '../../src/index.js';

/**
 * A tool of a hosted agent that calls a downstream server as its caller: the caller's identity
 * (the issuer and subject of the token the agent verified) picks the caller's own downstream
 * token, never another caller's. The first time, nobody can be asked in the agent's process: the
 * tool answers with the URL where the caller signs in, and the agent's callback route completes
 * the login (`auth.forUser(identity).completeLogin(server, url)`).
 */
export function hostedAgent(auth: AgentAuth, server: string): AppSetup {
  return (app) => {
    app.tool(
      'downstream_whoami',
      {},
      async (_args, { caller }) => {
        if (!caller) throw new Error('This tool needs a signed-in caller.');
        const user = auth.forUser(principalOf(caller));
        try {
          const client = await user.connect(server);
          return await client.callTool({ name: 'whoami', arguments: {} });
        } catch (error) {
          const login = authorizationRequiredIn(error);
          if (!login) throw error;
          return `Sign in to ${server} first: ${login.authorizationUrl}`;
        }
      },
      { description: `Who ${server} says the caller is.` },
    );
  };
}
