/**
 * The downstream side of `createApp()`: the HTTP stacks (plain, and guarded for the OAuth requests
 * of servers that may not reach private addresses), the token store, the token managers and
 * registries of the app and of each caller ({@link CallerScopes}), and the named credentials the
 * app module's tools use.
 *
 * @module
 */

import { CallerScopes } from '../client/caller-scopes.js';
import { guardedHttpStack } from '../client/guarded-http.js';
import { providerProfiles } from '../config/providers.js';
import { CredentialProfiles } from '../credentials/profiles.js';
import { createHttpStack, type HttpStack, proxySettingsFrom } from '../servers/http.js';
import { createTokenStore, type TokenStore } from '../stores/token-store.js';
import { CALLBACK_PATH } from './callback-route.js';
import { type AppContext, cwdOf, nowOf } from './context.js';
import type { CallbackAddress } from './routes.js';

/** The app's downstream resources; {@link CallerScopes} closes the connections it opened. */
export interface Downstream {
  /** The HTTP stack of downstream requests (proxy settings honoured). */
  readonly http: HttpStack;
  /** The stack of OAuth requests to public servers; `undefined` through a proxy. */
  readonly guarded: HttpStack | undefined;
  readonly store: TokenStore;
  readonly scopes: CallerScopes;
}

/** Open the HTTP stacks, the token store and the scopes, in that order. */
export function openDownstream(context: AppContext, address: CallbackAddress): Downstream {
  const proxy = proxySettingsFrom(context.env);
  const http = createHttpStack(proxy);
  // OAuth requests of public servers connect only to public addresses (checked at connect time).
  const guarded = guardedHttpStack(proxy);
  const store = createTokenStore(context.settings.oauth.token_store, cwdOf(context));
  const scopes = callerScopes(context, { http, guarded, store }, address);
  return { http, guarded, store, scopes };
}

/** The token managers and server registries of the app and of each caller. */
function callerScopes(
  context: AppContext,
  stacks: Omit<Downstream, 'scopes'>,
  address: CallbackAddress,
): CallerScopes {
  const { settings } = context;
  return new CallerScopes({
    settings,
    store: stacks.store,
    http: stacks.http,
    guardedFetch: stacks.guarded?.fetch,
    env: context.env,
    logger: context.logger,
    clientName: context.name,
    // Downstream servers meet the app under the name and version it serves with.
    clientInfo: context.info,
    // The callback of handed-over logins: oauth.callback_base_url, else the address listened on.
    callbackUrl: () => address.url(CALLBACK_PATH),
    backgroundRefresh: settings.oauth.background_refresh,
    cwd: context.cwd,
    peerConnections: context.peerConnections,
    ...nowOf(context),
  });
}

/**
 * Give the app module's tools their named credentials (`credentials:`), with the app's and each
 * caller's token managers for the profiles that use a server's tokens; returns them (the served
 * agents' models use them too).
 */
export function attachCredentials(context: AppContext, downstream: Downstream): CredentialProfiles {
  const { settings } = context;
  const { scopes } = downstream;
  // The model providers' sections are profiles too (openai, anthropic, …); credentials: wins.
  const credentials = new CredentialProfiles(
    { ...providerProfiles(settings), ...settings.credentials },
    {
      fetch: downstream.http.fetch,
      store: downstream.store,
      tokens: scopes.app.tokens,
      tokensFor: (caller) => scopes.scopeFor(caller).tokens,
      maxTokenBytes: settings.oauth.max_token_bytes,
      ...cwdOf(context),
      ...nowOf(context),
    },
  );
  context.definition.attach(credentials);
  return credentials;
}
