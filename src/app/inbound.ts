/**
 * The inbound protection of `createApp()` (with `authorization.enabled`): the configured verifier
 * (JWKS and/or introspection, RFC 7519 / RFC 7662) behind a verification cache — shared through
 * Redis when the token store is Redis — the bearer guard (RFC 6750), and the protected-resource
 * metadata (RFC 9728).
 *
 * @module
 */
import type { AuthorizationSettings } from '../config/schema/authorization.js';
import type { FetchLike } from '../fetch.js';
import type { BearerGuard } from '../server/guard.js';
import {
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
  sseResourceOf,
} from '../server/metadata.js';
import { guardFromSettings, sharedVerifications } from '../server/protection.js';
import { ConfiguredVerifier } from '../server/verifiers/configured.js';
import type { KeyValueStore } from '../stores/kv.js';
import { type AppContext, nowOf } from './context.js';
import type { AppDefinition } from './define.js';

/** The inbound protection's parts. */
export interface InboundProtection {
  readonly verifier: ConfiguredVerifier;
  readonly guard: BearerGuard;
  readonly metadata: ProtectedResourceMetadata;
  /** The store the replicas share verifications in (Redis); the app closes it. */
  readonly shared: KeyValueStore | undefined;
}

/**
 * Build the inbound protection of `auth`: the verifier (its issuer's metadata fetched once now
 * with `fetch`), the verification cache, the guard and the metadata, in that order.
 */
export async function protectInbound(
  context: AppContext,
  auth: AuthorizationSettings,
  fetch: FetchLike,
): Promise<InboundProtection> {
  const resource = auth.resource_server_url as string;
  const verifier = new ConfiguredVerifier(withSseAudience(auth, resource), {
    fetch,
    logger: context.logger,
    ...nowOf(context),
  });
  await verifier.prepare();
  const shared = await sharedVerifications(context.settings);
  const { guard } = guardFromSettings(auth, resource, verifier, { shared, ...nowOf(context) });
  const metadata = advertisedMetadata(context, auth, resource);
  return { verifier, guard, metadata, shared };
}

/** The protected-resource metadata (RFC 9728 §2), with every scope a tool may require. */
function advertisedMetadata(
  context: AppContext,
  auth: AuthorizationSettings,
  resource: string,
): ProtectedResourceMetadata {
  return protectedResourceMetadata({
    resource,
    authorizationServers: [auth.issuer_url as string],
    scopes: [
      ...advertisedScopes(auth.required_scopes, context.definition, auth.tool_scopes),
      ...Object.values(auth.prompt_scopes).flat(),
      ...Object.values(auth.resource_scopes).flat(),
    ],
    resourceName: auth.resource_name ?? context.settings.name,
    documentation: auth.service_documentation_url,
  });
}

/**
 * The scopes a protected app advertises (RFC 9728 §2 `scopes_supported`): the required ones, then
 * those of the app module's tools and workflows, then those of `authorization.tool_scopes`.
 * Duplicates are left to the receiver.
 */
export function advertisedScopes(
  required: readonly string[],
  definition: AppDefinition,
  toolScopes: Readonly<Record<string, readonly string[]>>,
): string[] {
  return [
    ...required,
    ...[...definition.tools.values()].flatMap((tool) => tool.scopes),
    ...[...definition.workflows.values()].flatMap((workflow) => workflow.scopes),
    ...Object.values(toolScopes).flat(),
  ];
}

/**
 * A client of `/sse` asks for tokens for the SSE endpoint's resource (RFC 8707): when the
 * audiences are resource URLs (they name `resource_server_url`), that one is accepted too, on
 * both endpoints (one server, one set of tools).
 */
function withSseAudience(auth: AuthorizationSettings, resource: string): AuthorizationSettings {
  const audiences = auth.expected_audiences;
  const sse = sseResourceOf(resource);
  // Only for the sibling of the MCP endpoint: a resource_server_url ending elsewhere (a proxy's
  // path) would make `…/sse` a guess at another application's address.
  const endpoint = new URL(resource).pathname.replace(/\/+$/, '').split('/').pop();
  if (endpoint !== 'mcp' || !audiences.includes(resource) || audiences.includes(sse)) return auth;
  return { ...auth, expected_audiences: [...audiences, sse] };
}
