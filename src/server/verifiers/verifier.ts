/**
 * The port every token verifier implements, and its outcome: a caller, a refusal (the token is not
 * good: 401 `invalid_token`), or "cannot tell now" (the JWKS or the introspection endpoint is
 * unreachable: 503, never `invalid_token`, so clients keep good tokens).
 *
 * @module
 */
import type { CallerIdentity } from '../identity.js';

/** What a verification found. */
export type Verification =
  | { readonly ok: true; readonly identity: CallerIdentity }
  | {
      readonly ok: false;
      readonly reason: 'invalid';
      readonly description: string;
      /** Not to be remembered: it may be good soon (a key not published yet). */
      readonly retryable?: boolean;
    }
  | { readonly ok: false; readonly reason: 'unavailable'; readonly retryAfterSeconds: number };

/** Checks an access token. Never throws for a bad token or an outage: it says so. */
export interface TokenVerifier {
  /** The caller `token` speaks for, or why it is refused (invalid, or verification unavailable). */
  verify(token: string): Promise<Verification>;
}

/** A refusal with a generic description (the resource server must not become an oracle). */
export function invalid(description = 'the access token is not valid'): Verification {
  return { ok: false, reason: 'invalid', description };
}

/** The verification infrastructure is down; retry after `seconds`. */
export function unavailable(seconds = 5): Verification {
  return { ok: false, reason: 'unavailable', retryAfterSeconds: seconds };
}
