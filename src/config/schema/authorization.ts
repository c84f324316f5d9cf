/**
 * `authorization:`: the agent as an OAuth-protected MCP server (RFC 9728 resource server).
 *
 * @module
 */
import * as z from 'zod';
import { Secret } from '../secret.js';
import { optionalHttpUrl, optionalSecret, optionalString, stringList } from './primitives.js';

/** `authorization:` section (mcp-agent `MCPAuthorizationServerSettings`, plus the documented keys). */
export const authorizationSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Issuer of the accepted tokens; advertised in the protected-resource metadata. */
    issuer_url: optionalHttpUrl,
    /** This server's resource identifier (RFC 9728 `resource`). */
    resource_server_url: optionalHttpUrl,
    service_documentation_url: optionalHttpUrl,
    required_scopes: stringList,
    /** Accepted `aud` values (RFC 9068 §4); required when enabled. */
    expected_audiences: stringList,
    /** JWKS for JWT access tokens; discovered from the issuer when absent. */
    jwks_uri: optionalHttpUrl,
    /** RFC 7662 introspection endpoint; discovered from the issuer when absent. */
    introspection_endpoint: optionalHttpUrl,
    /** Client credentials for the introspection endpoint. */
    client_id: optionalString,
    client_secret: optionalSecret,
    /** Documented by mcp-agent; take precedence over `client_id` / `client_secret` for introspection. */
    introspection_client_id: optionalString,
    introspection_client_secret: optionalSecret,
    /** Upper bound on how long a verification result is cached, in seconds. */
    token_cache_ttl_seconds: z.number().int().min(0).default(300),
    /** Ours: JWT `alg` values accepted (asymmetric only; `none` and `HS*` are never accepted). */
    algorithms: z
      .array(
        z.enum([
          'RS256',
          'RS384',
          'RS512',
          'PS256',
          'PS384',
          'PS512',
          'ES256',
          'ES384',
          'ES512',
          'EdDSA',
          'Ed25519',
        ]),
      )
      .min(1)
      .optional(),
    /** Ours: clock tolerance for `exp`, `nbf` and `iat`, in seconds (at most 300). */
    clock_tolerance_seconds: z.number().int().min(0).max(300).default(30),
    /** Ours: tokens issued (`iat`) longer ago than this are refused, in seconds. */
    max_token_age_seconds: z.number().int().min(60).default(86_400),
    /** Ours: require the RFC 9068 `typ: at+jwt` header (many providers send `JWT`). */
    require_at_jwt_type: z.boolean().default(false),
    /**
     * Ours: scopes a tool needs beyond `required_scopes`, by served name (`SERVER_TOOL`, as
     * `tools list` shows it) or app tool name.
     */
    tool_scopes: z.record(z.string(), z.array(z.string())).default({}),
    /**
     * Ours: scopes a downstream prompt needs beyond `required_scopes` (`prompts/get` and its
     * completions), by served name (`SERVER_PROMPT`, as `prompts/list` shows it).
     */
    prompt_scopes: z.record(z.string(), z.array(z.string())).default({}),
    /**
     * Ours: scopes a downstream resource needs beyond `required_scopes` (`resources/read`,
     * `resources/subscribe`, completions of a template), by URI or URI template (RFC 6570, as
     * `resources/templates/list` shows it; a template covers every URI it matches).
     */
    resource_scopes: z.record(z.string(), z.array(z.string())).default({}),
    /** Ours: the `resource_name` advertised in the protected-resource metadata. */
    resource_name: optionalString,
    /**
     * Ours: the key that signs the `requestState` of protocol 2026-07-28 multi-round-trip
     * requests (HMAC-SHA256), at least {@link REQUEST_STATE_KEY_MIN_BYTES} bytes, the same on
     * every replica. Absent: a single `serve` draws a random key at start.
     */
    request_state_key: optionalSecret,
  })
  .superRefine(
    (auth, ctx) => {
      // Runs even when other keys of the section are invalid, so all errors come out at once;
      // the value may then be only partly parsed.
      checkRequestStateKey(auth.request_state_key, ctx);
      if (auth.enabled !== true) return;
      const missing: string[] = [];
      if (!auth.issuer_url) missing.push('issuer_url');
      if (!auth.resource_server_url) missing.push('resource_server_url');
      if (!Array.isArray(auth.expected_audiences) || auth.expected_audiences.length === 0) {
        missing.push('expected_audiences');
      }
      // RFC 8707 §2 / RFC 9728 §2: a resource identifier has no fragment.
      if (typeof auth.resource_server_url === 'string' && auth.resource_server_url.includes('#')) {
        ctx.addIssue({
          code: 'custom',
          path: ['resource_server_url'],
          message: 'must not have a fragment (#…): it is a resource identifier (RFC 8707 §2)',
        });
      }
      if (missing.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `needs ${missing.join(', ')} when enabled is true (issuer_url, resource_server_url and a non-empty expected_audiences are required for RFC 9068 audience validation)`,
        });
      }
    },
    { when: () => true },
  );

/** The shortest `request_state_key` accepted, in bytes (UTF-8); the HMAC-SHA256 key size. */
export const REQUEST_STATE_KEY_MIN_BYTES = 32;

/** A `request_state_key` under the minimum is an issue that names the rule, never the value. */
function checkRequestStateKey(key: unknown, ctx: z.RefinementCtx): void {
  if (!(key instanceof Secret)) return;
  if (Buffer.byteLength(key.reveal(), 'utf8') >= REQUEST_STATE_KEY_MIN_BYTES) return;
  ctx.addIssue({
    code: 'custom',
    path: ['request_state_key'],
    message: `must be at least ${REQUEST_STATE_KEY_MIN_BYTES} bytes (draw one with \`openssl rand -base64 48\`)`,
  });
}

/** The validated `authorization:` section. */
export type AuthorizationSettings = z.output<typeof authorizationSchema>;
