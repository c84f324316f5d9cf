/**
 * The modern leg of the Streamable HTTP endpoint (ADR 0004, point 2): protocol 2026-07-28 on the
 * same URL as the 2025-11-25 sessions. A POST reaches here after every check of ours (Host and
 * Origin, body size, bearer token, tool scopes); {@link serveIfModern} then asks the SDK's
 * `isLegacyRequest` which leg the request belongs to. A modern one goes to the SDK's
 * `createMcpHandler` with `legacy: 'reject'`, which answers `server/discover`, validates the
 * `Mcp-Method`/`Mcp-Name` headers (-32020), the revision (-32022) and the client capabilities a
 * method needs (-32021), and builds a fresh server per request from {@link createMcpServer}
 * (`era: 'modern'`: the caller from `authInfo`, no state kept after the request).
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { type NodeIncomingMessageLike, toNodeHandler } from '@modelcontextprotocol/node';
import {
  createMcpHandler,
  InMemoryServerEventBus,
  isLegacyRequest,
  type McpHttpHandler as ModernHandler,
} from '@modelcontextprotocol/server';
import { attachCaller } from './http-auth.js';
import type { HttpContext, McpCall } from './http-context.js';
import { send, tooManyListenStreams } from './http-reply.js';
import { followListedResources, listedUris, streamBus } from './listen-resources.js';
import { createMcpServer } from './mcp-server.js';
import { checkParamHeaders, paramHeaderError, paramHeadersOf } from './param-headers.js';

/**
 * The modern leg of one HTTP front, made on its first modern request: the SDK's handler, the bus
 * of the list changes every listen stream hears, and each listen stream's own handler (whose bus
 * carries those, its resource updates and its principal's own list changes; see
 * listen-resources.ts), ended with the leg.
 */
interface ModernLeg {
  readonly handler: ModernHandler;
  readonly bus: InMemoryServerEventBus;
  readonly streams: Set<ModernHandler>;
  /** The buses of each principal's open listen streams. */
  readonly busesOf: Map<string, Set<InMemoryServerEventBus>>;
}

const legs = new WeakMap<HttpContext, ModernLeg>();

/** A handler of the SDK for `ctx`'s modern requests, its listen streams on `bus`. */
function newHandler(ctx: HttpContext, bus: InMemoryServerEventBus): ModernHandler {
  return createMcpHandler(
    ({ era }) =>
      createMcpServer(ctx.catalog, ctx.info, ctx.logger, {
        era,
        requestStates: ctx.requestStates,
      }),
    {
      legacy: 'reject',
      bus,
      // Ours (ListenStreams) counts every stream, those on their own handlers too; the SDK's
      // default (1,024 per handler) would bind first.
      maxSubscriptions: ctx.listens.total,
      // Our cap has already applied to the body (read once, by us); the SDK's agrees with it.
      maxRequestBodySize: ctx.maxBodyBytes,
      onerror: (error) => {
        ctx.logger?.debug(`2026-07-28 request refused or failed: ${error.message}`, {});
      },
    },
  );
}

/** The modern leg of `ctx` (one per HTTP front), made once. */
function modernLeg(ctx: HttpContext): ModernLeg {
  const existing = legs.get(ctx);
  if (existing) return existing;
  const bus = new InMemoryServerEventBus(busError(ctx));
  const made: ModernLeg = {
    handler: newHandler(ctx, bus),
    bus,
    streams: new Set(),
    busesOf: new Map(),
  };
  legs.set(ctx, made);
  return made;
}

function busError(ctx: HttpContext): (error: Error) => void {
  return (error) => ctx.logger?.debug(`2026-07-28 listen stream failed: ${error.message}`, {});
}

/**
 * Serve the POST `call` (its JSON `body` read and its scopes checked) on the modern leg when the
 * SDK classifies it as 2026-07-28 traffic (an envelope claim in `_meta`, or a modern
 * `MCP-Protocol-Version`); `false`: a legacy request, left for the sessions.
 */
export async function serveIfModern(
  ctx: HttpContext,
  call: McpCall,
  body: unknown,
): Promise<boolean> {
  const legacy = await isLegacyRequest(headersOnly(call.req), body, {
    maxRequestBodySize: ctx.maxBodyBytes,
  });
  if (legacy) return false;
  // node:http types `method` as possibly undefined; the adapter reads it with a default.
  const req = call.req as NodeIncomingMessageLike;
  if (await refusedParamHeaders(ctx, call, body)) return true;
  const listen = isListen(body);
  if (listen && !ctx.listens.admit(call.principal, call.res, call.identity?.expiresAt)) {
    tooManyListenStreams(call.res, (body as { id?: unknown }).id);
    return true;
  }
  attachCaller(call);
  const leg = modernLeg(ctx);
  const handler = listen ? await ownStreamHandler(ctx, leg, call, body) : leg.handler;
  await toNodeHandler(handler, { maxRequestBodySize: ctx.maxBodyBytes })(req, call.res, body);
  return true;
}

