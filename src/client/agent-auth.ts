/**
 * `createAgentAuth()`: in one call, what the `mcp-agent` CLI builds to reach the configured
 * servers (the settings, one HTTP stack, the token store, the token managers, the server
 * registry), for an agent built with any MCP client framework. Per configured server it gives
 * the auth-aware `fetch` (RFC 6750 bearer on the server's origin only, refresh, MCP step-up), the
 * SDK v2 `AuthProvider`, a connected SDK `Client`, and `login` / `status` / `logout`; per end user
 * (`forUser`) the same with that user's own tokens, sharing the store, the HTTP stack and the
 * refresh scheduler, each user's state kept for reuse (least recently used out).
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/client';
import type { ConfigIssue } from '../config/issues.js';
import { suggest } from '../config/issues.js';
import { providerProfiles } from '../config/providers.js';
import type { ServerSettings } from '../config/schema/servers.js';
import type { Settings } from '../config/schema/settings.js';
import { CredentialProfiles } from '../credentials/profiles.js';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import { type Logger, printable, silentLogger } from '../logger.js';
import type { LogoutResult, TokenStatus } from '../oauth/grants.js';
import { APP_IDENTITY } from '../oauth/server-auth.js';
import { usesOAuth } from '../oauth/token-manager.js';
import type { DownstreamPeer } from '../servers/peer.js';
import type { CallerScope } from './caller-scopes.js';
import { handOverConsent, type LoginConsent } from './hand-over.js';
import { type ClientRuntime, openClientRuntime } from './runtime.js';
import {
  type AgentServer,
  type LoginOptions,
  type LoginResult,
  ServerHandle,
} from './server-handle.js';
import { resolveSettings, type SettingsSource } from './settings.js';

/** The longest end-user identity {@link AgentAuth.forUser} takes, in UTF-16 code units. */
export const MAX_IDENTITY_LENGTH = 1024;

/** Options of {@link createAgentAuth}. */
export interface CreateAgentAuthOptions extends SettingsSource {
  /**
   * How a login reaches a person: `interactiveConsent({ output: process.stderr, input:
   * process.stdin })` for a person at a terminal, a `Consent` of your own, or (the default)
   * `handOverConsent()`: a needed login fails at once with an `AuthorizationRequiredError`
   * carrying its URL, completed later with `completeLogin`.
   */
  readonly consent?: LoginConsent | undefined;
  /** Where the library's log lines go (never a secret). Default: nowhere. */
  readonly logger?: Logger | undefined;
  /**
   * The `fetch` under every request (tests, a custom agent); default undici with the proxy
   * variables. An injected `fetch` is used as it is, for OAuth requests too: the check, when
   * connecting, that the OAuth requests of a server not on a private address reach only public
   * addresses is lost (an HTTP stack of its own resolves names through `publicOnlyLookup`); what
   * remains is the check of the discovered addresses at discovery, which a DNS answer that
   * changes afterwards gets past. Redirects stay within the server's origin either way.
   */
  readonly fetch?: FetchLike | undefined;
  /** The clock, epoch milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** `client_name` of dynamic registrations. Default the settings' `name`, else `mcp-agent-ts`. */
  readonly clientName?: string | undefined;
  /** How the MCP clients of `connect()` introduce themselves. Default `{ name: clientName, version: '0.1.0' }`. */
  readonly clientInfo?: { readonly name: string; readonly version: string } | undefined;
  /** End users whose state is kept (least recently used out). Default 1,000. */
  readonly maxUsers?: number | undefined;
  /** An end user's state unused this long is closed (reopened on next use), in ms. Default 15 min. */
  readonly userIdleMs?: number | undefined;
  /**
   * Who answers the servers' elicitation and sampling requests on the agent's own connections
   * (the `mcp-agent` CLI: the person at its terminal); they declare its capabilities. End users'
   * connections (`forUser`) never get it. For an agent with one person at hand, not for a server
   * of callers. Default: none; the connections declare no capability.
   */
  readonly peer?: DownstreamPeer | undefined;
}

