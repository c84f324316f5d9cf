/**
 * The `file` backend: every record in one JSON file, mode 0600, in a directory created with mode
 * 0700. Each change takes a lock file (so two processes never interleave), reads the file, and
 * writes a new one beside it that is renamed over the old (so a crash never leaves half a file).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  chmod,
  mkdir,
  open,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { McpAgentError } from '../errors.js';
import {
  type DeleteOptions,
  deleteMatches,
  type KeyValueStore,
  type SetOptions,
  type VersionedValue,
  versionMatches,
} from './kv.js';

/** A lock older than this is taken to belong to a process that died holding it. */
export const STALE_LOCK_MS = 10_000;

/** A take-over guard older than this was left by a process that crashed while taking over. */
const TAKEOVER_GUARD_MS = 2_000;

/** How long to wait for a lock another process holds. */
export const LOCK_WAIT_MS = 5_000;

interface Entry {
  value: string;
  version: number;
  expiresAt?: number;
}

interface FileContents {
  format: 1;
  entries: Record<string, Entry>;
}

/** Options of {@link FileKeyValueStore}. */
export interface FileStoreOptions {
  /** The file; a leading `~/` is the home directory. */
  readonly path: string;
  readonly homeDir?: string;
  /** The directory a relative `path` is resolved against; default the process's. */
  readonly cwd?: string;
  readonly now?: () => number;
}

/** Expand a leading `~` to `home`. */
export function expandHome(path: string, home: string = homedir()): string {
  return path === '~' || path.startsWith('~/') ? join(home, path.slice(1)) : path;
}

/** A {@link KeyValueStore} in one JSON file, safe for several processes. */
export class FileKeyValueStore implements KeyValueStore {
  readonly path: string;
  readonly #now: () => number;

  constructor(options: FileStoreOptions) {
    this.path = resolve(options.cwd ?? process.cwd(), expandHome(options.path, options.homeDir));
    this.#now = options.now ?? Date.now;
  }

  async get(key: string): Promise<VersionedValue | undefined> {
    const entry = live(entryAt((await this.#read()).entries, key), this.#now());
    return entry ? { value: entry.value, version: entry.version } : undefined;
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<number | undefined> {
    return this.#change((contents) => {
      const current = live(entryAt(contents.entries, key), this.#now());
      if (!versionMatches(current, options.expectVersion)) return undefined;
      const version = (current?.version ?? 0) + 1;
      Object.defineProperty(contents.entries, key, {
        value: {
          value,
          version,
          ...(options.ttlMs !== undefined ? { expiresAt: this.#now() + options.ttlMs } : {}),
        },
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return version;
    });
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    const deleted = await this.#change((contents) => {
      if (!deleteMatches(live(entryAt(contents.entries, key), this.#now()), options)) return false;
      delete contents.entries[key];
      return true;
    });
    return deleted === true;
  }

  async keys(): Promise<string[]> {
    const now = this.#now();
    const { entries } = await this.#read();
    return Object.keys(entries).filter((key) => live(entryAt(entries, key), now) !== undefined);
  }

  async close(): Promise<void> {}

  async #read(): Promise<FileContents> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return { format: 1, entries: Object.create(null) as Record<string, Entry> };
      }
      throw storeError(this.path, 'read', error);
    }
    try {
      const parsed = JSON.parse(text) as FileContents;
      if (parsed.format !== 1 || typeof parsed.entries !== 'object' || parsed.entries === null) {
        throw new Error('unknown format');
      }
      return { format: 1, entries: Object.assign(Object.create(null), parsed.entries) };
    } catch {
      // No cause: a JSON parse error quotes the file, tokens included.
      throw new McpAgentError(
        'STORE_UNAVAILABLE',
        `The token file ${this.path} is damaged or of an unknown format; move it away and log in again.`,
      );
    }
  }

  /** Read, change and write the file under the lock; `change` returns what to report. */
  async #change<T>(change: (contents: FileContents) => T): Promise<T> {
    await this.#ensureDirectory();
    const release = await this.#lock();
    try {
      const contents = await this.#read();
      const result = change(contents);
      const now = this.#now();
      for (const [key, entry] of Object.entries(contents.entries)) {
        if (!live(entry, now)) delete contents.entries[key];
      }
      const temporary = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        const handle = await open(temporary, 'wx', 0o600);
        try {
          await handle.writeFile(JSON.stringify(contents));
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temporary, this.path);
      } catch (error) {
        await rm(temporary, { force: true });
        throw storeError(this.path, 'write', error);
      }
      return result;
    } finally {
      await release();
    }
  }

  async #ensureDirectory(): Promise<void> {
    const dir = dirname(this.path);
    try {
      await stat(dir);
    } catch {
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await chmod(dir, 0o700);
      } catch (error) {
        throw storeError(dir, 'create', error);
      }
    }
  }

  /** Take the lock file; a lock whose holder died (or that is stale) is taken over. */
  async #lock(): Promise<() => Promise<void>> {
    const lockPath = `${this.path}.lock`;
    const token = `${process.pid} ${randomBytes(8).toString('hex')}`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        await writeFile(lockPath, token, { flag: 'wx', mode: 0o600 });
        return async () => {
          // Remove the lock only if it is still ours (it may have been taken over as stale).
          const holder = await readFile(lockPath, 'utf8').catch(() => '');
          if (holder === token) await unlink(lockPath).catch(() => {});
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
          throw storeError(lockPath, 'lock', error);
      }
      const stale = await staleLockContent(lockPath);
      if (stale !== undefined) {
        await takeOverStaleLock(lockPath, stale);
        continue;
      }
      if (Date.now() > deadline) {
        throw new McpAgentError(
          'STORE_UNAVAILABLE',
          `The token file ${this.path} is locked by another process (${lockPath}); try again, or remove the lock file if no mcp-agent is running.`,
        );
      }
      await new Promise((resolveWait) => setTimeout(resolveWait, 10 + Math.random() * 20));
    }
  }
}

