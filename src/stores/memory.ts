/**
 * The `memory` backend: tokens live as long as the process (mcp-agent's default).
 *
 * @module
 */
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

/** A {@link KeyValueStore} in a `Map`. `now` is injected for expiry. */
export class MemoryKeyValueStore implements KeyValueStore {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
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

  async close(): Promise<void> {
    this.#entries.clear();
  }
}
