/**
 * Shared setup of the interop tests: MCP clients nobody here wrote (the SDK v1 and v2 clients,
 * `mcp-remote`, OpenAI Agents) log in to our served app and call its tools.
 *
 * - {@link startInteropApp}: the app (a small app module: `whoami`, `add`, `admin_report`) served
 *   by `createApp`, protected by the embedded development authorization server, with its login and
 *   consent pages (no auto-approve): each client signs in as a person would.
 * - {@link HeadlessOAuthProvider}: an `OAuthClientProvider` (the SDKs' interface) kept in memory,
 *   whose "browser" signs in on those pages; the SDK itself discovers, registers and exchanges.
 * - {@link startMcpRemote}: `mcp-remote` spawned as users run it, spoken to over its stdio.
 * - {@link startDevCommand}: `mcp-agent dev` as a child process, as `npm start` runs it.
 * - {@link movableClock}: `Date` for the whole test file, to jump past an access token's expiry.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { vi } from 'vitest';
import * as z from 'zod';
import type { AppSetup } from '../../src/app/define.js';
import { REDIRECT_URI, type ServedApp, signIn, startServedApp } from '../server/serve-support.js';
import { approveDevice, followAuthorization } from '../support/browser.js';
import { freePort, waitFor } from '../support/net.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The scope `admin_report` needs beyond `mcp:tools`: what a client steps up to. */
export const ADMIN_SCOPE = 'mcp:admin';

/** Past the development server's default access-token lifetime (3600 s). */
export const PAST_EXPIRY_MS = 2 * 3600 * 1000;

/** The app module of the interop tests: the example agent's own tools. */
export const interopApp: AppSetup = (app) => {
  app.tool(
    'whoami',
    {},
    (_args, { caller }) => ({
      subject: caller?.subject ?? 'anonymous',
      issuer: caller?.issuer ?? null,
      scopes: caller?.scopes ?? [],
    }),
    { description: 'Who the agent thinks is calling.' },
  );
  app.tool('add', { a: z.number(), b: z.number() }, ({ a, b }) => String(a + b), {
    description: 'Add two numbers.',
  });
  app.tool('admin_report', {}, (_args, { caller }) => `Report for ${caller?.subject}: all good.`, {
    description: 'Needs mcp:admin.',
    scopes: [ADMIN_SCOPE],
  });
};

/** {@link interopApp} served and protected by a development authorization server with pages. */
export function startInteropApp(): Promise<ServedApp> {
  return startServedApp({ setup: interopApp });
}

/**
 * Fake only `Date` (it keeps following the real clock) for everything created from now on, the
 * authorization server and the app included, so a test can move past a token's expiry without
 * waiting. Call before starting them; `restore()` in `afterAll`.
 */
export function movableClock() {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  return {
    /** Move every in-process clock forward by `ms`. */
    advance(ms: number) {
      vi.setSystemTime(Date.now() + ms);
    },
    restore() {
      vi.useRealTimers();
    },
  };
}

/**
 * An `OAuthClientProvider` kept in memory (one per client, as the SDK documents), whose
 * `redirectToAuthorization` signs in as {@link user} on the development server's pages and keeps
 * the code. The SDK does the rest: discovery, DCR, PKCE, token exchange, refresh, step-up.
 * Structurally both the v1 (`@modelcontextprotocol/sdk`) and the v2 (`@modelcontextprotocol/client`)
 * interface.
 */
export class HeadlessOAuthProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  readonly authorizationUrls: URL[] = [];
  /** Every token set saved, in order (refreshes and step-ups add to it). */
  readonly savedTokens: OAuthTokens[] = [];
  code: string | undefined;
  /** Where the last authorization ended (the redirect URI with `code` or `error`, and `iss`). */
  lastRedirect: URL | undefined;

  /** Who signs in on the login page. */
  readonly user: string;
  /** The `client_name` it registers. */
  readonly name: string;
  /** The browser: signs `user` in on the pages, or follows an authorization approved at once. */
  readonly #walk: (url: URL) => Promise<{ finalUrl: URL }>;

  constructor(user = 'alice', name = 'interop test', options: { autoApproved?: boolean } = {}) {
    this.user = user;
    this.name = name;
    this.#walk = options.autoApproved
      ? (url) => followAuthorization(url, { stopAtRedirectUri: REDIRECT_URI })
      : (url) => signIn(url, this.user, { stopAtRedirectUri: REDIRECT_URI });
  }

  get redirectUrl(): string {
    return REDIRECT_URI;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.name,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }

  tokens() {
    return this.saved;
  }

  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
    this.savedTokens.push(tokens);
  }

  async redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
    const result = await this.#walk(url);
    this.lastRedirect = result.finalUrl;
    this.code = result.finalUrl.searchParams.get('code') ?? undefined;
  }

  /** Discovery as the SDK saved it with the verifier, to bind the callback to the same server. */
  discovery: OAuthDiscoveryState | undefined;

  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }

  discoveryState() {
    return this.discovery;
  }

  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }

  codeVerifier() {
    return this.verifier;
  }

  /** The code of the last authorization, once. */
  takeCode(): string {
    const code = this.code;
    this.code = undefined;
    if (!code) {
      throw new Error(`no authorization code; the walk ended at ${this.lastRedirect?.href}`);
    }
    return code;
  }

  /** The callback parameters of the last authorization (`code`, `state`, `iss`), once. */
  takeCallback(): URLSearchParams {
    this.takeCode();
    return new URLSearchParams(this.lastRedirect?.search);
  }
}

