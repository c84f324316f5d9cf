/**
 * What a CLI command that talks to servers holds for its run: the settings, one HTTP stack, the
 * token store, the token manager and the server registry, closed together; with `answer`, the
 * registry's connections declare what the terminal peer answers (elicitation, sampling).
 *
 * @module
 */
import { handOverConsent } from '../client/hand-over.js';
import { openClientRuntime } from '../client/runtime.js';
import type { LoadedSettings } from '../config/load.js';
import type { FetchLike } from '../fetch.js';
import type { TokenManager } from '../oauth/token-manager.js';
import type { HttpStack } from '../servers/http.js';
import type { ServerRegistry } from '../servers/registry.js';
import type { TokenStore } from '../stores/token-store.js';
import { loadForCli } from './commands/config.js';
import { type CliConsentOptions, cliConsent } from './consent.js';
import type { CliIo, GlobalOptions, Output } from './io.js';
import { cliLogger } from './logger.js';
import { terminalPeer } from './terminal-peer.js';
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
  /**
   * Answer the servers' elicitation and sampling requests (`terminal-peer.ts`): elicitation at a
   * terminal, sampling with a provider (`provider`, `model`: `--provider`, `--model`; none when
   * `sampling` is false).
   */
  readonly answer?: {
    readonly provider?: string | undefined;
    readonly model?: string | undefined;
    readonly sampling?: boolean | undefined;
  };
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
  let modelFetch: FetchLike | undefined;
  const peer =
    sessionOptions.answer &&
    terminalPeer({
      io,
      out,
      settings: loaded.settings,
      provider: sessionOptions.answer.provider,
      model: sessionOptions.answer.model,
      sampling: sessionOptions.answer.sampling,
      modelOptions: () => ({ fetch: modelFetch, env: io.env }),
    });
  const runtime = openClientRuntime(loaded.settings, {
    peer,
    env: io.env,
    cwd: io.cwd,
    homeDir: io.homeDir,
    logger: cliLogger(out, options.verbose),
    clientName: 'mcp-agent-ts',
    clientInfo: { name: 'mcp-agent-ts', version: VERSION },
    consent:
      sessionOptions.interactive === false
        ? sessionOptions.handOver === true
          ? handOverConsent()
          : undefined
        : cliConsent(io, out, sessionOptions),
  });
  const { http, guardedFetch, store, scopes } = runtime;
  modelFetch = runtime.modelFetch;
  try {
    return await body({
      loaded,
      http,
      guardedFetch,
      store,
      tokens: scopes.app.tokens,
      registry: scopes.app.registry,
    });
  } finally {
    await runtime.close();
  }
}
