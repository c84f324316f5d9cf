/**
 * One configured server, as one identity (the agent's own, or an end user's) reaches it: the
 * auth-aware `fetch` and SDK v2 `AuthProvider` to give a framework's transport, the connected SDK
 * `Client` of our own server registry, and the login, status and logout of its OAuth tokens.
 * Everything is looked up at each call, so a handle stays good when an end user's state was
 * closed for being idle (it is opened again) and fails with one clear error once its
 * `AgentAuth` was closed.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/client';
import type { ServerSettings } from '../config/schema/servers.js';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import type { TokenSource } from '../oauth/auth-fetch.js';
import type { LogoutResult, TokenStatus } from '../oauth/grants.js';
import type { AuthorizeReason } from '../oauth/login.js';
import type { ServerAuth } from '../oauth/server-auth.js';
import type { HttpStack } from '../servers/http.js';
import { serverFetch } from '../servers/transports.js';
import type { TokenRecord } from '../stores/record.js';
import { authProviderOf, type McpAuthProvider } from './auth-provider.js';
import type { CallerScope } from './caller-scopes.js';
import { fetchCall } from './request.js';
import {
  sharedClient,
  sharedTokenSource,
  sharedTokenUsage,
  withoutHandOver,
} from './shared-server.js';

/**
 * The `fetch` of an {@link AgentServer}: the global `fetch`'s shape (a URL, or a `Request`), so
 * it can be given wherever a framework takes one.
 */
export type AgentFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Options of {@link AgentServer.login}. */
export interface LoginOptions {
  /** Log in even when a good token is held (another account, say). Default false. */
  readonly force?: boolean;
  /**
   * Scopes the token must have (beyond the configured ones): a held token without them is
   * stepped up (MCP "Step-Up Authorization Flow": the union of granted and asked scopes).
   */
  readonly scopes?: readonly string[];
}

/** What a login left in the token store (never a token value). */
export interface LoginResult {
  /** The `mcp.servers` name. */
  readonly server: string;
  /** Whose token: the agent's own (`app`), or an end user's identity. */
  readonly identity: string;
  /** The authorization server's issuer (RFC 8414) that granted the token. */
  readonly issuer: string;
  /** The scopes granted (RFC 6749 §3.3; as asked when the authorization server did not say). */
  readonly scopes: readonly string[];
  /** Epoch milliseconds; `undefined` when the authorization server did not say. */
  readonly expiresAt: number | undefined;
  /** Whether a refresh token is held (RFC 6749 §1.5): the token can be renewed without a person. */
  readonly hasRefreshToken: boolean;
  /** Whether a login (or a service account's grant) ran now; false when a held token was good. */
  readonly loggedIn: boolean;
}

