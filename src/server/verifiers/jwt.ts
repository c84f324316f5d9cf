/**
 * JWT access tokens (RFC 9068, RFC 8725) verified with `jose` against the issuer's keys: issuer
 * compared exactly, `aud` must name one of the expected audiences, `exp`, `iat` and `sub`
 * required, `nbf`/`iat`/`exp` judged with a clock tolerance and a maximum token age, an algorithm
 * allow-list (never `none` or `HS*`), optional RFC 9068 `typ: at+jwt` strictness. Keys come only
 * from the configured JWKS: `jku`, `x5u`, `x5c` and an embedded `jwk` are never followed. The
 * token's size and shape are checked before any parsing. Sender-constrained tokens (`cnf`) are
 * refused: this resource server does not do DPoP or mTLS.
 *
 * @module
 */
import { errors, jwtVerify } from 'jose';
import { type CallerIdentity, scopesOf } from '../identity.js';
import type { JwksCache } from './jwks.js';
import { invalid, type TokenVerifier, type Verification } from './verifier.js';

/** Algorithms accepted by default: asymmetric only. */
export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'] as const;

/** Options of {@link JwtVerifier}. */
export interface JwtVerifierOptions {
  /** The `iss` every token must carry, compared as a string. */
  readonly issuer: string;
  /** Accepted `aud` values; a token must name at least one. */
  readonly audiences: readonly string[];
  readonly jwks: JwksCache;
  /** Allowed `alg` values; `none` and `HS*` are dropped even if listed. */
  readonly algorithms?: readonly string[];
  /** Clock tolerance for `exp`, `nbf` and `iat`, in seconds. Default 30, at most 300. */
  readonly clockToleranceSeconds?: number;
  /** Tokens issued longer ago than this are refused, in seconds. Default 24 h. */
  readonly maxTokenAgeSeconds?: number;
  /** Require the RFC 9068 `typ` header `at+jwt` (many providers send `JWT`). Default false. */
  readonly requireAccessTokenType?: boolean;
  readonly now?: () => number;
}

/** Three base64url segments (a JWS compact serialization); a JWE has five and is refused. */
export const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;

class KeyUnavailable extends Error {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    super('the signing keys are unavailable');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Verifies JWT access tokens. */
export class JwtVerifier implements TokenVerifier {
  readonly #options: JwtVerifierOptions;
  readonly #algorithms: string[];
  readonly #now: () => number;

  constructor(options: JwtVerifierOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)].filter(
      (alg) => alg.toLowerCase() !== 'none' && !/^HS/i.test(alg),
    );
  }

  async verify(token: string): Promise<Verification> {
    if (token.length > 8192 || !JWT_SHAPE.test(token)) return invalid();
    const jwks = this.#options.jwks;
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const selection = await jwks.select(header);
          switch (selection.kind) {
            case 'key':
              return selection.key;
            case 'unavailable':
              throw new KeyUnavailable(selection.retryAfterSeconds);
            default:
              throw new errors.JWKSNoMatchingKey();
          }
        },
        {
          issuer: this.#options.issuer,
          audience: [...this.#options.audiences],
          algorithms: this.#algorithms,
          clockTolerance: Math.min(300, this.#options.clockToleranceSeconds ?? 30),
          maxTokenAge: this.#options.maxTokenAgeSeconds ?? 86_400,
          requiredClaims: ['exp', 'iat', 'sub'],
          currentDate: new Date(this.#now()),
          ...(this.#options.requireAccessTokenType ? { typ: 'at+jwt' } : {}),
        },
      );
      if (Object.hasOwn(payload, 'cnf')) return invalid();
      if (typeof payload.sub !== 'string' || payload.sub === '') return invalid();
      const claims = payload as Record<string, unknown>;
      const clientId = typeof claims.client_id === 'string' ? claims.client_id : claims.azp;
      const identity: CallerIdentity = {
        issuer: this.#options.issuer,
        subject: payload.sub,
        ...(typeof clientId === 'string' ? { clientId } : {}),
        scopes: scopesOf(claims),
        claims,
        ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}),
        verifiedBy: 'jwt',
      };
      return { ok: true, identity };
    } catch (error) {
      if (error instanceof KeyUnavailable) {
        return { ok: false, reason: 'unavailable', retryAfterSeconds: error.retryAfterSeconds };
      }
      if (error instanceof errors.JWTExpired) return invalid('the access token expired');
      return invalid();
    }
  }
}
