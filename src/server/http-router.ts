/**
 * The request pipeline of the agent's HTTP front, one named step each: the `Host`/`Origin`
 * check, the public metadata documents (RFC 9728 §3), the unauthenticated routes, then the MCP
 * endpoints, whose callers are authenticated before anything else is read.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteHandler } from './http.js';
import { type AuthedRequest, authenticate } from './http-auth.js';
import type { HttpContext, McpCall } from './http-context.js';
import { jsonRpcError, send } from './http-reply.js';
import { ANONYMOUS } from './http-sessions.js';
import { openSse, postSseMessage } from './http-sse.js';
import { serveStreamable } from './http-streamable.js';
import { principalOf } from './identity.js';
import {
  metadataPaths,
  metadataResponse,
  type ProtectedResourceMetadata,
  resourceMetadataUrl,
  SSE_MESSAGES_PATH,
  SSE_PATH,
  sseResourceOf,
} from './metadata.js';

/** An MCP endpoint: what its challenges name, and how it serves an authenticated call. */
interface Endpoint {
  /** The metadata URL its challenges name; `undefined`: the guard's own (the MCP endpoint's). */
  readonly metadataUrl: string | undefined;
  readonly serve: (ctx: HttpContext, call: McpCall) => Promise<void>;
}

/**
 * The metadata documents by path: the MCP endpoint's at its path-inserted and root URLs, the
 * legacy SSE endpoint's (the same, for its own `resource`) at its path-inserted URL.
 */
export function metadataDocuments(
  metadata: ProtectedResourceMetadata | undefined,
): Map<string, ProtectedResourceMetadata> {
  const documents = new Map<string, ProtectedResourceMetadata>();
  if (!metadata) return documents;
  const sse = { ...metadata, resource: sseResourceOf(metadata.resource) };
  documents.set(new URL(resourceMetadataUrl(sse.resource)).pathname, sse);
  for (const path of metadataPaths(metadata.resource)) documents.set(path, metadata);
  return documents;
}

/** Serve one request; a step that throws is logged and answered 500 when still possible. */
export function handleRequest(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): void {
  route(ctx, req, res).catch((error: unknown) => {
    ctx.logger?.error(
      `request failed: ${error instanceof Error ? error.message : 'unknown error'}`,
      {},
    );
    if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal error');
    else res.end();
  });
}

/** The pipeline: Host, metadata, unauthenticated routes, then authentication and an endpoint. */
async function route(ctx: HttpContext, req: AuthedRequest, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://mcp-agent.invalid');
  const document = ctx.documents.get(url.pathname);
  if (!hostAllowed(ctx, req, res, document !== undefined)) return;
  if (document) {
    const answer = metadataResponse(req.method ?? 'GET', document);
    send(res, answer.status, answer.headers, answer.body);
    return;
  }
  const custom = customRoute(ctx, url.pathname);
  if (custom) {
    await custom(req, res, url);
    return;
  }
  const endpoint = endpointFor(ctx, url.pathname, req.method);
  if (!endpoint) {
    send(res, 404, { 'content-type': 'application/json' }, JSON.stringify({ error: 'not_found' }));
    return;
  }
  const authenticated = await authenticate(ctx, req, res, url, endpoint.metadataUrl);
  if (!authenticated) return;
  const { identity } = authenticated;
  const principal = identity ? principalOf(identity) : ANONYMOUS;
  await endpoint.serve(ctx, { req, res, url, identity, principal });
}

/** Whether the request's `Host` (and `Origin`) may reach the agent; else answered 403. */
function hostAllowed(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  isMetadata: boolean,
): boolean {
  // The metadata is public and meant to be read cross-origin (a browser-based client such as
  // the MCP Inspector): only its Host is checked.
  const origin = isMetadata ? undefined : req.headers.origin;
  if (!ctx.hostCheck || ctx.hostCheck(req.headers.host, origin)) return true;
  send(
    res,
    403,
    { 'content-type': 'application/json' },
    JSON.stringify({ error: 'forbidden', error_description: 'Host or Origin not allowed' }),
  );
  return false;
}

/** The unauthenticated route at exactly `pathname`, if one is configured. */
function customRoute(ctx: HttpContext, pathname: string): RouteHandler | undefined {
  return ctx.routes && Object.hasOwn(ctx.routes, pathname) ? ctx.routes[pathname] : undefined;
}

/**
 * The MCP endpoint at `pathname` for `method`: Streamable HTTP (any method), the legacy SSE
 * stream (GET) and its messages (POST). Each endpoint's challenge names its own metadata: a
 * client compares its `resource` with the URL it called (RFC 9728 §3.3), `/sse` for the legacy
 * transport and its messages.
 */
function endpointFor(
  ctx: HttpContext,
  pathname: string,
  method: string | undefined,
): Endpoint | undefined {
  if (pathname === ctx.mcpPath) return { metadataUrl: undefined, serve: serveStreamable };
  if (pathname === SSE_PATH && method === 'GET') {
    return { metadataUrl: ctx.sseMetadataUrl, serve: openSse };
  }
  if (pathname === SSE_MESSAGES_PATH && method === 'POST') {
    return { metadataUrl: ctx.sseMetadataUrl, serve: postSseMessage };
  }
  return undefined;
}
