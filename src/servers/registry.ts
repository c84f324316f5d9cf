/**
 * The downstream servers of `mcp.servers`: opened on first use, reused, closed together.
 *
 * @module
 */
import { Client, type Transport } from '@modelcontextprotocol/client';
import { suggest } from '../config/issues.js';
import type { ServerSettings } from '../config/schema/servers.js';
import type { Settings } from '../config/schema/settings.js';
import { McpAgentError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { TokenSource } from '../oauth/auth-fetch.js';
import type { VerdictStore } from '../stores/verdicts.js';
import { CallsInFlight, type CallTimers } from './calls-in-flight.js';
import { describeConnectError, describeEndpoint } from './connect-errors.js';
import { type ListKind, ServerConnection } from './connection.js';
import { createHttpStack, type HttpStack, proxySettingsFrom } from './http.js';
import { negotiationOptions, priorOf, VerdictMemory } from './negotiation.js';
import { isUnreadableMessage, MAX_STRAY_LINES, openingProblem } from './opening.js';
import { attachPeer, type DownstreamPeer } from './peer.js';
import { closeConnection, type PeerConnectionLimits, PeerConnections } from './peer-connections.js';
import { createTransport, type FetchWrapper, readTimeoutMs } from './transports.js';

export type {
  CallToolOptions,
  ConnectionRequestOptions,
  DownstreamLogSink,
  ListKind,
  RelayOptions,
  ServerChange,
  ServerRequestOptions,
} from './connection.js';
export { ServerConnection } from './connection.js';

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
  /**
   * Where each server's negotiated MCP era is remembered (the token store's `verdicts`), and whose
   * tokens the connections use. Without it nothing is remembered: every connect probes.
   */
  readonly verdicts?: { readonly store: VerdictStore; readonly authContext: string };
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
  readonly #verdicts: VerdictMemory | undefined;
  /** Verdicts being forgotten, by server: a connection opened meanwhile waits for it. */
  readonly #forgetting = new Map<string, Promise<void>>();
  /** The connections opened for peers (their own, and for listing). */
  readonly #peers: PeerConnections;
  readonly #listChanges = new Set<(server: string, kind: ListKind) => void>();
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
    this.#verdicts = options.verdicts && new VerdictMemory(options.verdicts);
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
      versionNegotiation: negotiationOptions(settings, readTimeoutMs(settings)),
    });
    const calls = new CallsInFlight(this.#timers);
    if (peer) attachPeer(client, name, peer, calls);
    this.#logger.debug(`connecting to server "${name}"`, {
      server: name,
      transport: settings.transport,
    });
    // A remembered verdict spares the probe (not when resuming a session, which has its own).
    // A stale verdict being forgotten (see #stale) is not read again meanwhile.
    await this.#forgetting.get(name);
    const prior = sessionId ? undefined : await this.#verdicts?.prior(name, settings);
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
      const remembered = prior ? { prior: priorOf(prior) } : {};
      await Promise.race([
        client.connect(transport, { timeout: timeoutMs, ...remembered }),
        failed,
      ]);
    } catch (error) {
      client.onerror = () => {};
      await client.close().catch(() => {});
      if (prior) await this.#verdicts?.forget(name, settings);
      throw describeConnectError(name, settings, error, fetchError);
    } finally {
      clearTimeout(timer);
    }
    // Only a probed verdict is written: rewriting a remembered one would renew its horizon.
    if (!prior) await this.#verdicts?.remember(name, settings, client);
    // After opening, transport errors are logged without their text, which may quote a secret
    // (a JSON parse error quotes the line it could not read).
    client.onerror = (error) => {
      const what = isUnreadableMessage(error)
        ? 'wrote a message that is not JSON-RPC; it was ignored'
        : `reported a transport error (${error.name})`;
      this.#logger.debug(`server "${name}" ${what}`, { server: name });
    };
    const connection = new ServerConnection(name, settings, client, this.#logger, peer, calls);
    connection.onStale(() => void this.#stale(name, settings, connection));
    this.#announceChanges(name, connection);
    return connection;
  }

  /**
   * Call `listener` whenever a connection this registry opened (shared or a peer's own) says its
   * tool, prompt or resource list changed (`notifications/…/list_changed`). Returns an
   * unsubscribe function.
   */
  onListChanged(listener: (server: string, kind: ListKind) => void): () => void {
    this.#listChanges.add(listener);
    return () => this.#listChanges.delete(listener);
  }

  #announceChanges(name: string, connection: ServerConnection): void {
    connection.observeLists((kind) => {
      for (const listener of this.#listChanges) listener(name, kind);
    });
  }

  /**
   * `connection`, on 2026-07-28, answered as 2025-11-25: its verdict is forgotten and the
   * connection closed (the shared one, a session's own or a listing one), so the next connect
   * probes again.
   */
  async #stale(name: string, settings: ServerSettings, connection: ServerConnection) {
    // A session's own connection (or a listing one) is dropped at once: it would keep failing.
    const own = this.#peers.drop(connection);
    if (this.#verdicts) {
      const forgetting = this.#verdicts.forget(name, settings).catch(() => {});
      this.#forgetting.set(name, forgetting);
      await forgetting;
      if (this.#forgetting.get(name) === forgetting) this.#forgetting.delete(name);
    }
    if (own) return;
    const shared = this.#connections.get(name);
    if (!shared || (await shared.catch(() => undefined)) !== connection) return;
    if (this.#connections.get(name) === shared) this.#connections.delete(name);
    await closeConnection(shared);
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