/**
 * The handler of a listen stream: its own, on a bus carrying the leg's list changes, those of
 * its principal's own connections and, when its filter names resources (`body`), the updates of
 * its own downstream subscriptions alone (listen-resources.ts), once they are in place; ended
 * when the stream closes.
 */
async function ownStreamHandler(
  ctx: HttpContext,
  leg: ModernLeg,
  call: McpCall,
  body: unknown,
): Promise<ModernHandler> {
  const bus = streamBus(leg.bus, call.res, busError(ctx));
  const handler = newHandler(ctx, bus);
  leg.streams.add(handler);
  const buses = leg.busesOf.get(call.principal) ?? new Set();
  leg.busesOf.set(call.principal, buses.add(bus));
  call.res.once('close', () => {
    leg.streams.delete(handler);
    buses.delete(bus);
    if (buses.size === 0 && leg.busesOf.get(call.principal) === buses) {
      leg.busesOf.delete(call.principal);
    }
    void handler.close();
  });
  const uris = listedUris(body);
  const content = ctx.catalog.content;
  if (uris.length === 0 || !content) return handler;
  await followListedResources(content, {
    caller: call.identity,
    res: call.res,
    uris,
    onUpdate: (uri) => bus.publish({ kind: 'resource_updated', uri }),
    onFailure: (uri, error) => {
      ctx.logger?.debug(`2026-07-28 listen stream: ${uri} not subscribed: ${String(error)}`, {});
    },
  });
  return handler;
}

/**
 * Answer 400 (-32020) for a `tools/call` whose `Mcp-Param-*` headers do not carry the arguments
 * its tool's schema marks with `x-mcp-header` (SEP-2243), the definition as the caller's
 * `tools/list` shows it (in front mode the downstream's). Runs after our checks, before the SDK's handler.
 */
async function refusedParamHeaders(
  ctx: HttpContext,
  call: McpCall,
  body: unknown,
): Promise<boolean> {
  // Without arguments no header is due: no listing needed.
  if (!isToolCall(body) || !hasArguments(body.params.arguments)) return false;
  // The listed definition (`find` gives a stand-in without a lookup); listings are cached per
  // connection. A listing that fails now fails the call in the handler, as on 2025-11-25.
  const tool = await listedDefinition(ctx, call, body.params.name);
  const declared = tool ? paramHeadersOf(tool.inputSchema) : [];
  const problem = checkParamHeaders(declared, body.params.arguments, call.req.headers);
  if (!problem) return false;
  ctx.logger?.debug(`2026-07-28 tool call refused: ${problem.header} ${problem.reason}`, {});
  send(call.res, 400, { 'content-type': 'application/json' }, paramHeaderError(problem, body.id));
  return true;
}

/**
 * Tool `name` as the caller's listing shows it: asking only its own server when the catalog can
 * (a slow or unreachable other server does not hold up the call), else from the whole list.
 */
async function listedDefinition(ctx: HttpContext, call: McpCall, name: string) {
  const { catalog } = ctx;
  if (catalog.definition) return catalog.definition(name, call.identity).catch(() => undefined);
  const listed = await catalog.list(call.identity).catch(() => []);
  return listed.find((one) => one.definition.name === name)?.definition;
}

/** Whether `args` is an object with at least one argument. */
function hasArguments(args: unknown): boolean {
  return typeof args === 'object' && args !== null && Object.keys(args).length > 0;
}

/** A `subscriptions/listen` request: its response is a stream that stays open. */
function isListen(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    (body as { method?: unknown }).method === 'subscriptions/listen'
  );
}

/** A single `tools/call` request naming its tool. */
function isToolCall(
  body: unknown,
): body is { id?: unknown; params: { name: string; arguments?: unknown } } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const { method, params } = body as { method?: unknown; params?: { name?: unknown } };
  return method === 'tools/call' && typeof params?.name === 'string';
}

/**
 * `req` as a web `Request` without its body: handed the parsed body, `isLegacyRequest` reads only
 * the method, URL and headers, so a legacy POST (most traffic) is not serialised again for it.
 */
function headersOnly(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return new Request(`http://localhost${req.url ?? '/'}`, {
    method: req.method ?? 'POST',
    headers,
  });
}

/**
 * Tell the open `subscriptions/listen` streams of `ctx`'s HTTP front (with `principal`, those of
 * that principal only) that the `kind` list changed (2026-07-28: each stream gets it when its
 * filter asked for that list). No stream: nothing.
 */
export function publishListChanged(
  ctx: HttpContext,
  kind: 'tools' | 'prompts' | 'resources',
  principal?: string,
): void {
  const leg = legs.get(ctx);
  if (!leg) return;
  const event = { kind: `${kind}_list_changed` as const };
  if (principal === undefined) leg.bus.publish(event);
  else for (const bus of leg.busesOf.get(principal) ?? []) bus.publish(event);
}

/** End the modern requests in flight of `ctx`'s HTTP front (when it closes). */
export async function closeModernLeg(ctx: HttpContext): Promise<void> {
  const leg = legs.get(ctx);
  legs.delete(ctx);
  if (!leg) return;
  await Promise.all([leg.handler, ...leg.streams].map((handler) => handler.close()));
}
