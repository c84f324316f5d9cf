/**
 * Which MCP era each downstream server spoke at its last connect (its "verdict"), kept on the
 * token store's backend so the next connect, in this process or another, skips the
 * `server/discover` probe. A key is a hash of the server's name, address and authentication
 * context (see `verdictKeyOf` in `src/servers/negotiation.ts`), never a credential. A modern
 * verdict holds the server's discover result (capabilities, instructions), no secret.
 *
 * A legacy verdict expires after a horizon ({@link LEGACY_VERDICT_HORIZON_MS}): an upgraded server
 * still answers `initialize`, so a stale one would never fail by itself. A modern one is kept
 * longer ({@link MODERN_VERDICT_HORIZON_MS}): a server that stopped speaking 2026-07-28 fails the
 * first request, which drops it.
 *
 * @module
 */
import * as z from 'zod';
import type { KeyValueStore } from './kv.js';

/** Storage keys of verdicts start with this. */
export const VERDICT_KEY_PREFIX = '#protocol:';

/** How long a legacy (2025-11-25) verdict is used: 24 hours. */
export const LEGACY_VERDICT_HORIZON_MS = 24 * 60 * 60 * 1000;

/** How long a modern (2026-07-28) verdict is used: 7 days (its capabilities may age). */
export const MODERN_VERDICT_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * A remembered verdict, in the shape of the SDK's `connect({ prior })` (the discover result is
 * kept as the server sent it; this module does not load the SDK).
 */
export type StoredVerdict =
  | { readonly kind: 'modern'; readonly discover: Readonly<Record<string, unknown>> }
  | { readonly kind: 'legacy' };

const storedSchema = z.object({
  v: z.literal(1),
  kind: z.enum(['modern', 'legacy']),
  at: z.number(),
  discover: z.record(z.string(), z.unknown()).optional(),
});

/** Options of {@link VerdictStore}. */
export interface VerdictStoreOptions {
  readonly now?: () => number;
  /** Default {@link LEGACY_VERDICT_HORIZON_MS}. */
  readonly legacyHorizonMs?: number;
  /** Default {@link MODERN_VERDICT_HORIZON_MS}. */
  readonly modernHorizonMs?: number;
}

/** Verdicts on a {@link KeyValueStore}, by an opaque key (a hash). */
export class VerdictStore {
  readonly #kv: KeyValueStore;
  readonly #now: () => number;
  readonly #legacyMs: number;
  readonly #modernMs: number;

  constructor(kv: KeyValueStore, options: VerdictStoreOptions = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
    this.#legacyMs = options.legacyHorizonMs ?? LEGACY_VERDICT_HORIZON_MS;
    this.#modernMs = options.modernHorizonMs ?? MODERN_VERDICT_HORIZON_MS;
  }

  /** The verdict under `key` while within its horizon; `undefined` otherwise. */
  async get(key: string): Promise<StoredVerdict | undefined> {
    const stored = await this.#kv.get(VERDICT_KEY_PREFIX + key);
    if (!stored) return undefined;
    let parsed: z.infer<typeof storedSchema>;
    try {
      parsed = storedSchema.parse(JSON.parse(stored.value));
    } catch {
      return undefined;
    }
    if (parsed.at + this.#horizon(parsed.kind) <= this.#now()) return undefined;
    if (parsed.kind === 'legacy') return { kind: 'legacy' };
    return parsed.discover ? { kind: 'modern', discover: parsed.discover } : undefined;
  }

  /** Remember `verdict` under `key`, from now. */
  async put(key: string, verdict: StoredVerdict): Promise<void> {
    const value = {
      v: 1,
      kind: verdict.kind,
      at: this.#now(),
      ...(verdict.kind === 'modern' ? { discover: verdict.discover } : {}),
    };
    await this.#kv.set(VERDICT_KEY_PREFIX + key, JSON.stringify(value), {
      ttlMs: this.#horizon(verdict.kind),
    });
  }

  /** Forget the verdict under `key` (the next connect probes). */
  async drop(key: string): Promise<void> {
    await this.#kv.delete(VERDICT_KEY_PREFIX + key);
  }

  #horizon(kind: StoredVerdict['kind']): number {
    return kind === 'legacy' ? this.#legacyMs : this.#modernMs;
  }
}
