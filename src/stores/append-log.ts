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

/** Options of {@link AppendLog.appendToMember}. */
export interface MemberAppendOptions {
  /** Entries kept in the member's log: the oldest go (the entry just appended never does). */
  readonly maxEntries: number;
  /** Members kept in the group: the least recently appended to go, whole. */
  readonly maxMembers: number;
  /**
   * Bytes kept in the whole group (entries as counted by `bytes`): the least recently appended
   * to members go, whole; then, if this member alone holds more, its oldest entries (never the
   * entry just appended).
   */
  readonly maxGroupBytes: number;
  /** What this entry counts against `maxGroupBytes`; default its UTF-8 length. */
  readonly bytes?: number;
  /** The member's log and the group's index expire this long after this append (each renews). */
  readonly ttlMs: number;
}

/** What {@link AppendLog.appendToMember} did. */
export interface MemberAppendOutcome {
  /** Entries in the member's log after the append. */
  readonly length: number;
  /** The members that left the group (bounds, or their log expired), their logs deleted. */
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
  /**
   * Append `entry` to the log of `member` of `group` (the log `${group}:${member}`, which
   * {@link readLog} and {@link deleteLog} reach like any other), make `member` the most recently
   * appended to in the group's index (the log `group`, of member names), and push out what is
   * beyond the bounds, in one atomic step: one write per entry whatever the group holds, and a
   * byte bound for the whole group. A member whose log expired leaves the index.
   */
  appendToMember(
    group: string,
    member: string,
    entry: string,
    options: MemberAppendOptions,
  ): Promise<MemberAppendOutcome>;
}

/** Whether `backend` offers {@link AppendLog} (the Redis and memory backends do, the file one not). */
export function isAppendLog(backend: unknown): backend is AppendLog {
  const candidate = backend as Partial<AppendLog> | null | undefined;
  return (
    typeof candidate?.appendToLog === 'function' &&
    typeof candidate.readLog === 'function' &&
    typeof candidate.deleteLog === 'function' &&
    typeof candidate.appendToMember === 'function'
  );
}

/** The bytes `entry` counts for when the caller did not say: its UTF-8 length. */
export function entryBytes(entry: string, options: { readonly bytes?: number }): number {
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

/** Refuse member bounds that are not positive integers (a caller's mistake, before any write). */
export function checkMemberOptions(options: MemberAppendOptions): void {
  const { maxEntries, maxMembers, maxGroupBytes, bytes, ttlMs } = options;
  const positive = [maxEntries, maxMembers, ttlMs].every((n) => Number.isSafeInteger(n) && n >= 1);
  const counts = [maxGroupBytes, bytes ?? 0].every((n) => Number.isSafeInteger(n) && n >= 0);
  if (!positive || !counts) {
    throw new TypeError(
      'appendToMember: maxEntries, maxMembers and ttlMs must be positive integers, maxGroupBytes and bytes integers ≥ 0',
    );
  }
}

/** The log of `member` of `group` ({@link AppendLog.appendToMember}). */
export function memberLogKey(group: string, member: string): string {
  return `${group}:${member}`;
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
    return this.#append(key, entry, options);
  }

  async appendToMember(
    group: string,
    member: string,
    entry: string,
    options: MemberAppendOptions,
  ): Promise<MemberAppendOutcome> {
    checkMemberOptions(options);
    const { ttlMs, maxGroupBytes } = options;
    const bytes = entryBytes(entry, options);
    const own = memberLogKey(group, member);
    const { length } = this.#append(own, entry, {
      maxEntries: options.maxEntries,
      maxBytes: maxGroupBytes,
      bytes,
      ttlMs,
    });
    // The index is bounded below, by members and bytes; its own entries count nothing.
    const index = this.#append(group, member, {
      maxEntries: Number.MAX_SAFE_INTEGER,
      bytes: 0,
      ttlMs,
      distinct: true,
    });
    const others = (this.#live(group)?.entries ?? []).slice(0, index.length - 1);
    const sizes = others.map(({ entry: name }) => this.#live(memberLogKey(group, name))?.bytes);
    let total = (this.#live(own)?.bytes ?? 0) + sizes.reduce<number>((a, b) => a + (b ?? 0), 0);
    let count = others.length + 1;
    const dropped: string[] = [];
    others.forEach(({ entry: name }, i) => {
      const size = sizes[i];
      if (size !== undefined && count <= options.maxMembers && total <= maxGroupBytes) return;
      this.#removeEntry(group, name);
      this.#logs.delete(memberLogKey(group, name));
      total -= size ?? 0;
      count -= 1;
      dropped.push(name);
    });
    return { length, dropped };
  }

  /** Remove `entry` from the log `key`. */
  #removeEntry(key: string, entry: string): void {
    const log = this.#live(key);
    const index = log?.entries.findIndex((item) => item.entry === entry) ?? -1;
    if (!log || index === -1) return;
    log.bytes -= log.entries[index]?.bytes ?? 0;
    log.entries.splice(index, 1);
  }

  /** {@link appendToLog}, without awaiting: atomic in this process. */
  #append(key: string, entry: string, options: AppendOptions): AppendOutcome {
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
