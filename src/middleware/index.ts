/**
 * `mcp-agent-ts/middleware`: an existing MCP server protected with the verifiers of `serve`
 * (JWKS, RFC 7517 / RFC 9068; introspection, RFC 7662), their cache, the RFC 6750 / RFC 9728
 * challenges, the protected-resource metadata, tool scopes, session binding and the caller
 * identity, without `serve`. {@link createMcpAuth} builds the framework-free protection; the
 * adapters `mcp-agent-ts/express`, `/hono`, `/fastify`, `/node` and `/web` put it in front of a
 * server.
 *
 * Loads no HTTP client library (unless the environment names a proxy: then the proxy-aware stack
 * of `serve`), no Redis client (unless the settings' token store is Redis), no MCP SDK and no
 * authorization server.
 *
 * @module
 */

export type { ConfigIssue } from '../config/issues.js';
export { ConfigError, formatIssue } from '../config/issues.js';
export type { AuthorizationSettings } from '../config/schema/authorization.js';
export type { Settings } from '../config/schema/settings.js';
export { McpAgentError } from '../errors.js';
export type { FetchLike } from '../fetch.js';
export type { Logger } from '../logger.js';
export type { HostCheck } from '../server/host-check.js';
export { loopbackHostCheck } from '../server/host-check.js';
export type { HttpAnswer } from '../server/http-reply.js';
export type { AuthInfo, CallerIdentity } from '../server/identity.js';
export { callerFromAuthInfo, currentCaller, principalOf } from '../server/identity.js';
export type { ProtectedResourceMetadata } from '../server/metadata.js';
export type { TokenVerifier, Verification } from '../server/verifiers/verifier.js';
export type { KeyValueStore } from '../stores/kv.js';
export type { AuthorizationInput, McpAuthOptions } from './options.js';
export type {
  McpAuth,
  McpAuthHeadersChecked,
  McpAuthNext,
  McpAuthOutcome,
  McpAuthRespond,
} from './protection.js';
export { createMcpAuth } from './protection.js';
export type { HeadersInput, RequestInput } from './request.js';
