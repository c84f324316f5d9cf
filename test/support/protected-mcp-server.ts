import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { ServerWebSocketTransport } from './ws-mcp-server.js';

/** One request as the protected MCP server received it. */
export interface ProtectedRequest {
  readonly method: string;
  readonly path: string;
  /** Whether an `Authorization` header came at all (any scheme). */
  readonly authorization: boolean;
  /** The bearer token, verbatim, when the header was `Bearer …`. */
  readonly token: string | undefined;
  /** The response status, once finished (101 for accepted WebSocket handshakes). */
  status: number | undefined;
}

/** Options of {@link startProtectedMcpServer}. */
export interface ProtectedMcpServerOptions {
  /** The authorization server's issuer; tokens must carry exactly this `iss`. */
  readonly issuer: string;
  /** Where the signing keys are; default: `jwks_uri` from the issuer's metadata (RFC 8414, OIDC). */
  readonly jwksUri?: string;
  /** The Streamable HTTP endpoint's path. Default `/mcp`. */
  readonly path?: string;
  /** Scopes every request's token must have (else 403 insufficient_scope). Default none. */
  readonly requiredScopes?: readonly string[];
  /** Tool name → space-separated scopes a `tools/call` of it needs (else 403). Default none. */
  readonly toolScopes?: Readonly<Record<string, string>>;
  /** `scopes_supported` of the metadata. Default: the required and tool scopes. */
  readonly scopesSupported?: readonly string[];
  /**
   * Serve RFC 9728 metadata and name it in challenges. Default true; false: 404 there and
   * challenges without `resource_metadata`.
   */
  readonly prm?: boolean;
  /** Adds tools to each session's server (`whoami` and `echo` are always there). */
  readonly setup?: (server: McpServer) => void;
}

/**
 * An MCP server that wants RFC 9068 JWT bearer tokens from one issuer for its own URL: Streamable
 * HTTP at `url`, legacy SSE (`GET /sse`, `POST /messages`) and WebSocket (`wsUrl`, token checked
 * on the handshake), with RFC 9728 metadata at `resourceMetadataUrl`.
 */
export interface ProtectedMcpServer {
  /** `http://127.0.0.1:<port>/mcp`: the resource identifier (audience) too. */
  readonly url: string;
  /** `http://127.0.0.1:<port>/.well-known/oauth-protected-resource/mcp` */
  readonly resourceMetadataUrl: string;
  /** `http://127.0.0.1:<port>/sse` (tokens for `url` are accepted here too) */
  readonly sseUrl: string;
  /** `ws://127.0.0.1:<port>/ws` (subprotocol `mcp`) */
  readonly wsUrl: string;
  readonly requests: ProtectedRequest[];
  /** Each `whoami` call as the server saw it: the token's `sub` and the token itself. */
  readonly calls: ProtectedCall[];
  close(): Promise<void>;
}

/** One `whoami` call as the protected MCP server ran it. */
export interface ProtectedCall {
  readonly tool: string;
  readonly sub: unknown;
  readonly token: string | undefined;
}

type Verified = { readonly ok: true; readonly auth: AuthInfo } | { readonly ok: false };

