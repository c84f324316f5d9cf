/**
 * Opaque (or any) access tokens checked at the authorization server's introspection endpoint
 * (RFC 7662): the resource server authenticates with its client credentials (`client_secret_basic`
 * or `client_secret_post`, as the server advertises), sends `token_type_hint=access_token`, and
 * accepts only `active: true` (a boolean) from the expected issuer (when `iss` is given), for one
 * of the expected audiences (`aud`, or RFC 8707 `resource`), not yet expired, and not a refresh
 * token. A timeout, a 5xx or refused credentials mean "cannot tell now" (503), never "invalid".
 *
 * @module
 */
import type { Secret } from '../../config/secret.js';
import type { FetchLike } from '../../fetch.js';
import type { Logger } from '../../logger.js';
import { type CallerIdentity, scopesOf } from '../identity.js';
import { requestJson, VerificationRequestError } from './http.js';
import { invalid, type TokenVerifier, unavailable, type Verification } from './verifier.js';

/** Options of {@link IntrospectionVerifier}. */
export interface IntrospectionVerifierOptions {
  /** The RFC 7662 introspection endpoint. */
  readonly endpoint: string;
  /** The resource server's own client id at the authorization server. */
  readonly clientId: string;
  /** Its secret (none: a public client, `client_id` alone is sent). */
  readonly clientSecret?: Secret | undefined;
  /** How the client authenticates. Default `client_secret_basic`. */
  readonly authMethod?: 'client_secret_basic' | 'client_secret_post';
  /** The `iss` an active token's answer must carry, when it carries one. */
  readonly issuer: string;
  /** Accepted `aud` values; an active token must name at least one. */
  readonly audiences: readonly string[];
  /** The `fetch` of the introspection requests. */
  readonly fetch: FetchLike;
  /** Milliseconds for one introspection request. Default 3,000. */
  readonly timeoutMs?: number;
  /** Clock tolerance for `exp`/`nbf`, in seconds. Default 30. */
  readonly clockToleranceSeconds?: number;
  /** The clock, in epoch milliseconds. Default `Date.now`. */
  readonly now?: () => number;
  /** Told of an endpoint that fails (never of a token). */
  readonly logger?: Logger;
  /** Requests in flight at most (default {@link MAX_CONCURRENT_INTROSPECTIONS}). */
  readonly maxConcurrent?: number;
}

/** Token types an introspection response may name for an access token (`token_type`, `typ`). */
const ACCESS_TOKEN_TYPES = new Set([
  'bearer',
  'access_token',
  'at+jwt',
  'application/at+jwt',
  'urn:ietf:params:oauth:token-type:access_token',
]);

/** Introspection requests in flight at most; beyond, 503 (the AS is not ours to flood). */
export const MAX_CONCURRENT_INTROSPECTIONS = 32;

function audiencesOf(response: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const field of [response.aud, response.resource]) {
    if (typeof field === 'string') out.push(field);
    else if (Array.isArray(field)) out.push(...field.filter((item) => typeof item === 'string'));
  }
  return out;
}

/** Verifies tokens by asking the authorization server (RFC 7662 §2). */
export class IntrospectionVerifier implements TokenVerifier {
  readonly #options: IntrospectionVerifierOptions;
  readonly #now: () => number;
  /** Introspection requests made so far (for tests and benchmarks). */
  requests = 0;
  #active = 0;

  constructor(options: IntrospectionVerifierOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async verify(token: string): Promise<Verification> {
    const options = this.#options;
    const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    };
    const secret = options.clientSecret?.reveal();
    if (options.authMethod === 'client_secret_post' || secret === undefined) {
      form.set('client_id', options.clientId);
      if (secret !== undefined) form.set('client_secret', secret);
    } else {
      // RFC 6749 §2.3.1: each part form-encoded before the Basic encoding.
      const user = encodeURIComponent(options.clientId).replace(/%20/g, '+');
      const password = encodeURIComponent(secret).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    }
    if (this.#active >= (options.maxConcurrent ?? MAX_CONCURRENT_INTROSPECTIONS)) {
      return unavailable(1);
    }
    this.requests += 1;
    this.#active += 1;
    let body: unknown;
    try {
      body = await requestJson(
        options.fetch,
        options.endpoint,
        { method: 'POST', headers, body: form.toString() },
        { timeoutMs: options.timeoutMs ?? 3_000, maxBytes: 64 * 1024 },
      );
    } catch (error) {
      const status = error instanceof VerificationRequestError ? error.status : undefined;
      options.logger?.warn(
        status === 401 || status === 403
          ? `the introspection endpoint refused this server's client credentials (HTTP ${status}); check authorization.introspection_client_id / _secret`
          : `token introspection failed (${error instanceof Error ? error.message : 'unknown error'})`,
        { introspection_endpoint: options.endpoint },
      );
      return unavailable(5);
    } finally {
      this.#active -= 1;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return invalid();
    const response = body as Record<string, unknown>;
    if (response.active !== true) return invalid();
    const now = this.#now() / 1000;
    const tolerance = options.clockToleranceSeconds ?? 30;
    const { exp, nbf, iss, sub, token_type: tokenType } = response;
    if (exp !== undefined && (typeof exp !== 'number' || exp <= now - tolerance)) {
      return invalid('the access token expired');
    }
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance)) return invalid();
    if (iss !== undefined && iss !== options.issuer) return invalid();
    if (!audiencesOf(response).some((aud) => options.audiences.includes(aud))) return invalid();
    if (
      tokenType !== undefined &&
      !(typeof tokenType === 'string' && ACCESS_TOKEN_TYPES.has(tokenType.toLowerCase()))
    ) {
      return invalid();
    }
    // Keycloak names the kind of token in `typ` (Bearer, Refresh, ID, Offline).
    const typ = response.typ;
    if (
      typ !== undefined &&
      !(typeof typ === 'string' && ACCESS_TOKEN_TYPES.has(typ.toLowerCase()))
    ) {
      return invalid();
    }
    // Sender-constrained (DPoP, mTLS): this resource server checks no proof, so it cannot accept it.
    if (Object.hasOwn(response, 'cnf')) return invalid();
    const clientId = typeof response.client_id === 'string' ? response.client_id : undefined;
    if (sub !== undefined && (typeof sub !== 'string' || sub === '')) return invalid();
    // A client acting for itself (no `sub`) is never the user of the same name.
    const subject = typeof sub === 'string' ? sub : clientId ? `client:${clientId}` : undefined;
    if (subject === undefined) return invalid();
    const identity: CallerIdentity = {
      issuer: options.issuer,
      subject,
      ...(clientId !== undefined ? { clientId } : {}),
      scopes: scopesOf(response),
      claims: response,
      ...(typeof exp === 'number' ? { expiresAt: exp * 1000 } : {}),
      verifiedBy: 'introspection',
    };
    return { ok: true, identity };
  }
}
