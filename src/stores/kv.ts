/**
 * The storage port every token-store backend implements: text values under string keys, each
 * with a version that grows on every write, so writes can be compare-and-set (a slower process
 * never overwrites a newer token). Some backends also keep append-only logs (`AppendLog`, in
 * `append-log.ts`).
 *
 * @module
 */

import { randomUUID } from 'node:crypto';

/** A stored value and its version. */
export interface VersionedValue {
  readonly value: string;
  /** 1 for the first write, then +1 on each write. */
  readonly version: number;
}

/** Options of {@link KeyValueStore.set}. */
export interface SetOptions {
  /**
   * Write only if the stored version is this one; `null`: only if the key does not exist.
   * Absent: write unconditionally.
   */
  readonly expectVersion?: number | null;
  /** Forget the value after this many milliseconds. */
  readonly ttlMs?: number;
}

/** Options of {@link KeyValueStore.delete}. */
export interface DeleteOptions {
  readonly expectVersion?: number;
  /** Delete only if the stored value is this one (compare-and-delete of a lease's fence). */
  readonly expectValue?: string;
}

/** A versioned key-value store. */
export interface KeyValueStore {
  /** The value of `key` with its version, or `undefined` when there is none. */
  get(key: string): Promise<VersionedValue | undefined>;
  /** The new version, or `undefined` when `expectVersion` did not match (nothing written). */
  set(key: string, value: string, options?: SetOptions): Promise<number | undefined>;
  /**
   * Whether something was deleted; with `expectVersion` (or `expectValue`), only if the stored
   * version (or value) is that one, checked atomically with the deletion.
   */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /** Every key (of this store's namespace). */
  keys(): Promise<string[]>;
  /** Release the connection (Redis); the store is not used after. */
  close(): Promise<void>;
}

/** Whether a delete with `options` may remove `current`. */
export function deleteMatches(
  current: VersionedValue | undefined,
  options: DeleteOptions,
): current is VersionedValue {
  if (!current) return false;
  if (options.expectValue !== undefined && current.value !== options.expectValue) return false;
  return options.expectVersion === undefined || current.version === options.expectVersion;
}

/** Whether a write with `expectVersion` may replace `current`. */
export function versionMatches(
  current: VersionedValue | undefined,
  expectVersion: number | null | undefined,
): boolean {
  if (expectVersion === undefined) return true;
  if (expectVersion === null) return current === undefined;
  return current?.version === expectVersion;
}

/** A held lease: release it when done (it also ends by itself after its time). */
export interface Lease {
  /** The fencing value that identifies this holder. */
  readonly fence: string;
  release(): Promise<void>;
}

/**
 * Take the lease `id` on `kv` for `ttlMs`: a compare-and-set create with expiry, so a holder that
 * dies releases it when the time is up. `undefined` when someone else holds it. Released by
 * compare-and-delete on the fencing value, so a holder whose lease lapsed never releases another's.
 */
export async function acquireLease(
  kv: KeyValueStore,
  id: string,
  ttlMs: number,
): Promise<Lease | undefined> {
  const fence = randomUUID();
  const version = await kv.set(id, fence, { expectVersion: null, ttlMs });
  if (version === undefined) return undefined;
  return {
    fence,
    release: async () => {
      await kv.delete(id, { expectValue: fence });
    },
  };
}
