/**
 * One open connection to a downstream server ({@link ServerConnection}) and the options of its
 * requests; {@link ServerRegistry} (in `registry.ts`) opens them.
 *
 * @module
 */
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type Client,
  type ClientCapabilities,
  type InputRequiredResult,
  LOG_LEVEL_META_KEY,
  type LoggingLevel,
  type LoggingMessageNotification,
  MissingRequiredClientCapabilityError,
  type Progress,
  type ProgressToken,
  ProtocolError,
  ProtocolErrorCode,
  type RequestId,
  type Tool,
} from '@modelcontextprotocol/client';
import type { ServerSettings } from '../config/schema/servers.js';
import { allowedToolNames } from '../config/tool-names.js';
import { McpAgentError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { ASK_ALLOWANCE_MS, CallsInFlight } from './calls-in-flight.js';
import { describeConnectError } from './connect-errors.js';
import { indexConnection } from './connections-by-transport.js';
import { scrubValue, secretValues } from './credentials.js';
import { followListChanges } from './list-subscription.js';
import { answersAsLegacy, eraMismatch } from './negotiation.js';
import type { DownstreamPeer } from './peer.js';
import { ResourceSubscriptions } from './resource-subscription.js';
import { readTimeoutMs } from './transports.js';

/**
 * Where a server's log messages go while a call is in flight: one object per caller session (the
 * identity of the object tells sessions apart).
 */
export interface DownstreamLogSink {
  /** A log message of server `server`, as the server sent it. */
  message(server: string, params: LoggingMessageNotification['params']): void;
  /**
   * The lowest level the sink takes (`off`: none). A 2026-07-28 server sends log messages only
   * when a request's envelope names a level (no `logging/setLevel` there), so a tool call whose
   * sink has one carries it; a 2025-11-25 server is not told (it sends what it sends).
   */
  readonly level?: LoggingLevel | 'off';
}

/**
 * A request forwarded on a 2026-07-28 request of `serve`'s caller (ADR 0004, point 5): the
 * server's input-required result comes back as it is (manual mode) instead of being fulfilled by
 * the connection's handlers, which answer 2025-11-25 sessions' peers only.
 */
export interface RelayOptions {
  /** The caller's capabilities the server may ask within, sent in the request's envelope. */
  readonly clientCapabilities: ClientCapabilities;
  /** The caller's answers to the server's last round, under the server's own keys. */
  readonly inputResponses?: Record<string, unknown> | undefined;
  /** The server's own state of its last round. */
  readonly requestState?: string | undefined;
}

/** Whether `error` is a server's -32021 (a client capability the request needed is missing). */
function isMissingCapability(error: unknown): error is ProtocolError {
  return (
    error instanceof ProtocolError &&
    error.code === ProtocolErrorCode.MissingRequiredClientCapability
  );
}

/**
 * The client capabilities a relayed request's -32021 may name: those a caller's input is relayed
 * for, and the extensions (SEP-2663 names the tasks extension there).
 */
const RELAYED_CAPABILITIES = ['elicitation', 'sampling', 'roots', 'extensions'] as const;

/**
 * The caller's -32021 for a server's (2026-07-28, MissingRequiredClientCapability): our own
 * message and only `data.requiredCapabilities` of the relayable kinds, with `secrets` scrubbed. The
 * server's message and any other data never reach the caller, as for any other error of a server.
 */
function callersMissingCapability(
  error: ProtocolError,
  secrets: readonly string[],
): MissingRequiredClientCapabilityError {
  const required = Object.fromEntries(
    requiredCapabilitiesOf(error).map(([kind, value]) => [kind, scrubValue(value, secrets)]),
  );
  return new MissingRequiredClientCapabilityError(
    { requiredCapabilities: required as ClientCapabilities },
    'The server this request reaches needs a client capability the request did not declare',
  );
}

/**
 * The result of a tool call a 2026-07-28 server refused with -32021 (it asks for input this
 * client did not declare it can give): an `isError` result naming the capabilities, in our words.
 */
function missingCapabilityResult(server: string, error: ProtocolError): CallToolResult {
  const kinds = requiredCapabilitiesOf(error).map(([kind]) => kind);
  const which = kinds.length > 0 ? kinds.join(', ') : 'a client capability';
  return {
    isError: true,
    content: [
      {
        type: 'text',
        text: `Server "${server}" asked for input this client cannot give (${which} not declared).`,
      },
    ],
  };
}

/** The relayable kinds a -32021's `data.requiredCapabilities` names, with what it says of each. */
function requiredCapabilitiesOf(error: ProtocolError): [string, unknown][] {
  const named = (error.data as { requiredCapabilities?: unknown } | undefined)
    ?.requiredCapabilities;
  if (typeof named !== 'object' || named === null) return [];
  return RELAYED_CAPABILITIES.filter((kind) => Object.hasOwn(named, kind)).map((kind) => [
    kind,
    (named as Record<string, unknown>)[kind],
  ]);
}

/** Options of {@link ServerConnection.callTool}. */
export interface CallToolOptions {
  /** Cancels the call (the SDK sends `notifications/cancelled` to the server). */
  readonly signal?: AbortSignal | undefined;
  /** Asks the server for progress (a progress token of the SDK's) and receives it. */
  readonly onprogress?: ((progress: Progress) => void) | undefined;
  /** Receives the server's log messages while this call is in flight (see {@link ServerConnection}). */
  readonly log?: DownstreamLogSink | undefined;
  /**
   * Who answers the server's elicitation and sampling requests: the call goes on the peer's own
   * connection (see {@link ServerRegistry.connect}). Used by {@link ToolAggregator.callTool}.
   */
  readonly peer?: DownstreamPeer | undefined;
  /**
   * The peer-side request this call serves (the caller's `tools/call`): the server's requests
   * during the call relate to it (see {@link PeerRequestOptions.related}).
   */
  readonly relatedRequest?: RequestId | undefined;
  /** Relay the server's input-required result (see {@link RelayOptions}). */
  readonly relay?: RelayOptions | undefined;
}

/**
 * What a server announced: its resource or prompt list changed, or a resource it was asked to
 * watch ({@link ServerConnection.subscribeResource}) was updated.
 */
export type ServerChange =
  | { readonly kind: 'resources' | 'prompts' }
  | { readonly kind: 'resource'; readonly uri: string };

/** Which list of a server changed (MCP `notifications/{tools,prompts,resources}/list_changed`). */
export type ListKind = 'tools' | 'prompts' | 'resources';

/** The request options {@link ServerConnection.request} gives the SDK client's method. */
export interface ConnectionRequestOptions {
  /** `read_timeout_seconds`, in milliseconds. */
  readonly timeout: number;
  readonly signal?: AbortSignal;
  /** A cacheable result (lists, `resources/read`) is always asked of the server. */
  readonly cacheMode: 'refresh';
  /** With {@link ServerRequestOptions.relay}: an input-required result is handed back. */
  readonly allowInputRequired?: boolean;
}

/** Options of {@link ServerConnection.request}. */
export interface ServerRequestOptions {
  /** Cancels the request. */
  readonly signal?: AbortSignal | undefined;
  /** Receives the server's log messages while the request is in flight. */
  readonly log?: DownstreamLogSink | undefined;
  /**
   * Relaying (see {@link RelayOptions}): `allowInputRequired` is set; put
   * {@link ServerConnection.relayParams} in the request's parameters.
   */
  readonly relay?: RelayOptions | undefined;
}

/**
 * An open connection to one server. Its log messages (`notifications/message`) carry no request
 * id, so they go to the log sink of the calls in flight when all of them share one sink (one
 * session's); with none in flight, or calls of several sessions, a message cannot be attributed
 * and is dropped (a debug line says so). A call's `read_timeout_seconds` stands still while the
 * server's request to the connection's peer waits for an answer (see {@link CallsInFlight}).
 */
export class ServerConnection {
  readonly name: string;
  readonly settings: ServerSettings;
  readonly client: Client;
  readonly #timeoutMs: number;
  readonly #allowed: ReadonlySet<string> | undefined;
  #tools: Promise<Tool[]> | undefined;
  #listeners = new Set<() => void>();
  readonly #changeListeners = new Set<(change: ServerChange) => void>();
  /** The `subscriptions/listen` stream's opening, once asked for (see `#follow`). */
  #following: Promise<void> | undefined;
  /** On 2026-07-28, the resources watched (see {@link subscribeResource}), once one is. */
  #watched: ResourceSubscriptions | undefined;
  /** The log sink of each call in flight (a call without one counts as a sink of its own). */
  readonly #inFlight = new Map<symbol, DownstreamLogSink | undefined>();
  /** The progress receiver of each call in flight that asked for progress, by its token. */
  readonly #progress = new Map<ProgressToken, (progress: Progress) => void>();
  #progressTokens = 0;
  readonly #logger: Logger;
  /** The peer this connection was opened for, whose log it is outside calls. */
  readonly #owner: DownstreamPeer | undefined;
  /** The server's configured secret values, scrubbed from its log messages. */
  readonly #secrets: readonly string[];
  readonly #calls: CallsInFlight;
  #onStale: (() => void) | undefined;

  /**
   * `owner`: the peer the connection was opened for; `calls`: the calls in flight, as the
   * handlers of the peer's requests see them (see {@link attachPeer}).
   */
  constructor(
    name: string,
    settings: ServerSettings,
    client: Client,
    logger?: Logger,
    owner?: DownstreamPeer,
    calls: CallsInFlight = new CallsInFlight(),
  ) {
    this.name = name;
    this.settings = settings;
    this.client = client;
    this.#owner = owner;
    this.#secrets = secretValues(settings);
    this.#calls = calls;
    this.#timeoutMs = readTimeoutMs(settings);
    this.#allowed = settings.allowed_tools && allowedToolNames(name, settings.allowed_tools);
    this.#logger = logger ?? silentLogger;
    client.setNotificationHandler('notifications/message', (notification) =>
      this.#forwardLog(notification.params),
    );
    // Progress goes by tokens of this connection's own, not the SDK's `onprogress`: the SDK drops
    // its handler when it reads the response, before it handles a last progress notification
    // read in the same chunk (a stdio server's last step and result often are).
    client.setNotificationHandler('notifications/progress', ({ params }) => {
      const { progressToken, ...progress } = params;
      this.#progress.get(progressToken)?.(progress);
    });
    if (client.transport) indexConnection(client.transport, this);
    client.setNotificationHandler('notifications/tools/list_changed', () => {
      this.#tools = undefined;
      for (const listener of this.#listeners) listener();
    });
    client.setNotificationHandler('notifications/resources/list_changed', () =>
      this.#changed({ kind: 'resources' }),
    );
    client.setNotificationHandler('notifications/prompts/list_changed', () =>
      this.#changed({ kind: 'prompts' }),
    );
    client.setNotificationHandler('notifications/resources/updated', ({ params }) =>
      this.#changed({ kind: 'resource', uri: params.uri }),
    );
  }

  /**
   * On 2026-07-28 the notifications of the constructor's handlers come on a `subscriptions/listen`
   * stream, opened once (by the first listing, or the first to follow changes); a lost stream may
   * have missed some, so every list counts as changed then.
   */
  #follow(): Promise<void> {
    this.#following ??= followListChanges(this.client, this.name, {
      logger: this.#logger,
      timeoutMs: this.#timeoutMs,
      onLost: () => {
        this.#tools = undefined;
        for (const listener of this.#listeners) listener();
        this.#changed({ kind: 'resources' });
        this.#changed({ kind: 'prompts' });
      },
    });
    return this.#following;
  }

  /** Call `listener` (once) when the server, connected on 2026-07-28, answers as 2025-11-25. */
  onStale(listener: () => void): void {
    this.#onStale = listener;
  }

  /**
   * `error` as this connection's callers get it; a modern connection's 2025-11-25 answer becomes
   * {@link eraMismatch} (and the connection is stale).
   */
  #failure(error: unknown, protocolErrors = false): unknown {
    if (this.client.getProtocolEra() !== 'modern' || !answersAsLegacy(error)) {
      return protocolErrors && error instanceof ProtocolError
        ? error
        : describeConnectError(this.name, this.settings, error);
    }
    const stale = this.#onStale;
    this.#onStale = undefined;
    stale?.();
    return eraMismatch(this.name, error);
  }

  #changed(change: ServerChange): void {
    for (const listener of this.#changeListeners) listener(change);
  }

  /**
   * Call `listener` when the server announces a resource or prompt list change, or an update of a
   * subscribed resource. Returns an unsubscribe function.
   */
  onChange(listener: (change: ServerChange) => void): () => void {
    void this.#follow();
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /**
   * Run one request of the SDK client (`send`, given the request options: timeout, signal, and
   * `cacheMode: 'refresh'` so that a cacheable result is always asked of the server), with the
   * server's log messages going to `options.log` while it is in flight. A protocol error of the
   * server (`ProtocolError`) is thrown as it is; any other failure as a {@link McpAgentError}.
   */
  async request<T>(
    send: (options: ConnectionRequestOptions) => Promise<T>,
    options: ServerRequestOptions = {},
  ): Promise<T> {
    const request = Symbol('request');
    this.#inFlight.set(request, options.log);
    try {
      return await send({
        timeout: this.#timeoutMs,
        cacheMode: 'refresh',
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.relay ? { allowInputRequired: true } : {}),
      });
    } catch (error) {
      throw this.#failure(error, true);
    } finally {
      this.#inFlight.delete(request);
    }
  }

  /**
   * The parameters a request to a 2026-07-28 server adds: in the envelope, the caller's log level
   * (`log`, see {@link DownstreamLogSink.level}) and, on a relayed request ({@link RelayOptions}),
   * the caller's capabilities; then the answers and state of a retried round. A 2025-11-25 server
   * gets none (it has no input-required results: its requests mid-call find no handler here).
   */
  relayParams(relay: RelayOptions | undefined, log?: DownstreamLogSink): Record<string, unknown> {
    if (this.client.getProtocolEra() !== 'modern') return {};
    const level = log?.level;
    const envelope = {
      ...(level !== undefined && level !== 'off' ? { [LOG_LEVEL_META_KEY]: level } : {}),
      ...(relay ? { [CLIENT_CAPABILITIES_META_KEY]: relay.clientCapabilities } : {}),
    };
    return {
      ...(Object.keys(envelope).length > 0 ? { _meta: envelope } : {}),
      ...(relay?.inputResponses ? { inputResponses: relay.inputResponses } : {}),
      ...(relay?.requestState === undefined ? {} : { requestState: relay.requestState }),
    };
  }

  /**
   * Ask the server for `notifications/resources/updated` of `uri`, which then reach
   * {@link onChange}'s listeners as `{ kind: 'resource', uri }`. On 2025-11-25 a
   * `resources/subscribe` request; on 2026-07-28 (which has none) `uri` joins the
   * `resourceSubscriptions` of a `subscriptions/listen` stream (SEP-2575, see
   * {@link ResourceSubscriptions}). Either way the server must declare `resources.subscribe`
   * (the caller checks). Errors as {@link request}'s.
   */
  async subscribeResource(uri: string, options: ServerRequestOptions = {}): Promise<void> {
    if (this.client.getProtocolEra() !== 'modern') {
      await this.request((request) => this.client.subscribeResource({ uri }, request), options);
      return;
    }
    try {
      await this.#resourceSubscriptions().add(uri, options.signal);
    } catch (error) {
      throw this.#failure(error, true);
    }
  }

  /** End what {@link subscribeResource} began (`resources/unsubscribe` on 2025-11-25). */
  async unsubscribeResource(uri: string): Promise<void> {
    if (this.client.getProtocolEra() !== 'modern') {
      await this.request((request) => this.client.unsubscribeResource({ uri }, request));
      return;
    }
    try {
      await this.#watched?.remove(uri);
    } catch (error) {
      throw this.#failure(error, true);
    }
  }

  /** The watched resources of a modern connection; a lost stream counts each as updated. */
  #resourceSubscriptions(): ResourceSubscriptions {
    this.#watched ??= new ResourceSubscriptions(this.client, this.name, {
      logger: this.#logger,
      timeoutMs: this.#timeoutMs,
      onLost: (uris) => {
        for (const uri of uris) this.#changed({ kind: 'resource', uri });
      },
    });
    return this.#watched;
  }

  /**
   * The Streamable HTTP session id, to resume this session later with
   * `registry.connect(name, { sessionId })` (keep `terminate_on_close: false` so that closing does
   * not end it). `undefined` for other transports.
   */
  get sessionId(): string | undefined {
    return (this.client.transport as { sessionId?: string } | undefined)?.sessionId;
  }

  /** Call `listener` whenever the server says its tool list changed. Returns an unsubscribe. */
  onToolsChanged(listener: () => void): () => void {
    void this.#follow();
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Call `listener` whenever the server says its tool, prompt or resource list changed, without
   * asking for the announcements (on 2026-07-28 they come once the connection lists or follows
   * changes, see `#follow`). Returns an unsubscribe function.
   */
  observeLists(listener: (kind: ListKind) => void): () => void {
    const tools = () => listener('tools');
    const other = (change: ServerChange) => {
      if (change.kind !== 'resource') listener(change.kind);
    };
    this.#listeners.add(tools);
    this.#changeListeners.add(other);
    return () => {
      this.#listeners.delete(tools);
      this.#changeListeners.delete(other);
    };
  }

  /**
   * Whether `tool` (its own name on this server) passes the server's `allowed_tools` (no list:
   * every tool).
   */
  isAllowed(tool: string): boolean {
    return this.#allowed === undefined || this.#allowed.has(tool);
  }

  /**
   * The server's tools that `allowed_tools` lets through (every page), cached until the server
   * announces a change. A server without the tools capability has none.
   */
  listTools(): Promise<Tool[]> {
    // Listening before listing: no change between the two goes unheard.
    this.#tools ??= this.#follow()
      .then(() => this.#fetchTools())
      .catch((error: unknown) => {
        this.#tools = undefined;
        throw this.#failure(error);
      });
    return this.#tools;
  }

  async #fetchTools(): Promise<Tool[]> {
    const tools: Tool[] = [];
    if (!this.client.getServerCapabilities()?.tools) return tools;
    let cursor: string | undefined;
    do {
      // Without a cursor the SDK walks every page itself (no nextCursor comes back); with
      // `refresh`, its response cache never answers instead of the server.
      const page = await this.client.listTools(cursor ? { cursor } : {}, {
        timeout: this.#timeoutMs,
        cacheMode: 'refresh',
      });
      tools.push(...page.tools.filter((tool) => this.isAllowed(tool.name)));
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  }

  /**
   * A log message to the one session whose calls are in flight, or with none in flight to the
   * peer the connection was opened for; else dropped.
   */
  #forwardLog(raw: LoggingMessageNotification['params']): void {
    // A server may write what it was configured with (its key, a header); callers never see it.
    const params = {
      ...raw,
      ...(raw.logger === undefined
        ? {}
        : { logger: scrubValue(raw.logger, this.#secrets) as string }),
      data: scrubValue(raw.data, this.#secrets),
    };
    const sinks = new Set(this.#inFlight.values());
    const [sink] = sinks;
    if (sinks.size === 1 && sink) {
      sink.message(this.name, params);
      return;
    }
    if (sinks.size === 0 && this.#owner?.message) {
      this.#owner.message(this.name, params);
      return;
    }
    this.#logger.debug(
      `a log message of server "${this.name}" was dropped: ${sinks.size === 0 ? 'no call was in flight' : 'calls of several sessions were in flight'}`,
      { server: this.name },
    );
  }

  /**
   * Call a tool. A result with `isError` is returned, not thrown; a tool `allowed_tools` excludes
   * is refused (`TOOL_UNKNOWN`) without asking the server. With `options.relay`, the server's
   * input-required result is returned too.
   */
  callTool(
    tool: string,
    args: Record<string, unknown>,
    options: CallToolOptions & { readonly relay: RelayOptions },
  ): Promise<CallToolResult | InputRequiredResult>;
  callTool(
    tool: string,
    args: Record<string, unknown>,
    options?: CallToolOptions & { readonly relay?: undefined },
  ): Promise<CallToolResult>;
  async callTool(
    tool: string,
    args: Record<string, unknown>,
    options: CallToolOptions = {},
  ): Promise<CallToolResult | InputRequiredResult> {
    if (!this.isAllowed(tool)) {
      throw new McpAgentError(
        'TOOL_UNKNOWN',
        `Tool "${tool}" of server "${this.name}" is not in mcp.servers.${this.name}.allowed_tools.`,
      );
    }
    const call = Symbol(tool);
    const progressToken = options.onprogress ? `progress-${++this.#progressTokens}` : undefined;
    this.#inFlight.set(call, options.log);
    if (progressToken && options.onprogress) this.#progress.set(progressToken, options.onprogress);
    const deadline = this.#calls.track(this.#timeoutMs, options.relatedRequest, options.signal);
    try {
      const { _meta: envelope, ...relayed } = this.relayParams(options.relay, options.log) as {
        _meta?: Record<string, unknown>;
      };
      const meta =
        progressToken || envelope
          ? { _meta: { ...envelope, ...(progressToken ? { progressToken } : {}) } }
          : {};
      return await this.client.callTool(
        { name: tool, arguments: args, ...meta, ...relayed },
        {
          // The deadline is the call's own (it pauses while the peer is asked); the SDK's is a net.
          timeout: this.#timeoutMs + ASK_ALLOWANCE_MS + 1_000,
          signal: deadline.signal,
          ...(options.relay ? { allowInputRequired: true } : {}),
        },
      );
    } catch (error) {
      // On a relayed request the capabilities the server found missing are the caller's (its
      // envelope's): the caller is told so (-32021 and what it needs), in our words.
      if (options.relay !== undefined && isMissingCapability(error)) {
        throw callersMissingCapability(error, this.#secrets);
      }
      // This client's own: the tool could not run, as a 2025-11-25 server reports it (isError).
      if (isMissingCapability(error)) return missingCapabilityResult(this.name, error);
      throw this.#failure(error);
    } finally {
      deadline.done();
      this.#inFlight.delete(call);
      if (progressToken) this.#progress.delete(progressToken);
    }
  }

  /**
   * Requests of the client made elsewhere (a served agent's) on behalf of the peer-side request
   * `related`: the server's requests meanwhile relate to it. Returns the function that ends it.
   */
  relate(related: RequestId): () => void {
    return this.#calls.add(related);
  }
}
