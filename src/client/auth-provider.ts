/**
 * The MCP TypeScript SDK v2's minimal `AuthProvider` (`@modelcontextprotocol/client`:
 * `token()` before every request, `onUnauthorized()` after a 401, then one retry), backed by our
 * token manager: the token is refreshed before it expires, a 401 adopts a token another request
 * already obtained, else refreshes, else logs in (through the consent, or handed over).
 *
 * Step-up: the SDK's transport calls `onUnauthorized` on 401 only. On a 403
 * `insufficient_scope` a transport given only this provider throws `InsufficientScopeError`
 * (it re-authorizes only an `OAuthClientProvider`). Give the transport the server's `fetch` as
 * well (or instead): that `fetch` steps up itself, so the transport never sees the 403.
 *
 * Structural: nothing of the SDK is imported, so this works with any transport that takes the
 * same two functions.
 *
 * @module
 */
import type { Secret } from '../config/secret.js';
import { credentialsChallenge, type TokenSource } from '../oauth/auth-fetch.js';

/**
 * The SDK v2 `AuthProvider` shape (`@modelcontextprotocol/client`): the bearer token of RFC 6750
 * §2.1, and what to do when the server refuses it (RFC 6750 §3.1).
 */
export interface McpAuthProvider {
  /** The access token to send (refreshed first when it is due), or `undefined` when there is none. */
  token(): Promise<string | undefined>;
  /**
   * The server answered 401 (or, from a transport that says so, 403 `insufficient_scope`):
   * refresh, adopt or log in, so that the next {@link McpAuthProvider.token} is one it accepts.
   */
  onUnauthorized(context: { readonly response: Response }): Promise<void>;
}

/**
 * An {@link McpAuthProvider} over the token source (a `ServerAuth`) `current()` returns at each
 * call. A 401 is taken as refusing the token `token()` handed out last (the interface does not
 * say which request it answers); the token source compares that with the one the store holds
 * now and adopts the stored one when they differ, refreshing only when they are the same. So
 * several requests refused together share one refresh: the first refreshes, the others adopt
 * its token. (A 401 that arrives after a newer token was handed out is taken as refusing that
 * one; the server's `fetch` knows which token each request carried.)
 */
export function authProviderOf(current: () => TokenSource): McpAuthProvider {
  // The token handed out last: what a 401 most likely refused. Only token() sets it: the token
  // a 401 led to was not sent yet, so a later 401 cannot have refused it.
  let sent: Secret | undefined;
  return {
    async token() {
      sent = await current().token();
      return sent?.reveal();
    },
    async onUnauthorized({ response }) {
      const challenge = credentialsChallenge(response.status, response.headers) ?? {};
      await current().onUnauthorized(challenge, sent);
    },
  };
}
