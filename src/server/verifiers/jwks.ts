/**
 * The authorization server's signing keys (RFC 7517 JWK Set), kept in memory with our own
 * lifecycle instead of jose's remote set, whose cache expiry makes every verification wait on a
 * reload and fail while the endpoint is down:
 *
 * - stale-if-error: once loaded, keys are used while a refresh fails (up to `maxStaleMs`), so an
 *   outage does not reject tokens whose key is known; a refresh is started in the background when
 *   the set is older than `maxAgeMs`;
 * - an unknown `kid` causes at most one refetch per `cooldownMs` (a `kid` spray cannot hammer the
 *   endpoint), and none while failures back off (1 s doubling to 60 s);
 * - one request at a time; no redirects; a size cap and a timeout;
 * - key selection: `kid`, key type and curve for the algorithm, `use: sig`, `key_ops: verify`, a
 *   key's own `alg`; no `kid` and several candidates is ambiguous (refused). A `kid` that is not a
 *   short string never matches and never causes a refetch.
 *
 * @module
 */
import { type CryptoKey, importJWK, type JWK } from 'jose';
import type { FetchLike } from '../../fetch.js';
import type { Logger } from '../../logger.js';
import { requestJson } from './http.js';

/** Options of {@link JwksCache}. */
export interface JwksCacheOptions {
  /** The JWK Set URL (RFC 7517 §5; `jwks_uri`). */
  readonly uri: string;
  /** The `fetch` of the JWK Set requests. */
  readonly fetch: FetchLike;
  /** The clock, in epoch milliseconds. Default `Date.now`. */
  readonly now?: () => number;
  /** Told of a refresh that fails. */
  readonly logger?: Logger;
  /** Refresh in the background after this long. Default 10 minutes. */
  readonly maxAgeMs?: number;
  /** At most one refetch for an unknown `kid` per this long. Default 30 s. */
  readonly cooldownMs?: number;
  /** Keys older than this are not used while refreshing fails. Default 24 h. */
  readonly maxStaleMs?: number;
  /** Milliseconds for one JWK Set request. Default 5,000. */
  readonly timeoutMs?: number;
  /** Largest JWK Set read, in bytes. Default 512 KiB. */
  readonly maxBytes?: number;
}

/** What a key lookup found. */
export type KeySelection =
  | { readonly kind: 'key'; readonly key: CryptoKey | Uint8Array }
  | { readonly kind: 'none' }
  | { readonly kind: 'ambiguous' }
  | { readonly kind: 'unavailable'; readonly retryAfterSeconds: number };

const MAX_KEYS = 100;
const MAX_KID_LENGTH = 256;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

/** The key type (and curve) an algorithm needs. */
function keyTypeFor(alg: string): { kty: string; crv?: readonly string[] } | undefined {
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return { kty: 'RSA' };
  if (alg === 'ES256') return { kty: 'EC', crv: ['P-256'] };
  if (alg === 'ES384') return { kty: 'EC', crv: ['P-384'] };
  if (alg === 'ES512') return { kty: 'EC', crv: ['P-521'] };
  if (alg === 'Ed25519') return { kty: 'OKP', crv: ['Ed25519'] };
  if (alg === 'EdDSA') return { kty: 'OKP', crv: ['Ed25519', 'Ed448'] };
  return undefined;
}

function usable(jwk: JWK, alg: string): boolean {
  const type = keyTypeFor(alg);
  if (!type || jwk.kty !== type.kty) return false;
  if (type.crv && !type.crv.includes(String(jwk.crv))) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (
    jwk.key_ops !== undefined &&
    !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))
  ) {
    return false;
  }
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  // Public keys only: a set that publishes private parts is misconfigured, not a source of keys.
  return jwk.d === undefined && jwk.k === undefined;
}

/** A JWK Set fetched from `uri` and kept fresh. */
export class JwksCache {
  readonly #options: JwksCacheOptions;
  readonly #now: () => number;
  #keys: JWK[] | undefined;
  #fetchedAt = 0;
  #lastAttemptAt = Number.NEGATIVE_INFINITY;
  #failures = 0;
  #backoffUntil = 0;
  #inflight: Promise<void> | undefined;
  readonly #imported = new WeakMap<JWK, Map<string, Promise<CryptoKey | Uint8Array>>>();

