/**
 * Verification results cached by the SHA-256 of the token (never the token itself), namespaced by
 * the verifier's configuration so a token accepted by one resource never hits in another's cache:
 *
 * - a good token is kept for min(`token_cache_ttl_seconds`, its expiry − now) (RFC 7662 §4);
 * - a refused one for a short while (the negative cache), an outage never;
 * - one verification in flight per token: concurrent requests with a new token share it;
 * - bounded in memory (least recently used first out), and optionally shared through a
 *   {@link KeyValueStore} (Redis) so replicas verify a token once between them.
 *
 * Scopes are not part of the cached decision: they are checked on every request.
 *
 * @module
 */
import { createHash, hash } from 'node:crypto';
import type { KeyValueStore } from '../stores/kv.js';
import type { CallerIdentity } from './identity.js';
import type { TokenVerifier, Verification } from './verifiers/verifier.js';

/** Options of {@link VerificationCache}. */
export interface VerificationCacheOptions {
  /** Longest a good token is trusted without verifying again, in seconds (0: not cached). */
  readonly ttlSeconds: number;
  /** How long a refused token is remembered, in seconds. Default 30. */
  readonly negativeTtlSeconds?: number;
  /** Most tokens kept in memory. Default 10,000. */
  readonly maxEntries?: number;
  /** Distinguishes verifier configurations (issuer, audiences, method). */
  readonly namespace: string;
  /** A store shared by replicas (values are the verification result, keys hashes). */
  readonly shared?: KeyValueStore | undefined;
  /** The clock, in epoch milliseconds. Default `Date.now`. */
  readonly now?: () => number;
}

interface Entry {
  readonly result: Verification;
  readonly until: number;
}

const MAX_SHARED_VALUE = 64 * 1024;
/** How long an introspection answer without `exp` is trusted. */
const NO_EXPIRY_TTL_MS = 60_000;

/** Cached, single-flight token verification. */
export class VerificationCache {
  readonly #options: VerificationCacheOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<Verification>>();
  readonly #prefix: string;

  constructor(options: VerificationCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#prefix = `${createHash('sha256').update(options.namespace).digest('hex').slice(0, 16)}:`;
  }

  /** Entries held in memory. */
  get size(): number {
    return this.#entries.size;
  }

  /** The verification of `token`: cached, shared with a verification in flight, or new. */
  verify(token: string, verifier: TokenVerifier): Promise<Verification> {
    const key = this.#prefix + hash('sha256', token, 'base64url');
    const entry = this.#entries.get(key);
    if (entry) {
      if (entry.until > this.#now()) {
        // Least recently used goes first: move the hit to the end.
        this.#entries.delete(key);
        this.#entries.set(key, entry);
        return Promise.resolve(entry.result);
      }
      this.#entries.delete(key);
    }
    const running = this.#inflight.get(key);
    if (running) return running;
    const run = this.#verify(key, token, verifier).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, run);
    return run;
  }

  async #verify(key: string, token: string, verifier: TokenVerifier): Promise<Verification> {
    const shared = await this.#readShared(key);
    if (shared) {
      this.#remember(key, shared);
      return shared.result;
    }
    const result = await verifier.verify(token);
    const until = this.#until(result);
    if (until !== undefined) {
      const entry = { result, until };
      this.#remember(key, entry);
      await this.#writeShared(key, entry);
    }
    return result;
  }

  /** When a result stops being trusted; `undefined`: not cached (an outage, or TTL 0). */
  #until(result: Verification): number | undefined {
    const now = this.#now();
    if (result.ok) {
      if (this.#options.ttlSeconds <= 0) return undefined;
      const ttl = now + this.#options.ttlSeconds * 1000;
      const { expiresAt, verifiedBy } = result.identity;
      // RFC 7662 §4: without `exp`, revocation is seen only by asking again; at most a minute.
      if (expiresAt === undefined && verifiedBy === 'introspection') {
        return Math.min(ttl, now + NO_EXPIRY_TTL_MS);
      }
      return Math.min(ttl, expiresAt ?? ttl);
    }
    if (result.reason === 'unavailable' || result.retryable) return undefined;
    return now + (this.#options.negativeTtlSeconds ?? 30) * 1000;
  }

  #remember(key: string, entry: Entry): void {
    if (entry.until <= this.#now()) return;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    const max = this.#options.maxEntries ?? 10_000;
    while (this.#entries.size > max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  async #readShared(key: string): Promise<Entry | undefined> {
    const shared = this.#options.shared;
    if (!shared) return undefined;
    try {
      const stored = await shared.get(key);
      if (!stored || stored.value.length > MAX_SHARED_VALUE) return undefined;
      const parsed = JSON.parse(stored.value) as {
        until?: unknown;
        identity?: CallerIdentity;
        refused?: unknown;
      };
      if (typeof parsed.until !== 'number' || parsed.until <= this.#now()) return undefined;
      if (typeof parsed.refused === 'string') {
        return {
          result: { ok: false, reason: 'invalid', description: parsed.refused },
          until: parsed.until,
        };
      }
      const identity = parsed.identity;
      if (
        !identity ||
        typeof identity.issuer !== 'string' ||
        typeof identity.subject !== 'string' ||
        !Array.isArray(identity.scopes) ||
        !identity.scopes.every((scope) => typeof scope === 'string') ||
        identity.claims === null ||
        typeof identity.claims !== 'object'
      ) {
        return undefined;
      }
      return { result: { ok: true, identity }, until: parsed.until };
    } catch {
      // The shared cache is an optimisation: when it is away, verify locally.
      return undefined;
    }
  }

  async #writeShared(key: string, entry: Entry): Promise<void> {
    const shared = this.#options.shared;
    if (!shared) return;
    const { result } = entry;
    const value = JSON.stringify(
      result.ok
        ? { until: entry.until, identity: result.identity }
        : { until: entry.until, refused: result.reason === 'invalid' ? result.description : '' },
    );
    if (value.length > MAX_SHARED_VALUE) return;
    try {
      await shared.set(key, value, { ttlMs: Math.max(1, entry.until - this.#now()) });
    } catch {
      // The shared cache is an optimisation: a failed write costs another replica a verification.
    }
  }
}
