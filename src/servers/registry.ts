/**
 * The downstream servers of `mcp.servers`: opened on first use, reused, closed together.
 *
 * @module
 */
import {
  type CallToolResult,
  Client,
  type LoggingMessageNotification,
  type Progress,
  type ProgressToken,
  ProtocolError,
  type RequestId,
  type Tool,
  type Transport,
} from '@modelcontextprotocol/client';
import { suggest } from '../config/issues.js';
import type { ServerSettings } from '../config/schema/servers.js';
import type { Settings } from '../config/schema/settings.js';
import { allowedToolNames } from '../config/tool-names.js';
import { McpAgentError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { TokenSource } from '../oauth/auth-fetch.js';
import { ASK_ALLOWANCE_MS, CallsInFlight, type CallTimers } from './calls-in-flight.js';
import { describeConnectError, describeEndpoint } from './connect-errors.js';
import { indexConnection } from './connections-by-transport.js';
import { scrubValue, secretValues } from './credentials.js';
import { createHttpStack, type HttpStack, proxySettingsFrom } from './http.js';
import { isUnreadableMessage, MAX_STRAY_LINES, openingProblem } from './opening.js';
import { attachPeer, type DownstreamPeer } from './peer.js';
import { closeConnection, type PeerConnectionLimits, PeerConnections } from './peer-connections.js';
import { createTransport, type FetchWrapper, readTimeoutMs } from './transports.js';

/** Options of {@link ServerRegistry}. */
export interface ServerRegistryOptions {
  /** The parent environment (stdio allow-list, proxy variables). Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /** The HTTP stack; default: one built from the proxy variables of `env`. */
  readonly http?: HttpStack;
  /** Wraps each HTTP server's `fetch` (OAuth plugs in here). */
  readonly wrapFetch?: FetchWrapper;
  /** The OAuth tokens of a server that uses OAuth (see `TokenManager.forServer`). */
  readonly authFor?: (name: string, settings: ServerSettings) => TokenSource | undefined;
  /** How this client introduces itself to servers. */
  readonly clientInfo?: { readonly name: string; readonly version: string };
  /**
   * Who answers every connection's elicitation and sampling requests (the CLI's terminal); its
   * capabilities are declared to each server. Without it, a connection declares none, unless it
   * is opened for a peer of its own (`connect(name, { peer })`).
   */
  readonly peer?: DownstreamPeer | undefined;
  /**
   * Connections of their own that peers may hold per server (all peers: default 64; the peers of
   * one group, `DownstreamPeer.group`: default 8); past a limit, a peer's requests use the shared
   * connection (which declares no capabilities).
   */
  readonly maxPeerConnections?: number;
  /** See `maxPeerConnections`. */
  readonly maxPeerConnectionsPerGroup?: number;
  /** The timers of calls' deadlines (injected in tests). */
  readonly timers?: CallTimers;
}

/**
 * Where a server's log messages go while a call is in flight: one object per caller session (the
 * identity of the object tells sessions apart).
 */
export interface DownstreamLogSink {
  /** A log message of server `server`, as the server sent it. */
  message(server: string, params: LoggingMessageNotification['params']): void;
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
}

/**
 * What a server announced: its resource or prompt list changed, or a resource it was asked to
 * watch (`resources/subscribe`) was updated.
 */
export type ServerChange =
  | { readonly kind: 'resources' | 'prompts' }
  | { readonly kind: 'resource'; readonly uri: string };

/** The request options {@link ServerConnection.request} gives the SDK client's method. */
export interface ConnectionRequestOptions {
  /** `read_timeout_seconds`, in milliseconds. */
  readonly timeout: number;
  readonly signal?: AbortSignal;
  /** A cacheable result (lists, `resources/read`) is always asked of the server. */
  readonly cacheMode: 'refresh';
}

/** Options of {@link ServerConnection.request}. */
export interface ServerRequestOptions {
  /** Cancels the request. */
  readonly signal?: AbortSignal | undefined;
  /** Receives the server's log messages while the request is in flight. */
  readonly log?: DownstreamLogSink | undefined;
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

  #changed(change: ServerChange): void {
    for (const listener of this.#changeListeners) listener(change);
  }

  /**
   * Call `listener` when the server announces a resource or prompt list change, or an update of a
   * subscribed resource. Returns an unsubscribe function.
   */
  onChange(listener: (change: ServerChange) => void): () => void {
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
      });
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw describeConnectError(this.name, this.settings, error);
    } finally {
      this.#inFlight.delete(request);
    }
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
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
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
    this.#tools ??= this.#fetchTools().catch((error: unknown) => {
      this.#tools = undefined;
      throw describeConnectError(this.name, this.settings, error);
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
   * is refused (`TOOL_UNKNOWN`) without asking the server.
   */
  async callTool(
    tool: string,
    args: Record<string, unknown>,
    options: CallToolOptions = {},
  ): Promise<CallToolResult> {
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
      const meta = progressToken ? { _meta: { progressToken } } : {};
      return await this.client.callTool(
        { name: tool, arguments: args, ...meta },
        {
          // The deadline is the call's own (it pauses while the peer is asked); the SDK's is a net.
          timeout: this.#timeoutMs + ASK_ALLOWANCE_MS + 1_000,
          signal: deadline.signal,
        },
      );
    } catch (error) {
      throw describeConnectError(this.name, this.settings, error);
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

/** Opens, reuses and closes the connections to the configured servers. */
export class ServerRegistry {
  readonly #servers: Readonly<Record<string, ServerSettings>>;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #logger: Logger;
  readonly #http: HttpStack;
  readonly #ownsHttp: boolean;
  readonly #wrapFetch: FetchWrapper | undefined;
  readonly #authFor: ServerRegistryOptions['authFor'];
  readonly #clientInfo: { readonly name: string; readonly version: string };
  readonly #connections = new Map<string, Promise<ServerConnection>>();
  readonly #peer: DownstreamPeer | undefined;
  readonly #timers: CallTimers | undefined;
  /** The connections opened for peers (their own, and for listing). */
  readonly #peers: PeerConnections;
  #closed = false;

  constructor(settings: Pick<Settings, 'mcp'>, options: ServerRegistryOptions = {}) {
    this.#servers = settings.mcp.servers;
    this.#env = options.env ?? process.env;
    this.#logger = options.logger ?? silentLogger;
    this.#ownsHttp = options.http === undefined;
    this.#http = options.http ?? createHttpStack(proxySettingsFrom(this.#env));
    this.#wrapFetch = options.wrapFetch;
    this.#authFor = options.authFor;
    this.#clientInfo = options.clientInfo ?? { name: 'mcp-agent-ts', version: '0' };
    this.#peer = options.peer;
    this.#timers = options.timers;
    const limits: PeerConnectionLimits = {
      maxPeerConnections: options.maxPeerConnections,
      maxPeerConnectionsPerGroup: options.maxPeerConnectionsPerGroup,
    };
    this.#peers = new PeerConnections(
      (name, settings, peer) => this.#open(name, settings, undefined, peer),
      this.#logger,
      limits,
    );
  }

  /** The configured server names. */
  names(): string[] {
    return Object.keys(this.#servers);
  }

  /** The settings of server `name`; throws `SERVER_UNKNOWN` for a name not configured. */
  settings(name: string): ServerSettings {
    const settings = this.#servers[name];
    if (settings && Object.hasOwn(this.#servers, name)) return settings;
    const hint = suggest(name, this.names());
    const known = this.names();
    throw new McpAgentError(
      'SERVER_UNKNOWN',
      `No server named "${name}" in mcp.servers${hint ? `; did you mean "${hint}"?` : known.length > 0 ? ` (configured: ${known.join(', ')}).` : ' (none is configured).'}`,
    );
  }

  /**
   * The open connection to `name`, opening it on first use; concurrent callers share one.
   * `sessionId` resumes an earlier Streamable HTTP session (see {@link ServerConnection.sessionId})
   * instead of starting a new one; it is ignored when a connection is already open.
   *
   * With a `peer` that can answer requests (elicitation, sampling), the connection is the peer's
   * own: it declares the peer's capabilities, its server's requests go to the peer only, and it
   * closes when the peer goes away. Past `maxPeerConnections` (or `maxPeerConnectionsPerGroup`)
   * for the server, and for a peer that answers nothing, the shared connection is used. With
   * `listing` (the connection lists tools, nothing is called), a peer whose own connection is not
   * open yet gets the listing connection of its capability set instead (see
   * {@link PeerConnections}), so a connection of its own opens at its first call.
   */
  connect(
    name: string,
    options: { sessionId?: string; peer?: DownstreamPeer | undefined; listing?: boolean } = {},
  ): Promise<ServerConnection> {
    const settings = this.settings(name);
    if (this.#closed) {
      return Promise.reject(
        new McpAgentError(
          'SERVER_CONNECT',
          `Server "${name}" cannot be opened: this registry was closed.`,
        ),
      );
    }
    const peer = options.peer;
    if (peer && !this.#peer) {
      const own = options.listing
        ? this.#peers.listing(name, settings, peer)
        : this.#peers.own(name, settings, peer);
      if (own) return own;
    }
    let connection = this.#connections.get(name);
    if (!connection) {
      const opening = this.#open(name, settings, options.sessionId, this.#peer);
      connection = opening;
      this.#connections.set(name, opening);
      opening.catch(() => {
        if (this.#connections.get(name) === opening) this.#connections.delete(name);
      });
    }
    return connection;
  }

  async #open(
    name: string,
    settings: ServerSettings,
    sessionId: string | undefined,
    peer: DownstreamPeer | undefined,
  ): Promise<ServerConnection> {
    const problem = openingProblem(settings);
    if (problem) {
      throw new McpAgentError(
        'SERVER_CONNECT',
        `Server "${name}" ${problem} (mcp.servers.${name}).`,
      );
    }
    let transport: Transport;
    // The SSE transport reports network failures as text; the error our fetch saw has the codes.
    let fetchError: unknown;
    const auth = this.#authFor?.(name, settings);
    try {
      transport = createTransport(name, settings, {
        http: this.#http,
        env: this.#env,
        logger: this.#logger,
        wrapFetch: this.#wrapFetch,
        auth,
        sessionId: settings.transport === 'streamable_http' ? sessionId : undefined,
        onFetchError: (error) => {
          fetchError = error;
        },
      });
    } catch (error) {
      throw describeConnectError(name, settings, error);
    }
    // No page cap on lists: every page is listed, as the server pages them (default: 64 at most).
    const client = new Client(this.#clientInfo, {
      capabilities: peer?.capabilities ?? {},
      listMaxPages: 0,
    });
    const calls = new CallsInFlight(this.#timers);
    if (peer) attachPeer(client, name, peer, calls);
    this.#logger.debug(`connecting to server "${name}"`, {
      server: name,
      transport: settings.transport,
    });
    // A login may happen while opening (the first request's 401): it gets its own time.
    const timeoutMs = readTimeoutMs(settings) + (auth?.loginTimeoutMs ?? 0);
    // One deadline for the whole opening (starting the transport, the SSE endpoint event, the
    // WebSocket handshake, initialize), and an early end for a server that keeps writing
    // something other than MCP. A single stray line (a banner) is tolerated.
    let fail: (error: unknown) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    const timer = setTimeout(
      () =>
        fail(
          new McpAgentError(
            'SERVER_TIMEOUT',
            `Server "${name}" at ${describeEndpoint(settings)} did not finish opening within ${timeoutMs / 1000} s (read_timeout_seconds${auth ? ' + oauth.flow_timeout_seconds' : ''}); check that it is an MCP server and that it is up.`,
          ),
        ),
      timeoutMs,
    );
    let strayLines = 0;
    client.onerror = (error) => {
      if (isUnreadableMessage(error) && ++strayLines >= MAX_STRAY_LINES) {
        fail(
          new McpAgentError(
            'SERVER_CONNECT',
            `Server "${name}" writes something that is not MCP (JSON-RPC) on its ${settings.transport === 'stdio' ? 'stdout' : 'connection'}; is mcp.servers.${name} the right ${settings.transport === 'stdio' ? 'command' : 'url'}?`,
            { cause: error },
          ),
        );
      }
    };
    try {
      await Promise.race([client.connect(transport, { timeout: timeoutMs }), failed]);
    } catch (error) {
      client.onerror = () => {};
      await client.close().catch(() => {});
      throw describeConnectError(name, settings, error, fetchError);
    } finally {
      clearTimeout(timer);
    }
    // After opening, transport errors are logged without their text, which may quote a secret
    // (a JSON parse error quotes the line it could not read).
    client.onerror = (error) => {
      const what = isUnreadableMessage(error)
        ? 'wrote a message that is not JSON-RPC; it was ignored'
        : `reported a transport error (${error.name})`;
      this.#logger.debug(`server "${name}" ${what}`, { server: name });
    };
    return new ServerConnection(name, settings, client, this.#logger, peer, calls);
  }

  /** Close the shared connection to `name`, if open. */
  async close(name: string): Promise<void> {
    const connection = this.#connections.get(name);
    this.#connections.delete(name);
    if (connection) await closeConnection(connection);
  }

  /** Close every connection and, if this registry made it, the HTTP stack. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([
      ...[...this.#connections.keys()].map((name) => this.close(name)),
      this.#peers.closeAll(),
    ]);
    if (this.#ownsHttp) await this.#http.close();
  }
}