/** One configured server for one identity (see {@link AgentAuthScope.server}). */
export interface AgentServer {
  /** The `mcp.servers` name. */
  readonly name: string;
  /** Whose tokens this handle uses: `app` (the agent's own) or an end user's identity. */
  readonly identity: string;
  /** The server's URL (a new `URL` each time). A stdio server has none: `USAGE` error. */
  readonly url: URL;
  /**
   * The auth-aware `fetch` for the server's transport (HTTP servers only): the server's headers
   * and OAuth token on its own origin only (RFC 6750 §2.1), a refresh or login on 401, a step-up
   * on 403 `insufficient_scope` (MCP), the server's timeouts and size limits. Takes a URL or a
   * `Request`; headers as an object, a `Headers` or pairs.
   */
  readonly fetch: AgentFetch;
  /**
   * The SDK v2 `AuthProvider` (`token()`, `onUnauthorized()`) of a server that uses OAuth. A
   * transport given only this cannot step up on 403 (the SDK throws `InsufficientScopeError`):
   * give it {@link AgentServer.fetch} too.
   */
  readonly authProvider: McpAuthProvider;
  /**
   * Make sure a token is held, before a framework's request (whose timeout a login could pass):
   * a held token that is good (refreshed if due) is kept; otherwise a login runs through the
   * consent, or with `handOverConsent()` an `AuthorizationRequiredError` carries its URL.
   */
  login(options?: LoginOptions): Promise<LoginResult>;
  /** Complete a handed-over login with the address the browser was redirected to. */
  completeLogin(callbackUrl: string | URL): Promise<LoginResult>;
  /** The tokens held for this server and identity (scopes, expiry; never values). No network. */
  status(): Promise<TokenStatus[]>;
  /** Revoke where possible (RFC 7009), then forget this server's tokens of this identity. */
  logout(): Promise<LogoutResult>;
  /**
   * The connected MCP SDK v2 `Client` (`@modelcontextprotocol/client`) of our server registry
   * (stdio, SSE, WebSocket or Streamable HTTP, as configured), opened on first use and shared;
   * closed by `close()`. In an end user's scope, a server on the agent's shared token gives the
   * agent's own connection, whose need for a login is a plain `OAUTH_LOGIN_REQUIRED` there (never
   * a hand-over).
   */
  connect(): Promise<Client>;
  /**
   * Close the connection {@link AgentServer.connect} opened, if any. In an end user's scope, a
   * server on the agent's shared token keeps its connection (the agent's): nothing is closed.
   */
  disconnect(): Promise<void>;
}

/** What a {@link ServerHandle} reads its state from. */
export interface ServerHandleContext {
  /** The `mcp.servers` name. */
  readonly name: string;
  /** Whose tokens the handle uses: `app` or the end user's identity. */
  readonly identity: string;
  /** The server's settings. */
  readonly settings: ServerSettings;
  /** The HTTP stack its `fetch` sends on. */
  readonly http: HttpStack;
  /** The live scope this server is reached through (throws once closed). */
  readonly scope: () => CallerScope;
  /**
   * The agent's own token of a server every user shares (`shared_preconfigured_token`), reached
   * from an end user's scope: used, never managed (see `shared-server.ts`). Default false.
   */
  readonly shared?: boolean;
}

/** An {@link AgentServer}. */
export class ServerHandle implements AgentServer {
  /** See {@link AgentServer.name}. */
  readonly name: string;
  /** See {@link AgentServer.identity}. */
  readonly identity: string;
  readonly #context: ServerHandleContext;
  readonly #fetches = new WeakMap<CallerScope, FetchLike>();
  readonly #clients = new WeakMap<Client, Client>();
  #fetch: AgentFetch | undefined;
  #authProvider: McpAuthProvider | undefined;

  constructor(context: ServerHandleContext) {
    this.#context = context;
    this.name = context.name;
    this.identity = context.identity;
  }

  get url(): URL {
    const { settings } = this.#context;
    if (settings.transport === 'stdio' || !settings.url || !URL.canParse(settings.url)) {
      throw this.#notHttp('has no URL');
    }
    return new URL(settings.url);
  }

