/**
 * The bearer check in front of every protected route: read the credentials, verify the token
 * (through the cache), check the scopes the route needs, and say what to answer when the request
 * cannot go on ({@link Rejection}). Framework-free; the node:http adapter and the MCP server use it.
 *
 * @module
 */
import { readCredentials } from './bearer.js';
import {
  type ChallengeContext,
  type Rejection,
  type RejectionResponse,
  rejectionResponse,
} from './challenge.js';
import { type CallerIdentity, rememberInboundToken } from './identity.js';
import type { VerificationCache } from './verification-cache.js';
import type { TokenVerifier } from './verifiers/verifier.js';

/** Options of {@link BearerGuard}. */
export interface BearerGuardOptions {
  /** Checks a token the cache does not hold. */
  readonly verifier: TokenVerifier;
  /** Verifications kept until the token expires (none: every request is verified). */
  readonly cache?: VerificationCache | undefined;
  /** The protected-resource metadata URL every challenge names. */
  readonly resourceMetadataUrl: string;
  /** Scopes every request needs (`authorization.required_scopes`). */
  readonly requiredScopes?: readonly string[];
}

/** The outcome of {@link BearerGuard.authenticate}. */
export type GuardResult =
  | { readonly ok: true; readonly identity: CallerIdentity }
  | { readonly ok: false; readonly rejection: Rejection };

/** What the guard reads of a request. */
export interface GuardRequest {
  /** Each `Authorization` header value (Node's `headersDistinct.authorization`), or the joined one. */
  readonly authorization: readonly string[] | string | null | undefined;
  /** Whether the query carries `access_token` (never used, but not allowed with a header). */
  readonly queryHasToken?: boolean;
}

/** Authenticates requests with bearer tokens and checks their scopes. */
export class BearerGuard {
  readonly #options: BearerGuardOptions;
  readonly #context: ChallengeContext;
  readonly #required: readonly string[];

  constructor(options: BearerGuardOptions) {
    this.#options = options;
    this.#required = [...new Set(options.requiredScopes ?? [])];
    this.#context = {
      resourceMetadataUrl: options.resourceMetadataUrl,
      baselineScopes: this.#required,
    };
  }

  /** Who is calling, or why the request is refused (including the baseline scopes). */
  async authenticate(request: GuardRequest): Promise<GuardResult> {
    const credentials = readCredentials(request.authorization, request.queryHasToken === true);
    switch (credentials.kind) {
      case 'none':
        return { ok: false, rejection: { kind: 'no-credentials' } };
      case 'malformed':
        return {
          ok: false,
          rejection: { kind: 'invalid-request', description: credentials.description },
        };
      case 'oversized':
        return {
          ok: false,
          rejection: { kind: 'invalid-token', description: 'the access token is not valid' },
        };
      case 'bearer':
        break;
    }
    const { verifier, cache } = this.#options;
    const result = cache
      ? await cache.verify(credentials.token, verifier)
      : await verifier.verify(credentials.token);
    if (!result.ok) {
      return {
        ok: false,
        rejection:
          result.reason === 'unavailable'
            ? { kind: 'unavailable', retryAfterSeconds: result.retryAfterSeconds }
            : { kind: 'invalid-token', description: result.description },
      };
    }
    const refused = this.authorize(result.identity);
    if (refused) return { ok: false, rejection: refused };
    rememberInboundToken(result.identity, credentials.token);
    return { ok: true, identity: result.identity };
  }

  /**
   * `undefined` when `identity` holds the baseline scopes and `extra` ones (a tool's), else the
   * 403 naming every scope the operation requires (exact, case-sensitive membership).
   */
  authorize(identity: CallerIdentity, extra: readonly string[] = []): Rejection | undefined {
    const needed =
      extra.length === 0 ? this.#required : [...new Set([...this.#required, ...extra])];
    const granted = identity.scopes;
    if (needed.every((scope) => granted.includes(scope))) return undefined;
    return { kind: 'insufficient-scope', scopes: needed };
  }

  /**
   * The HTTP answer for `rejection`, naming `resourceMetadataUrl` when given (the metadata of the
   * endpoint that was called, RFC 9728 §5.1), else the configured one.
   */
  response(rejection: Rejection, resourceMetadataUrl?: string): RejectionResponse {
    return rejectionResponse(
      rejection,
      resourceMetadataUrl === undefined ? this.#context : { ...this.#context, resourceMetadataUrl },
    );
  }
}
