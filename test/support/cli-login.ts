/**
 * What the CLI's login tests share: the real oidc-provider authorization server and a protected
 * MCP server trusting it, a configuration naming that server `notion` with OAuth on a free
 * loopback port, and a browser stand-in that approves an authorization URL.
 */
import { type AuthorizationServer, startAuthorizationServer } from './authorization-server.js';
import { followAuthorization } from './browser.js';
import { freePort } from './net.js';
import {
  type ProtectedMcpServer,
  type ProtectedMcpServerOptions,
  startProtectedMcpServer,
} from './protected-mcp-server.js';

/** The authorization server and the protected MCP server (`whoami` answers the user). */
export interface LoginServers {
  readonly as: AuthorizationServer;
  readonly mcp: ProtectedMcpServer;
  close(): Promise<void>;
}

/** Start {@link LoginServers}: every token must carry `mcp:read`, plus `options.toolScopes`. */
export async function startLoginServers(
  options: {
    readonly accessTokenTtl?: number;
    readonly toolScopes?: ProtectedMcpServerOptions['toolScopes'];
  } = {},
): Promise<LoginServers> {
  const as = await startAuthorizationServer(
    options.accessTokenTtl !== undefined ? { accessTokenTtl: options.accessTokenTtl } : {},
  );
  const mcp = await startProtectedMcpServer({
    issuer: as.issuer,
    requiredScopes: ['mcp:read'],
    ...(options.toolScopes ? { toolScopes: options.toolScopes } : {}),
  });
  return {
    as,
    mcp,
    async close() {
      await mcp.close();
      await as.close();
    },
  };
}

/**
 * `mcp_agent.config.yaml` with the server `notion` at `mcpUrl` (OAuth, scope `mcp:read`, then
 * `serverExtra`), the loopback redirect on a free port, tokens in `./tokens.json` of `backend`,
 * then `extra` (more top-level sections).
 */
export async function loginConfig(
  mcpUrl: string,
  options: {
    readonly backend?: 'file' | 'memory';
    readonly serverExtra?: string;
    readonly extra?: string;
  } = {},
): Promise<string> {
  return `mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${mcpUrl}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
${options.serverExtra ?? ''}
oauth:
  loopback_ports: [${await freePort()}]
  token_store:
    backend: ${options.backend ?? 'file'}
    path: ./tokens.json
${options.extra ?? ''}`;
}

/** A browser stand-in for `openBrowser`: walks the authorization to the loopback callback. */
export async function approvingBrowser(url: URL): Promise<boolean> {
  await followAuthorization(url);
  return true;
}