/**
 * Connect `client` as the SDKs' examples do: the first transport's `connect` fails with
 * `Unauthorized` once the provider was redirected (and signed in); `finish` redeems the code on
 * that transport; a new transport connects with the token. Returns the connected transport.
 */
export async function connectWithLogin<T>(
  client: { connect(transport: NoInfer<T>): Promise<void> },
  newTransport: () => T,
  finish: (transport: T) => Promise<void>,
  unauthorized: abstract new (...args: never[]) => Error,
): Promise<T> {
  const first = newTransport();
  const failure = await client.connect(first).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (failure === undefined) return first;
  if (!(failure instanceof unauthorized)) throw failure;
  await finish(first);
  const transport = newTransport();
  await client.connect(transport);
  return transport;
}

/** The scopes of a space-separated `scope`. */
export function scopesOf(scope: string | null | undefined): string[] {
  return (scope ?? '').split(' ').filter(Boolean);
}

const MCP_REMOTE = join(root, 'node_modules/mcp-remote/dist/proxy.js');
const AUTHORIZE_LINE = /Please authorize this client by visiting:\s*\n(\S+)/g;
const DEVICE_LINE = /To authorize this client, visit:\s*\n(?:\[\d+\])?\s*(\S+)/g;

/** A running `mcp-remote`, an SDK client on its stdio, and what it printed. */
export interface McpRemote {
  readonly client: Client;
  /** Its stderr so far (its log: the authorization URL, the sign-in progress). */
  stderr(): string;
  /** The authorization URLs (with `deviceCode`, the verification URLs) it printed, in order. */
  authorizationUrls(): URL[];
  /** Errors of the test's browser while signing in to the URLs it printed. */
  browserErrors(): unknown[];
  /** The port of its OAuth callback (`http://localhost:PORT/oauth/callback`). */
  readonly callbackPort: number;
  /** Close the client, end the process, remove its token directory. */
  close(): Promise<void>;
}

/** Options of {@link startMcpRemote}. */
export interface McpRemoteOptions {
  /** Who signs in on the authorization server's pages. Default `alice`. */
  readonly user?: string;
  /** Extra arguments after the URL and port (`--host 127.0.0.1`, `--debug`…). */
  readonly args?: readonly string[];
  /** Its token directory, to share between runs. Default a new temporary directory. */
  readonly configDir?: string;
  /**
   * `--device-code`: it prints a verification URL instead, which the test approves on the device
   * page (the authorization server must auto-approve: no login page is walked then).
   */
  readonly deviceCode?: boolean;
}

/**
 * Start `mcp-remote URL PORT` as an MCP host does (a child process on stdio, its tokens under
 * `MCP_REMOTE_CONFIG_DIR`), connect an SDK client to it, and play the person at the browser: each
 * authorization URL it prints (it also tries to open a browser; stand-ins for `open`,
 * `xdg-open` and `$BROWSER` do nothing) is walked, signing in on the pages, and the walk ends at
 * its loopback callback. Resolves once the client is connected, so after the first login.
 */
