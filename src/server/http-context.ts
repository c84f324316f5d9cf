/**
 * What the steps of the agent's HTTP front share: the options with their defaults resolved, the
 * metadata documents, the sessions; and what an MCP endpoint is handed once its caller is known.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { StreamEventStore } from '../stores/stream-events.js';
import type { BearerGuard } from './guard.js';
import type { HostCheck } from './host-check.js';
import type { RouteHandler } from './http.js';
import type { AuthedRequest } from './http-auth.js';
import type { SessionTable } from './http-sessions.js';
import type { CallerIdentity } from './identity.js';
import type { ListenStreams } from './listen-streams.js';
import type { ServerInfo, ToolCatalog } from './mcp-server.js';
import type { ProtectedResourceMetadata } from './metadata.js';
import type { RequestStates } from './request-state.js';
import type { SharedSessions } from './shared-sessions.js';

/** The state of one {@link createMcpHttpHandler}, built once from its options. */
export interface HttpContext {
  readonly catalog: ToolCatalog;
  readonly info: ServerInfo;
  /** Authorization; `undefined` serves everyone. */
  readonly guard: BearerGuard | undefined;
  readonly hostCheck: HostCheck | undefined;
  /** Routes served without a bearer token, by exact path. */
  readonly routes: Readonly<Record<string, RouteHandler>> | undefined;
  readonly logger: Logger | undefined;
  readonly now: () => number;
  /** The Streamable HTTP endpoint's path. */
  readonly mcpPath: string;
  /** Largest request body, in bytes. */
  readonly maxBodyBytes: number;
  /** The RFC 9728 documents by path (none when authorization is off). */
  readonly documents: ReadonlyMap<string, ProtectedResourceMetadata>;
  /** The metadata URL the legacy SSE endpoint's challenges name (RFC 9728 §5.1). */
  readonly sseMetadataUrl: string | undefined;
  readonly sessions: SessionTable;
  /** The open 2026-07-28 `subscriptions/listen` streams, capped per principal as sessions are. */
  readonly listens: ListenStreams;
  /** The session records shared with other replicas; `undefined`: sessions stay here. */
  readonly shared: SharedSessions | undefined;
  /** Where the events of resumable streams are kept; `undefined`: streams are not resumable. */
  readonly events: StreamEventStore | undefined;
  /** The `retry` (ms) of the priming event that opens a resumable stream; `undefined`: none. */
  readonly streamRetryMs: number | undefined;
  /** The `requestState` service of 2026-07-28 input-required results. */
  readonly requestStates: RequestStates;
}

/** A request to an MCP endpoint whose caller passed authentication. */
export interface McpCall {
  readonly req: AuthedRequest;
  readonly res: ServerResponse;
  readonly url: URL;
  /** The caller; `undefined` when authorization is off. */
  readonly identity: CallerIdentity | undefined;
  /** Whom the call's sessions belong to ({@link principalOf}, or `anonymous`). */
  readonly principal: string;
}
