/**
 * An MCP server built with the MCP TypeScript SDK v1's own authorization pieces, as its docs wire
 * them on express: `mcpAuthRouter` (an authorization server with DCR, PKCE, refresh and
 * revocation, RFC 8414 and RFC 9728 metadata) over a small in-memory `OAuthServerProvider`, and
 * `requireBearerAuth` (with `expectedResource` and the path-inserted metadata URL) in front of an
 * SDK `McpServer` on a stateful `StreamableHTTPServerTransport`. The provider's user is `alice`,
 * already signed in: `authorize` approves at once and redirects with a code.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import {
  InvalidGrantError,
  InvalidTokenError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type {
  AuthorizationParams,
  OAuthServerProvider,
} from '@modelcontextprotocol/sdk/server/auth/provider.js';
import {
  getOAuthProtectedResourceMetadataUrl,
  mcpAuthRouter,
} from '@modelcontextprotocol/sdk/server/auth/router.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type {
  OAuthClientInformationFull,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';

/** The scope the MCP endpoint requires. */
export const SDK_PEER_SCOPE = 'mcp:tools';

/** What one grant (a code, then its tokens) is for. */
interface Grant {
  readonly clientId: string;
  readonly scopes: string[];
  readonly resource: URL | undefined;
}

/** One token request the provider answered. */
export interface SdkPeerTokenRequest {
  readonly grantType: 'authorization_code' | 'refresh_token';
  readonly clientId: string;
  readonly resource: string | undefined;
}

/** A running SDK auth-router peer. */
export interface SdkAuthRouterPeer {
  /** `http://127.0.0.1:<port>/mcp`: the MCP endpoint and the resource tokens must be for. */
  readonly url: string;
  /** `http://127.0.0.1:<port>/`: the issuer, as the SDK writes it. */
  readonly issuer: string;
  /** Client ids registered through DCR. */
  readonly registered: string[];
  readonly authorizations: AuthorizationParams[];
  readonly tokenRequests: SdkPeerTokenRequest[];
  close(): Promise<void>;
}

/** The provider: clients, codes and tokens in maps; every authorization approved for alice. */
class MemoryProvider implements OAuthServerProvider {
  readonly #clients = new Map<string, OAuthClientInformationFull>();
  readonly #codes = new Map<string, Grant & { challenge: string; redirectUri: string }>();
  readonly #access = new Map<string, Grant & { expiresAt: number }>();
  readonly #refresh = new Map<string, Grant>();
  readonly registered: string[] = [];
  readonly authorizations: AuthorizationParams[] = [];
  readonly tokenRequests: SdkPeerTokenRequest[] = [];
  readonly #accessTokenTtl: number;

  constructor(accessTokenTtl: number) {
    this.#accessTokenTtl = accessTokenTtl;
  }

  get clientsStore(): OAuthRegisteredClientsStore {
    return {
      getClient: (id) => this.#clients.get(id),
      registerClient: (client) => {
        const full = client as OAuthClientInformationFull;
        this.#clients.set(full.client_id, full);
        this.registered.push(full.client_id);
        return full;
      },
    };
  }

