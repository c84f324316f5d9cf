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
import { decodeProtectedHeader, errors, jwtVerify, type ProtectedHeaderParameters } from 'jose';
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
  /** The issuer's keys. */
  readonly jwks: JwksCache;
  /** Allowed `alg` values; `none` and `HS*` are dropped even if listed. */
  readonly algorithms?: readonly string[];
  /** Clock tolerance for `exp`, `nbf` and `iat`, in seconds. Default 30, at most 300. */
  readonly clockToleranceSeconds?: number;
  /** Tokens issued longer ago than this are refused, in seconds. Default 24 h. */
  readonly maxTokenAgeSeconds?: number;
  /** Require the RFC 9068 `typ` header `at+jwt` (many providers send `JWT`). Default false. */
  readonly requireAccessTokenType?: boolean;
  /** The clock, in epoch milliseconds. Default `Date.now`. */
  readonly now?: () => number;
}

/** Three base64url segments (a JWS compact serialization); a JWE has five and is refused. */
export const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;

const REQUIRED_CLAIMS = ['exp', 'iat', 'sub'];

/** Verifies JWT access tokens. */
export class JwtVerifier implements TokenVerifier {
  readonly #options: JwtVerifierOptions;
  readonly #algorithms: string[];
  readonly #audiences: string[];
  readonly #tolerance: number;
  readonly #now: () => number;

  constructor(options: JwtVerifierOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)].filter(
      (alg) => alg.toLowerCase() !== 'none' && !/^HS/i.test(alg),
    );
    this.#audiences = [...options.audiences];
    this.#tolerance = Math.min(300, options.clockToleranceSeconds ?? 30);
  }

  async verify(token: string): Promise<Verification> {
    if (token.length > 8192 || !JWT_SHAPE.test(token)) return invalid();
    // The algorithm allow-list and the key come first (jose would check the list before its key
    // function too): a token with a refused `alg` or an unknown key never costs a JWKS request
    // beyond the cooldown, and the key is handed to jose directly.
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return invalid();
    }
    if (typeof header.alg !== 'string' || !this.#algorithms.includes(header.alg)) return invalid();
    const selection = await this.#options.jwks.select(header);
    if (selection.kind === 'unavailable') {
      return { ok: false, reason: 'unavailable', retryAfterSeconds: selection.retryAfterSeconds };
    }
    if (selection.kind === 'none' && header.kid !== undefined) {
      // A key id not (yet) in the set: refused now, and looked up again once the cooldown ends.
      return { ...invalid(), retryable: true } as Verification;
    }
    if (selection.kind !== 'key') return invalid();
    try {
      const { payload } = await jwtVerify(token, selection.key, {
        issuer: this.#options.issuer,
        audience: this.#audiences,
        algorithms: this.#algorithms,
        clockTolerance: this.#tolerance,
        maxTokenAge: this.#options.maxTokenAgeSeconds ?? 86_400,
        requiredClaims: REQUIRED_CLAIMS,
        currentDate: new Date(this.#now()),
        ...(this.#options.requireAccessTokenType ? { typ: 'at+jwt' } : {}),
      });
      if (Object.hasOwn(payload, 'cnf')) return invalid();
      // jose checks the types only: 1e309 parses to Infinity, a token that would never expire.
      for (const claim of ['exp', 'iat', 'nbf'] as const) {
        const value = payload[claim];
        if (value !== undefined && !Number.isFinite(value)) return invalid();
      }
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
      if (error instanceof errors.JWTExpired) return invalid('the access token expired');
      return invalid();
    }
  }
}
