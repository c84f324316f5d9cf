/**
 * Shared pieces of the OAuth end-to-end, bad-input and canary tests: a headless {@link Consent},
 * a token manager and registry on a loaded config, the CLI run with a stderr buffer that can be
 * polled while the command runs, and small readers of the authorization server's request log.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { run } from '../../src/cli/run.js';
import type { Settings } from '../../src/config/schema/settings.js';
import type { Logger } from '../../src/logger.js';
import type { Consent, DeviceCodePrompt, ReceiverRequest } from '../../src/oauth/consent.js';
import { startLoopbackReceiver } from '../../src/oauth/flows/loopback.js';
import type { CallbackReceiver } from '../../src/oauth/flows/receiver.js';
import type { OAuthFetch } from '../../src/oauth/protocol/registration.js';
import type { ServerAuth } from '../../src/oauth/server-auth.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { ServerRegistry } from '../../src/servers/registry.js';
import { createTokenStore, type TokenStore } from '../../src/stores/token-store.js';
import type { AuthorizationServerRequest } from '../support/authorization-server.js';
import { approveDevice, followAuthorization } from '../support/browser.js';
import { waitFor, within } from '../support/net.js';

/** What a {@link headlessConsent} saw. */
export interface ConsentLog {
  readonly urls: URL[];
  /** What each authorization URL was shown with (server, issuer, scopes, a step-up's added ones). */
  readonly infos: Parameters<Consent['showAuthorizationUrl']>[1][];
  readonly devicePrompts: DeviceCodePrompt[];
  readonly outcomes: ('ok' | 'failed')[];
  /** Errors of the background browser walks. */
  readonly browserErrors: unknown[];
}

/**
 * A {@link Consent} that opens a loopback receiver on the requested ports and lets the headless
 * browser walk the authorization URL in the background (not awaited: the loopback server answers
 * the redirect only once the flow waits for it). Device codes are approved headlessly unless
 * `approveDevices` is false. `browse` replaces the walk (a peer's own consent step).
 */
export function headlessConsent(
  options: {
    mode?: 'code' | 'device';
    approveDevices?: boolean;
    timeoutMs?: number;
    browse?: (url: URL) => Promise<unknown>;
  } = {},
): Consent & { readonly log: ConsentLog } {
  const browse = options.browse ?? followAuthorization;
  const log: ConsentLog = {
    urls: [],
    infos: [],
    devicePrompts: [],
    outcomes: [],
    browserErrors: [],
  };
  return {
    log,
    mode: options.mode ?? 'code',
    openReceiver(request: ReceiverRequest): Promise<CallbackReceiver> {
      return startLoopbackReceiver({
        ports: request.ports,
        host: request.host,
        timeoutMs: options.timeoutMs ?? request.timeoutMs,
      });
    },
    async showAuthorizationUrl(url, info) {
      log.urls.push(url);
      log.infos.push(info);
      void browse(url).catch((error: unknown) => log.browserErrors.push(error));
    },
    showDeviceCode(prompt) {
      log.devicePrompts.push(prompt);
      if (options.approveDevices !== false) {
        void approveDevice(prompt.verificationUriComplete ?? prompt.verificationUri).catch(
          (error: unknown) => log.browserErrors.push(error),
        );
      }
    },
    finished(outcome) {
      log.outcomes.push(outcome);
    },
  };
}

