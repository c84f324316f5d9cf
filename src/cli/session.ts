/**
 * What a CLI command that talks to servers holds for its run: the settings, one HTTP stack, the
 * token store, the token manager and the server registry, closed together.
 *
 * @module
 */
import { guardedHttpStack } from '../app/guarded-http.js';
import type { LoadedSettings } from '../config/load.js';
import type { FetchLike } from '../fetch.js';
import { TokenManager } from '../oauth/token-manager.js';
import { createHttpStack, type HttpStack, proxySettingsFrom } from '../servers/http.js';
import { ServerRegistry } from '../servers/registry.js';
import type { TokenStore } from '../stores/token-store.js';
import { createTokenStore } from '../stores/token-store.js';
import { loadForCli } from './commands/config.js';
import { type CliConsentOptions, cliConsent } from './consent.js';
import type { CliIo, GlobalOptions, Output } from './io.js';
import { cliLogger } from './logger.js';
import { VERSION } from './version.js';

/** The runtime of one command. */
export interface CliSession {
  readonly loaded: LoadedSettings;
  readonly http: HttpStack;
  /**
   * The `fetch` of OAuth requests for servers that may not reach private addresses (checked when
   * connecting); `undefined` through a proxy. Give it to any other token manager built.
   */
  readonly guardedFetch: FetchLike | undefined;
  readonly store: TokenStore;
  readonly tokens: TokenManager;
  readonly registry: ServerRegistry;
}

/** Options of {@link withSession}. */
export interface SessionOptions extends CliConsentOptions {
  /** Whether a needed login may run (a browser, a pasted URL, a device code). Default true. */
  readonly interactive?: boolean;
  /**
   * Without `interactive`: hand a needed login over as an `AuthorizationRequiredError` carrying
   * its URL (a pending flow in the store) instead of a plain error.
   */
  readonly handOver?: boolean;
}

/** Run `body` with a {@link CliSession}, closing everything afterwards. */
export async function withSession<T>(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  body: (session: CliSession) => Promise<T>,
  sessionOptions: SessionOptions = {},
): Promise<T> {
  const loaded = loadForCli(io, options);
  const { settings } = loaded;
  const logger = cliLogger(out, options.verbose);
  const proxy = proxySettingsFrom(io.env);
  const http = createHttpStack(proxy);
  // OAuth requests of public servers connect only to public addresses (checked at connect time).
  const guarded = guardedHttpStack(proxy);
  const store = createTokenStore(settings.oauth.token_store, {
    cwd: io.cwd,
    ...(io.homeDir ? { homeDir: io.homeDir } : {}),
  });
  const tokens = new TokenManager({
    store,
    oauth: settings.oauth,
    fetch: http.fetch,
    guardedFetch: guarded?.fetch,
    backgroundRefresh: settings.oauth.background_refresh,
    logger,
    clientName: 'mcp-agent-ts',
    cwd: io.cwd,
    ...(sessionOptions.interactive === false
      ? { pendingLogins: sessionOptions.handOver === true }
      : { consent: cliConsent(io, out, sessionOptions) }),
  });
  const registry = new ServerRegistry(settings, {
    env: io.env,
    logger,
    http,
    clientInfo: { name: 'mcp-agent-ts', version: VERSION },
    authFor: (name, server) => tokens.forServer(name, server),
  });
  try {
    return await body({ loaded, http, guardedFetch: guarded?.fetch, store, tokens, registry });
  } finally {
    tokens.close();
    await registry.closeAll();
    await store.close().catch(() => {});
    await http.close();
    await guarded?.close();
  }
}
