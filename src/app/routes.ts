/**
 * The app's own routes beside the MCP endpoint: the internal callback of handed-over logins and,
 * with the inbound protection on, the sign-in check (see `connect-route.ts`), with the public
 * address they are reached at.
 *
 * @module
 */

import type { CallerScopes } from '../client/caller-scopes.js';
import type { Settings } from '../config/schema/settings.js';
import type { FetchLike } from '../fetch.js';
import type { BearerGuard } from '../server/guard.js';
import type { RouteHandler } from '../server/http.js';
import type { TokenStore } from '../stores/token-store.js';
import { CALLBACK_PATH, internalCallback } from './callback-route.js';
import { CONNECT_PATH, connectRoute } from './connect-route.js';
import { type AppContext, nowOf } from './context.js';

/**
 * The public base of the app's own routes: `oauth.callback_base_url`, else the address of the
 * first `listen()` (learned then; until then there is none and no route URL can be given).
 */
export class CallbackAddress {
  #base: string | undefined;

  constructor(settings: Settings) {
    this.#base = settings.oauth.callback_base_url?.replace(/\/+$/, '');
  }

  /** The base, without a trailing slash, once known. */
  get base(): string | undefined {
    return this.#base;
  }

  /** The full URL of `path` (a route path, maybe with a query) under the base, once known. */
  url(path: string): string | undefined {
    return this.#base ? `${this.#base}${path}` : undefined;
  }

  /** Take `base` as the address, unless one is already known. */
  learn(base: string): void {
    this.#base ??= base;
  }
}

/** The path of the internal callback: under `oauth.callback_base_url`'s path, if it has one. */
export function callbackPathOf(settings: Settings, path: string = CALLBACK_PATH): string {
  const base = settings.oauth.callback_base_url;
  const prefix = base ? new URL(base).pathname.replace(/\/+$/, '') : '';
  return `${prefix}${path}`;
}

/** What the routes are built from, besides the context. */
export interface InternalRoutesOptions {
  readonly scopes: CallerScopes;
  readonly store: TokenStore;
  /** The inbound protection's guard: the sign-in check is served only with one. */
  readonly guard: BearerGuard | undefined;
  /** The `fetch` of the sign-in check's requests to the inbound authorization server. */
  readonly fetch: FetchLike;
  readonly address: CallbackAddress;
}

/** The app's own routes by path: the internal callback, and the sign-in check with a guard. */
export function internalRoutes(
  context: AppContext,
  options: InternalRoutesOptions,
): Record<string, RouteHandler> {
  const { settings, logger, auth } = context;
  const { scopes, store, guard, address } = options;
  const callback = internalCallback({ scopes, store, settings, logger });
  const connect =
    auth && guard
      ? connectRoute({
          authorization: auth,
          guard,
          store,
          fetch: options.fetch,
          logger,
          clientName: `${context.name} (sign-in check)`,
          connectUrl: () => address.url(CONNECT_PATH),
          cookiePath: callbackPathOf(settings, '/internal/oauth'),
          ...nowOf(context),
        })
      : undefined;
  return {
    [callbackPathOf(settings)]: callback,
    ...(connect ? { [callbackPathOf(settings, CONNECT_PATH)]: connect } : {}),
  };
}
