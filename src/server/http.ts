/**
 * The agent's HTTP front (node:http): the protected-resource metadata (RFC 9728), the MCP
 * Streamable HTTP endpoint (`/mcp`) and the legacy SSE endpoints (`/sse`, `/messages`), each MCP
 * request authenticated by the {@link BearerGuard} first. Each endpoint is a resource with its
 * own metadata document, which its challenges name (`/sse` and `/messages`: the `/sse` one). Tool scopes are checked before the
 * request reaches the MCP server, so a missing one is an HTTP 403 `insufficient_scope` the
 * client can step up on. A session belongs to the principal (`iss` + `sub`) that opened it:
 * another principal's token on it finds no session (404); the same principal with a refreshed
 * token goes on. The inbound token is not handed to tools (`authInfo.token` is empty) and so
 * never reaches a downstream server. Bodies are capped; `Host`/`Origin` are checked when bound
 * to loopback.
 *
 * The request pipeline is in `http-router.ts` (Host check, metadata, routes, authentication, then
 * an endpoint: `http-streamable.ts`, `http-sse.ts`), its shared steps in `http-auth.ts`,
 * `http-body.ts` and `http-reply.ts`, the sessions in `http-sessions.ts`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import { MemoryKeyValueStore } from '../stores/memory.js';
import type { SessionRecordStore } from '../stores/sessions.js';
import type { StreamEventStore } from '../stores/stream-events.js';
import type { BearerGuard } from './guard.js';
import type { HostCheck } from './host-check.js';
import type { HttpContext } from './http-context.js';
import { closeModernLeg, publishListChanged } from './http-modern.js';
import { handleRequest, metadataDocuments } from './http-router.js';
import { SessionTable } from './http-sessions.js';
import { ListenStreams } from './listen-streams.js';
import type { ServerInfo, ToolCatalog } from './mcp-server.js';
import { type ProtectedResourceMetadata, resourceMetadataUrl, sseResourceOf } from './metadata.js';
import { createRequestStates, type RequestStates, randomRequestStateKey } from './request-state.js';
import { SharedSessions } from './shared-sessions.js';

/** Options of {@link createMcpHttpHandler}. */
export interface McpHttpHandlerOptions {
  readonly catalog: ToolCatalog;
  readonly info: ServerInfo;
  /** Authorization; `undefined` serves everyone (authorization off). */
  readonly guard?: BearerGuard | undefined;
  /**
   * The RFC 9728 document of the MCP endpoint, served when `guard` is set. The legacy SSE
   * endpoint gets the same one with its own `resource` ({@link sseResourceOf}).
   */
  readonly metadata?: ProtectedResourceMetadata | undefined;
  /** The Streamable HTTP endpoint's path. Default `/mcp`. */
  readonly mcpPath?: string;
  readonly hostCheck?: HostCheck | undefined;
  /** Largest request body, in bytes. Default 4 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * Sessions one principal may hold; opening one more closes its least recently used. Default 16.
   * The same cap applies to its open 2026-07-28 `subscriptions/listen` streams (the oldest ends).
   */
  readonly maxSessionsPerPrincipal?: number;
  /**
   * Sessions in all; beyond, `initialize` gets 503. Default 10,000. The same cap applies to the
   * open 2026-07-28 `subscriptions/listen` streams (beyond, a new one gets 503).
   */
  readonly maxSessions?: number;
  /** A session unused this long is closed, in milliseconds. Default 30 minutes. */
  readonly sessionIdleMs?: number;
  readonly now?: () => number;
  readonly logger?: Logger | undefined;
  /**
   * Routes served without a bearer token, by exact path (the OAuth callback a browser is
   * redirected to). `Host` is checked; nothing else.
   */
  readonly routes?: Readonly<Record<string, RouteHandler>>;
  /**
   * Keep the events of Streamable HTTP streams here, so that a client whose stream dropped
   * resumes it with `Last-Event-ID` (MCP 2025-11-25). Absent: streams are not resumable.
   */
  readonly eventStore?: StreamEventStore | undefined;
  /** The `retry` field, in milliseconds, of the priming event of a resumable stream. */
  readonly streamRetryMs?: number | undefined;
  /**
   * Mints and checks the `requestState` of 2026-07-28 input-required results (a sign-in page to
   * open). Default: a random key drawn now and markers in memory (one `serve`; its states die
   * with it).
   */
  readonly requestStates?: RequestStates | undefined;
  /**
   * Share the Streamable HTTP sessions with other replicas through these records (see
   * `shared-sessions.ts`); give `eventStore` a shared store too, so streams resume anywhere.
   * Absent: a session lives on the replica that opened it.
   */
  readonly sessionRecords?: SessionRecordStore | undefined;
}

