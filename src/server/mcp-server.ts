/**
 * The MCP server the agent serves: a low-level SDK `Server` per session whose `tools/list` and
 * `tools/call` come from a {@link ToolCatalog} (the app's own tools and workflows, and the
 * downstream servers' tools). Each call runs with the caller's identity (`currentCaller()` and
 * `ctx.http.authInfo`); scope checks happen earlier, in the HTTP layer, so the client gets a
 * 403 it can step up on. Each session has its log ({@link SessionLog}: `logging/setLevel`, the
 * app's lines and the downstream servers' messages its requests cause) and its own progress:
 * a caller's progress token is only ever used on the caller's session. On protocol 2026-07-28
 * (`era: 'modern'`) a server serves one request and keeps nothing: its log level is the request
 * envelope's, it asks the client nothing, and a call that needs the user's input ends with an
 * input-required result (`modern-input.ts`).
 *
 * @module
 */
import {
  type CallToolRequest,
  type CallToolResult,
  type InputRequiredResult,
  LOG_LEVEL_META_KEY,
  type LoggingLevel,
  type Progress,
  type RequestId,
  Server,
  type ServerContext,
  type Tool,
} from '@modelcontextprotocol/server';
import type { Logger } from '../logger.js';
import type { DownstreamPeer } from '../servers/peer.js';
import { type CallerIdentity, callerFromAuthInfo, principalOf, runAsCaller } from './identity.js';
import { type ContentCatalog, registerContentHandlers } from './mcp-content.js';
import { InputRequiredSignal, type ModernInput, modernInputOf } from './modern-input.js';
import { isProtocolError } from './protocol-errors.js';
import type { RequestStates } from './request-state.js';
import { type CallerLog, isLoggingLevel, type LogSender, SessionLog } from './session-log.js';
import { SessionPeer } from './session-peer.js';

/** What a tool handler gets besides its arguments. */
export interface ToolCallContext {
  /** The verified caller; `undefined` when authorization is off. */
  readonly caller: CallerIdentity | undefined;
  /** Aborted when the client cancels the request or the session ends. */
  readonly signal: AbortSignal;
  /**
   * The id of the caller's `tools/call` request: a downstream server's requests during the call
   * relate to it (see `CallToolOptions.relatedRequest`).
   */
  readonly requestId?: RequestId;
  /**
   * Ask the client to open `url` (an MCP 2025-11-25 URL-mode elicitation); present only when the
   * client declared it can. Resolves with the user's answer (not with the end of what the page
   * does).
   */
  readonly elicitUrl?: (request: {
    url: string;
    message: string;
    elicitationId: string;
  }) => Promise<'accept' | 'decline' | 'cancel'>;
  /** Tell the client the URL elicitation `elicitationId` has completed. */
  readonly elicitationComplete?: (elicitationId: string) => Promise<void>;
  /**
   * Report progress (when the client asked for it with a progress token), one numbered step per
   * message: a served agent's steps (`NAME: asking the model`, `NAME: calling TOOL`) and the wait
   * while a person signs in, which keeps a client's request timeout from running out.
   */
  readonly progress?: (message: string) => Promise<void>;
  /**
   * Forward a downstream server's progress to the client, under the client's own progress token
   * (present only when the client sent one). A value not above the last one sent is dropped.
   */
  readonly onprogress?: (progress: Progress) => void;
  /**
   * The caller's session log: the app's lines about this call and a downstream server's log
   * messages during it go there.
   */
  readonly log?: CallerLog;
  /**
   * The caller's client as the answering side of downstream connections: a downstream server may
   * ask it (elicitation, sampling) during the call when the caller declared it can answer.
   */
  readonly peer?: DownstreamPeer;
  /**
   * On a 2026-07-28 request (with a `requestState` service): the call it resumes, how to end it
   * asking the client to open a URL (throw {@link InputRequiredSignal}), as `elicitUrl` does
   * mid-call on 2025-11-25, and how to relay a downstream server's input requests.
   */
  readonly modern?: ModernInput;
}

/** One tool the server offers. */
export interface ServedTool {
  readonly definition: Tool;
  /** Scopes a caller needs for it, beyond `required_scopes`. */
  readonly scopes: readonly string[];
  call(args: Record<string, unknown>, context: ToolCallContext): Promise<CallToolResult>;
}

/** Where the served tools come from. */
export interface ToolCatalog {
  /**
   * Every tool `caller` may see, in a stable order (`log`: the caller's session log; `peer`: the
   * caller's client, for whom a downstream server may offer more tools, see
   * {@link ToolCallContext.peer}).
   */
  list(
    caller?: CallerIdentity,
    log?: CallerLog,
    peer?: DownstreamPeer,
  ): Promise<readonly ServedTool[]>;
  /** The tool `name` as `caller` reaches it, or `undefined`. */
  find(name: string, caller?: CallerIdentity): Promise<ServedTool | undefined>;
  /**
   * The definition of tool `name` as `caller`'s {@link ToolCatalog.list} shows it, asking only
   * the server that offers it (`undefined`: not listed, or its listing failed). Without it, the
   * whole list is read.
   */
  definition?(name: string, caller?: CallerIdentity): Promise<Tool | undefined>;
  /** Scopes `name` needs (without a lookup that may open a downstream connection). */
  scopesFor(name: string): readonly string[];
  /** The resources, templates, prompts and completions served beside the tools, if any. */
  readonly content?: ContentCatalog | undefined;
  /**
   * Scopes a `prompts/get`, `resources/read`, `resources/subscribe` or `completion/complete`
   * request needs (from its parameters alone, no lookup).
   */
  scopesForRequest?(method: string, params: unknown): readonly string[];
}

