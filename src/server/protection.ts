/**
 * The protection of a resource from its `authorization:` settings, shared by `serve` (`createApp`)
 * and the server middleware (`src/middleware/`): the verification cache in front of a verifier
 * (RFC 7662 §4: never trusted past the token's expiry), namespaced by every rule of acceptance,
 * and the bearer guard (RFC 6750) naming the resource's metadata URL (RFC 9728 §5.1).
 *
 * @module
 */
import type { AuthorizationSettings } from '../config/schema/authorization.js';
import type { Settings } from '../config/schema/settings.js';
import type { KeyValueStore } from '../stores/kv.js';
import { BearerGuard } from './guard.js';
import { resourceMetadataUrl } from './metadata.js';
import { VerificationCache } from './verification-cache.js';
import type { TokenVerifier } from './verifiers/verifier.js';

/** Options of {@link guardFromSettings}. */
export interface SettingsGuardOptions {
  /** Where replicas share their verifications (Redis), if anywhere. */
  readonly shared?: KeyValueStore | undefined;
  readonly now?: (() => number) | undefined;
}

/** The cache and the guard of a resource. */
export interface SettingsGuard {
  readonly cache: VerificationCache;
  readonly guard: BearerGuard;
}

/**
 * The guard of `resource` (its `resource_server_url`) under `auth`: `verifier` behind a cache of
 * `token_cache_ttl_seconds`, the challenges naming the resource's metadata URL, the
 * `required_scopes` checked on every request.
 */
export function guardFromSettings(
  auth: AuthorizationSettings,
  resource: string,
  verifier: TokenVerifier,
  options: SettingsGuardOptions = {},
): SettingsGuard {
  const cache = new VerificationCache({
    ttlSeconds: auth.token_cache_ttl_seconds,
    namespace: verificationNamespace(auth, resource),
    shared: options.shared,
    ...(options.now ? { now: options.now } : {}),
  });
  const guard = new BearerGuard({
    verifier,
    cache,
    resourceMetadataUrl: resourceMetadataUrl(resource),
    requiredScopes: auth.required_scopes,
  });
  return { cache, guard };
}

/**
 * The verification cache's namespace: every rule of acceptance is in it, so replicas with other
 * rules (a rolling change), or another resource in the same process, never take each other's
 * verdicts (IN-75).
 */
export function verificationNamespace(auth: AuthorizationSettings, resource: string): string {
  return JSON.stringify([
    auth.issuer_url,
    auth.expected_audiences,
    resource,
    auth.jwks_uri ?? null,
    auth.introspection_endpoint ?? null,
    auth.algorithms ?? null,
    auth.clock_tolerance_seconds,
    auth.max_token_age_seconds,
    auth.require_at_jwt_type,
  ]);
}

/**
 * The store replicas share verifications in: Redis when the token store is Redis (keys are token
 * hashes, values the verified claims), else none. The Redis client is loaded only then.
 */
export async function sharedVerifications(settings: Settings): Promise<KeyValueStore | undefined> {
  const tokenStore = settings.oauth.token_store;
  if (tokenStore.backend !== 'redis' || !tokenStore.redis_url) return undefined;
  const { RedisKeyValueStore } = await import('../stores/redis.js');
  return new RedisKeyValueStore({
    url: tokenStore.redis_url.reveal(),
    prefix: `${tokenStore.redis_prefix}:verify`,
  });
}
