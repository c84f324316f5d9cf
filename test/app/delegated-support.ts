/**
 * Shared pieces of the delegated-access tests: an inbound development authorization server (the
 * agent's callers: Alice and Bob), a downstream realm (a protected MCP server behind its own
 * development authorization server, another issuer, where each caller signs in as a different
 * user), the agent on loopback, SDK clients that answer URL elicitations with a headless sign-in,
 * and a second view of the agent's file token store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  ElicitationCompleteNotificationSchema,
  type ElicitRequest,
  ElicitRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  type App,
  type CreateAppOptions,
  createApp,
  type RunningApp,
} from '../../src/app/create-app.js';
import { type Settings, settingsSchema } from '../../src/config/schema/settings.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { principalOf } from '../../src/server/identity.js';
import type { TokenRecord } from '../../src/stores/record.js';
import { createTokenStore, type TokenStore } from '../../src/stores/token-store.js';
import { type BrowserResult, CookieJar, followAuthorization } from '../support/browser.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  type ProtectedMcpServerOptions,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';

type Json = Record<string, unknown>;

/** The scope the downstream realm grants. */
export const DOWN_SCOPE = 'mcp:read';

/** The agent's callers: a development authorization server whose tokens name the agent. */
export interface Inbound {
  readonly as: DevAuthorizationServer;
  /** `http://127.0.0.1:PORT/mcp`: the agent's resource (it must listen on {@link port}). */
  readonly resource: string;
  readonly port: number;
  /** The token-store identity of user `user` (`principalOf`). */
  identity(user: string): string;
}

/** Start the inbound authorization server for an agent that will listen on a free port. */
export async function startInbound(extraResources: readonly string[] = []): Promise<Inbound> {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const as = await startDevAuthorizationServer({
    port: 0,
    resources: [resource, ...extraResources],
    scopes: ['mcp:tools'],
  });
  return {
    as,
    resource,
    port,
    identity: (user) => principalOf({ issuer: as.issuer, subject: user }),
  };
}

/** A protected MCP server and its own authorization server (another issuer than the inbound). */
export interface Realm {
  readonly as: DevAuthorizationServer;
  readonly server: ProtectedMcpServer;
  close(): Promise<void>;
}

/**
 * Start the downstream realm: users sign in on its login page under any name. `setup` adds tools
 * to the protected server (`whoami` and `echo` are always there).
 */
export async function startRealm(setup?: ProtectedMcpServerOptions['setup']): Promise<Realm> {
  // The server needs the issuer and the issuer the server's URL: the issuer's port comes first.
  const port = await freePort();
  const server = await startProtectedMcpServer({
    issuer: `http://127.0.0.1:${port}`,
    requiredScopes: [DOWN_SCOPE],
    ...(setup ? { setup } : {}),
  });
  const as = await startDevAuthorizationServer({
    port,
    resources: [server.url],
    scopes: [DOWN_SCOPE],
  });
  return {
    as,
    server,
    async close() {
      await server.close();
      await as.close();
    },
  };
}