/** A route of {@link McpHttpHandlerOptions.routes}. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

/** The node:http request listener, with its sessions. */
export interface McpHttpHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Open sessions. */
  readonly sessionCount: number;
  /** Tell every session the tool list changed. */
  notifyToolsChanged(): void;
  /**
   * The `kind` list changed: the tool list goes to every 2025-11-25 session and to every
   * 2026-07-28 `subscriptions/listen` stream that asked for it; prompt and resource lists to those
   * streams only (a session hears of the servers it used, through the resource catalog). With
   * `principal`, to that principal's sessions and streams only.
   */
  notifyListChanged(kind: 'tools' | 'prompts' | 'resources', principal?: string): void;
  /** End every session. */
  close(): Promise<void>;
}

/** The request listener serving the agent over HTTP. */
export function createMcpHttpHandler(options: McpHttpHandlerOptions): McpHttpHandler {
  const ctx = contextOf(options);
  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    handleRequest(ctx, req, res);
  }) as McpHttpHandler;
  Object.defineProperty(handler, 'sessionCount', { get: () => ctx.sessions.size });
  handler.notifyListChanged = (kind, principal) => {
    if (kind === 'tools') ctx.sessions.notifyToolsChanged(principal);
    publishListChanged(ctx, kind, principal);
  };
  handler.notifyToolsChanged = () => handler.notifyListChanged('tools');
  handler.close = async () => {
    await Promise.all([ctx.sessions.closeAll(), closeModernLeg(ctx)]);
  };
  return handler;
}

/** The state the request steps share: `options` with their defaults, and the sessions. */
function contextOf(options: McpHttpHandlerOptions): HttpContext {
  const now = options.now ?? Date.now;
  const shared = options.sessionRecords
    ? new SharedSessions(options.sessionRecords, options.logger)
    : undefined;
  return {
    catalog: options.catalog,
    info: options.info,
    guard: options.guard,
    hostCheck: options.hostCheck,
    routes: options.routes,
    logger: options.logger,
    now,
    mcpPath: options.mcpPath ?? '/mcp',
    maxBodyBytes: options.maxBodyBytes ?? 4 * 1024 * 1024,
    documents: metadataDocuments(options.guard ? options.metadata : undefined),
    sseMetadataUrl: options.metadata
      ? resourceMetadataUrl(sseResourceOf(options.metadata.resource))
      : undefined,
    sessions: new SessionTable(
      {
        now,
        perPrincipal: options.maxSessionsPerPrincipal ?? 16,
        total: options.maxSessions ?? 10_000,
        idleMs: options.sessionIdleMs ?? 30 * 60_000,
      },
      shared && ((id) => shared.endEvicted(id)),
    ),
    listens: new ListenStreams({
      perPrincipal: options.maxSessionsPerPrincipal ?? 16,
      total: options.maxSessions ?? 10_000,
      now,
    }),
    shared,
    events: options.eventStore,
    streamRetryMs: options.streamRetryMs,
    requestStates:
      options.requestStates ??
      createRequestStates({
        key: randomRequestStateKey(),
        store: new MemoryKeyValueStore({ now }),
      }),
  };
}
