/**
 * Each caller's own downstream access: the inbound identity (issuer + subject) keys the token
 * records and the connections of every server that uses OAuth, so a connection never carries
 * another caller's token. A caller's scope is a token manager for its identity and a registry
 * holding only those servers; servers without OAuth (stdio, static headers) and servers whose
 * configured token is shared (`shared_preconfigured_token`) use the app's own scope. Scopes are
 * kept for recent callers (least recently used out, idle ones closed); a request of a caller's
 * connections counts as use (`scope-use.ts`), and a scope is closed only once its requests in
 * flight have ended.
 *
 * @module
 */
import type { ServerSettings } from '../config/schema/servers.js';
import type { Settings } from '../config/schema/settings.js';
import { Secret } from '../config/secret.js';
import { ToolNames } from '../config/tool-names.js';
import type { FetchLike } from '../fetch.js';
import type { Logger } from '../logger.js';
import type { Consent } from '../oauth/consent.js';
import type { RefreshScheduler } from '../oauth/scheduler.js';
import { APP_IDENTITY } from '../oauth/server-auth.js';
import { TokenManager, type TokenManagerOptions, usesOAuth } from '../oauth/token-manager.js';
import { type CallerIdentity, inboundTokenOf, principalOf } from '../server/identity.js';
import { ToolAggregator } from '../servers/aggregator.js';
import type { HttpStack } from '../servers/http.js';
import type { DownstreamPeer } from '../servers/peer.js';
import type { PeerConnectionLimits } from '../servers/peer-connections.js';
import { type ListKind, ServerRegistry } from '../servers/registry.js';
import type { TokenStore } from '../stores/token-store.js';
import { ScopeUse } from './scope-use.js';

/** One identity's downstream state. */
export interface CallerScope {
  /** The token-store identity (`principalOf(caller)`, or `app`). */
  readonly identity: string;
  /** The identity's token manager (its OAuth tokens of every server of the scope). */
  readonly tokens: TokenManager;
  /** The connections of the scope's servers (each caller's own; the app's has every server). */
  readonly registry: ServerRegistry;
  /** The tools of the scope's servers under one namespace; `undefined` without servers. */
  readonly aggregator: ToolAggregator | undefined;
}

/** Options of {@link CallerScopes}. */
export interface CallerScopesOptions {
  /** The validated settings (`mcp.servers`, `oauth`). */
  readonly settings: Settings;
  /** The token store every scope shares. */
  readonly store: TokenStore;
  /**
   * The HTTP stack of every connection and OAuth request (one dispatcher, proxy settings honoured).
   */
  readonly http: HttpStack;
  /**
   * The `fetch` of OAuth requests for servers that may not reach private addresses, checked when
   * connecting (`TokenManagerOptions.guardedFetch`); every scope's token manager gets it.
   */
  readonly guardedFetch?: FetchLike | undefined;
  /** The environment of stdio servers (their allow-list reads it). */
  readonly env: NodeJS.ProcessEnv;
  /** Where log lines go (never a secret). */
  readonly logger: Logger;
  /** `client_name` of dynamic registrations (RFC 7591). */
  readonly clientName: string;
  /** The agent's callback for handed-over logins, once known (it is read at each login). */
  readonly callbackUrl: () => string | undefined;
  /**
   * `oauth.background_refresh`: the app's tokens are refreshed before they expire, in the
   * background.
   */
  readonly backgroundRefresh: boolean;
  /**
   * Callers' tokens are refreshed in the background too, by the app's scheduler (a caller's
   * scope, when closed, leaves it). Default false: refreshed before use only, so an idle caller
   * costs nothing.
   */
  readonly callersRefreshInBackground?: boolean;
  /**
   * How logins reach a person (every scope's). Default: none; a needed login is handed over as
   * an `AuthorizationRequiredError` (or, with `pendingLogins: false`, a plain error).
   */
  readonly consent?: Consent | undefined;
  /** Without `consent`: hand logins over as pending flows. Default true. */
  readonly pendingLogins?: boolean;
  /** Told of every login handed over (see `TokenManagerOptions.onHandOver`). */
  readonly onHandOver?: TokenManagerOptions['onHandOver'];
  /** How the registries' clients introduce themselves to servers. */
  readonly clientInfo?: { readonly name: string; readonly version: string };
  /** Where relative configuration paths (`private_key_file`) are found. */
  readonly cwd?: string | undefined;
  /**
   * Who answers the servers' elicitation and sampling requests on the app's own connections (the
   * CLI's terminal): they declare its capabilities. Callers' scopes never get it (each call of a
   * caller brings its own peer, `CallToolOptions.peer`), and with it the app's registry ignores
   * per-call peers: give it only to an agent that has no callers of its own.
   */
  readonly peer?: DownstreamPeer | undefined;
  /**
   * The limits of callers' sessions' own connections to a server, in each registry (see
   * `ServerRegistryOptions.maxPeerConnections`).
   */
  readonly peerConnections?: PeerConnectionLimits | undefined;
  /** Scopes kept at most. Default 1,000. */
  readonly maxScopes?: number;
  /** A scope unused this long is closed, in milliseconds. Default 15 minutes. */
  readonly idleMs?: number;
  /** The clock, epoch milliseconds. Default `Date.now`. */
  readonly now?: () => number;
}

