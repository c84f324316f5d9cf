/**
 * The OAuth state of one downstream server for one identity: discovers the authorization server,
 * finds or registers the client, seeds tokens configured in `auth.oauth`, refreshes a token within
 * `refresh_leeway_seconds` of its expiry (one refresh per token at a time in this process, one
 * across processes through a lease; writes are compare-and-set so a slower writer never replaces
 * a newer token), and runs a login when no token will do (`server-login.ts`: through the injected
 * {@link Consent}, or, where no user can be asked, handed over as an
 * {@link AuthorizationRequiredError}). Step-up asks for the union of the granted and the
 * challenged scopes.
 *
 * @module
 */
import type { TokenEndpointResponse } from 'oauth4webapi';
import type { ServerSettings } from '../config/schema/servers.js';
import type { Secret } from '../config/secret.js';
import { type AuthorizationRequiredError, McpAgentError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { keyPart } from '../stores/key-part.js';
import { storageKey, type TokenKey, type TokenRecord } from '../stores/record.js';
import type { ClientRegistration } from '../stores/registrations.js';
import type { StoredToken } from '../stores/token-store.js';
import { clientRefused, resolveClient } from './clients.js';
import {
  type AdoptedToken,
  adoptedRecord,
  type ClientStatus,
  clientStatus,
  configuredRecord,
  grantStatus,
  type LogoutResult,
  logout,
  type TokenStatus,
} from './grants.js';
import { type AuthorizeReason, stepUpRefusal } from './login.js';
import { scopeList } from './protocol/authorization.js';
import type { DiscoveryCache } from './protocol/discovery.js';
import { OAuthServerError } from './protocol/failures.js';
import { DEVICE_REDIRECT } from './protocol/registration.js';
import { type TokenRequestContext, toTokenRecord } from './protocol/tokens.js';
import type { BearerChallenge } from './protocol/www-authenticate.js';
import { expiredError, refreshWithLease, storeError } from './refresh.js';
import type { RefreshScheduler } from './scheduler.js';
import { ServerLogin } from './server-login.js';
import { type Target, TargetResolver } from './target.js';
import type { TokenManagerOptions } from './token-manager.js';

/** The identity of the app itself (a CLI user, or callers when authorization is off). */
export const APP_IDENTITY = 'app';

/** The OAuth state of one server for one identity. */
export class ServerAuth {
  readonly name: string;
  readonly settings: ServerSettings;
  readonly #options: TokenManagerOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #identity: string;
  /** One refresh per token key at a time (and one login at a time, below). */
  readonly #refreshing = new Map<string, Promise<StoredToken>>();
  readonly #login: ServerLogin;
  #seeded = false;
  readonly #targets: TargetResolver;
  /** Scopes a step-up asked for and the authorization server did not grant (not asked again). */
  readonly #deniedScopes = new Set<string>();
  /** The token this process last used (see {@link ServerAuth.token}). */
  #current: TokenRecord | undefined;
  #jitter: { expiresAt: number; fraction: number } | undefined;
  readonly #scheduler: RefreshScheduler | undefined;
  #closed = false;

  constructor(
    name: string,
    settings: ServerSettings,
    options: TokenManagerOptions,
    cache: DiscoveryCache,
    scheduler?: RefreshScheduler,
  ) {
    this.#scheduler = scheduler;
    this.name = name;
    this.settings = settings;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#identity = options.identity ?? APP_IDENTITY;
    this.#targets = new TargetResolver(name, settings, this.#identity, options, cache);
    this.#login = new ServerLogin({
      name,
      identity: this.#identity,
      options,
      logger: this.#logger,
      now: this.#now,
      loginTimeoutMs: this.loginTimeoutMs,
      oauth: () => this.#oauth,
      service: () => this.#service,
      target: (challenge) => this.target(challenge),
      challengeScope: (target, challenge) => this.#targets.challengeScope(target, challenge),
      read: (key) => this.#read(key),
      keep: (target, record) => this.#keep(target, record),
      client: (target, redirectUri) => this.#client(target, redirectUri),
      context: (target, client) => this.#context(target, client),
      record: (target, response, scopes, redirectUri) =>
        this.#record(target, response, scopes, redirectUri),
    });
  }

  get #oauth() {
    const oauth = this.settings.auth?.oauth;
    if (!oauth) throw new Error(`server ${this.name} has no auth.oauth`);
    return oauth;
  }

  /** Whose tokens these are (see `TokenManagerOptions.identity`). */
  get identity(): string {
    return this.#identity;
  }

  get #service(): boolean {
    return this.#oauth.grant_type !== 'authorization_code';
  }

  /** How long a login may take (`oauth.flow_timeout_seconds`), in milliseconds. */
  get loginTimeoutMs(): number {
    return this.#options.oauth.flow_timeout_seconds * 1000;
  }

  /** Discover (cached) and the token key that follows from it. */
  target(challenge?: BearerChallenge, options: { fresh?: boolean } = {}): Promise<Target> {
    return this.#targets.resolve(challenge, options);
  }

  /**
   * Whether `record` may still be sent: not within the leeway of its expiry. The leeway is at
   * most half the token's lifetime, so a token shorter-lived than the leeway is not refreshed on
   * every request.
   */
  #usable(record: TokenRecord): boolean {
    if (record.expiresAt === undefined) return true;
    const lifetime = Math.max(0, record.expiresAt - record.obtainedAt);
    const leeway = Math.min(this.#options.store.leewayMs, lifetime / 2);
    return record.expiresAt - leeway > this.#now();
  }

  /**
   * The access token to send, refreshed first when it is within the leeway of its expiry;
   * `undefined` when there is none (the request then goes without, and a 401 starts a login).
   */
  async token(): Promise<Secret | undefined> {
    // The fast path: the token this process last used, while it is good (no lookup, no store
    // read); a 401, a login or a logout replaces it.
    const current = this.#current;
    if (current && this.#usable(current)) return current.accessToken;
    let target: Target;
    try {
      target = await this.target();
    } catch (error) {
      if (!(error instanceof McpAgentError) || error.code !== 'OAUTH_DISCOVERY') throw error;
      // Metadata unreachable (the AS is down, say, and nothing cached): a stored token that is
      // still good is used; else the request goes without, and a 401 challenge may name the
      // metadata the well-known URLs did not have.
      const kept = (await this.storedRecords().catch(() => []))
        .map(({ record }) => record)
        .filter((record) => this.#usable(record))
        .sort((a, b) => b.obtainedAt - a.obtainedAt)[0];
      return kept?.accessToken;
    }
    let stored = await this.#read(target.key);
    if (!stored) stored = await this.#seed(target);
    // A service account asks for a token before the request, also when the one held is due.
    if (!stored) return this.#service ? (await this.authorize()).accessToken : undefined;
    if (this.#usable(stored.record)) return this.#use(stored.record);
    if (!stored.record.refreshToken) {
      return this.#service ? (await this.authorize()).accessToken : undefined;
    }
    try {
      return this.#use((await this.#refresh(target, stored)).record);
    } catch (error) {
      // The grant is gone: the request goes without, and its 401 leads to a login.
      if (error instanceof McpAgentError && error.code === 'OAUTH_LOGIN_REQUIRED') return undefined;
      // The authorization server is unreachable: a token not yet expired is still good.
      const expiresAt = stored.record.expiresAt ?? Number.POSITIVE_INFINITY;
      if (expiresAt > this.#now()) {
        this.#logger.warn(
          `the token of server "${this.name}" could not be refreshed (${error instanceof Error ? error.message : 'unknown error'}); using it until it expires`,
          { server: this.name },
        );
        return stored.record.accessToken;
      }
      throw expiredError(this.name, target.key.issuer, error);
    }
  }

  /**
   * Remember `record` as the one in use (the fast path) and let the background refresh know
   * (not once closed: see {@link ServerAuth.close}).
   */
  #use(record: TokenRecord): Secret {
    if (this.#current !== record) {
      this.#current = record;
      if (!this.#closed) void this.#scheduler?.watch(this);
    }
    return record.accessToken;
  }

  /** Whether {@link ServerAuth.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Its token manager was closed: the background refresh no longer watches this server (a request
   * still in flight may finish with it, but does not put it back in a shared scheduler).
   */
  close(): void {
    this.#closed = true;
  }

  /**
   * When the background refresh should refresh this token: inside the leeway window before its
   * expiry, at a point drawn once per token (jitter, so replicas do not fire together);
   * `undefined` without an expiry or a refresh token.
   */
  async nextRefreshAt(): Promise<number | undefined> {
    const stored = await this.#read((await this.target()).key);
    const record = stored?.record;
    if (record?.expiresAt === undefined || !record.refreshToken) return undefined;
    const leeway = Math.min(
      this.#options.store.leewayMs,
      (record.expiresAt - record.obtainedAt) / 2,
    );
    if (this.#jitter?.expiresAt !== record.expiresAt) {
      this.#jitter = { expiresAt: record.expiresAt, fraction: Math.random() };
    }
    return record.expiresAt - leeway + (this.#jitter.fraction * leeway) / 4;
  }

  /** For `doctor` and the background refresh: refresh now if the token is due, letting any failure through as it is. */
  async refreshIfDue(): Promise<'none' | 'not-needed' | 'refreshed'> {
    const target = await this.target();
    const stored = await this.#read(target.key);
    if (!stored) return 'none';
    if (this.#usable(stored.record)) return 'not-needed';
    if (this.#service) await this.authorize();
    else if (!stored.record.refreshToken) {
      return this.#loginRequired('its token expired and there is no refresh token');
    } else await this.#refresh(target, stored);
    return 'refreshed';
  }

  /**
   * The server refused `sent` (401) or wants more scope (403 `insufficient_scope`): adopt a token
   * another request already obtained, else refresh, else log in. Returns the token to retry with.
   */
  async onUnauthorized(
    challenge: BearerChallenge | undefined,
    sent: Secret | undefined,
  ): Promise<Secret> {
    this.#current = undefined;
    const stepUp = challenge?.error === 'insufficient_scope';
    // Discover afresh: the server may have moved to another authorization server.
    const target = await this.target(challenge, { fresh: true });
    const stored = await this.#read(target.key);
    if (!stepUp && stored) {
      const current = stored.record.accessToken.reveal();
      if ((sent === undefined || current !== sent.reveal()) && this.#usable(stored.record)) {
        return stored.record.accessToken;
      }
      if (stored.record.refreshToken) {
        try {
          return (await this.#refresh(target, stored, sent)).record.accessToken;
        } catch (error) {
          // Only a refused grant calls for a login; an unreachable AS is reported as it is.
          const refused =
            (error instanceof McpAgentError && error.code === 'OAUTH_LOGIN_REQUIRED') ||
            (error instanceof OAuthServerError && (error.status ?? 500) < 500);
          if (!refused) throw error;
        }
      }
    }
    const wanted = stepUp ? scopeList(challenge?.scope) : [];
    const hopeless = stepUpRefusal(
      this.name,
      wanted,
      this.#deniedScopes,
      stored && sent ? stored.record.scopes : undefined,
    );
    if (hopeless) throw hopeless;
    const record = await this.authorize({ challenge, stepUp });
    const missing = wanted.filter((scope) => !record.scopes.includes(scope));
    for (const scope of missing) this.#deniedScopes.add(scope);
    return record.accessToken;
  }

  /** Run a login now (the `auth login` command, or a request that needs one). */
  authorize(reason: AuthorizeReason = {}): Promise<TokenRecord> {
    return this.#login.authorize(reason);
  }

  /**
   * Complete a login handed over by an {@link AuthorizationRequiredError} with the address the
   * browser was redirected to (in this process or another one sharing the store).
   */
  completeAuthorization(callback: URL | string): Promise<TokenRecord> {
    return this.#login.completeAuthorization(callback);
  }

  /** How the login handed over as `handed` is going (in any process). */
  signInStatus(handed: AuthorizationRequiredError): Promise<'waiting' | 'ok' | 'failed'> {
    return this.#login.signInStatus(handed);
  }

  /**
   * Keep a token obtained elsewhere (the `workflows-store-credentials` tool) for this server and
   * identity. Its authorization server, when named, must be the one the server uses (compared
   * exactly, a trailing slash aside); only Bearer tokens.
   */
  async adoptToken(input: AdoptedToken): Promise<TokenRecord> {
    const target = await this.target();
    const record = adoptedRecord(input, this.name, target, this.#now());
    return this.#keep(target, record);
  }

  async #keep(target: Target, record: TokenRecord): Promise<TokenRecord> {
    await this.#options.store.put(target.key, record);
    this.#login.forgetPending();
    this.#use(record);
    await this.#options.store.events.clear(this.#identity, this.name).catch(() => {});
    this.#logger.info(`logged in to server "${this.name}" at ${record.issuer}`, {
      server: this.name,
      issuer: record.issuer,
      scopes: record.scopes.join(' '),
    });
    return record;
  }

  async #client(target: Target, redirectUri: string): Promise<ClientRegistration> {
    const oauth = this.#oauth;
    return resolveClient({
      as: target.discovery.authorizationServer,
      redirectUri,
      clientId: oauth.client_id,
      clientSecret: oauth.client_secret,
      clientMetadataUrl: oauth.client_metadata_url,
      registrations: this.#options.store.registrations,
      fetch: target.fetch,
      clientName: this.#options.clientName ?? `mcp-agent-ts (${this.name})`,
      configPath: `mcp.servers.${this.name}.auth.oauth`,
      server: this.name,
      issuerConfigured: oauth.authorization_server !== undefined,
      now: this.#now,
    });
  }

  #context(target: Target, client: ClientRegistration): TokenRequestContext {
    return {
      as: target.discovery.authorizationServer,
      client,
      fetch: target.fetch,
      resource: target.resourceParam,
      extraParams: this.#oauth.extra_token_params,
      maxTokenBytes: this.#options.oauth.max_token_bytes,
    };
  }

  #record(
    target: Target,
    response: TokenEndpointResponse,
    scopes: readonly string[],
    redirectUri: string,
    previousRefreshToken?: Secret,
  ): TokenRecord {
    return {
      ...toTokenRecord(response, {
        now: this.#now(),
        issuer: target.discovery.authorizationServer.issuer,
        resource: target.key.resource,
        server: this.name,
        requestedScopes: scopes,
        previousRefreshToken,
      }),
      redirectUri,
    };
  }

  async #read(key: TokenKey): Promise<StoredToken | undefined> {
    try {
      return await this.#options.store.get(key);
    } catch (error) {
      throw storeError(error, this.name);
    }
  }

  /** Seed the token configured in `auth.oauth` (it belongs to the app's own identity). */
  async #seed(target: Target): Promise<StoredToken | undefined> {
    const oauth = this.#oauth;
    if (this.#seeded || this.#identity !== APP_IDENTITY) return undefined;
    this.#seeded = true;
    const record = configuredRecord(oauth, target.key, this.#now());
    if (!record) return undefined;
    const version = await this.#options.store.put(target.key, record, { expectVersion: null });
    if (version === undefined) return this.#read(target.key);
    return { record, version };
  }

  /** One refresh per key at a time; the others wait for it and share its result or error. */
  #refresh(target: Target, stored: StoredToken, rejected?: Secret): Promise<StoredToken> {
    const id = storageKey(target.key);
    const running = this.#refreshing.get(id);
    if (running) return running;
    const run = this.#doRefresh(target, stored, rejected).finally(() => {
      this.#refreshing.delete(id);
    });
    this.#refreshing.set(id, run);
    return run;
  }

  #doRefresh(target: Target, stored: StoredToken, rejected?: Secret): Promise<StoredToken> {
    return refreshWithLease(
      {
        server: this.name,
        store: this.#options.store,
        logger: this.#logger,
        read: (key) => this.#read(key),
        usable: (record) => this.#usable(record),
        client: (record) => this.#clientForRefresh(target, record),
        context: (client) => this.#context(target, client),
        record: (response, previous, client) =>
          this.#record(
            target,
            response,
            previous.scopes,
            previous.redirectUri ?? client.redirectUri,
            previous.refreshToken,
          ),
        loginRequired: (why) => this.#loginRequired(why),
        clientRefused: (client, error) =>
          clientRefused(client, error, {
            server: this.name,
            configPath: `mcp.servers.${this.name}.auth.oauth`,
            registrations: this.#options.store.registrations,
          }),
      },
      target.key,
      stored,
      rejected,
    );
  }

  async #clientForRefresh(target: Target, record: TokenRecord): Promise<ClientRegistration> {
    const oauth = this.#oauth;
    if (oauth.client_id) return this.#client(target, record.redirectUri ?? DEVICE_REDIRECT);
    const kept = record.redirectUri
      ? await this.#options.store.registrations.get(target.key.issuer, record.redirectUri)
      : undefined;
    if (kept) return kept;
    if (oauth.client_metadata_url && record.redirectUri) {
      return this.#client(target, record.redirectUri);
    }
    return this.#loginRequired('the client registration its token was issued to is gone');
  }

  #loginRequired(why: string): never {
    throw new McpAgentError(
      'OAUTH_LOGIN_REQUIRED',
      `Server "${this.name}" needs a new login (${why}): run \`mcp-agent auth login ${this.name}\`.`,
    );
  }

  /** The records stored for this server and identity, with their storage ids. */
  async storedRecords(): Promise<{ id: string; record: TokenRecord }[]> {
    const records = await this.#options.store.list().catch((error: unknown) => {
      throw storeError(error, this.name);
    });
    const prefix = `${keyPart(this.#identity)}:`;
    return records.filter(({ id, record }) => record.server === this.name && id.startsWith(prefix));
  }

  /** The tokens stored for this server and identity (never their values). */
  status(): Promise<TokenStatus[]> {
    return grantStatus(this, this.#options.store, (record) => this.#usable(record));
  }

  /** The clients this server uses (never a secret; no network). */
  async clients(): Promise<ClientStatus[]> {
    const records = (await this.storedRecords()).map(({ record }) => record);
    return clientStatus(this.name, this.#oauth, this.#options.store.registrations, records);
  }

  /**
   * What revoking `record` needs (RFC 7009): the request context of its authorization server,
   * or `undefined` when the server has moved to another one or has no revocation endpoint.
   */
  async revocationContext(record: TokenRecord): Promise<TokenRequestContext | undefined> {
    const target = await this.target();
    const as = target.discovery.authorizationServer;
    if (target.key.issuer !== record.issuer || !as.revocation_endpoint) return undefined;
    return this.#context(target, await this.#clientForRefresh(target, record));
  }

  /** Forget the configured client's authorization-server binding (see `resolveClient`). */
  async unbindClient(): Promise<void> {
    const clientId = this.#oauth.client_id;
    if (clientId) await this.#options.store.registrations.unbind(this.name, clientId);
  }

  /** Revoke where possible, then forget every token of this server and identity (see {@link logout}). */
  logout(options: { unbind?: boolean } = {}): Promise<LogoutResult> {
    this.#current = undefined;
    return logout(this, this.#options.store, options);
  }
}
