/**
 * A server every end user reaches with the agent's own token (`shared_preconfigured_token`), as
 * an end user's scope sees it: the token is used, never managed. A login that token needs is the
 * agent operator's to give: inside an end user's scope it is a plain `OAUTH_LOGIN_REQUIRED`
 * error, never an `AuthorizationRequiredError` whose URL an end user could follow (their account
 * would then become everyone's).
 *
 * @module
 */
import { McpAgentError } from '../errors.js';
import type { TokenSource } from '../oauth/auth-fetch.js';
import { authorizationRequiredIn } from './hand-over.js';

/** The error of a login the agent's own token of `server` needs, raised in a user's scope. */
export function agentLoginRequired(server: string): McpAgentError {
  return new McpAgentError(
    'OAUTH_LOGIN_REQUIRED',
    `Server "${server}" is reached with the agent's own token (shared_preconfigured_token), which needs a login by the agent's operator: auth.login('${server}') in the agent, or \`mcp-agent auth login ${server}\`. An end user cannot give it.`,
  );
}

/** The `USAGE` error of `login`, `completeLogin` or `logout` of a shared server in a user's scope. */
export function sharedTokenUsage(server: string, what: string): McpAgentError {
  return new McpAgentError(
    'USAGE',
    `Server "${server}" uses the agent's shared token (shared_preconfigured_token): an end user's scope cannot ${what} it; manage it with auth.${what}('${server}') on the agent's own scope.`,
  );
}

/** `run`, a hand-over of the agent's login turned into {@link agentLoginRequired}. */
export async function withoutHandOver<T>(server: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    // Not kept as the cause: `authorizationRequiredIn` would find the URL there.
    throw authorizationRequiredIn(error) ? agentLoginRequired(server) : error;
  }
}

/** The agent's own token source of `server` as a user's scope uses it (see the module comment). */
export function sharedTokenSource(server: string, auth: TokenSource): TokenSource {
  return {
    ...(auth.loginTimeoutMs !== undefined ? { loginTimeoutMs: auth.loginTimeoutMs } : {}),
    token: () => withoutHandOver(server, () => auth.token()),
    onUnauthorized: (challenge, sent) =>
      withoutHandOver(server, () => auth.onUnauthorized(challenge, sent)),
  };
}

/**
 * The agent's own connected `client` of `server` as a user's scope hands it out: the same object
 * behind a `Proxy` whose methods turn a hand-over of the agent's login into
 * {@link agentLoginRequired} (the connection is the agent's, shared by every user, so its
 * transport cannot tell whose request it carries).
 */
export function sharedClient<T extends object>(server: string, client: T): T {
  return new Proxy(client, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = Reflect.apply(value, target, args);
        return result instanceof Promise ? withoutHandOver(server, () => result) : result;
      };
    },
  });
}
