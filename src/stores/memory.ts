/**
 * The `memory` backend: tokens live as long as the process (mcp-agent's default). It also offers
 * append-only logs ({@link AppendLog}).
 *
 * @module
 */
import {
  type AppendLog,
  type AppendOptions,
  type AppendOutcome,
  type MemberAppendOptions,
  type MemberAppendOutcome,
  MemoryLogs,
} from './append-log.js';
import {
  type DeleteOptions,
  deleteMatches,
  type KeyValueStore,
  type SetOptions,
  type VersionedValue,
  versionMatches,
} from './kv.js';

interface Entry extends VersionedValue {
  readonly expiresAt?: number;
}

/** A {@link KeyValueStore} and {@link AppendLog} in `Map`s. `now` is injected for expiry. */
export class MemoryKeyValueStore implements KeyValueStore, AppendLog {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #logs: MemoryLogs;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#logs = new MemoryLogs(() => this.#now());
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  async get(key: string): Promise<VersionedValue | undefined> {
    const entry = this.#live(key);
    return entry ? { value: entry.value, version: entry.version } : undefined;
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<number | undefined> {
    const current = this.#live(key);
    if (!versionMatches(current, options.expectVersion)) return undefined;
    const version = (current?.version ?? 0) + 1;
    this.#entries.set(key, {
      value,
      version,
      ...(options.ttlMs !== undefined ? { expiresAt: this.#now() + options.ttlMs } : {}),
    });
    return version;
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    if (!deleteMatches(this.#live(key), options)) return false;
    return this.#entries.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.#entries.keys()].filter((key) => this.#live(key) !== undefined);
  }

  appendToLog(key: string, entry: string, options: AppendOptions): Promise<AppendOutcome> {
    return this.#logs.appendToLog(key, entry, options);
  }

  readLog(key: string): Promise<string[]> {
    return this.#logs.readLog(key);
  }

  deleteLog(key: string): Promise<boolean> {
    return this.#logs.deleteLog(key);
  }

  appendToMember(
    group: string,
    member: string,
    entry: string,
    options: MemberAppendOptions,
  ): Promise<MemberAppendOutcome> {
    return this.#logs.appendToMember(group, member, entry, options);
  }

  async close(): Promise<void> {
    this.#entries.clear();
    this.#logs.clear();
  }
}
