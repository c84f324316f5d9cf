/**
 * The agent's HTTP front (node:http): the protected-resource metadata (RFC 9728), the MCP
 * Streamable HTTP endpoint (`/mcp`) and the legacy SSE endpoints (`/sse`, `/messages`), each MCP
 * request authenticated by the {@link BearerGuard} first. Each endpoint is a resource with its
 * own metadata document, which its challenges name (`/sse` and `/messages`: the `/sse` one). Tool scopes are checked before the
 * request reaches the MCP server, so a missing one is an HTTP 403 `insufficient_scope` the
 * client can step up on. A session belongs to the principal (`iss` + `sub`) that opened it:
 * another principal's token on it finds no session (404); the same principal with a refreshed
 * token goes on. The inbound token is not handed to tools (`authInfo.token` is empty) and so
 * never reaches a downstream server. Bodies are capped; `Host`/`Origin` are checked when bound
 * to loopback.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Logger } from '../logger.js';
import type { BearerGuard } from './guard.js';
import type { HostCheck } from './host-check.js';
import { CALLER, type CallerIdentity, principalOf } from './identity.js';
import { createMcpServer, type ServerInfo, type ToolCatalog } from './mcp-server.js';
import {
  metadataPaths,
  metadataResponse,
  type ProtectedResourceMetadata,
  resourceMetadataUrl,
  SSE_MESSAGES_PATH,
  SSE_PATH,
  sseResourceOf,
} from './metadata.js';

/** Options of {@link createMcpHttpHandler}. */
export interface McpHttpHandlerOptions {
  readonly catalog: ToolCatalog;
  readonly info: ServerInfo;
  /** Authorization; `undefined` serves everyone (authorization off). */
  readonly guard?: BearerGuard | undefined;
  /**
   * The RFC 9728 document of the MCP endpoint, served when `guard` is set. The legacy SSE
   * endpoint gets the same one with its own `resource` ({@link sseResourceOf}).
   */
  readonly metadata?: ProtectedResourceMetadata | undefined;
  /** The Streamable HTTP endpoint's path. Default `/mcp`. */
  readonly mcpPath?: string;
  readonly hostCheck?: HostCheck | undefined;
  /** Largest request body, in bytes. Default 4 MiB. */
  readonly maxBodyBytes?: number;
  /** Sessions one principal may hold; opening one more closes its least recently used. Default 16. */
  readonly maxSessionsPerPrincipal?: number;
  /** Sessions in all; beyond, `initialize` gets 503. Default 10,000. */
  readonly maxSessions?: number;
  /** A session unused this long is closed, in milliseconds. Default 30 minutes. */
  readonly sessionIdleMs?: number;
  readonly now?: () => number;
  readonly logger?: Logger | undefined;
  /**
   * Routes served without a bearer token, by exact path (the OAuth callback a browser is
   * redirected to). `Host` is checked; nothing else.
   */
  readonly routes?: Readonly<Record<string, RouteHandler>>;
}

/** A route of {@link McpHttpHandlerOptions.routes}. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

/** The node:http request listener, with its sessions. */
export interface McpHttpHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Open sessions. */
  readonly sessionCount: number;
  /** Tell every session the tool list changed. */
  notifyToolsChanged(): void;
  /** End every session. */
  close(): Promise<void>;
}

interface Session {
  readonly kind: 'streamable' | 'sse';
  readonly principal: string;
  readonly server: Server;
  readonly transport: StreamableHTTPServerTransport | SSEServerTransport;
  lastUsed: number;
}

type AuthedRequest = IncomingMessage & {
  auth?: {
    token: string;
    clientId: string;
    scopes: string[];
    expiresAt?: number;
    extra?: Record<string, unknown>;
  };
};

const ANONYMOUS = 'anonymous';

function send(
  res: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string,
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, headers);
  res.end(body);
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  send(
    res,
    status,
    { 'content-type': 'application/json' },
    JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }),
  );
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > max) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some(
    (message) =>
      message !== null &&
      typeof message === 'object' &&
      (message as { method?: unknown }).method === 'initialize',
  );
}