export async function startMcpRemote(
  url: string,
  options: McpRemoteOptions = {},
): Promise<McpRemote> {
  const home = mkdtempSync(join(tmpdir(), 'mcp-remote-home-'));
  const configDir = options.configDir ?? join(home, '.mcp-auth');
  // No real browser: `open` (macOS) and `xdg-open` (Linux, which also runs $BROWSER) succeed
  // and do nothing; the test reads the URL from stderr, as a headless user does.
  const noBrowser = join(home, 'bin');
  mkdirSync(noBrowser);
  for (const opener of ['open', 'xdg-open']) {
    writeFileSync(join(noBrowser, opener), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  }
  const callbackPort = await freePort();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      MCP_REMOTE,
      url,
      String(callbackPort),
      ...(options.deviceCode ? ['--device-code'] : []),
      ...(options.args ?? []),
    ],
    env: {
      PATH: `${noBrowser}${delimiter}${process.env.PATH ?? ''}`,
      HOME: home,
      MCP_REMOTE_CONFIG_DIR: configDir,
      BROWSER: join(noBrowser, 'open'),
    },
    stderr: 'pipe',
  });
  let log = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
  });
  const walked = new Set<string>();
  /** What went wrong in the test's browser (a call waiting on a sign-in would only time out). */
  const failures: unknown[] = [];
  const printed = options.deviceCode ? DEVICE_LINE : AUTHORIZE_LINE;
  const urls = () => [...log.matchAll(printed)].map((match) => match[1] as string);
  const approve = (next: string) =>
    options.deviceCode
      ? approveDevice(next).then(() => undefined)
      : signInThenCallback(next, options.user ?? 'alice');
  // The person at the browser: every new authorization URL is signed in to, in order.
  let browsing = Promise.resolve();
  const watcher = setInterval(() => {
    for (const next of urls()) {
      if (walked.has(next)) continue;
      walked.add(next);
      browsing = browsing.then(() =>
        approve(next).catch((error: unknown) => {
          failures.push(error);
        }),
      );
    }
  }, 20);
  const client = new Client({ name: 'mcp-remote interop test', version: '1.0.0' });
  const close = async () => {
    clearInterval(watcher);
    await browsing;
    await client.close().catch(() => {});
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await client.connect(transport);
  } catch (error) {
    await close();
    throw new Error(`mcp-remote did not connect: ${String(error)}\n${log}`, { cause: error });
  }
  if (failures.length > 0) {
    await close();
    throw failures[0];
  }
  return {
    client,
    callbackPort,
    stderr: () => log,
    browserErrors: () => [...failures],
    authorizationUrls: () => urls().map((each) => new URL(each)),
    close,
  };
}

/**
 * Sign in at `authorizationUrl`, then open the redirect to mcp-remote's loopback callback. When
 * mcp-remote re-authorizes in the middle of a session (step-up) it prints the URL and opens the
 * browser before its callback server listens, so a browser that gets through the pages at once
 * finds the port closed; as a person would, the callback is loaded again until it answers.
 */
async function signInThenCallback(authorizationUrl: string, user: string): Promise<void> {
  const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri') ?? '';
  const ended = await signIn(authorizationUrl, user, { stopAtRedirectUri: redirectUri });
  const response = await waitFor(
    `mcp-remote's callback at ${redirectUri}`,
    () => fetch(ended.finalUrl).catch(() => undefined),
    10_000,
  );
  await response.body?.cancel();
}

/** `mcp-agent dev` running as a child process. */
export interface DevCommand {
  /** What it printed with `--json`: the MCP URL, the issuer, the resource. */
  readonly printed: { url: string; issuer: string; resource: string };
  stderr(): string;
  /** SIGTERM (Ctrl-C), then its exit code. */
  stop(): Promise<number | null>;
}

const BIN = join(root, 'bin/mcp-agent.js');

/**
 * Run `node bin/mcp-agent.js --config examples/agent/mcp_agent.config.yaml --json dev --port 0
 * --issuer-port 0 ARGS` (the command `npm start` runs, on free ports) and wait for its JSON line.
 * The bin runs the built code: `npm run build` first.
 */
export async function startDevCommand(args: readonly string[] = []): Promise<DevCommand> {
  if (!existsSync(join(root, 'dist/cli/main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (bin/mcp-agent.js runs dist/).');
  }
  const child: ChildProcess = spawn(
    process.execPath,
    [
      BIN,
      '--config',
      'examples/agent/mcp_agent.config.yaml',
      '--json',
      'dev',
      '--port',
      '0',
      '--issuer-port',
      '0',
      ...args,
    ],
    { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: root }, stdio: 'pipe' },
  );
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  try {
    const printed = await waitFor(
      'the JSON line of mcp-agent dev',
      () => {
        if (child.exitCode !== null) throw new Error(`mcp-agent dev exited ${child.exitCode}`);
        try {
          return JSON.parse(out) as DevCommand['printed'];
        } catch {
          return undefined;
        }
      },
      20_000,
    );
    return { printed, stderr: () => err, stop };
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\nstderr: ${err}`, { cause: error });
  }
}
