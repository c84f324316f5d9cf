/**
 * The auth-aware `fetch` given to the MCP SDK's HTTP transports in place of an `authProvider`:
 * it adds `Authorization: Bearer` (RFC 6750 §2.1) to requests for the MCP server's own origin
 * only, and when the server answers 401 (or 403 `insufficient_scope`), it has the token manager
 * refresh, adopt or log in, and retries the request: once after a 401, at most
 * {@link MAX_STEP_UPS} times for more scope (MCP "Step-Up Authorization Flow").
 *
 * @module
 */

import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import { type FetchLike, isReplayableBody } from '../fetch.js';
import { type BearerChallenge, bearerChallenge } from './protocol/www-authenticate.js';
import type { ServerAuth } from './server-auth.js';

/** A `fetch`. */
export type AuthFetch = FetchLike;

/** How many times one request may step up its scope before it fails (MCP "Step-Up Authorization Flow"). */
export const MAX_STEP_UPS = 3;

/** What {@link withOAuth} needs of the token manager. */
export type TokenSource = Pick<ServerAuth, 'token' | 'onUnauthorized'> & {
  /** How long a login may take, in milliseconds: added to the deadline of opening a connection. */
  readonly loginTimeoutMs?: number;
};

/** `fetch` with the server's OAuth token on requests to `endpoint`'s origin. */
export function withOAuth(fetch: AuthFetch, auth: TokenSource, endpoint: URL): AuthFetch {
  const origin = endpoint.origin;
  const prefix = `${origin}/`;
  return async (input, init) => {
    // Most requests name the endpoint as it was configured: a prefix check, and a full parse only
    // for the others (another spelling of the same origin, or another origin).
    const href = typeof input === 'string' ? input : input.href;
    if (!href.startsWith(prefix) && new URL(href).origin !== origin) return fetch(input, init);
    const send = (token: Secret | undefined) =>
      fetch(input, { ...init, headers: withAuthorization(init?.headers, token) });
    // A streamed body cannot be sent twice: such a request is not retried.
    const replayable = isReplayableBody(init?.body);
    let token = await auth.token();
    let response = await send(token);
    let unauthorizedRetried = false;
    let stepUps = 0;
    for (;;) {
      const challenge = credentialsChallenge(response.status, response.headers);
      if (!challenge || !replayable) return response;
      const stepUp = response.status === 403;
      if (!stepUp && unauthorizedRetried) return response;
      if (stepUp && stepUps >= MAX_STEP_UPS) {
        await response.body?.cancel().catch(() => {});
        throw new McpAgentError(
          'OAUTH_AUTHORIZATION',
          `The server at ${origin} still asks for more scope (${challenge.scope ?? 'unnamed'}) after ${MAX_STEP_UPS} new authorizations; giving up on this request.`,
        );
      }
      if (stepUp) stepUps += 1;
      else unauthorizedRetried = true;
      await response.body?.cancel().catch(() => {});
      token = await auth.onUnauthorized(challenge, token);
      response = await send(token);
    }
  };
}

/** `headers` with `Authorization: Bearer <token>` (or without any `Authorization`). */
function withAuthorization(
  headers: RequestInit['headers'],
  token: Secret | undefined,
): NonNullable<RequestInit['headers']> {
  // A plain object (what the SDK passes) is copied as one; anything else through `Headers`.
  if (headers === undefined || (typeof headers === 'object' && headers.constructor === Object)) {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries((headers ?? {}) as Record<string, string>)) {
      if (name.toLowerCase() !== 'authorization') out[name] = value;
    }
    if (token) out.authorization = `Bearer ${token.reveal()}`;
    return out;
  }
  const out = new Headers(headers);
  if (token) out.set('authorization', `Bearer ${token.reveal()}`);
  else out.delete('authorization');
  return out;
}

/**
 * The challenge of an answer that asks for (other) credentials: any 401, or a 403 with
 * `error="insufficient_scope"` (RFC 6750 §3.1); `undefined` otherwise.
 */
export function credentialsChallenge(
  status: number,
  headers: Headers,
): BearerChallenge | undefined {
  if (status === 401) return bearerChallenge(headers) ?? {};
  if (status === 403) {
    const challenge = bearerChallenge(headers);
    if (challenge?.error === 'insufficient_scope') return challenge;
  }
  return undefined;
}
