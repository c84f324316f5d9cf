/**
 * Shared pieces of the served-app tests (http, identity, interop): user tokens from the real
 * development authorization server (its login page posted headlessly, so each test picks the
 * user), raw HTTP requests with any `Host`/`Origin`/duplicate header, and JSON-RPC helpers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from 'node:http';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { expect } from 'vitest';
import * as z from 'zod';
import { type App, createApp, type RunningApp } from '../../src/app/create-app.js';
import type { AppSetup } from '../../src/app/define.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import type { Logger } from '../../src/logger.js';
import type { PeerConnectionLimits } from '../../src/servers/peer-connections.js';
import type { SessionRecordStore } from '../../src/stores/sessions.js';
import {
  type BrowserOptions,
  type BrowserResult,
  CookieJar,
  followAuthorization,
} from '../support/browser.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';
import { freePort } from '../support/net.js';

/** A redirect URI nothing listens on: the walk stops there and reads the code. */
export const REDIRECT_URI = 'http://127.0.0.1:53682/callback';

type Json = Record<string, unknown>;

/** Tokens one user got for the resource. */
export interface UserTokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly clientId: string;
  readonly scope: string;
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
  return response;
}

function formAction(html: string, base: string): URL {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no form in the page: ${html.slice(0, 200)}`);
  return new URL(action.replaceAll('&amp;', '&'), base);
}

async function tokenRequest(issuer: string, form: Record<string, string>): Promise<Json> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await response.json()) as Json;
  if (response.status !== 200) throw new Error(`token request failed: ${JSON.stringify(body)}`);
  return body;
}

/**
 * Walk an authorization URL of the development authorization server as a person would: sign in
 * on its login page as `user`, approve on the consent page, and follow the redirect (to the
 * redirect URI itself, unless `options.stopAtRedirectUri` says where to stop). The server must not
 * auto-approve.
 */
export async function signIn(
  authorizationUrl: string | URL,
  user: string,
  options: BrowserOptions = {},
): Promise<BrowserResult> {
  const jar = options.cookies ?? new CookieJar();
  const walk = { ...options, cookies: jar };
  const login = await followAuthorization(authorizationUrl, walk);
  if (!login.body.includes('name="username"')) {
    throw new Error(`no login page at ${login.finalUrl.href} (status ${login.status})`);
  }
  const base = login.finalUrl.origin;
  const signedIn = await postForm(formAction(login.body, base), { username: user }, jar);
  const consent = await followAuthorization(
    new URL(signedIn.headers.get('location') ?? '', base),
    walk,
  );
  const approved = await postForm(formAction(consent.body, base), {}, jar);
  return followAuthorization(new URL(approved.headers.get('location') ?? '', base), walk);
}

/**
 * Register a public client (DCR), sign in on the login page as `user`, approve, and exchange the
 * code (PKCE) for a token for `resource` with `scope`. The server must not auto-approve.
 */
export async function userTokens(
  issuer: string,
  resource: string,
  user: string,
  scope = 'mcp:tools',
): Promise<UserTokens> {
  const registration = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: `client of ${user}`,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    }),
  });
  const client = (await registration.json()) as Json;
  if (registration.status !== 201) throw new Error(`DCR failed: ${JSON.stringify(client)}`);
  const clientId = String(client.client_id);
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope,
    resource,
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const callback = await signIn(url, user, { stopAtRedirectUri: REDIRECT_URI });
  const code = callback.finalUrl.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback.finalUrl.href}`);
  const body = await tokenRequest(issuer, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
    client_id: clientId,
    resource,
  });
  return {
    accessToken: String(body.access_token),
    refreshToken: String(body.refresh_token),
    clientId,
    scope: String(body.scope),
  };
}

/** A new access token for the same user and client (refresh-token grant). */
export async function refreshed(
  issuer: string,
  tokens: UserTokens,
  resource: string,
): Promise<UserTokens> {
  const body = await tokenRequest(issuer, {
    grant_type: 'refresh_token',
    refresh_token: tokens.refreshToken,
    client_id: tokens.clientId,
    resource,
  });
  return {
    ...tokens,
    accessToken: String(body.access_token),
    refreshToken: String(body.refresh_token ?? tokens.refreshToken),
  };
}