/** Name and version the server announces. */
export interface ServerInfo {
  readonly name: string;
  readonly version: string;
}

/**
 * The protocol revisions a session may negotiate in `initialize`, preferred first: 2025-11-25 and
 * the earlier ones; 2026-07-28 is served statelessly (`MODERN_PROTOCOL_VERSIONS`, `http-modern.ts`).
 */
export const SESSION_PROTOCOL_VERSIONS: readonly string[] = [
  '2025-11-25',
  '2025-06-18',
  '2025-03-26',
  '2024-11-05',
  '2024-10-07',
];

/** The protocol revisions served statelessly, without `initialize` (the `_meta` envelope). */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];

/** The log of each session's SDK server (see {@link setSessionLogLevel}). */
const sessionLogs = new WeakMap<Server, SessionLog>();

/**
 * Set the log level of `server`'s session (as its client's `logging/setLevel` last did, on any
 * replica); a value that is no MCP logging level is ignored.
 */
export function setSessionLogLevel(server: Server, level: string): void {
  const log = sessionLogs.get(server);
  if (log && isLoggingLevel(level)) log.level = level;
}

/** The log level of `server`'s session, if it is one of ours (a legacy session's). */
export function sessionLogLevel(server: Server): LoggingLevel | undefined {
  const level = sessionLogs.get(server)?.level;
  return level === 'off' ? undefined : level;
}

/** Which protocol era a server from {@link createMcpServer} serves. */
export type ProtocolEraOf = 'legacy' | 'modern';

/** Options of {@link createMcpServer}. */
export interface McpServerOptions {
  /**
   * `legacy` (default): a 2025-11-25 session, its log level set by `logging/setLevel`, its
   * client asked for input during a call. `modern`: one 2026-07-28 request, nothing kept after
   * it, the log level from the request's envelope, no request to the client.
   */
  readonly era?: ProtocolEraOf;
  /**
   * Mints and checks the `requestState` of a modern request's input-required results (a
   * sign-in page to open); without it a modern call cannot ask for input.
   */
  readonly requestStates?: RequestStates | undefined;
  /**
   * Called with a level a legacy session's client sets, before it is answered (a failure is its
   * error): shared sessions keep it in their record.
   */
  readonly onLogLevel?: ((level: LoggingLevel) => Promise<void>) | undefined;
}

/** What the handlers of one server share: its log, and its peer on a legacy session. */
interface ServerParts {
  readonly log: SessionLog;
  readonly peer: SessionPeer | undefined;
  readonly modern: boolean;
  readonly requestStates: RequestStates | undefined;
}

/** A new SDK server (one per session, or per request on the modern leg) over `catalog`. */
export function createMcpServer(
  catalog: ToolCatalog,
  info: ServerInfo,
  logger?: Logger,
  options: McpServerOptions = {},
): Server {
  const modern = options.era === 'modern';
  const server = new Server(
    { name: info.name, version: info.version },
    {
      capabilities: { tools: { listChanged: true }, logging: {} },
      supportedProtocolVersions: modern
        ? [...MODERN_PROTOCOL_VERSIONS, ...SESSION_PROTOCOL_VERSIONS]
        : [...SESSION_PROTOCOL_VERSIONS],
    },
  );
  const log = new SessionLog({
    name: info.name,
    logger,
    send: (notification) => server.notification(notification),
  });
  sessionLogs.set(server, log);
  const parts: ServerParts = {
    log,
    peer: modern ? undefined : sessionPeer(server, log, options.onLogLevel),
    modern,
    requestStates: modern ? options.requestStates : undefined,
  };
  server.setRequestHandler('tools/list', async (_request, ctx) =>
    during(parts, ctx, async () => ({
      tools: (await catalog.list(callerFromAuthInfo(ctx.http?.authInfo), log, parts.peer)).map(
        (tool) => tool.definition,
      ),
    })),
  );
  server.setRequestHandler('tools/call', (request, ctx) => {
    const caller = callerFromAuthInfo(ctx.http?.authInfo);
    const { peer } = parts;
    // The session's own downstream connections count against its principal's limit.
    if (caller) peer?.belongsTo(principalOf(caller));
    const call = () => callTool(server, catalog, parts, request, ctx, logger);
    return during(parts, ctx, () =>
      peer ? peer.during(ctx.mcpReq.id, ctx.mcpReq.signal, call) : call(),
    );
  });
  if (catalog.content) {
    registerContentHandlers(server, catalog.content, log, {
      prepare: (ctx) => {
        if (modern) log.level = envelopeLevel(ctx);
      },
      requestStates: parts.requestStates,
    });
  }
  return server;
}

