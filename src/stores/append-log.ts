/**
 * An optional capability of a key-value backend: append-only logs (lists of text entries under a
 * key) where one append adds an entry, trims the oldest to the log's bounds and renews the log's
 * expiry in a single atomic step, whatever the log already holds. The shared stream-event store
 * keeps each event of a resumable stream this way, one write per event.
 *
 * The Redis backend (a list and a byte counter per log, one Lua script per append) and the memory
 * backend offer it; the file backend does not ({@link isAppendLog} says which). Logs are apart
 * from the key-value records: `keys()` does not list them, `get` does not read them.
 *
 * @module
 */

/** Options of {@link AppendLog.appendToLog}. */
export interface AppendOptions {
  /** Keep at most this many entries: the oldest go (the entry just appended never does). */
  readonly maxEntries: number;
  /**
   * Keep at most this many bytes of entries (as counted by `bytes`): the oldest go, though the
   * entry just appended always stays. Absent: no byte bound.
   */
  readonly maxBytes?: number;
  /** What this entry counts against `maxBytes`; default its UTF-8 length. */
  readonly bytes?: number;
  /** The whole log expires this long after this append, in milliseconds (each append renews). */
  readonly ttlMs: number;
  /**
   * Remove the entries equal to this one (and counted as the same bytes) before appending it, so
   * the log is a set ordered by last append: an index of the most recently used names.
   */
  readonly distinct?: boolean;
  /** Hand back the entries pushed out ({@link AppendOutcome.dropped}); default not (less traffic). */
  readonly returnDropped?: boolean;
}

/** What an append did. */
export interface AppendOutcome {
  /** Entries in the log after the append. */
  readonly length: number;
  /** The entries the bounds pushed out, oldest first, when `returnDropped` asked for them. */
  readonly dropped: readonly string[];
}

/** Append-only logs with bounded length, bounded bytes and expiry. */
export interface AppendLog {
  /**
   * Append `entry` to the log `key` (creating it), push out the oldest entries beyond the bounds
   * and set the log to expire `ttlMs` from now, atomically: O(1) in what the log already holds
   * (plus one step per entry pushed out).
   */
  appendToLog(key: string, entry: string, options: AppendOptions): Promise<AppendOutcome>;
  /** The entries of the log `key`, oldest first; empty when there is none (or it expired). */
  readLog(key: string): Promise<string[]>;
  /** Delete the log `key`; whether there was one. */
  deleteLog(key: string): Promise<boolean>;
}

/** Whether `backend` offers {@link AppendLog} (the Redis and memory backends do, the file one not). */
export function isAppendLog(backend: unknown): backend is AppendLog {
  const candidate = backend as Partial<AppendLog> | null | undefined;
  return (
    typeof candidate?.appendToLog === 'function' &&
    typeof candidate.readLog === 'function' &&
    typeof candidate.deleteLog === 'function'
  );
}

/** The bytes `entry` counts for when the caller did not say: its UTF-8 length. */
export function entryBytes(entry: string, options: AppendOptions): number {
  return options.bytes ?? Buffer.byteLength(entry, 'utf8');
}

/** Refuse bounds that are not positive integers (a caller's mistake, before any write). */
export function checkAppendOptions(options: AppendOptions): void {
  const bad = (value: number | undefined, min: number) =>
    value !== undefined && (!Number.isSafeInteger(value) || value < min);
  if (
    bad(options.maxEntries, 1) ||
    bad(options.maxBytes, 0) ||
    bad(options.bytes, 0) ||
    bad(options.ttlMs, 1)
  ) {
    throw new TypeError(
      'appendToLog: maxEntries and ttlMs must be positive integers, maxBytes and bytes integers ≥ 0',
    );
  }
}

/** One log in memory. */
interface MemoryLog {
  readonly entries: { readonly entry: string; readonly bytes: number }[];
  bytes: number;
  expiresAt: number;
}

/** The logs of the memory backend, with an injected clock for expiry. */
export class MemoryLogs implements AppendLog {
  readonly #logs = new Map<string, MemoryLog>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  async appendToLog(key: string, entry: string, options: AppendOptions): Promise<AppendOutcome> {
    checkAppendOptions(options);
    const log = this.#live(key) ?? { entries: [], bytes: 0, expiresAt: 0 };
    const bytes = entryBytes(entry, options);
    if (options.distinct) {
      for (let index = log.entries.length - 1; index >= 0; index -= 1) {
        const old = log.entries[index];
        if (old?.entry !== entry || old.bytes !== bytes) continue;
        log.entries.splice(index, 1);
        log.bytes -= bytes;
      }
    }
    log.entries.push({ entry, bytes });
    log.bytes += bytes;
    const dropped: string[] = [];
    while (log.entries.length > 1 && overBounds(log, options)) {
      const oldest = log.entries.shift();
      if (!oldest) break;
      log.bytes -= oldest.bytes;
      if (options.returnDropped) dropped.push(oldest.entry);
    }
    log.expiresAt = this.#now() + options.ttlMs;
    this.#logs.set(key, log);
    return { length: log.entries.length, dropped };
  }

  async readLog(key: string): Promise<string[]> {
    return (this.#live(key)?.entries ?? []).map((item) => item.entry);
  }

  async deleteLog(key: string): Promise<boolean> {
    return this.#live(key) !== undefined && this.#logs.delete(key);
  }

  /** Forget every log. */
  clear(): void {
    this.#logs.clear();
  }

  #live(key: string): MemoryLog | undefined {
    const log = this.#logs.get(key);
    if (log && log.expiresAt <= this.#now()) {
      this.#logs.delete(key);
      return undefined;
    }
    return log;
  }
}

function overBounds(log: MemoryLog, options: AppendOptions): boolean {
  return (
    log.entries.length > options.maxEntries ||
    (options.maxBytes !== undefined && log.bytes > options.maxBytes)
  );
}