/** A response read whole. */
export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One request with node:http, so `Host`, `Origin` and repeated headers go out exactly as given
 * (an array value sends the header once per item).
 */
export function raw(
  url: string,
  options: {
    method?: string;
    headers?: OutgoingHttpHeaders;
    body?: string | Buffer | undefined;
  } = {},
): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        // A fresh connection each time: no keep-alive reuse after an unread body.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    // The server may answer (413) and close before the whole body is written.
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The headers of a Streamable HTTP POST. */
export function mcpHeaders(token?: string, extra: Record<string, string> = {}) {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...extra,
  };
}

let nextId = 1;

/** A JSON-RPC request. */
export function rpc(method: string, params: Json = {}): string {
  return JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params });
}

/** An `initialize` request. */
export function initialize(): string {
  return rpc('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'raw-test', version: '1.0.0' },
  });
}

/** The JSON-RPC message of a response body (JSON, or the answer among an event stream's `data:`). */
export function message(body: string): Json {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) return JSON.parse(trimmed) as Json;
  const messages = trimmed
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => JSON.parse(line.slice('data:'.length)) as Json);
  // A stream may carry notifications (log messages, progress) before the answer.
  const found = messages.find((one) => 'result' in one || 'error' in one) ?? messages[0];
  if (found === undefined) throw new Error(`no JSON-RPC message in ${JSON.stringify(body)}`);
  return found;
}

/** Parameters of a `Bearer` challenge (quoted values unescaped). */
export function challengeParams(header: string | undefined): Record<string, string> {
  if (!header?.startsWith('Bearer')) return {};
  const out: Record<string, string> = {};
  for (const match of header.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) {
    out[match[1] as string] = (match[2] as string).replace(/\\(.)/g, '$1');
  }
  return out;
}

/**
 * The answer while tokens cannot be verified (security.md §0.1 C503): 503 with `Retry-After`, no
 * challenge, nothing that tells the client its token is bad.
 */
export function expectUnavailable(response: RawResponse): void {
  expect(response.status).toBe(503);
  expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
  expect(response.headers['www-authenticate']).toBeUndefined();
  expect(response.body).not.toContain('invalid_token');
}

/** The text of the first text content of a tool result. */
export function textOf(result: unknown): string {
  const content = ((result as { content?: unknown }).content ?? []) as {
    type: string;
    text?: string;
  }[];
  return content.find((item) => item.type === 'text')?.text ?? '';
}

/** Options of {@link startServedApp}. */
export interface ServedAppOptions {
  /** Extra `authorization:` keys. */
  readonly authorization?: Json;
  readonly setup?: AppSetup;
  readonly logger?: Logger;
  /** Serve a downstream Streamable HTTP server `down` that requires a static header. */
  readonly downstream?: boolean;
  /** Adds tools to the downstream server's sessions (beside `echo`). */
  readonly downstreamSetup?: (server: McpServer) => void;
  /** Let the development server approve every login at once as `dev` (no pages). */
  readonly autoApprove?: boolean;
  /** More `mcp.servers` entries. */
  readonly servers?: Json;
  /** More top-level sections (`openai:`, …). */
  readonly sections?: Json;
  /** `createApp`'s limits of sessions' own downstream connections. */
  readonly peerConnections?: PeerConnectionLimits;
  /** `createApp`'s shared session records (replicas without affinity). */
  readonly sharedSessions?: SessionRecordStore;
}

/** The static credential the app sends to its downstream server. */
export const DOWNSTREAM_KEY = 'downstream-static-key-7f3a';

/** A protected app on a loopback port, its development authorization server and downstream. */
export interface ServedApp {
  readonly as: DevAuthorizationServer;
  readonly app: App;
  readonly running: RunningApp;
  /** `http://127.0.0.1:PORT/mcp` (the configured resource and the served URL). */
  readonly resource: string;
  readonly origin: string;
  readonly down: McpHttpServer | undefined;
  close(): Promise<void>;
}

/**
 * Start the development authorization server (login page unless `autoApprove`; scopes
 * `mcp:tools` and `mcp:admin`), then the app protected by it, listening on loopback.
 */