/**
 * The peer of a legacy session (its client answers a downstream server's requests), closed with
 * the session; `logging/setLevel` sets the session log's level (replacing the SDK's handler).
 */
function sessionPeer(
  server: Server,
  log: SessionLog,
  onLogLevel: McpServerOptions['onLogLevel'],
): SessionPeer {
  const peer = new SessionPeer(server, log);
  const previous = server.onclose;
  server.onclose = () => {
    previous?.();
    peer.close();
  };
  server.setRequestHandler('logging/setLevel', async (request) => {
    await onLogLevel?.(request.params.level);
    log.level = request.params.level;
    return {};
  });
  return peer;
}

/**
 * Run one request's `work` with its log messages on its stream. On the modern leg the level is
 * the request envelope's; without one nothing is sent (as the SDK's own `ctx.mcpReq.log`).
 */
function during<T>(parts: ServerParts, ctx: ServerContext, work: () => Promise<T>): Promise<T> {
  if (parts.modern) parts.log.level = envelopeLevel(ctx);
  return parts.log.during(sender(ctx), work);
}

/** The log level of a modern request's `_meta` envelope, or `off`. */
function envelopeLevel(ctx: ServerContext): LoggingLevel | 'off' {
  // The SDK types the envelope as `{}` in this version: read the key from a record.
  const envelope = ctx.mcpReq.envelope as Readonly<Record<string, unknown>> | undefined;
  const level = envelope?.[LOG_LEVEL_META_KEY];
  return typeof level === 'string' ? (level as LoggingLevel) : 'off';
}

/** Sends a log message on the stream of the request `ctx` belongs to. */
function sender(ctx: ServerContext): LogSender {
  return (notification) => ctx.mcpReq.notify(notification);
}

/** Progress for the caller's token, if the caller sent one: steps of ours and a server's values. */
function progressOf(request: CallToolRequest, ctx: ServerContext) {
  const progressToken = request.params._meta?.progressToken;
  if (progressToken === undefined) return {};
  // Nothing sent yet: any first value goes (a server's first step is often 0).
  let last = Number.NEGATIVE_INFINITY;
  const send = (progress: Progress) => {
    if (progress.progress <= last) return Promise.resolve();
    last = progress.progress;
    return ctx.mcpReq.notify({
      method: 'notifications/progress',
      params: { ...progress, progressToken },
    });
  };
  return {
    progress: (message: string) => send({ progress: Math.max(last, 0) + 1, message }),
    onprogress: (progress: Progress) => {
      send(progress).catch(() => {
        // The caller went away; its progress has nowhere to go.
      });
    },
  };
}

/** `tools/call`: the tool `catalog` has for the caller, run with the caller's context. */
async function callTool(
  server: Server,
  catalog: ToolCatalog,
  session: ServerParts,
  request: CallToolRequest,
  ctx: ServerContext,
  logger: Logger | undefined,
): Promise<CallToolResult | InputRequiredResult> {
  const { name } = request.params;
  const caller = callerFromAuthInfo(ctx.http?.authInfo);
  const { signal, id: requestId } = ctx.mcpReq;
  const tool = await catalog.find(name, caller);
  if (!tool) {
    return { isError: true, content: [{ type: 'text', text: `Unknown tool: ${name}` }] };
  }
  // A modern request cannot ask its client anything (step 3: an input-required result instead).
  const canOpenUrls =
    !session.modern && server.getClientCapabilities()?.elicitation?.url !== undefined;
  const context: ToolCallContext = {
    caller,
    signal,
    requestId,
    log: session.log,
    ...(session.peer ? { peer: session.peer } : {}),
    ...(canOpenUrls
      ? {
          elicitUrl: async ({ url, message, elicitationId }) =>
            (
              await server.elicitInput(
                { mode: 'url', url, message, elicitationId },
                { signal, timeout: 10 * 60_000 },
              )
            ).action,
          elicitationComplete: (elicitationId) =>
            server.createElicitationCompletionNotifier(elicitationId, {
              relatedRequestId: requestId,
            })(),
        }
      : {}),
    ...progressOf(request, ctx),
    ...(await modernInputOf(session.requestStates, ctx, name, request.params.arguments ?? {})),
  };
  try {
    // Only the tool runs with the caller as `currentCaller()` (when the caller context is on).
    return await runAsCaller(caller, () => tool.call(request.params.arguments ?? {}, context));
  } catch (error) {
    // Protocol errors (URL elicitation required, …) are the client's to see as such.
    if (isProtocolError(error)) throw error;
    // A modern call that needs input from the user ends with the input-required result.
    if (error instanceof InputRequiredSignal) return error.result;
    // A handler's failure is the tool's result (the client sees it), not a protocol error; its
    // message is the handler's own.
    logger?.warn(`tool "${name}" failed`, { tool: name });
    return {
      isError: true,
      content: [{ type: 'text', text: error instanceof Error ? error.message : 'the tool failed' }],
    };
  }
}