/** A temporary directory for a file token store; `cleanup()` removes it. */
export function tempStoreDir(): { dir: string; path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-delegated-'));
  return {
    dir,
    path: join(dir, 'tokens.json'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Options of {@link delegatedSettings}. */
export interface DelegatedSettingsOptions {
  readonly realm: Realm;
  /** The inbound protection; none: authorization off. */
  readonly inbound?: Inbound | undefined;
  /** Extra `oauth:` keys (token_store, callback_base_url, …). */
  readonly oauth?: Json;
  /** Extra `mcp.servers.down.auth.oauth` keys. */
  readonly serverOAuth?: Json;
}

/** The agent's settings: one downstream server `down` in the realm, reached with OAuth. */
export function delegatedSettings(options: DelegatedSettingsOptions): Settings {
  const { inbound } = options;
  return settingsSchema.parse({
    name: 'delegated-test',
    mcp: {
      servers: {
        down: {
          transport: 'streamable_http',
          url: options.realm.server.url,
          auth: { oauth: { enabled: true, scopes: [DOWN_SCOPE], ...options.serverOAuth } },
        },
      },
    },
    oauth: { background_refresh: false, ...options.oauth },
    ...(inbound
      ? {
          authorization: {
            enabled: true,
            issuer_url: inbound.as.issuer,
            resource_server_url: inbound.resource,
            expected_audiences: [inbound.resource],
            required_scopes: ['mcp:tools'],
          },
        }
      : {}),
  });
}

/** A created and listening agent. */
export interface ServedAgent {
  readonly app: App;
  readonly running: RunningApp;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Create the agent from `settings` (with the app module's `setup` and `logger`, if given) and
 * listen on `port` (0: a free one).
 */
export async function serveAgent(
  settings: Settings,
  port = 0,
  options: Pick<CreateAppOptions, 'setup' | 'logger'> = {},
): Promise<ServedAgent> {
  const app = await createApp({ settings, env: {}, ...options });
  const running = await app.listen({ host: '127.0.0.1', port });
  return {
    app,
    running,
    origin: `http://127.0.0.1:${running.port}`,
    async close() {
      await running.close();
      await app.close();
    },
  };
}

/** The downstream login behind a sign-in check URL (`…/internal/oauth/connect?flow=ID`). */
export async function downstreamFlow(store: TokenStore, connectUrl: string | URL) {
  return store.flows.byId(new URL(connectUrl).searchParams.get('flow') ?? '');
}

/** The agent's internal callback under `origin`. */
export function callbackOf(origin: string): string {
  return `${origin}/internal/oauth/callback`;
}

async function postForm(url: URL, form: Record<string, string>, jar: CookieJar) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
  jar.store(url, response);
  await response.body?.cancel();
  const location = response.headers.get('location');
  if (!location) throw new Error(`the form post to ${url.pathname} did not redirect`);
  return new URL(location, url);
}

function formAction(html: string, base: URL): URL | undefined {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  return action ? new URL(action.replaceAll('&amp;', '&'), base) : undefined;
}

/**
 * Open `url` in a headless browser and sign in on the development authorization server's pages as
 * `user`, approving the consent; the walk then follows the redirect (to the agent's callback), or
 * stops before it at `stopAt`.
 */
export async function signIn(
  url: string | URL,
  user: string,
  options: { jar?: CookieJar; stopAt?: string; inboundUser?: string } = {},
): Promise<BrowserResult> {
  return signInPages(url, user, options);
}

async function signInPages(
  url: string | URL,
  user: string,
  options: { jar?: CookieJar; stopAt?: string; inboundUser?: string },
): Promise<BrowserResult> {
  const jar = options.jar ?? new CookieJar();
  const walk = { cookies: jar, ...(options.stopAt ? { stopAtRedirectUri: options.stopAt } : {}) };
  // Through the agent's sign-in check, the first login page is the callers' authorization server
  // (as the caller: `alice` for `alice-down` unless told), the next one the downstream realm's.
  const viaCheck = new URL(url).pathname.endsWith('/internal/oauth/connect');
  const inboundUser = options.inboundUser ?? user.replace(/-down$/, '');
  let inboundOrigin: string | undefined;
  let page = await followAuthorization(url, walk);
  for (let step = 0; step < 8; step++) {
    const action = formAction(page.body, page.finalUrl);
    if (!action) return page;
    if (action.pathname.endsWith('/login')) {
      if (viaCheck && inboundOrigin === undefined) inboundOrigin = action.origin;
      const name = viaCheck && action.origin === inboundOrigin ? inboundUser : user;
      page = await followAuthorization(await postForm(action, { username: name }, jar), walk);
    } else if (action.pathname.endsWith('/confirm')) {
      page = await followAuthorization(await postForm(action, {}, jar), walk);
    } else {
      return page;
    }
  }
  return page;
}

/** What a client's elicitation handler saw. */
export interface ElicitationLog {
  readonly requests: ElicitRequest['params'][];
  /** The pages the headless browser ended on. */
  readonly pages: BrowserResult[];
  /** Sign-ins still running in the background (see {@link ConnectOptions.background}). */
  readonly running: Promise<unknown>[];
  /** The ids of `notifications/elicitation/complete` received. */
  readonly completed: string[];
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Declare URL elicitation and answer it by signing in as this downstream user. */
  readonly signInAs?: string;
  /** The answer to give (default `accept`). */
  readonly answer?: 'accept' | 'decline' | 'cancel';
  /** Sign in with this cookie jar (default: a new one per elicitation). */
  readonly jar?: CookieJar;
  /**
   * Answer at once and sign in afterwards, as a person would (the answer says the URL will be
   * opened, not that the sign-in is done), once `background` resolves when it is a function.
   * Default: sign in first, then answer.
   */
  readonly background?: boolean | (() => Promise<unknown>);
}

/** An SDK client on the agent and what its elicitation handler saw. */
export interface ConnectedClient {
  readonly client: Client;
  readonly log: ElicitationLog;
  call(name: string, args?: Json): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** Connect an SDK client to `url` with `token` (none: anonymous). */
export async function connect(
  url: string,
  token: string | undefined,
  options: ConnectOptions = {},
): Promise<ConnectedClient> {
  const log: ElicitationLog = { requests: [], pages: [], running: [], completed: [] };
  const user = options.signInAs;
  const client = new Client(
    { name: 'delegated-test-client', version: '1.0.0' },
    { capabilities: user !== undefined ? { elicitation: { url: {} } } : {} },
  );
  if (user !== undefined) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      log.requests.push(request.params);
      const answer = options.answer ?? 'accept';
      if (request.params.mode === 'url' && answer === 'accept') {
        const url = request.params.url;
        const walk = async () => {
          // In the background: a moment after the answer has gone out.
          if (typeof options.background === 'function') await options.background();
          else if (options.background) await new Promise((done) => setImmediate(done));
          log.pages.push(await signIn(url, user, options.jar ? { jar: options.jar } : {}));
        };
        if (options.background) log.running.push(walk());
        else await walk();
      }
      return { action: answer };
    });
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, (notification) => {
      log.completed.push(notification.params.elicitationId);
    });
  }
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : {},
  });
  await client.connect(transport);
  return {
    client,
    log,
    call: async (name, args = {}) =>
      (await client.callTool({ name, arguments: args })) as CallToolResult,
    close: () => client.close(),
  };
}

/** The text of the first text content of a tool result. */
export function textOf(result: CallToolResult): string {
  const item = result.content.find((content) => content.type === 'text');
  return item && item.type === 'text' ? item.text : '';
}

/** The `sub` a downstream `whoami` result reports. */
export function subOf(result: CallToolResult): unknown {
  return (JSON.parse(textOf(result)) as Json).sub;
}

/** A second view of a file token store (another "process"); close it after. */
export function openStore(path: string, now?: () => number): TokenStore {
  return createTokenStore(
    settingsSchema.parse({ oauth: { token_store: { backend: 'file', path } } }).oauth.token_store,
    now ? { now } : {},
  );
}

/** The records of server `server` in `store`, by the identity their storage id starts with. */
export async function recordsByIdentity(
  store: TokenStore,
  server = 'down',
): Promise<Map<string, TokenRecord[]>> {
  const out = new Map<string, TokenRecord[]>();
  for (const { id, record } of await store.list()) {
    if (record.server !== server) continue;
    const identity = decodeURIComponent(id.split(':', 1)[0] ?? '');
    out.set(identity, [...(out.get(identity) ?? []), record]);
  }
  return out;
}