/** The content of the lock file if it is stale (holder dead, or older than the limit). */
async function staleLockContent(lockPath: string): Promise<string | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)]);
    if (Date.now() - info.mtimeMs > STALE_LOCK_MS) return text;
    const pid = Number(text.split(' ')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    try {
      process.kill(pid, 0);
      return undefined;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH' ? text : undefined;
    }
  } catch {
    return undefined;
  }
}

/**
 * Remove a stale lock without removing a fresh one by mistake. Take-overs are serialised by a
 * second, short-lived lock file (`.takeover`), and the lock is removed only if it still holds
 * the stale content that was judged: a process that took over first and locked again keeps its
 * lock.
 */
async function takeOverStaleLock(lockPath: string, staleContent: string): Promise<void> {
  const guard = `${lockPath}.takeover`;
  try {
    await writeFile(guard, String(process.pid), { flag: 'wx', mode: 0o600 });
  } catch {
    // Another process is taking over; a guard left by a crash is removed after a moment.
    const info = await stat(guard).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > TAKEOVER_GUARD_MS) await unlink(guard).catch(() => {});
    return;
  }
  try {
    const current = await readFile(lockPath, 'utf8').catch(() => undefined);
    if (current === staleContent) await unlink(lockPath).catch(() => {});
  } finally {
    await unlink(guard).catch(() => {});
  }
}

/** The entry under `key` (own keys only: "constructor" is a key like any other). */
function entryAt(entries: Record<string, Entry>, key: string): Entry | undefined {
  return Object.hasOwn(entries, key) ? entries[key] : undefined;
}

function live(entry: Entry | undefined, now: number): Entry | undefined {
  return entry && (entry.expiresAt === undefined || entry.expiresAt > now) ? entry : undefined;
}

function storeError(path: string, action: string, error: unknown): McpAgentError {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  return new McpAgentError(
    'STORE_UNAVAILABLE',
    `Cannot ${action} ${path} (${code}); check that the directory exists and is writable.`,
    { cause: error },
  );
}