/** The servers as one identity reaches them (the agent's own, or an end user's). */
export interface AgentAuthScope {
  /** `app` (the agent's own tokens) or the end user's identity. */
  readonly identity: string;
  /** The configured server `name`; `SERVER_UNKNOWN`, listing the configured ones, for another. */
  server(name: string): AgentServer;
  /** See {@link AgentServer.login}. */
  login(server: string, options?: LoginOptions): Promise<LoginResult>;
  /** Complete a login handed over by an `AuthorizationRequiredError` (see {@link handOverConsent}). */
  completeLogin(server: string, callbackUrl: string | URL): Promise<LoginResult>;
  /**
   * The tokens held for `server`, or (never values) for every server whose tokens are this
   * identity's: every server that uses OAuth for the agent, the per-user ones for an end user.
   */
  status(server?: string): Promise<TokenStatus[]>;
  /**
   * Revoke and forget the tokens of `server`, or of every server whose tokens are this
   * identity's (see {@link AgentAuthScope.status}). In an end user's scope, a server on the
   * agent's shared token (`shared_preconfigured_token`) is a `USAGE` error, as are its `login`
   * and `completeLogin`: that token is the agent's to manage.
   */
  logout(server?: string): Promise<(LogoutResult & { readonly server: string })[]>;
  /** The connected SDK `Client` of `server` (see {@link AgentServer.connect}). */
  connect(server: string): Promise<Client>;
}

/** What {@link createAgentAuth} returns: the agent's own scope, its end users', and `close()`. */
export interface AgentAuth extends AgentAuthScope {
  /** The validated settings (secrets are `Secret`s). */
  readonly settings: Settings;
  /** Problems of the configuration that did not stop it (as `config check` prints them). */
  readonly warnings: readonly ConfigIssue[];
  /**
   * The same servers with the tokens of one end user: `principalOf(caller)` inside a served
   * tool, or your own stable user id (not `app`, at most {@link MAX_IDENTITY_LENGTH} characters).
   * Servers that do not use OAuth, or share a configured token, are the agent's own: a user's
   * scope sends with that token but cannot log it in or out, and a login it needs is a plain
   * `OAUTH_LOGIN_REQUIRED` error there (never a hand-over an end user could complete).
   */
  forUser(identity: string): AgentAuthScope;
  /**
   * The named credentials (`credentials:`, and the provider sections as profiles), with the
   * agent's HTTP stack, token store and token manager: the Azure or Vertex AI model of an
   * `Agent` takes its Entra ID or Google token from here.
   */
  readonly credentials: CredentialProfiles;
  /**
   * What an `Agent`'s model sends its requests with: the injected `fetch`, if one was given; else
   * the agent's HTTP stack when its environment sets a proxy (`HTTPS_PROXY`, `HTTP_PROXY`,
   * `NO_PROXY`); else the global `fetch`.
   */
  readonly fetch: FetchLike;
  /** Close connections, refresh timers, the token store and the HTTP stack; later use is an error. */
  close(): Promise<void>;
}

/**
 * Build the settings, HTTP stack, token store, token managers and server registry of an agent,
 * as the `mcp-agent` CLI does, from `options.configPath`, `options.settings` or the configuration
 * file found from `options.cwd`. Throws `ConfigError` listing every problem of invalid settings.
 */
export function createAgentAuth(options: CreateAgentAuthOptions = {}): AgentAuth {
  const { settings, warnings } = resolveSettings(options);
  const clientName = options.clientName ?? settings.name ?? 'mcp-agent-ts';
  const runtime = openClientRuntime(settings, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    homeDir: options.homeDir,
    logger: options.logger ?? silentLogger,
    consent: options.consent ?? handOverConsent(),
    clientName,
    clientInfo: options.clientInfo ?? { name: clientName, version: '0.1.0' },
    fetch: options.fetch,
    now: options.now,
    maxUsers: options.maxUsers,
    userIdleMs: options.userIdleMs,
    usersRefreshInBackground: true,
    peer: options.peer,
  });
  return new AgentAuthImpl(runtime, warnings, options.maxUsers ?? 1_000, options.now);
}

