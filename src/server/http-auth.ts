/**
 * The authorization steps of the agent's MCP endpoints: the bearer check with its challenge
 * (RFC 6750 §3, naming the called endpoint's metadata, RFC 9728 §5.1), the tool scopes (403
 * `insufficient_scope`), and the identity handed to the MCP server without the inbound token.
 * {@link toolCallRejection} is framework-free: the server middleware (`src/middleware/`) checks
 * tool scopes with it too.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Rejection } from './challenge.js';
import type { BearerGuard } from './guard.js';
import { calledTools, contentRequests } from './http-body.js';
import type { HttpContext, McpCall } from './http-context.js';
import { send } from './http-reply.js';
import { type AuthInfo, authInfoOf, type CallerIdentity } from './identity.js';

/** A request carrying the MCP SDK's `auth` (its `AuthInfo`), which tools read. */
export type AuthedRequest = IncomingMessage & { auth?: AuthInfo };

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

/**
 * The 403 `insufficient_scope` for the first tool a JSON-RPC `body` calls (`tools/call`, batches
 * included) that needs a scope `identity` lacks, naming every scope it needs; else `undefined`.
 */
export function toolCallRejection(
  guard: BearerGuard,
  identity: CallerIdentity,
  body: unknown,
  scopesFor: (tool: string) => readonly string[],
  /** Scopes of a prompt, resource or completion request (`ToolCatalog.scopesForRequest`). */
  scopesForRequest?: (method: string, params: unknown) => readonly string[],
): Rejection | undefined {
  for (const name of calledTools(body)) {
    const rejection = guard.authorize(identity, scopesFor(name));
    if (rejection) return rejection;
  }
  if (!scopesForRequest) return undefined;
  for (const { method, params } of contentRequests(body)) {
    const rejection = guard.authorize(identity, scopesForRequest(method, params));
    if (rejection) return rejection;
  }
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
  const { catalog } = ctx;
  const rejection = toolCallRejection(
    guard,
    identity,
    body,
    (name) => catalog.scopesFor(name),
    catalog.scopesForRequest &&
      ((method, params) => catalog.scopesForRequest?.(method, params) ?? []),
  );
  if (!rejection) return true;
  const response = guard.response(rejection, metadataUrl);
  send(res, response.status, response.headers, response.body);
  return false;
}

/** Hand the caller to the MCP server as the request's `auth` (none when authorization is off). */
export function attachCaller(call: McpCall): void {
  if (call.identity) call.req.auth = authInfoOf(call.identity);
}
