/**
 * `mcp-agent-ts/server`: the inbound verification layer, for an MCP server that checks bearer
 * tokens itself. Verifiers for JWT access tokens (RFC 9068, keys from a JWKS, RFC 7517) and
 * opaque tokens (introspection, RFC 7662), a {@link VerificationCache} (in memory, or shared
 * through a {@link KeyValueStore}), the {@link BearerGuard} (RFC 6750 §2.1 and §3), its
 * `WWW-Authenticate` challenges, the protected-resource metadata (RFC 9728) and the caller's
 * identity for a tool call.
 *
 * It loads `jose` only: no HTTP client package, no Redis client, no MCP SDK, no OpenID provider.
 * The MCP HTTP handler that serves tools is in `mcp-agent-ts/app`.
 *
 * @module
 */
export type { McpAgentErrorCode } from '../errors.js';
export { isMcpAgentError, McpAgentError } from '../errors.js';
export type { FetchLike } from '../fetch.js';
export type { Logger } from '../logger.js';
export { silentLogger } from '../logger.js';
export type { KeyValueStore } from '../stores/kv.js';
export { readCredentials } from './bearer.js';
export type { ChallengeContext, Rejection, RejectionResponse } from './challenge.js';
export { challengeFor, rejectionResponse } from './challenge.js';
export type { BearerGuardOptions, GuardRequest, GuardResult } from './guard.js';
export { BearerGuard } from './guard.js';
export type { HostCheck } from './host-check.js';
export { loopbackHostCheck } from './host-check.js';
export type { CallerIdentity } from './identity.js';
export { currentCaller, enableCallerContext, principalOf } from './identity.js';
export type { ProtectedResourceMetadata } from './metadata.js';
export {
  metadataPaths,
  protectedResourceMetadata,
  resourceMetadataUrl,
  sseResourceOf,
} from './metadata.js';
export type { VerificationCacheOptions } from './verification-cache.js';
export { VerificationCache } from './verification-cache.js';
export { ConfiguredVerifier } from './verifiers/configured.js';
export type { IntrospectionVerifierOptions } from './verifiers/introspection.js';
export { IntrospectionVerifier } from './verifiers/introspection.js';
export type { JwksCacheOptions } from './verifiers/jwks.js';
export { JwksCache } from './verifiers/jwks.js';
export type { JwtVerifierOptions } from './verifiers/jwt.js';
export { JwtVerifier } from './verifiers/jwt.js';
export type { TokenVerifier, Verification } from './verifiers/verifier.js';
