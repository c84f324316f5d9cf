/**
 * `mcp-agent-ts/dev`: the development authorization server of `mcp-agent dev`, for trying an MCP
 * app or client end to end without an identity provider: a real OpenID provider (oidc-provider)
 * on loopback with dynamic client registration (RFC 7591), authorization code + PKCE (RFC 7636),
 * the device grant (RFC 8628), RFC 9068 JWT access tokens for RFC 8707 resources, introspection
 * (RFC 7662) and revocation (RFC 7009). Development only.
 *
 * It loads oidc-provider and its Koa stack; nothing else of this package needs them.
 *
 * @module
 */
export type { RequestTimeouts } from '../http-server.js';
export type { Logger } from '../logger.js';
export type {
  DevAuthorizationServer,
  DevAuthorizationServerOptions,
} from './authorization-server.js';
export { startDevAuthorizationServer } from './authorization-server.js';
