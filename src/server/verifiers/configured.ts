/**
 * The verifier the `authorization:` section configures: JWT verification with the JWKS
 * (`jwks_uri`, or the issuer's metadata), introspection (`introspection_endpoint`, or the issuer's
 * metadata), or both — then a token shaped like a JWT is verified locally and any other one is
 * introspected. What is not configured is discovered from the issuer's metadata (RFC 8414, then
 * OpenID Connect Discovery) with the issuer echo check; while the metadata cannot be fetched,
 * requests get 503 and discovery is retried, at most every 10 s.
 *
 * @module
 */
import type { AuthorizationSettings } from '../../config/schema/authorization.js';
import { McpAgentError } from '../../errors.js';
import type { FetchLike } from '../../fetch.js';
import type { Logger } from '../../logger.js';
import { requestJson } from './http.js';
import { IntrospectionVerifier } from './introspection.js';
import { JwksCache } from './jwks.js';
import { JWT_SHAPE, JwtVerifier } from './jwt.js';
import { invalid, type TokenVerifier, unavailable, type Verification } from './verifier.js';

/** Options of {@link ConfiguredVerifier}. */
export interface ConfiguredVerifierOptions {
  readonly fetch: FetchLike;
  readonly logger?: Logger | undefined;
  readonly now?: () => number;
}

/** The endpoints verification uses. */
export interface VerificationEndpoints {
  readonly jwksUri?: string | undefined;
  readonly introspectionEndpoint?: string | undefined;
  readonly introspectionAuthMethods?: readonly string[] | undefined;
}

const RETRY_MS = 10_000;