/** Whether server `settings` is reached with each caller's own tokens. */
export function perCaller(settings: ServerSettings): boolean {
  return usesOAuth(settings) && settings.auth?.oauth?.shared_preconfigured_token !== true;
}

/** The downstream scopes of the app and of its callers. */
export class CallerScopes {
  readonly #options: CallerScopesOptions;
  readonly #now: () => number;
  /** Callers' scopes, least recently used first, with how much each is in use. */
  readonly #scopes = new Map<string, { scope: CallerScope; use: ScopeUse }>();
  /** Each caller's latest verified identity (the token it came with, for token exchange). */
  readonly #latest = new Map<string, CallerIdentity>();
  /** Told of every scope's list changes ({@link onListChanged}). */
  readonly #listChanges = new Set<(identity: string, server: string, kind: ListKind) => void>();
  /** The app's own scope: every server (callers use it for the servers not kept per caller). */
  readonly app: CallerScope;
  /** The servers kept per caller. */
  readonly perCallerServers: readonly string[];
  /** The servers every caller shares (through the app's scope). */
  readonly sharedServers: readonly string[];
  /** The app scope's aggregator over {@link sharedServers} only. */
  readonly shared: ToolAggregator | undefined;
  /** How every scope names tools (from every configured server). */
  readonly names: ToolNames;

