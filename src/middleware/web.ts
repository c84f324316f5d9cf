/**
 * `mcp-agent-ts/web`: a Web-standard `(Request) => Promise<Response>` handler protected by
 * {@link McpAuth}: the shape of Next.js route handlers, Hono's `fetch`, Deno's and Bun's
 * `serve`, Cloudflare Workers. {@link withMcpAuth} answers the protected-resource metadata
 * (RFC 9728 §3.1) and authenticates every other request before the handler runs (RFC 6750), so
 * nothing reaches the handler unauthenticated, whatever its path; the handler gets the caller
 * (`authInfo` for the SDK v2 transports and `createMcpHandler`, `caller`) and the body when the
 * middleware read it. {@link metadataHandler} serves the metadata alone (a route of its own, as
 * Next.js puts `/.well-known/oauth-protected-resource/…` in another file).
 *
 * ```ts
 * export const POST = withMcpAuth(auth, (request, { authInfo }) => mcp.fetch(request, { authInfo }));
 * ```
 *
 * @module
 */
import type { AuthInfo, CallerIdentity } from '../server/identity.js';
import { assertOpen, type McpAuth } from './protection.js';
import { unreadableRequest } from './request.js';
import { assertFetchRequest, responseOf } from './web-io.js';

/** What the protected handler gets besides the request. */
export interface McpAuthContext {
  /** The SDK's `AuthInfo` (its `token` is empty). */
  readonly authInfo: AuthInfo;
  /** The verified caller, as `currentCaller()` gives it in the handler. */
  readonly caller: CallerIdentity;
  /** The JSON body, when the middleware read it for the tool scopes (the request's stays whole). */
  readonly parsedBody?: unknown;
}

/** The handler behind {@link withMcpAuth}. */
export type ProtectedFetchHandler = (
  request: Request,
  context: McpAuthContext,
) => Response | Promise<Response>;

/**
 * `handler` behind `auth`: the metadata of `auth`, else the request authenticated (and its tool
 * scopes checked) and handed to `handler` with the caller; refusals are answered with their
 * challenge, a request the core cannot read with 400.
 */
export function withMcpAuth(
  auth: McpAuth,
  handler: ProtectedFetchHandler,
): (request: Request) => Promise<Response> {
  assertOpen(auth, 'withMcpAuth (mcp-agent-ts/web)');
  return async function mcpAuthFetch(request) {
    assertFetchRequest(request, 'withMcpAuth (mcp-agent-ts/web)');
    let outcome: Awaited<ReturnType<McpAuth['handle']>>;
    try {
      outcome = await auth.handle(request);
    } catch (error) {
      const unreadable = unreadableRequest(error);
      if (unreadable) return responseOf(unreadable);
      throw error;
    }
    if (outcome.action === 'respond') return responseOf(outcome.response);
    const { authInfo, caller, parsedBody } = outcome;
    const context =
      parsedBody === undefined ? { authInfo, caller } : { authInfo, caller, parsedBody };
    const response = await outcome.run(() => handler(request, context));
    outcome.responded(response.status, response.headers.get('mcp-session-id'));
    return response;
  };
}

/** The metadata of `auth` at its paths; 404 for any other. */
export function metadataHandler(auth: McpAuth): (request: Request) => Promise<Response> {
  assertOpen(auth, 'metadataHandler (mcp-agent-ts/web)');
  return async function mcpAuthMetadata(request) {
    assertFetchRequest(request, 'metadataHandler (mcp-agent-ts/web)');
    const answer = auth.metadataFor(request);
    return answer ? responseOf(answer) : new Response(null, { status: 404 });
  };
}
