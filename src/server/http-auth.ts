/**
 * The authorization steps of the agent's MCP endpoints: the bearer check with its challenge
 * (RFC 6750 §3, naming the called endpoint's metadata, RFC 9728 §5.1), the tool scopes (403
 * `insufficient_scope`), and the identity handed to the MCP server without the inbound token.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { calledTools } from './http-body.js';
import type { HttpContext, McpCall } from './http-context.js';
import { send } from './http-reply.js';
import { CALLER, type CallerIdentity } from './identity.js';

/** A request carrying the MCP SDK's `auth` (its `AuthInfo`), which tools read. */
export type AuthedRequest = IncomingMessage & {
  auth?: {
    token: string;
    clientId: string;
    scopes: string[];
    expiresAt?: number;
    extra?: Record<string, unknown>;
  };
};

/** Who calls, or `undefined` once refused with a challenge naming `metadataUrl`. */
export async function authenticate(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  metadataUrl: string | undefined,
): Promise<{ identity: CallerIdentity | undefined } | undefined> {
  const guard = ctx.guard;
  if (!guard) return { identity: undefined };
  const result = await guard.authenticate({
    authorization: req.headersDistinct.authorization,
    queryHasToken: url.searchParams.has('access_token'),
  });
  if (result.ok) return { identity: result.identity };
  const response = guard.response(result.rejection, metadataUrl);
  send(res, response.status, response.headers, response.body);
  return undefined;
}

/** Refuse with 403 `insufficient_scope` when a called tool needs a scope the caller lacks. */
export function checkToolScopes(
  ctx: HttpContext,
  res: ServerResponse,
  identity: CallerIdentity | undefined,
  body: unknown,
  metadataUrl?: string,
): boolean {
  const guard = ctx.guard;
  if (!guard || !identity) return true;
  for (const name of calledTools(body)) {
    const rejection = guard.authorize(identity, ctx.catalog.scopesFor(name));
    if (rejection) {
      const response = guard.response(rejection, metadataUrl);
      send(res, response.status, response.headers, response.body);
      return false;
    }
  }
  return true;
}

/** Hand the caller to the MCP server as the request's `auth` (none when authorization is off). */
export function attachCaller(call: McpCall): void {
  if (call.identity) call.req.auth = authInfoOf(call.identity);
}

function authInfoOf(identity: CallerIdentity): NonNullable<AuthedRequest['auth']> {
  return {
    // Never the inbound token: tools cannot pass it on (MCP "Token Passthrough").
    token: '',
    clientId: identity.clientId ?? '',
    scopes: [...identity.scopes],
    ...(identity.expiresAt !== undefined
      ? { expiresAt: Math.floor(identity.expiresAt / 1000) }
      : {}),
    extra: {
      issuer: identity.issuer,
      subject: identity.subject,
      claims: identity.claims,
      [CALLER]: identity,
    },
  };
}