  get fetch(): AgentFetch {
    const { transport } = this.#context.settings;
    if (transport !== 'sse' && transport !== 'streamable_http') throw this.#notHttp('has no fetch');
    void this.url; // a URL to send to, or the error that says there is none
    this.#fetch ??= async (input, init) => {
      const scope = this.#context.scope();
      const call = await fetchCall(input, init);
      return this.#scopeFetch(scope)(call.url, call.init);
    };
    return this.#fetch;
  }

  get authProvider(): McpAuthProvider {
    this.#oauth();
    this.#authProvider ??= authProviderOf(() => this.#tokens());
    return this.#authProvider;
  }

  async login(options: LoginOptions = {}): Promise<LoginResult> {
    const auth = this.#managed('login');
    const wanted = options.scopes ?? [];
    if (!options.force && (await auth.token())) {
      const held = (await auth.status())
        .filter((row) => !row.expired && wanted.every((scope) => row.scopes.includes(scope)))
        .sort((a, b) => b.obtainedAt - a.obtainedAt)[0];
      if (held) return { ...this.#result(held, false), hasRefreshToken: held.hasRefreshToken };
    }
    const reason: AuthorizeReason =
      wanted.length > 0
        ? { challenge: { error: 'insufficient_scope', scope: wanted.join(' ') }, stepUp: true }
        : {};
    return this.#fromRecord(await auth.authorize(reason));
  }

  async completeLogin(callbackUrl: string | URL): Promise<LoginResult> {
    return this.#fromRecord(
      await this.#managed('completeLogin').completeAuthorization(callbackUrl),
    );
  }

  status(): Promise<TokenStatus[]> {
    return this.#oauth().status();
  }

  async logout(): Promise<LogoutResult> {
    return this.#managed('logout').logout();
  }

  async connect(): Promise<Client> {
    const { name, shared } = this.#context;
    const open = async () => (await this.#context.scope().registry.connect(name)).client;
    if (!shared) return open();
    const client = await withoutHandOver(name, open);
    let kept = this.#clients.get(client);
    if (!kept) {
      kept = sharedClient(name, client);
      this.#clients.set(client, kept);
    }
    return kept;
  }

  async disconnect(): Promise<void> {
    // The agent's own connection, every user's: an end user's scope leaves it open.
    if (this.#context.shared) return;
    await this.#context.scope().registry.close(this.name);
  }

  /** The `fetch` of this server in `scope` (made once per scope). */
  #scopeFetch(scope: CallerScope): FetchLike {
    let fetch = this.#fetches.get(scope);
    if (!fetch) {
      const { name, settings, http } = this.#context;
      fetch = serverFetch(name, settings, http, this.#tokensIn(scope));
      this.#fetches.set(scope, fetch);
    }
    return fetch;
  }

  /** The tokens of this server in `scope`; the agent's own, used only, when it is shared. */
  #tokensIn(scope: CallerScope): TokenSource | undefined {
    const { name, settings, shared } = this.#context;
    const auth = scope.tokens.forServer(name, settings);
    return auth && shared ? sharedTokenSource(name, auth) : auth;
  }

  /** The tokens of this server in the live scope; `USAGE` when it does not use OAuth. */
  #tokens(): TokenSource {
    const auth = this.#oauth();
    return this.#context.shared ? sharedTokenSource(this.name, auth) : auth;
  }

  /** The OAuth state to log in or out with; `USAGE` for the agent's own in a user's scope. */
  #managed(what: 'login' | 'completeLogin' | 'logout'): ServerAuth {
    if (this.#context.shared) throw sharedTokenUsage(this.name, what);
    return this.#oauth();
  }

  /** The OAuth state of this server in the live scope; `USAGE` when it does not use OAuth. */
  #oauth(): ServerAuth {
    const { name, settings } = this.#context;
    const auth = this.#context.scope().tokens.forServer(name, settings);
    if (auth) return auth;
    throw new McpAgentError(
      'USAGE',
      settings.transport === 'stdio'
        ? `Server "${name}" is a stdio server; it takes its credentials from env, not from OAuth.`
        : `Server "${name}" does not use OAuth (set mcp.servers.${name}.auth.oauth.enabled: true); its fetch carries its configured headers.`,
    );
  }

  #notHttp(what: string): McpAgentError {
    return new McpAgentError(
      'USAGE',
      `Server "${this.name}" is a ${this.#context.settings.transport} server and ${what}; use connect() for its SDK Client.`,
    );
  }

  #result(
    row: Pick<TokenRecord, 'issuer' | 'scopes' | 'expiresAt'>,
    loggedIn: boolean,
  ): Omit<LoginResult, 'hasRefreshToken'> {
    return {
      server: this.name,
      identity: this.identity,
      issuer: row.issuer,
      scopes: row.scopes,
      expiresAt: row.expiresAt,
      loggedIn,
    };
  }

  #fromRecord(record: TokenRecord): LoginResult {
    return { ...this.#result(record, true), hasRefreshToken: record.refreshToken !== undefined };
  }
}
