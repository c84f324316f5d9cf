/**
 * An MCP server built with Vercel's `mcp-handler` 2.x (on `@modelcontextprotocol/server` v2) as
 * its docs set it up: `createMcpHandler` wrapped in `withMcpAuth` (required, with required scopes)
 * at `/mcp`, and `protectedResourceHandler` at the root `/.well-known/oauth-protected-resource`
 * (its `resource` is the origin; the 401 names that document). Tokens are the RFC 9068 JWTs of
 * the oidc-provider of `test/support/authorization-server.ts`, checked with `jose`.
 */
import { type AuthInfo, OAuthError, OAuthErrorCode } from '@modelcontextprotocol/server';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createMcpHandler, protectedResourceHandler, withMcpAuth } from 'mcp-handler';
import { z } from 'zod';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../../support/authorization-server.js';
import { serveWeb } from './web-server.js';

/** A running mcp-handler peer and its authorization server. */
export interface McpHandlerPeer {
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string;
  /** `http://127.0.0.1:<port>`: the `resource` of its metadata and its tokens' audience. */
  readonly origin: string;
  readonly as: AuthorizationServer;
  /** Each request to `/mcp`: the status the auth wrapper answered, and the token's `sub`. */
  readonly requests: { readonly status: number; readonly sub: string | undefined }[];
  close(): Promise<void>;
}

/** The scope `withMcpAuth` requires (and names in its challenges). */
export const MCP_HANDLER_SCOPE = 'mcp:read';

/** Start an {@link McpHandlerPeer} (access tokens live `accessTokenTtl` seconds). */
export async function startMcpHandlerPeer(
  options: { accessTokenTtl?: number } = {},
): Promise<McpHandlerPeer> {
  const as = await startAuthorizationServer(
    options.accessTokenTtl ? { accessTokenTtl: options.accessTokenTtl } : {},
  );
  const jwks = createRemoteJWKSet(new URL(`${as.issuer}/jwks`));
  const requests: { status: number; sub: string | undefined }[] = [];
  let origin = '';

  const mcp = createMcpHandler(
    (server) => {
      server.registerTool(
        'whoami',
        { description: 'The caller as the token says', inputSchema: z.object({}) },
        async (_args, ctx) => {
          const auth = ctx.http?.authInfo;
          const text = JSON.stringify({ sub: auth?.extra?.sub ?? null, scopes: auth?.scopes });
          return { content: [{ type: 'text', text }] };
        },
      );
      server.registerTool(
        'echo',
        { description: 'Echo the text', inputSchema: z.object({ text: z.string() }) },
        async ({ text }) => ({ content: [{ type: 'text', text }] }),
      );
    },
    { serverInfo: { name: 'mcp-handler-peer', version: '1.0.0' } },
  );
  const verifyToken = async (_req: Request, token?: string): Promise<AuthInfo | undefined> => {
    if (!token) return undefined;
    const { payload } = await jwtVerify(token, jwks, { issuer: as.issuer, audience: origin }).catch(
      (error: unknown) => {
        throw new OAuthError(OAuthErrorCode.InvalidToken, `token refused: ${String(error)}`);
      },
    );
    return {
      token,
      clientId: String(payload.client_id ?? ''),
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
      ...(payload.exp ? { expiresAt: payload.exp } : {}),
      extra: { sub: payload.sub },
    };
  };
  const protectedMcp = withMcpAuth(mcp, verifyToken, {
    required: true,
    requiredScopes: [MCP_HANDLER_SCOPE],
  });
  const metadata = protectedResourceHandler({ authServerUrls: [as.issuer] });

  const web = await serveWeb(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === '/.well-known/oauth-protected-resource') return metadata(request);
    if (path !== '/mcp') return new Response('not found', { status: 404 });
    const response = await protectedMcp(request);
    requests.push({ status: response.status, sub: request.auth?.extra?.sub as string | undefined });
    return response;
  });
  origin = web.origin;
  return {
    url: `${origin}/mcp`,
    origin,
    as,
    requests,
    async close() {
      await web.close();
      await as.close();
    },
  };
}