  async authorize(
    client: OAuthClientInformationFull,
    params: AuthorizationParams,
    res: Response,
  ): Promise<void> {
    this.authorizations.push(params);
    const code = randomBytes(24).toString('base64url');
    this.#codes.set(code, {
      clientId: client.client_id,
      scopes: params.scopes ?? [],
      resource: params.resource,
      challenge: params.codeChallenge,
      redirectUri: params.redirectUri,
    });
    const target = new URL(params.redirectUri);
    target.searchParams.set('code', code);
    if (params.state !== undefined) target.searchParams.set('state', params.state);
    res.redirect(302, target.href);
  }

  async challengeForAuthorizationCode(
    client: OAuthClientInformationFull,
    code: string,
  ): Promise<string> {
    return this.#code(client, code).challenge;
  }

  async exchangeAuthorizationCode(
    client: OAuthClientInformationFull,
    code: string,
    _verifier?: string,
    redirectUri?: string,
    resource?: URL,
  ): Promise<OAuthTokens> {
    const grant = this.#code(client, code);
    this.#codes.delete(code);
    if (redirectUri !== grant.redirectUri) throw new InvalidGrantError('redirect_uri differs');
    if (resource?.href !== grant.resource?.href) throw new InvalidGrantError('resource differs');
    this.tokenRequests.push({
      grantType: 'authorization_code',
      clientId: client.client_id,
      resource: resource?.href,
    });
    return this.#issue(grant);
  }

  async exchangeRefreshToken(
    client: OAuthClientInformationFull,
    refreshToken: string,
    scopes?: string[],
    resource?: URL,
  ): Promise<OAuthTokens> {
    const grant = this.#refresh.get(refreshToken);
    if (!grant || grant.clientId !== client.client_id) {
      throw new InvalidGrantError('unknown refresh token');
    }
    this.#refresh.delete(refreshToken); // rotated
    if (scopes?.some((scope) => !grant.scopes.includes(scope))) {
      throw new InvalidGrantError('scope beyond the grant');
    }
    this.tokenRequests.push({
      grantType: 'refresh_token',
      clientId: client.client_id,
      resource: resource?.href,
    });
    return this.#issue({ ...grant, ...(scopes ? { scopes } : {}) });
  }

  async verifyAccessToken(token: string): Promise<AuthInfo> {
    const grant = this.#access.get(token);
    if (!grant) throw new InvalidTokenError('unknown access token');
    return {
      token,
      clientId: grant.clientId,
      scopes: grant.scopes,
      expiresAt: grant.expiresAt,
      ...(grant.resource ? { resource: grant.resource } : {}),
      extra: { sub: 'alice' },
    };
  }

  #code(client: OAuthClientInformationFull, code: string) {
    const grant = this.#codes.get(code);
    if (!grant || grant.clientId !== client.client_id) throw new InvalidGrantError('unknown code');
    return grant;
  }

  #issue(grant: Grant): OAuthTokens {
    const accessToken = randomBytes(24).toString('base64url');
    const refreshToken = randomBytes(24).toString('base64url');
    const expiresAt = Math.floor(Date.now() / 1000) + this.#accessTokenTtl;
    this.#access.set(accessToken, { ...grant, expiresAt });
    this.#refresh.set(refreshToken, grant);
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: this.#accessTokenTtl,
      refresh_token: refreshToken,
      scope: grant.scopes.join(' '),
    };
  }
}

/** Start an {@link SdkAuthRouterPeer} on a free port of 127.0.0.1. */
export async function startSdkAuthRouterPeer(
  options: { accessTokenTtl?: number } = {},
): Promise<SdkAuthRouterPeer> {
  const provider = new MemoryProvider(options.accessTokenTtl ?? 3600);
  const app = express();
  const http: Server = await new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const mcpUrl = new URL('/mcp', origin);
  const issuerUrl = new URL(origin);
  app.use(
    mcpAuthRouter({
      provider,
      issuerUrl,
      resourceServerUrl: mcpUrl,
      scopesSupported: [SDK_PEER_SCOPE],
      resourceName: 'sdk-auth-router-peer',
    }),
  );
  const bearer = requireBearerAuth({
    verifier: provider,
    requiredScopes: [SDK_PEER_SCOPE],
    resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpUrl),
    expectedResource: mcpUrl,
  });

  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: Request, res: Response) => {
    const id = req.header('mcp-session-id');
    let transport = id ? sessions.get(id) : undefined;
    if (!transport) {
      if (id || req.method !== 'POST') {
        res.status(404).json({ error: 'unknown session' });
        return;
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => void sessions.set(sessionId, created),
      });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await mcpServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  };
  app.all('/mcp', express.json(), bearer, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.status(500).json({ error: 'server_error' });
    });
  });

  return {
    url: mcpUrl.href,
    issuer: issuerUrl.href,
    registered: provider.registered,
    authorizations: provider.authorizations,
    tokenRequests: provider.tokenRequests,
    async close() {
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** The MCP server of one session: `whoami` (the token's subject, scopes, resource) and `echo`. */
function mcpServer(): McpServer {
  const server = new McpServer({ name: 'sdk-auth-router-peer', version: '1.0.0' });
  server.registerTool('whoami', { description: 'The caller' }, async (extra) => ({
    content: [
      {
        type: 'text',
        text: JSON.stringify({
          sub: extra.authInfo?.extra?.sub ?? null,
          scopes: extra.authInfo?.scopes ?? [],
          resource: extra.authInfo?.resource?.href ?? null,
        }),
      },
    ],
  }));
  server.registerTool(
    'echo',
    { description: 'Echo the text', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}