/** A logger that keeps every call (message and fields). */
export function recordingLogger(): Logger & {
  readonly calls: { level: string; message: string; fields?: Record<string, unknown> }[];
} {
  const calls: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      calls.push({ level, message, ...(fields ? { fields } : {}) });
    };
  return { calls, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Options of {@link openManager}. */
export interface ManagerOptions {
  readonly consent?: Consent;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly logger?: Logger;
  readonly fetch?: OAuthFetch;
  readonly lookup?: (host: string) => Promise<readonly string[]>;
  readonly cwd?: string;
}

/** A token manager (and its store) on `settings`, closed through `cleanups`. */
export function openManager(
  settings: Settings,
  cleanups: (() => unknown)[],
  options: ManagerOptions = {},
): { tokens: TokenManager; store: TokenStore } {
  const store = createTokenStore(settings.oauth.token_store, {
    ...(options.cwd ? { cwd: options.cwd, homeDir: options.cwd } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  cleanups.push(() => store.close().catch(() => {}));
  const tokens = new TokenManager({
    store,
    oauth: settings.oauth,
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    ...(options.consent ? { consent: options.consent } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.lookup ? { lookup: options.lookup } : {}),
  });
  return { tokens, store };
}

/** The OAuth state of server `name` of `settings` (which must use OAuth). */
export function serverAuthOf(
  tokens: TokenManager,
  settings: Settings,
  name = 'notion',
): ServerAuth {
  const server = settings.mcp.servers[name];
  const auth = server ? tokens.forServer(name, server) : undefined;
  if (!auth) throw new Error(`server ${name} does not use OAuth`);
  return auth;
}

/** A registry whose servers take their OAuth tokens from `tokens`, closed through `cleanups`. */
export function openRegistryWith(
  settings: Settings,
  tokens: TokenManager,
  cleanups: (() => unknown)[],
): ServerRegistry {
  const registry = new ServerRegistry(settings, {
    env: {},
    authFor: (name, server) => tokens.forServer(name, server),
  });
  cleanups.push(() => within('registry.closeAll()', registry.closeAll(), 5_000));
  return registry;
}

/** The text of the first text content of a tool result. */
export function resultText(result: { content?: unknown }): string {
  const content = (result.content ?? []) as { type: string; text?: string }[];
  return content.find((item) => item.type === 'text')?.text ?? '';
}

/** A CLI run in progress: its output so far, its stdin, and the exit code to come. */
export interface LiveCli {
  readonly stdin: PassThrough;
  stdout(): string;
  stderr(): string;
  /** Poll stderr until a line matches `pattern`; resolves with that line. */
  line(pattern: RegExp, ms?: number): Promise<string>;
  readonly done: Promise<number>;
}

/** Start the CLI in process with a pollable stderr and a PassThrough stdin. */
export function startCli(
  argv: string[],
  options: {
    cwd: string;
    env?: Record<string, string>;
    openBrowser?: (url: URL) => Promise<boolean>;
  },
): LiveCli {
  let out = '';
  let err = '';
  const stdin = new PassThrough();
  const done = run(argv, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: options.env ?? {},
    cwd: options.cwd,
    homeDir: options.cwd,
    stdin,
    ...(options.openBrowser ? { openBrowser: options.openBrowser } : {}),
  });
  return {
    stdin,
    stdout: () => out,
    stderr: () => err,
    line: (pattern, ms = 10_000) =>
      waitFor(
        `a stderr line matching ${pattern}`,
        () => err.split('\n').find((line) => pattern.test(line)),
        ms,
      ),
    done,
  };
}

/** The requests the authorization server received at `path` (and `method`). */
export function requestsTo(
  requests: readonly AuthorizationServerRequest[],
  path: string,
  method?: string,
): AuthorizationServerRequest[] {
  return requests.filter(
    (request) => request.path === path && (method === undefined || request.method === method),
  );
}

/**
 * The authorization requests a browser made: the agent's probe of a kept client registration
 * (`probeAuthorization`, which sends no `state`) left out.
 */
export function authorizations(
  requests: readonly AuthorizationServerRequest[],
): AuthorizationServerRequest[] {
  return requestsTo(requests, '/auth', 'GET').filter(
    (request) => field(request.query, 'state') !== undefined,
  );
}

/** The token endpoint requests of one grant type. */
export function tokenRequests(
  requests: readonly AuthorizationServerRequest[],
  grantType: string,
): AuthorizationServerRequest[] {
  return requestsTo(requests, '/token', 'POST').filter(
    (request) => request.body?.grant_type === grantType,
  );
}

/** A string field of a recorded request body or query, or `undefined`. */
export function field(
  source: Readonly<Record<string, unknown>> | undefined,
  name: string,
): string | undefined {
  const value = source?.[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Make every token in a file store due for a refresh: obtained an hour ago, expiring in 30 s
 * (inside the 60 s leeway, whatever the token's real lifetime). What a clock would do, for a CLI
 * run that cannot take one.
 */
export function makeDue(file: string): void {
  const contents = JSON.parse(readFileSync(file, 'utf8')) as {
    entries: Record<string, { value: string }>;
  };
  const now = Date.now();
  for (const [id, entry] of Object.entries(contents.entries)) {
    if (id.startsWith('#')) continue;
    const record = JSON.parse(entry.value) as Record<string, unknown>;
    entry.value = JSON.stringify({
      ...record,
      obtained_at: now - 3_570_000,
      expires_at: now + 30_000,
    });
  }
  writeFileSync(file, JSON.stringify(contents), { mode: 0o600 });
}