  constructor(options: JwksCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Requests made to the JWKS endpoint so far (for tests and benchmarks). */
  fetches = 0;

  /** The key to verify a token with protected header `header`. */
  async select(header: { alg?: unknown; kid?: unknown }): Promise<KeySelection> {
    const alg = typeof header.alg === 'string' ? header.alg : '';
    const kid = header.kid;
    if (kid !== undefined && (typeof kid !== 'string' || kid.length > MAX_KID_LENGTH)) {
      return { kind: 'none' };
    }
    if (!this.#keys) {
      if (this.#now() < this.#backoffUntil) return this.#unavailable();
      await this.#refresh();
      if (!this.#keys) return this.#unavailable();
    }
    const now = this.#now();
    const age = now - this.#fetchedAt;
    if (age > (this.#options.maxStaleMs ?? 86_400_000)) {
      // Too old to trust without a refresh: wait for one (unless failures are backing off).
      if (now >= this.#backoffUntil) await this.#refresh();
      if (this.#now() - this.#fetchedAt > (this.#options.maxStaleMs ?? 86_400_000)) {
        return this.#unavailable();
      }
    } else if (age > (this.#options.maxAgeMs ?? 600_000) && now >= this.#backoffUntil) {
      void this.#refresh();
    }
    let candidates = this.#match(alg, kid);
    if (candidates.length === 0 && kid !== undefined && (this.#inflight || this.#mayRefetch())) {
      // A refresh under way (a background one, or another request's) may bring the key.
      await this.#refresh();
      candidates = this.#match(alg, kid);
    }
    if (candidates.length === 0) {
      // A kid we may not know yet because the endpoint is down: cannot tell, not "invalid".
      return this.#failures > 0 && kid !== undefined ? this.#unavailable() : { kind: 'none' };
    }
    if (candidates.length > 1) return { kind: 'ambiguous' };
    const jwk = candidates[0] as JWK;
    try {
      return { kind: 'key', key: await this.#import(jwk, alg) };
    } catch {
      return { kind: 'none' };
    }
  }

  #match(alg: string, kid: string | undefined): JWK[] {
    return (this.#keys ?? []).filter(
      (jwk) => (kid === undefined || jwk.kid === kid) && usable(jwk, alg),
    );
  }

  #mayRefetch(): boolean {
    const now = this.#now();
    return (
      now >= this.#backoffUntil && now - this.#lastAttemptAt >= (this.#options.cooldownMs ?? 30_000)
    );
  }

  #unavailable(): KeySelection {
    const wait = Math.max(1, Math.ceil((this.#backoffUntil - this.#now()) / 1000));
    return { kind: 'unavailable', retryAfterSeconds: wait };
  }

  #import(jwk: JWK, alg: string): Promise<CryptoKey | Uint8Array> {
    let byAlg = this.#imported.get(jwk);
    if (!byAlg) {
      byAlg = new Map();
      this.#imported.set(jwk, byAlg);
    }
    let key = byAlg.get(alg);
    if (!key) {
      key = importJWK(jwk, alg);
      byAlg.set(alg, key);
    }
    return key;
  }

  /** Fetch the set now (one request at a time); failures keep the keys already known. */
  refresh(): Promise<void> {
    return this.#refresh();
  }

  #refresh(): Promise<void> {
    if (!this.#inflight) {
      this.#inflight = this.#load().finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  async #load(): Promise<void> {
    this.#lastAttemptAt = this.#now();
    this.fetches += 1;
    try {
      const body = await requestJson(
        this.#options.fetch,
        this.#options.uri,
        { headers: { accept: 'application/jwk-set+json, application/json' } },
        {
          timeoutMs: this.#options.timeoutMs ?? 5_000,
          maxBytes: this.#options.maxBytes ?? 512 * 1024,
        },
      );
      const keys =
        body !== null &&
        typeof body === 'object' &&
        Array.isArray((body as { keys?: unknown }).keys)
          ? (body as { keys: unknown[] }).keys
          : undefined;
      if (!keys) throw new Error(`${this.#options.uri} is not a JWK Set`);
      const usableKeys = keys
        .filter((key): key is JWK => key !== null && typeof key === 'object' && !Array.isArray(key))
        .slice(0, MAX_KEYS);
      // An empty set is a broken answer, not a rotation to no keys: keep the known ones.
      if (usableKeys.length === 0) throw new Error(`${this.#options.uri} lists no keys`);
      this.#keys = usableKeys;
      this.#fetchedAt = this.#now();
      this.#failures = 0;
      this.#backoffUntil = 0;
    } catch (error) {
      this.#failures += 1;
      const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.#failures - 1));
      this.#backoffUntil = this.#now() + wait;
      this.#options.logger?.warn(
        `the JWKS could not be fetched (${error instanceof Error ? error.message : 'unknown error'}); ${this.#keys ? 'the keys already known stay in use' : 'no token can be verified until it answers'}`,
        { jwks_uri: this.#options.uri },
      );
    }
  }
}