/** Start a {@link ProtectedMcpServer} on a free port. */
export async function startProtectedMcpServer(
  options: ProtectedMcpServerOptions,
): Promise<ProtectedMcpServer> {
  const path = options.path ?? '/mcp';
  const prm = options.prm ?? true;
  const requiredScopes = options.requiredScopes ?? [];
  const toolScopes = options.toolScopes ?? {};
  const requests: ProtectedRequest[] = [];
  const calls: ProtectedCall[] = [];
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const sse = new Map<string, SSEServerTransport>();
  const servers = new Set<McpServer>();
  const sockets = new Set<Socket>();

  const http = createServer();
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const url = `${origin}${path}`;
  const resourceMetadataUrl = `${origin}/.well-known/oauth-protected-resource${path}`;
  const scopesSupported = options.scopesSupported ?? [
    ...new Set([...requiredScopes, ...Object.values(toolScopes).flatMap((s) => s.split(' '))]),
  ];

  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  const keys = async () => {
    jwks ??= createRemoteJWKSet(
      new URL(options.jwksUri ?? (await discoverJwksUri(options.issuer))),
    );
    return jwks;
  };

  const verify = async (token: string | undefined): Promise<Verified> => {
    if (!token) return { ok: false };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keys(), {
        issuer: options.issuer,
        audience: url,
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      }));
    } catch {
      return { ok: false };
    }
    const scope = typeof payload.scope === 'string' ? payload.scope : '';
    const auth: AuthInfo = {
      token,
      clientId: typeof payload.client_id === 'string' ? payload.client_id : '',
      scopes: scope.split(' ').filter(Boolean),
      resource: new URL(url),
      extra: { sub: payload.sub, scope, aud: payload.aud, client_id: payload.client_id },
      ...(payload.exp === undefined ? {} : { expiresAt: payload.exp }),
    };
    return { ok: true, auth };
  };

  const challenge = (params: Record<string, string | undefined>): string =>
    `Bearer ${Object.entries({
      ...params,
      resource_metadata: prm ? resourceMetadataUrl : undefined,
    })
      .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
      .map(([name, value]) => `${name}="${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
      .join(', ')}`;

  const deny = (
    res: ServerResponse,
    status: 401 | 403,
    params: Record<string, string | undefined>,
  ) =>
    res
      .writeHead(status, {
        'content-type': 'application/json',
        'www-authenticate': challenge(params),
      })
      .end(JSON.stringify({ error: params.error ?? 'unauthorized' }));

  /** 401/403 unless the token is good and has `scopes`; the auth info otherwise. */
  const authorize = async (
    req: IncomingMessage,
    res: ServerResponse,
    token: string | undefined,
    scopes: readonly string[],
  ): Promise<AuthInfo | undefined> => {
    const verified = await verify(token);
    if (!verified.ok) {
      deny(res, 401, {
        error: token ? 'invalid_token' : undefined,
        scope: requiredScopes.join(' '),
      });
      return undefined;
    }
    const missing = scopes.filter((scope) => !verified.auth.scopes.includes(scope));
    if (missing.length > 0) {
      deny(res, 403, { error: 'insufficient_scope', scope: scopes.join(' ') });
      return undefined;
    }
    (req as IncomingMessage & { auth?: AuthInfo }).auth = verified.auth;
    return verified.auth;
  };

  /** The scopes a JSON-RPC body needs: the required ones plus those of any tool it calls. */
  const scopesFor = (body: unknown): string[] => {
    const needed = new Set(requiredScopes);
    for (const message of Array.isArray(body) ? body : [body]) {
      if (!isObject(message) || message.method !== 'tools/call') continue;
      const name = isObject(message.params) ? message.params.name : undefined;
      const scope = typeof name === 'string' ? toolScopes[name] : undefined;
      for (const each of scope?.split(' ') ?? []) if (each) needed.add(each);
    }
    return [...needed];
  };

  const newMcpServer = (): McpServer => {
    const server = new McpServer({ name: 'protected-mcp-server', version: '1.0.0' });
    server.registerTool(
      'whoami',
      { description: "Returns the token's sub, scope and aud" },
      (extra) => {
        calls.push({
          tool: 'whoami',
          sub: extra.authInfo?.extra?.sub,
          token: extra.authInfo?.token,
        });
        return {
          content: [{ type: 'text', text: JSON.stringify(extra.authInfo?.extra ?? {}) }],
        };
      },
    );
    server.registerTool(
      'echo',
      { description: 'Echoes text', inputSchema: { text: z.string() } },
      ({ text }) => ({ content: [{ type: 'text', text }] }),
    );
    options.setup?.(server);
    servers.add(server);
    return server;
  };

  const route = async (
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
    token: string | undefined,
  ): Promise<void> => {
    if (
      pathname === `/.well-known/oauth-protected-resource${path}` &&
      prm &&
      req.method === 'GET'
    ) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          resource: url,
          authorization_servers: [options.issuer],
          scopes_supported: scopesSupported,
          bearer_methods_supported: ['header'],
        }),
      );
      return;
    }
    if (pathname === path) {
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      if (!(await authorize(req, res, token, scopesFor(body)))) return;
      const sessionId = req.headers['mcp-session-id'];
      let transport = typeof sessionId === 'string' ? streamable.get(sessionId) : undefined;
      if (!transport) {
        if (req.method !== 'POST' || sessionId !== undefined) {
          res.writeHead(404).end();
          return;
        }
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            streamable.set(id, created);
          },
          onsessionclosed: (id) => {
            streamable.delete(id);
          },
        });
        transport = created;
        await newMcpServer().connect(created);
      }
      await transport.handleRequest(req, res, body);
      return;
    }
    if (pathname === '/sse' && req.method === 'GET') {
      if (!(await authorize(req, res, token, requiredScopes))) return;
      const transport = new SSEServerTransport('/messages', res);
      sse.set(transport.sessionId, transport);
      res.on('close', () => sse.delete(transport.sessionId));
      await newMcpServer().connect(transport);
      return;
    }
    if (pathname === '/messages' && req.method === 'POST') {
      const body = await readJson(req);
      if (!(await authorize(req, res, token, scopesFor(body)))) return;
      const transport = sse.get(
        new URL(req.url ?? '/', origin).searchParams.get('sessionId') ?? '',
      );
      if (transport) await transport.handlePostMessage(req, res, body);
      else res.writeHead(404).end();
      return;
    }
    res.writeHead(404).end();
  };

  const record = (req: IncomingMessage): { pathname: string; entry: ProtectedRequest } => {
    const pathname = new URL(req.url ?? '/', origin).pathname;
    const header = req.headers.authorization;
    const match = header ? /^Bearer +(\S+)$/i.exec(header) : null;
    const entry: ProtectedRequest = {
      method: req.method ?? '',
      path: pathname,
      authorization: header !== undefined,
      token: match?.[1],
      status: undefined,
    };
    requests.push(entry);
    return { pathname, entry };
  };

  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const { pathname, entry } = record(req);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    route(req, res, pathname, entry.token).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(error instanceof SyntaxError ? 400 : 500);
      res.end();
    });
  });

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('mcp') ? 'mcp' : false),
  });
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const { pathname, entry } = record(req);
    const refuse = (status: string, headers: Record<string, string> = {}) => {
      entry.status = Number(status.slice(0, 3));
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.end(
        `HTTP/1.1 ${status}\r\n${lines.join('')}Connection: close\r\nContent-Length: 0\r\n\r\n`,
      );
    };
    if (pathname !== '/ws') return refuse('404 Not Found');
    void verify(entry.token).then((verified) => {
      if (!verified.ok) {
        const error = entry.token ? 'invalid_token' : undefined;
        return refuse('401 Unauthorized', {
          'WWW-Authenticate': challenge({ error, scope: requiredScopes.join(' ') }),
        });
      }
      if (requiredScopes.some((scope) => !verified.auth.scopes.includes(scope))) {
        return refuse('403 Forbidden', {
          'WWW-Authenticate': challenge({
            error: 'insufficient_scope',
            scope: requiredScopes.join(' '),
          }),
        });
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        entry.status = 101;
        const extra = { requestInfo: { headers: req.headers }, authInfo: verified.auth };
        void newMcpServer().connect(new ServerWebSocketTransport(ws, extra));
      });
    });
  });

  return {
    url,
    resourceMetadataUrl,
    sseUrl: `${origin}/sse`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    requests,
    calls,
    async close() {
      await Promise.all([...servers].map((server) => server.close().catch(() => {})));
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** `jwks_uri` from RFC 8414 metadata, else from OpenID Connect discovery. */
async function discoverJwksUri(issuer: string): Promise<string> {
  for (const suffix of ['oauth-authorization-server', 'openid-configuration']) {
    const response = await fetch(`${issuer}/.well-known/${suffix}`);
    if (!response.ok) continue;
    const metadata: unknown = await response.json();
    if (isObject(metadata) && typeof metadata.jwks_uri === 'string') return metadata.jwks_uri;
  }
  throw new Error(`no jwks_uri in the metadata of ${issuer}`);
}

/** The request's JSON body; `undefined` when empty. Throws {@link SyntaxError} when not JSON. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