/** The servers of one identity. */
class Scope implements AgentAuthScope {
  readonly identity: string;
  readonly #runtime: ClientRuntime;
  readonly #assertOpen: () => void;
  readonly #servers = new Map<string, ServerHandle>();

  constructor(identity: string, runtime: ClientRuntime, assertOpen: () => void) {
    this.identity = identity;
    this.#runtime = runtime;
    this.#assertOpen = assertOpen;
  }

  server(name: string): AgentServer {
    this.#assertOpen();
    const kept = typeof name === 'string' ? this.#servers.get(name) : undefined;
    if (kept) return kept;
    const settings = this.#settingsOf(name);
    const scopes = this.#runtime.scopes;
    const user = this.identity !== APP_IDENTITY;
    const own = user && scopes.perCallerServers.includes(name);
    const handle = new ServerHandle({
      name,
      identity: own ? this.identity : APP_IDENTITY,
      settings,
      http: this.#runtime.http,
      scope: (): CallerScope => {
        this.#assertOpen();
        return own ? scopes.forIdentity(this.identity) : scopes.app;
      },
      // An end user reaches a server on the agent's shared token, but never manages that token.
      shared: user && !own && usesOAuth(settings),
    });
    this.#servers.set(name, handle);
    return handle;
  }

  // Async: an unknown name or a closed auth is a rejection, as every other failure.
  async login(server: string, options?: LoginOptions): Promise<LoginResult> {
    return this.server(server).login(options);
  }

  async completeLogin(server: string, callbackUrl: string | URL): Promise<LoginResult> {
    return this.server(server).completeLogin(callbackUrl);
  }

  async status(server?: string): Promise<TokenStatus[]> {
    const names = server === undefined ? this.#oauthServers() : [server];
    const rows: TokenStatus[] = [];
    for (const name of names) rows.push(...(await this.server(name).status()));
    return rows;
  }

  async logout(server?: string): Promise<(LogoutResult & { readonly server: string })[]> {
    const names = server === undefined ? this.#oauthServers() : [server];
    const results: (LogoutResult & { readonly server: string })[] = [];
    for (const name of names) results.push({ server: name, ...(await this.server(name).logout()) });
    return results;
  }

  async connect(server: string): Promise<Client> {
    return this.server(server).connect();
  }

  /** The servers whose tokens are this identity's: every OAuth one for the agent, else the user's own. */
  #oauthServers(): readonly string[] {
    this.#assertOpen();
    if (this.identity !== APP_IDENTITY) return this.#runtime.scopes.perCallerServers;
    const servers = this.#runtime.settings.mcp.servers;
    return Object.keys(servers).filter((name) => usesOAuth(servers[name] as ServerSettings));
  }

  #settingsOf(name: unknown): ServerSettings {
    const servers = this.#runtime.settings.mcp.servers;
    if (typeof name === 'string' && Object.hasOwn(servers, name)) {
      return servers[name] as ServerSettings;
    }
    const known = Object.keys(servers);
    const shown = typeof name === 'string' ? `"${printable(name.slice(0, 100))}"` : 'that';
    const hint = typeof name === 'string' ? suggest(name, known) : undefined;
    throw new McpAgentError(
      'SERVER_UNKNOWN',
      `No server named ${shown} in mcp.servers${hint ? ` (did you mean "${hint}"?)` : ''}; ${known.length > 0 ? `configured: ${known.join(', ')}` : 'none is configured'}.`,
    );
  }
}

/** Whether an {@link AgentAuth} was closed, shared with its scopes. */
interface Life {
  closed: boolean;
}