  constructor(options: CallerScopesOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const servers = options.settings.mcp.servers;
    const names = Object.keys(servers);
    this.names = new ToolNames(names);
    this.perCallerServers = names.filter((name) => perCaller(servers[name] as ServerSettings));
    this.sharedServers = names.filter((name) => !this.perCallerServers.includes(name));
    this.app = this.#open(APP_IDENTITY, names);
    this.shared =
      this.sharedServers.length > 0
        ? new ToolAggregator(this.app.registry, this.sharedServers, this.#aggregation())
        : undefined;
  }

  /**
   * Call `listener` whenever a connection of any scope (the app's, or a caller's own for the
   * servers kept per caller) says its tool, prompt or resource list changed, with the scope's
   * identity ({@link APP_IDENTITY} for the app's). Returns an unsubscribe function.
   */
  onListChanged(listener: (identity: string, server: string, kind: ListKind) => void): () => void {
    this.#listChanges.add(listener);
    return () => this.#listChanges.delete(listener);
  }

  /** The scope of `caller` (the app's when there is none: authorization off). */
  scopeFor(caller: CallerIdentity | undefined): CallerScope {
    if (!caller) return this.app;
    const identity = principalOf(caller);
    // The caller's latest token is what a token exchange swaps (see `subjectToken`).
    this.#latest.set(identity, caller);
    return this.forIdentity(identity);
  }

  /** The scope of a token-store identity (the callback route knows only that). */
  forIdentity(identity: string): CallerScope {
    if (identity === APP_IDENTITY) return this.app;
    const kept = this.#scopes.get(identity);
    const now = this.#now();
    if (kept) {
      kept.use.lastUsed = now;
      this.#scopes.delete(identity);
      this.#scopes.set(identity, kept);
      return kept.scope;
    }
    this.#sweep(now);
    const use = new ScopeUse(this.#now);
    const scope = this.#open(identity, this.perCallerServers, use);
    this.#scopes.set(identity, { scope, use });
    while (this.#scopes.size > (this.#options.maxScopes ?? 1_000)) {
      const oldest = this.#scopes.keys().next().value as string;
      this.#retire(oldest);
    }
    return scope;
  }

  /**
   * How many requests of `identity`'s connections are in flight (sent, and their answer not yet
   * read to the end); 0 for an identity without a scope.
   */
  requestsInFlight(identity: string): number {
    return this.#scopes.get(identity)?.use.inFlight ?? 0;
  }

  /** Close the scopes unused for `idleMs`; one with a request in flight is in use. */
  #sweep(now: number): void {
    const cutoff = now - (this.#options.idleMs ?? 15 * 60_000);
    for (const [identity, { use }] of this.#scopes) {
      if (use.lastUsed < cutoff && use.inFlight === 0) this.#retire(identity);
    }
  }

  /**
   * Forget `identity`'s scope (its next use opens another); close it once its requests in flight
   * have ended, so that a call is never cut off.
   */
  #retire(identity: string): void {
    const entry = this.#scopes.get(identity);
    if (!entry) return;
    this.#scopes.delete(identity);
    this.#latest.delete(identity);
    entry.use.closeWhenIdle(() => void this.#close(entry.scope));
  }

  #open(identity: string, names: readonly string[], use?: ScopeUse): CallerScope {
    const tokens = new TokenManager(this.#tokenOptions(identity));
    const peer = identity === APP_IDENTITY ? this.#options.peer : undefined;
    const registry = this.#registry(identity, names, tokens, use, peer);
    // The registry's listeners end with it (a retired scope's connections are closed).
    registry.onListChanged((server, kind) => {
      for (const listener of this.#listChanges) listener(identity, server, kind);
    });
    return {
      identity,
      tokens,
      registry,
      aggregator:
        names.length > 0 ? new ToolAggregator(registry, names, this.#aggregation()) : undefined,
    };
  }

  /** The options of `identity`'s token manager: the app's, but for what is shared or its own. */
  #tokenOptions(identity: string): TokenManagerOptions {
    const options = this.#options;
    const callbackUrl = options.callbackUrl;
    const app = identity === APP_IDENTITY;
    return {
      store: options.store,
      oauth: options.settings.oauth,
      fetch: options.http.fetch,
      guardedFetch: options.guardedFetch,
      identity,
      logger: options.logger,
      clientName: options.clientName,
      cwd: options.cwd,
      ...(options.now ? { now: options.now } : {}),
      ...(options.consent ? { consent: options.consent } : {}),
      ...(options.pendingLogins !== undefined ? { pendingLogins: options.pendingLogins } : {}),
      ...(options.onHandOver ? { onHandOver: options.onHandOver } : {}),
      // Metadata is the same for everyone: one discovery cache (the app's) for every scope.
      ...(app ? {} : { discoveryCache: this.app.tokens.discoveryCache }),
      backgroundRefresh: app ? options.backgroundRefresh : this.#callerRefresh(),
      get callbackUrl() {
        return callbackUrl();
      },
      subjectToken: () => this.#subjectToken(identity),
    };
  }

  /**
   * How a caller's tokens are refreshed: before use (the lease keeps that to one refresh across
   * replicas), so an idle caller costs nothing and closing a caller's scope stops nothing shared;
   * or, with `callersRefreshInBackground`, by the app's scheduler too.
   */
  #callerRefresh(): boolean | RefreshScheduler {
    return (
      (this.#options.callersRefreshInBackground === true && this.app.tokens.scheduler) || false
    );
  }

  /** The caller's latest inbound token, which a token exchange swaps (RFC 8693). */
  #subjectToken(
    identity: string,
  ): { token: Secret; issuer: string; expiresAt: number | undefined } | undefined {
    const caller = this.#latest.get(identity);
    const token = caller ? inboundTokenOf(caller) : undefined;
    return caller && token
      ? { token: new Secret(token), issuer: caller.issuer, expiresAt: caller.expiresAt }
      : undefined;
  }

  /**
   * `identity`'s registry, holding servers `names` only, their OAuth tokens from `tokens`, its
   * requests counted in `use` (a caller's scope), its connections answered by `peer` (the app's),
   * the MCP era of each server remembered in the store for `identity`.
   */
  #registry(
    identity: string,
    names: readonly string[],
    tokens: TokenManager,
    use?: ScopeUse,
    peer?: DownstreamPeer,
  ): ServerRegistry {
    const options = this.#options;
    const servers = options.settings.mcp.servers;
    return new ServerRegistry(
      {
        mcp: {
          ...options.settings.mcp,
          servers: Object.fromEntries(names.map((n) => [n, servers[n] as ServerSettings])),
        },
      },
      {
        env: options.env,
        logger: options.logger,
        http: options.http,
        authFor: (name, settings) => tokens.forServer(name, settings),
        verdicts: { store: options.store.verdicts, authContext: identity },
        ...(use ? { wrapFetch: use.wrapFetch } : {}),
        ...(options.clientInfo ? { clientInfo: options.clientInfo } : {}),
        ...(peer ? { peer } : {}),
        ...peerLimits(options.peerConnections),
      },
    );
  }

  #aggregation() {
    return { names: this.names, logger: this.#options.logger };
  }

  async #close(scope: CallerScope): Promise<void> {
    scope.tokens.close();
    await scope.registry.closeAll().catch(() => {});
  }

  /** Close every scope (requests in flight are cut off: the process is shutting down). */
  async close(): Promise<void> {
    const scopes = [...this.#scopes.values()].map((entry) => entry.scope);
    this.#scopes.clear();
    await Promise.all(scopes.map((scope) => this.#close(scope)));
    this.app.tokens.close();
    await this.app.registry.closeAll().catch(() => {});
  }
}

/** The registry options of `limits` (those given). */
function peerLimits(limits: PeerConnectionLimits | undefined) {
  const { maxPeerConnections, maxPeerConnectionsPerGroup } = limits ?? {};
  return {
    ...(maxPeerConnections === undefined ? {} : { maxPeerConnections }),
    ...(maxPeerConnectionsPerGroup === undefined ? {} : { maxPeerConnectionsPerGroup }),
  };
}