/** Names of the tools a JSON-RPC body calls. */
function calledTools(body: unknown): string[] {
  const out: string[] = [];
  for (const message of Array.isArray(body) ? body : [body]) {
    if (message === null || typeof message !== 'object') continue;
    const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
    if (method === 'tools/call' && typeof params?.name === 'string') out.push(params.name);
  }
  return out;
}

function authInfoOf(identity: CallerIdentity): NonNullable<AuthedRequest['auth']> {
  return {
    // Never the inbound token: tools cannot pass it on (MCP "Token Passthrough").
    token: '',
    clientId: identity.clientId ?? '',
    scopes: [...identity.scopes],
    ...(identity.expiresAt !== undefined
      ? { expiresAt: Math.floor(identity.expiresAt / 1000) }
      : {}),
    extra: {
      issuer: identity.issuer,
      subject: identity.subject,
      claims: identity.claims,
      [CALLER]: identity,
    },
  };
}

/**
 * The metadata documents by path: the MCP endpoint's at its path-inserted and root URLs, the
 * legacy SSE endpoint's (the same, for its own `resource`) at its path-inserted URL.
 */
function metadataDocuments(
  metadata: ProtectedResourceMetadata | undefined,
): Map<string, ProtectedResourceMetadata> {
  const documents = new Map<string, ProtectedResourceMetadata>();
  if (!metadata) return documents;
  const sse = { ...metadata, resource: sseResourceOf(metadata.resource) };
  documents.set(new URL(resourceMetadataUrl(sse.resource)).pathname, sse);
  for (const path of metadataPaths(metadata.resource)) documents.set(path, metadata);
  return documents;
}