export async function startServedApp(options: ServedAppOptions = {}): Promise<ServedApp> {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const as = await startDevAuthorizationServer({
    port: 0,
    // As `mcp-agent dev`: the legacy SSE endpoint is a resource too.
    resources: [resource, `http://127.0.0.1:${port}/sse`],
    defaultResource: resource,
    scopes: ['mcp:tools', 'mcp:admin'],
    autoApprove: options.autoApprove === true,
  });
  const down = options.downstream
    ? await startMcpHttpServer({
        require: { authorization: `Bearer ${DOWNSTREAM_KEY}` },
        setup: (server) => {
          server.registerTool(
            'echo',
            { description: 'Echo', inputSchema: { text: z.string() } },
            ({ text }) => ({ content: [{ type: 'text', text: `echo ${text}` }] }),
          );
          options.downstreamSetup?.(server);
        },
      })
    : undefined;
  const settings = settingsSchema.parse({
    name: 'served-test',
    ...options.sections,
    mcp: {
      servers: {
        ...(down
          ? {
              down: {
                transport: 'streamable_http',
                url: `${down.origin}/mcp`,
                headers: { Authorization: `Bearer ${DOWNSTREAM_KEY}` },
              },
            }
          : {}),
        ...options.servers,
      },
    },
    authorization: {
      enabled: true,
      issuer_url: as.issuer,
      resource_server_url: resource,
      expected_audiences: [resource],
      required_scopes: ['mcp:tools'],
      ...options.authorization,
    },
  });
  const app = await createApp({
    settings,
    ...(options.setup ? { setup: options.setup } : {}),
    env: {},
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.peerConnections ? { peerConnections: options.peerConnections } : {}),
    ...(options.sharedSessions ? { sharedSessions: options.sharedSessions } : {}),
  });
  const running = await app.listen({ host: '127.0.0.1', port });
  return {
    as,
    app,
    running,
    resource,
    origin: `http://127.0.0.1:${port}`,
    down,
    async close() {
      await running.close();
      await app.close();
      await down?.close();
      await as.close();
    },
  };
}

/**
 * A stdio server on the v1 SDK whose one tool `name` lists `inputSchema` and answers with the text
 * `answer` evaluates to (a JS expression over the request `r`), as the source of `node -e`.
 */
export function toolServerSource(name: string, inputSchema: object, answer = "'ok'"): string {
  return [
    "import { Server } from '@modelcontextprotocol/sdk/server/index.js';",
    "import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';",
    "import { ListToolsRequestSchema, CallToolRequestSchema } from '@modelcontextprotocol/sdk/types.js';",
    `const s = new Server({ name: ${JSON.stringify(name)}, version: '1' }, { capabilities: { tools: {} } });`,
    `s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: ${JSON.stringify(name)}, inputSchema: ${JSON.stringify(inputSchema)} }] }));`,
    `s.setRequestHandler(CallToolRequestSchema, async (r) => ({ content: [{ type: 'text', text: ${answer} }] }));`,
    'await s.connect(new StdioServerTransport());',
  ].join('\n');
}

/** The `mcp.servers` entry of a stdio server whose ES module source is `source` (`node -e`). */
export function inlineStdio(source: string) {
  return {
    transport: 'stdio',
    command: process.execPath,
    args: ['--input-type=module', '-e', source],
  };
}

/** A v2 client connected to `app` with `token`, on `mode` (legacy sessions, or a pinned revision). */
export async function connectV2(
  app: ServedApp,
  token: string,
  mode: 'legacy' | { pin: string },
  name = 'served-test',
): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' }, { versionNegotiation: { mode } });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(app.resource), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** The URIs of the `notifications/resources/updated` `client` receives, and a wait for the next. */
export function resourceUpdates(client: Client): { updates: string[]; next: () => Promise<void> } {
  const updates: string[] = [];
  let arrived: () => void = () => {};
  client.setNotificationHandler('notifications/resources/updated', ({ params }) => {
    updates.push(params.uri);
    arrived();
  });
  const next = () =>
    new Promise<void>((resolve) => {
      arrived = resolve;
    });
  return { updates, next };
}