function assertOpen(life: Life): void {
  if (life.closed) {
    throw new McpAgentError(
      'USAGE',
      'This AgentAuth was closed (close() was called); create another with createAgentAuth() to reach the servers again.',
    );
  }
}

/** The {@link AgentAuth} of {@link createAgentAuth}. */
class AgentAuthImpl extends Scope implements AgentAuth {
  readonly settings: Settings;
  readonly warnings: readonly ConfigIssue[];
  readonly #runtime: ClientRuntime;
  readonly #maxUsers: number;
  readonly #life: Life;
  /** End users' scopes (thin handles; their state is in the runtime's scopes), most recent last. */
  readonly #users = new Map<string, Scope>();

  #credentials: CredentialProfiles | undefined;

  constructor(
    runtime: ClientRuntime,
    warnings: readonly ConfigIssue[],
    maxUsers: number,
    now?: () => number,
  ) {
    const life: Life = { closed: false };
    super(APP_IDENTITY, runtime, () => assertOpen(life));
    this.#life = life;
    this.#runtime = runtime;
    this.settings = runtime.settings;
    this.warnings = warnings;
    this.#maxUsers = maxUsers;
    this.#now = now;
  }

  readonly #now: (() => number) | undefined;

  get fetch(): FetchLike {
    return this.#runtime.modelFetch;
  }

  get credentials(): CredentialProfiles {
    assertOpen(this.#life);
    const { settings, http, store, scopes } = this.#runtime;
    this.#credentials ??= new CredentialProfiles(
      { ...providerProfiles(settings), ...settings.credentials },
      {
        fetch: http.fetch,
        store,
        tokens: scopes.app.tokens,
        maxTokenBytes: settings.oauth.max_token_bytes,
        ...(this.#now ? { now: this.#now } : {}),
      },
    );
    return this.#credentials;
  }

  forUser(identity: string): AgentAuthScope {
    assertOpen(this.#life);
    checkIdentity(identity);
    const kept = this.#users.get(identity);
    if (kept) {
      this.#users.delete(identity);
      this.#users.set(identity, kept);
      return kept;
    }
    const scope = new Scope(identity, this.#runtime, () => assertOpen(this.#life));
    this.#users.set(identity, scope);
    if (this.#users.size > this.#maxUsers) {
      this.#users.delete(this.#users.keys().next().value as string);
    }
    return scope;
  }

  async close(): Promise<void> {
    this.#life.closed = true;
    this.#users.clear();
    await this.#runtime.close();
  }
}

/** Throws `USAGE` unless `identity` can key an end user's tokens. Never quotes it. */
function checkIdentity(identity: unknown): asserts identity is string {
  if (typeof identity !== 'string' || identity.trim() === '') {
    throw new McpAgentError(
      'USAGE',
      "forUser needs the end user's identity, a non-empty string: principalOf(caller) inside a served tool, or your own stable user id.",
    );
  }
  if (identity.length > MAX_IDENTITY_LENGTH) {
    throw new McpAgentError(
      'USAGE',
      `forUser takes an identity of at most ${MAX_IDENTITY_LENGTH} characters; this one has ${identity.length}. Use a stable id (principalOf(caller), or a hash of yours).`,
    );
  }
  if (!identity.isWellFormed() || hasControlCharacter(identity)) {
    throw new McpAgentError(
      'USAGE',
      'forUser takes an identity of well-formed Unicode text with no control characters (U+0000 to U+001F); this one is not (it is not shown). Use a stable id (principalOf(caller), or a hash of yours).',
    );
  }
  if (identity === APP_IDENTITY) {
    throw new McpAgentError(
      'USAGE',
      `"${APP_IDENTITY}" names the agent's own tokens, not an end user's; give forUser another identity (principalOf(caller) never is "${APP_IDENTITY}").`,
    );
  }
}

/** Whether `text` has a C0 control character (U+0000 to U+001F). */
function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) {
    if (text.charCodeAt(index) < 0x20) return true;
  }
  return false;
}