/** The request listener serving the agent over HTTP. */
export function createMcpHttpHandler(options: McpHttpHandlerOptions): McpHttpHandler {
  const mcpPath = options.mcpPath ?? '/mcp';
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const documents = metadataDocuments(options.guard ? options.metadata : undefined);
  const sseMetadataUrl = options.metadata
    ? resourceMetadataUrl(sseResourceOf(options.metadata.resource))
    : undefined;
  const sessions = new Map<string, Session>();
  const logger = options.logger;
  const now = options.now ?? Date.now;
  const perPrincipal = options.maxSessionsPerPrincipal ?? 16;
  const maxSessions = options.maxSessions ?? 10_000;
  const idleMs = options.sessionIdleMs ?? 30 * 60_000;

  function closeSession(id: string, session: Session): void {
    sessions.delete(id);
    void session.transport.close().catch(() => {});
    void session.server.close().catch(() => {});
  }

  /** Room for one more session of `principal`: its least recently used goes beyond the cap. */
  function makeRoom(principal: string): boolean {
    // Without authorization every caller is "anonymous": only the global cap applies then.
    const mine =
      principal === ANONYMOUS
        ? []
        : [...sessions].filter(([, session]) => session.principal === principal);
    if (mine.length >= perPrincipal) {
      const [id, oldest] = mine.reduce((a, b) => (b[1].lastUsed < a[1].lastUsed ? b : a));
      closeSession(id, oldest);
    }
    return sessions.size < maxSessions;
  }

  const sweeper = setInterval(
    () => {
      const cutoff = now() - idleMs;
      for (const [id, session] of sessions) {
        if (session.lastUsed < cutoff) closeSession(id, session);
      }
    },
    Math.min(60_000, idleMs),
  );
  sweeper.unref();

  /** Who calls, or `undefined` once refused with a challenge naming `metadataUrl`. */
  async function authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    metadataUrl: string | undefined,
  ): Promise<{ identity: CallerIdentity | undefined } | undefined> {
    const guard = options.guard;
    if (!guard) return { identity: undefined };
    const result = await guard.authenticate({
      authorization: req.headersDistinct.authorization,
      queryHasToken: url.searchParams.has('access_token'),
    });
    if (result.ok) return { identity: result.identity };
    const response = guard.response(result.rejection, metadataUrl);
    send(res, response.status, response.headers, response.body);
    return undefined;
  }

  /** Refuse with 403 `insufficient_scope` when a called tool needs a scope the caller lacks. */
  function checkToolScopes(
    res: ServerResponse,
    identity: CallerIdentity | undefined,
    body: unknown,
    metadataUrl?: string,
  ): boolean {
    const guard = options.guard;
    if (!guard || !identity) return true;
    for (const name of calledTools(body)) {
      const rejection = guard.authorize(identity, options.catalog.scopesFor(name));
      if (rejection) {
        const response = guard.response(rejection, metadataUrl);
        send(res, response.status, response.headers, response.body);
        return false;
      }
    }
    return true;
  }

  function sessionFor(id: string | undefined, principal: string, kind: Session['kind']) {
    const session = id === undefined ? undefined : sessions.get(id);
    // Another principal's session does not exist for this caller.
    if (!session || session.kind !== kind || session.principal !== principal) return undefined;
    session.lastUsed = now();
    return session;
  }

  async function readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    let text: string;
    try {
      text = await readBody(req, maxBody);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        jsonRpcError(res, 413, -32600, `Request body larger than ${maxBody} bytes`);
      } else {
        jsonRpcError(res, 400, -32700, 'Parse error');
      }
      return undefined;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      jsonRpcError(res, 400, -32700, 'Parse error');
      return undefined;
    }
  }

  async function streamable(
    req: AuthedRequest,
    res: ServerResponse,
    identity: CallerIdentity | undefined,
  ): Promise<void> {
    const principal = identity ? principalOf(identity) : ANONYMOUS;
    const header = req.headers['mcp-session-id'];
    const sessionId = typeof header === 'string' ? header : undefined;
    let body: unknown;
    if (req.method === 'POST') {
      body = await readJson(req, res);
      if (body === undefined) return;
      if (!checkToolScopes(res, identity, body)) return;
    } else if (req.method !== 'GET' && req.method !== 'DELETE') {
      send(res, 405, { allow: 'GET, POST, DELETE' }, '');
      return;
    }
    let session = sessionFor(sessionId, principal, 'streamable');
    if (!session) {
      if (sessionId !== undefined) {
        jsonRpcError(res, 404, -32001, 'Session not found');
        return;
      }
      if (req.method !== 'POST' || !isInitialize(body)) {
        jsonRpcError(res, 400, -32000, 'Bad Request: no session; send initialize first');
        return;
      }
      if (!makeRoom(principal)) {
        send(
          res,
          503,
          { 'content-type': 'application/json', 'retry-after': '30' },
          JSON.stringify({ error: 'too_many_sessions' }),
        );
        return;
      }
      session = await openStreamable(principal);
    }
    if (identity) req.auth = authInfoOf(identity);
    const transport = session.transport as StreamableHTTPServerTransport;
    await transport.handleRequest(req, res, body);
  }

  async function openStreamable(principal: string): Promise<Session> {
    const server = createMcpServer(options.catalog, options.info, logger);
    let session: Session | undefined;
    const transport = new StreamableHTTPServerTransport({
      // 192 bits from the CSPRNG, never derived from the token.
      sessionIdGenerator: () => randomBytes(24).toString('base64url'),
      onsessioninitialized: (id) => {
        if (session) sessions.set(id, session);
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    session = { kind: 'streamable', principal, server, transport, lastUsed: now() };
    await server.connect(transport);
    return session;
  }

  async function openSse(res: ServerResponse, identity: CallerIdentity | undefined): Promise<void> {
    const principal = identity ? principalOf(identity) : ANONYMOUS;
    if (!makeRoom(principal)) {
      send(
        res,
        503,
        { 'content-type': 'application/json', 'retry-after': '30' },
        JSON.stringify({ error: 'too_many_sessions' }),
      );
      return;
    }
    const server = createMcpServer(options.catalog, options.info, logger);
    // The SDK names SSE sessions with a UUID (122 random bits); ours adds 192 more, and a message
    // must carry both.
    const id = `sse:${randomBytes(24).toString('base64url')}`;
    const transport = new SSEServerTransport(`${SSE_MESSAGES_PATH}?s=${id.slice(4)}`, res);
    const session: Session = { kind: 'sse', principal, server, transport, lastUsed: now() };
    sessions.set(id, session);
    res.on('close', () => {
      sessions.delete(id);
      void server.close().catch(() => {});
    });
    await server.connect(transport);
  }

  async function sseMessage(
    req: AuthedRequest,
    res: ServerResponse,
    url: URL,
    identity: CallerIdentity | undefined,
  ): Promise<void> {
    const principal = identity ? principalOf(identity) : ANONYMOUS;
    const secret = url.searchParams.get('s');
    const session = secret === null ? undefined : sessionFor(`sse:${secret}`, principal, 'sse');
    if (!session || url.searchParams.get('sessionId') !== session.transport.sessionId) {
      jsonRpcError(res, 404, -32001, 'Session not found');
      return;
    }
    const body = await readJson(req, res);
    if (body === undefined) return;
    if (!checkToolScopes(res, identity, body, sseMetadataUrl)) return;
    if (identity) req.auth = authInfoOf(identity);
    const transport = session.transport as SSEServerTransport;
    await transport.handlePostMessage(req, res, body);
  }

  async function route(req: AuthedRequest, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://mcp-agent.invalid');
    const document = documents.get(url.pathname);
    const isMetadata = document !== undefined;
    // The metadata is public and meant to be read cross-origin (a browser-based client such as
    // the MCP Inspector): only its Host is checked.
    const origin = isMetadata ? undefined : req.headers.origin;
    if (options.hostCheck && !options.hostCheck(req.headers.host, origin)) {
      send(
        res,
        403,
        { 'content-type': 'application/json' },
        JSON.stringify({ error: 'forbidden', error_description: 'Host or Origin not allowed' }),
      );
      return;
    }
    if (document) {
      const answer = metadataResponse(req.method ?? 'GET', document);
      send(res, answer.status, answer.headers, answer.body);
      return;
    }
    const route =
      options.routes && Object.hasOwn(options.routes, url.pathname)
        ? options.routes[url.pathname]
        : undefined;
    if (route) {
      await route(req, res, url);
      return;
    }
    const isMcp = url.pathname === mcpPath;
    const isSse = url.pathname === SSE_PATH && req.method === 'GET';
    const isMessage = url.pathname === SSE_MESSAGES_PATH && req.method === 'POST';
    if (!isMcp && !isSse && !isMessage) {
      send(
        res,
        404,
        { 'content-type': 'application/json' },
        JSON.stringify({ error: 'not_found' }),
      );
      return;
    }
    // Each endpoint's challenge names its own metadata: a client compares its `resource` with
    // the URL it called (RFC 9728 §3.3), `/sse` for the legacy transport and its messages.
    const authenticated = await authenticate(req, res, url, isMcp ? undefined : sseMetadataUrl);
    if (!authenticated) return;
    const { identity } = authenticated;
    if (isMcp) await streamable(req, res, identity);
    else if (isSse) await openSse(res, identity);
    else await sseMessage(req, res, url, identity);
  }

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((error: unknown) => {
      logger?.error(
        `request failed: ${error instanceof Error ? error.message : 'unknown error'}`,
        {},
      );
      if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal error');
      else res.end();
    });
  }) as McpHttpHandler;
  Object.defineProperty(handler, 'sessionCount', { get: () => sessions.size });
  handler.notifyToolsChanged = () => {
    for (const session of sessions.values()) {
      void session.server.sendToolListChanged().catch(() => {});
    }
  };
  handler.close = async () => {
    clearInterval(sweeper);
    const open = [...sessions.values()];
    sessions.clear();
    await Promise.all(open.map((session) => session.server.close().catch(() => {})));
  };
  return handler;
}
