/**
 * The token manager: for each downstream server, the access token to send, obtained and kept
 * fresh (see {@link ServerAuth}), for one identity, with one discovery cache and one background
 * refresh scheduler shared by all servers. The last background event of each server is kept in
 * the store, so `auth status` in another process shows it.
 *
 * @module
 */
import type { OAuthSettings } from '../config/schema/oauth.js';
import type { ServerSettings } from '../config/schema/servers.js';
import type { Secret } from '../config/secret.js';
import type { AuthorizationRequiredError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TokenStore } from '../stores/token-store.js';
import type { Consent } from './consent.js';
import { DiscoveryCache } from './protocol/discovery.js';
import type { Lookup } from './protocol/network.js';
import type { OAuthFetch } from './protocol/registration.js';
import { type RefreshEvent, RefreshScheduler } from './scheduler.js';
import { APP_IDENTITY, ServerAuth } from './server-auth.js';

/** Options of {@link TokenManager}. */
export interface TokenManagerOptions {
  readonly store: TokenStore;
  /** The global `oauth:` section. */
  readonly oauth: OAuthSettings;
  /** The `fetch` for OAuth requests (the shared HTTP stack). */
  readonly fetch: OAuthFetch;
  /**
   * The `fetch` for the OAuth requests of servers that may not reach private addresses, whose
   * connections refuse them (an HTTP stack with `publicOnlyLookup`): DNS answers are checked when
   * connecting, not only at discovery. Default: `fetch`, checked at discovery only.
   */
  readonly guardedFetch?: OAuthFetch | undefined;
  /**
   * How a login reaches the user. Without it a needed login is an
   * {@link AuthorizationRequiredError} carrying the authorization URL (a pending flow kept in the
   * store, completed by `completeAuthorization`), or with `pendingLogins: false` a plain
   * `OAUTH_LOGIN_REQUIRED` error.
   */
  readonly consent?: Consent | undefined;
  /**
   * For servers with `grant_type: token_exchange`: the current caller's token and its expiry
   * (epoch ms), exchanged for the server's own (never sent to it).
   */
  readonly subjectToken?:
    | (() => { token: Secret; expiresAt?: number | undefined } | undefined)
    | undefined;
  /** Where relative paths of the configuration (`private_key_file`) are found. */
  readonly cwd?: string | undefined;
  /** Without `consent`: hand logins over as pending flows (default `true`). */
  readonly pendingLogins?: boolean;
  /**
   * Told of every login handed over (the error about to be thrown, and whose login it is), also
   * when the request that needed it is inside a framework that drops the error's details.
   */
  readonly onHandOver?: ((login: AuthorizationRequiredError, identity: string) => void) | undefined;
  /**
   * The agent's own callback for handed-over logins (`{oauth.callback_base_url}/internal/oauth/callback`),
   * used for servers with `use_internal_callback` (the default); others get their configured or
   * loopback redirect URI.
   */
  readonly callbackUrl?: string | undefined;
  /** Whose tokens these are. Default {@link APP_IDENTITY}. */
  readonly identity?: string;
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Resolver for the network policy (tests). */
  readonly lookup?: Lookup;
  /** `client_name` of dynamic registrations. */
  readonly clientName?: string;
  readonly discoveryCache?: DiscoveryCache;
  /** Waits between device-code polls (tests). */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Refresh tokens in use in the background, before they expire (`oauth.background_refresh`): a
   * scheduler of our own (`true`), or this one. Default off.
   */
  readonly backgroundRefresh?: boolean | RefreshScheduler;
}

/** Tokens for every configured OAuth server of one identity. */
export class TokenManager {
  readonly #options: TokenManagerOptions;
  readonly #servers = new Map<string, ServerAuth>();
  #closed = false;
  readonly discoveryCache: DiscoveryCache;
  /** The background refresh, when it is on. */
  readonly scheduler: RefreshScheduler | undefined;

  constructor(options: TokenManagerOptions) {
    this.#options = options;
    this.discoveryCache =
      options.discoveryCache ?? new DiscoveryCache(options.now ? { now: options.now } : {});
    const background = options.backgroundRefresh;
    this.scheduler =
      background === true
        ? new RefreshScheduler(options.now ? { now: options.now } : {})
        : background || undefined;
    // Only a scheduler of our own: a shared one may serve managers of other identities.
    if (background === true) {
      const identity = options.identity ?? APP_IDENTITY;
      this.scheduler?.on((event) => {
        void options.store.events
          .record(identity, event.server, {
            type: event.type,
            at: (options.now ?? Date.now)(),
            ...(event.type === 'refreshed' ? {} : { message: event.error.message }),
            ...(event.type === 'failed'
              ? { retryAt: (options.now ?? Date.now)() + event.retryInMs }
              : {}),
          })
          .catch(() => {});
      });
    }
  }

  /** Listen to background refresh events (refreshed, failed, needs-login). */
  onRefreshEvent(listener: (event: RefreshEvent) => void): () => void {
    return this.scheduler?.on(listener) ?? (() => {});
  }

  /**
   * Stop the background refresh: a scheduler of our own stops; a shared one only forgets this
   * identity's servers (it may serve managers of other identities), which are closed so that a
   * request still in flight does not watch them again.
   */
  close(): void {
    this.#closed = true;
    // Closed first: a request in flight then no longer puts its server back in the scheduler.
    for (const auth of this.#servers.values()) auth.close();
    if (this.#options.backgroundRefresh === true) this.scheduler?.stop();
    else this.scheduler?.unwatch(this.#options.identity ?? APP_IDENTITY);
  }

  /** The authorization of server `name`, or `undefined` when it does not use OAuth. */
  forServer(name: string, settings: ServerSettings): ServerAuth | undefined {
    if (!usesOAuth(settings)) return undefined;
    let auth = this.#servers.get(name);
    if (!auth) {
      auth = new ServerAuth(name, settings, this.#options, this.discoveryCache, this.scheduler);
      if (this.#closed) auth.close();
      this.#servers.set(name, auth);
    }
    return auth;
  }
}

/** Whether `settings` authenticate with OAuth (an HTTP transport with `auth.oauth.enabled`). */
export function usesOAuth(settings: ServerSettings): boolean {
  return settings.transport !== 'stdio' && settings.auth?.oauth?.enabled === true && !!settings.url;
}