function isLoopback(url: URL): boolean {
  return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** Refuse an endpoint that is not HTTPS (loopback excepted) or has a fragment (RFC 8414 §2). */
export function checkEndpoint(value: string, key: string): void {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (
    !url ||
    (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) ||
    value.includes('#')
  ) {
    throw new McpAgentError(
      'CONFIG_INVALID',
      `authorization.${key} must be an https URL without a fragment (http only on loopback): ${value}`,
    );
  }
}

/** The issuer's metadata (RFC 8414 path-inserted, then OIDC), checked to name the same issuer. */
export async function issuerMetadata(
  issuer: string,
  fetch: FetchLike,
): Promise<Record<string, unknown>> {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const candidates = [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
  let last: unknown;
  for (const candidate of [...new Set(candidates)]) {
    try {
      const body = await requestJson(
        fetch,
        candidate,
        { headers: { accept: 'application/json' } },
        { timeoutMs: 5_000, maxBytes: 256 * 1024 },
      );
      if (body === null || typeof body !== 'object' || Array.isArray(body)) continue;
      const metadata = body as Record<string, unknown>;
      if (metadata.issuer !== issuer) {
        throw new Error(`${candidate} names another issuer than ${issuer}`);
      }
      return metadata;
    } catch (error) {
      last = error;
    }
  }
  throw last instanceof Error ? last : new Error(`no metadata found for ${issuer}`);
}

/** The verifier of the `authorization:` section. */
export class ConfiguredVerifier implements TokenVerifier {
  readonly #settings: AuthorizationSettings;
  readonly #options: ConfiguredVerifierOptions;
  readonly #now: () => number;
  #jwt: JwtVerifier | undefined;
  #introspection: IntrospectionVerifier | undefined;
  #ready: Promise<boolean> | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;
  /** The JWKS in use, once resolved (for tests and benchmarks). */
  jwks: JwksCache | undefined;

  constructor(settings: AuthorizationSettings, options: ConfiguredVerifierOptions) {
    if (!settings.issuer_url || settings.expected_audiences.length === 0) {
      throw new McpAgentError(
        'CONFIG_INVALID',
        'authorization needs issuer_url and expected_audiences to verify tokens.',
      );
    }
    checkEndpoint(settings.issuer_url, 'issuer_url');
    if (settings.jwks_uri) checkEndpoint(settings.jwks_uri, 'jwks_uri');
    if (settings.introspection_endpoint) {
      checkEndpoint(settings.introspection_endpoint, 'introspection_endpoint');
    }
    this.#settings = settings;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Resolve the endpoints now (at start-up); `false` when discovery failed (it is retried). */
  prepare(): Promise<boolean> {
    if (!this.#ready) {
      this.#ready = this.#resolve().then(
        () => true,
        (error: unknown) => {
          this.#failedAt = this.#now();
          this.#ready = undefined;
          if (error instanceof McpAgentError && error.code === 'CONFIG_INVALID') throw error;
          this.#options.logger?.warn(
            `the metadata of ${this.#settings.issuer_url} could not be fetched (${error instanceof Error ? error.message : 'unknown error'}); requests get 503 until it answers`,
            { issuer: this.#settings.issuer_url ?? '' },
          );
          return false;
        },
      );
    }
    return this.#ready;
  }

  async verify(token: string): Promise<Verification> {
    if (!this.#jwt && !this.#introspection) {
      if (!this.#ready && this.#now() - this.#failedAt < RETRY_MS) return unavailable(10);
      if (!(await this.prepare().catch(() => false))) return unavailable(10);
    }
    if (this.#jwt && (JWT_SHAPE.test(token) || !this.#introspection)) {
      return this.#jwt.verify(token);
    }
    return this.#introspection ? this.#introspection.verify(token) : invalid();
  }

  async #resolve(): Promise<void> {
    const settings = this.#settings;
    const issuer = settings.issuer_url as string;
    let endpoints: VerificationEndpoints = {
      jwksUri: settings.jwks_uri,
      introspectionEndpoint: settings.introspection_endpoint,
    };
    const clientId = settings.introspection_client_id ?? settings.client_id;
    if (!endpoints.jwksUri || (!endpoints.introspectionEndpoint && clientId)) {
      let metadata: Record<string, unknown>;
      try {
        metadata = await issuerMetadata(issuer, this.#options.fetch);
      } catch (error) {
        // With a configured JWKS, JWTs need no metadata: verify them, without introspection.
        if (!endpoints.jwksUri) throw error;
        this.#options.logger?.warn(
          `the metadata of ${issuer} could not be fetched (${error instanceof Error ? error.message : 'unknown error'}); tokens that are not JWTs cannot be introspected until the server restarts (set authorization.introspection_endpoint to avoid discovery)`,
          { issuer },
        );
        metadata = {};
      }
      const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
      endpoints = {
        jwksUri: endpoints.jwksUri ?? text(metadata.jwks_uri),
        introspectionEndpoint:
          endpoints.introspectionEndpoint ?? text(metadata.introspection_endpoint),
        introspectionAuthMethods: Array.isArray(
          metadata.introspection_endpoint_auth_methods_supported,
        )
          ? metadata.introspection_endpoint_auth_methods_supported.filter(
              (item): item is string => typeof item === 'string',
            )
          : undefined,
      };
    }
    this.#build(endpoints, clientId);
  }

  #build(endpoints: VerificationEndpoints, clientId: string | undefined): void {
    const settings = this.#settings;
    const issuer = settings.issuer_url as string;
    const { fetch, logger } = this.#options;
    const now = this.#now;
    if (endpoints.jwksUri) {
      checkEndpoint(endpoints.jwksUri, 'jwks_uri');
      this.jwks = new JwksCache({
        uri: endpoints.jwksUri,
        fetch,
        now,
        ...(logger ? { logger } : {}),
      });
      this.#jwt = new JwtVerifier({
        issuer,
        audiences: settings.expected_audiences,
        jwks: this.jwks,
        now,
        ...(settings.algorithms ? { algorithms: settings.algorithms } : {}),
        clockToleranceSeconds: settings.clock_tolerance_seconds,
        maxTokenAgeSeconds: settings.max_token_age_seconds,
        requireAccessTokenType: settings.require_at_jwt_type,
      });
    }
    if (endpoints.introspectionEndpoint && clientId) {
      checkEndpoint(endpoints.introspectionEndpoint, 'introspection_endpoint');
      const methods = endpoints.introspectionAuthMethods;
      this.#introspection = new IntrospectionVerifier({
        endpoint: endpoints.introspectionEndpoint,
        clientId,
        clientSecret: settings.introspection_client_secret ?? settings.client_secret,
        authMethod:
          methods &&
          !methods.includes('client_secret_basic') &&
          methods.includes('client_secret_post')
            ? 'client_secret_post'
            : 'client_secret_basic',
        issuer,
        audiences: settings.expected_audiences,
        fetch,
        now,
        clockToleranceSeconds: settings.clock_tolerance_seconds,
        ...(logger ? { logger } : {}),
      });
    }
    if (!this.#jwt && !this.#introspection) {
      throw new McpAgentError(
        'CONFIG_INVALID',
        `authorization: no way to verify tokens: ${issuer} publishes no jwks_uri, and introspection needs introspection_endpoint and introspection_client_id (or client_id).`,
      );
    }
  }
}
