/**
 * What a client of downstream servers holds, built in one place for the CLI's commands and
 * {@link createAgentAuth}: one HTTP stack (proxy settings honoured) and the guarded one of the
 * OAuth requests of servers that may not reach private addresses, the token store, and the token
 * managers and server registries of the agent's own identity and of each end user
 * ({@link CallerScopes}: one discovery cache and refresh scheduler per manager, the store and the
 * HTTP stacks shared). Closed together.
 *
 * @module
 */

import type { Settings } from '../config/schema/settings.js';
import type { FetchLike } from '../fetch.js';
import type { Logger } from '../logger.js';
import { createHttpStack, type HttpStack, hasProxy, proxySettingsFrom } from '../servers/http.js';
import type { DownstreamPeer } from '../servers/peer.js';
import { createTokenStore, type TokenStore } from '../stores/token-store.js';
import { CallerScopes, type CallerScopesOptions } from './caller-scopes.js';
import { guardedHttpStack } from './guarded-http.js';
import { isHandOver, type LoginConsent } from './hand-over.js';

/** Options of {@link openClientRuntime}. */
export interface ClientRuntimeOptions {
  /** The environment: proxy variables, stdio servers' allow-list. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where relative token-store and configuration paths resolve. */
  readonly cwd?: string | undefined;
  /** Where `~` in a token-store path resolves. Default the user's home directory. */
  readonly homeDir?: string | undefined;
  /** Where log lines go (never a secret). */
  readonly logger: Logger;
  /**
   * How logins reach a person; {@link handOverConsent} keeps them as pending flows; `undefined`:
   * a needed login is a plain `OAUTH_LOGIN_REQUIRED` error.
   */
  readonly consent?: LoginConsent | undefined;
  /** `client_name` of dynamic registrations. */
  readonly clientName: string;
  /** How the MCP clients introduce themselves to servers. */
  readonly clientInfo: { readonly name: string; readonly version: string };
  /**
   * The `fetch` under every request (tests); default the HTTP stack's (undici). Injected, it
   * replaces the guarded stack of OAuth requests too: the network policy is then checked at
   * discovery only (see `CreateAgentAuthOptions.fetch`).
   */
  readonly fetch?: FetchLike | undefined;
  /** The clock, epoch milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** End users' scopes kept at most (least recently used out). */
  readonly maxUsers?: number | undefined;
  /** An end user's scope unused this long is closed, in milliseconds. */
  readonly userIdleMs?: number | undefined;
  /** End users' tokens are refreshed in the background too (by the one scheduler). */
  readonly usersRefreshInBackground?: boolean;
  /** Who answers the servers' requests on the agent's own connections (see `CallerScopesOptions.peer`). */
  readonly peer?: DownstreamPeer | undefined;
}

/** The stacks, store and scopes of {@link openClientRuntime}. */
export interface ClientRuntime {
  /** The settings it was opened with. */
  readonly settings: Settings;
  /** The HTTP stack of every connection (the injected `fetch` in place of its own, when given). */
  readonly http: HttpStack;
  /** The `fetch` of OAuth requests of servers that may not reach private addresses. */
  readonly guardedFetch: FetchLike | undefined;
  /**
   * The `fetch` of a model's requests: the injected one, else the HTTP stack's when the
   * environment sets a proxy, else the global `fetch` (what any AI SDK app uses: without a proxy
   * the stack would add only its cost, about 15 µs a request).
   */
  readonly modelFetch: FetchLike;
  /** The token store. */
  readonly store: TokenStore;
  /** The agent's own scope and its end users'. */
  readonly scopes: CallerScopes;
  /** Close the scopes (connections, refresh timers), the store and the HTTP stacks. */
  close(): Promise<void>;
}

/** Open the HTTP stacks, the token store and the scopes of `settings`, in that order. */
export function openClientRuntime(
  settings: Settings,
  options: ClientRuntimeOptions,
): ClientRuntime {
  const stacks = openStacks(options);
  const store = createTokenStore(settings.oauth.token_store, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.homeDir ? { homeDir: options.homeDir } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const scopes = new CallerScopes(scopesOptions(settings, options, stacks, store));
  let closed: Promise<void> | undefined;
  return {
    settings,
    http: stacks.http,
    guardedFetch: stacks.guarded?.fetch,
    modelFetch: stacks.model,
    store,
    scopes,
    close: () => {
      closed ??= (async () => {
        await scopes.close();
        await store.close().catch(() => {});
        await stacks.close();
      })();
      return closed;
    },
  };
}

/** The HTTP stacks of a runtime: every request's, and the guarded one of OAuth requests. */
interface Stacks {
  /** The HTTP stack of every connection (the injected `fetch` in place of its own, when given). */
  readonly http: HttpStack;
  readonly guarded: HttpStack | undefined;
  /** See {@link ClientRuntime.modelFetch}. */
  readonly model: FetchLike;
  close(): Promise<void>;
}

/**
 * The HTTP stack (proxy settings honoured; the injected `fetch` in its place when there is one)
 * and the guarded one: OAuth requests of public servers connect only to public addresses
 * (checked at connect time). An injected fetch is used as it is (the policy is then checked at
 * discovery only).
 */
function openStacks(options: ClientRuntimeOptions): Stacks {
  const proxy = proxySettingsFrom(options.env);
  const stack = createHttpStack(proxy);
  const guarded = options.fetch ? undefined : guardedHttpStack(proxy);
  return {
    http: options.fetch ? { ...stack, fetch: options.fetch } : stack,
    guarded,
    model:
      options.fetch ??
      (hasProxy(proxy) ? stack.fetch : (input, init) => globalThis.fetch(input, init)),
    async close() {
      await stack.close();
      await guarded?.close();
    },
  };
}

/** What the scopes of a runtime are built with. */
function scopesOptions(
  settings: Settings,
  options: ClientRuntimeOptions,
  stacks: Stacks,
  store: TokenStore,
): CallerScopesOptions {
  return {
    settings,
    store,
    http: stacks.http,
    guardedFetch: stacks.guarded?.fetch,
    env: options.env as NodeJS.ProcessEnv,
    logger: options.logger,
    clientName: options.clientName,
    clientInfo: options.clientInfo,
    callbackUrl: () => undefined,
    backgroundRefresh: settings.oauth.background_refresh,
    callersRefreshInBackground: options.usersRefreshInBackground === true,
    cwd: options.cwd,
    ...consentOptions(options.consent),
    ...(options.maxUsers !== undefined ? { maxScopes: options.maxUsers } : {}),
    ...(options.userIdleMs !== undefined ? { idleMs: options.userIdleMs } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.peer ? { peer: options.peer } : {}),
  };
}

/** A {@link LoginConsent} as the scopes take it: a consent, or logins handed over (or neither). */
function consentOptions(
  consent: LoginConsent | undefined,
): Pick<CallerScopesOptions, 'consent' | 'pendingLogins' | 'onHandOver'> {
  if (!isHandOver(consent)) return consent ? { consent } : { pendingLogins: false };
  return consent.onAuthorizationRequired
    ? { pendingLogins: true, onHandOver: consent.onAuthorizationRequired }
    : { pendingLogins: true };
}
