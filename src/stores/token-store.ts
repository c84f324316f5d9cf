/**
 * `TokenStore`: token records under {@link TokenKey}s, on any {@link KeyValueStore} backend, with
 * versions for compare-and-set, expiry derived from the token, and optional encryption at rest.
 *
 * @module
 */
import { homedir } from 'node:os';
import type { OAuthSettings } from '../config/schema/oauth.js';
import { McpAgentError } from '../errors.js';
import { GrantEventStore } from './events.js';
import { FileKeyValueStore } from './file.js';
import { PendingFlowStore } from './flows.js';
import { acquireLease, type KeyValueStore, type Lease } from './kv.js';
import { MemoryKeyValueStore } from './memory.js';
import {
  parseRecord,
  serializeRecord,
  storageKey,
  type TokenKey,
  type TokenRecord,
} from './record.js';
import { RedisKeyValueStore } from './redis.js';
import { INTERNAL_KEY_PREFIX, RegistrationStore } from './registrations.js';
import { RunStore } from './runs.js';
import { Sealer } from './seal.js';
import { SessionRecordStore } from './sessions.js';
import { MemoryStreamEventStore, type StreamEventStore } from './stream-events.js';
import { SharedStreamEventStore } from './stream-events-shared.js';
import { VerdictStore } from './verdicts.js';

/** How long a record with a refresh token is kept after its access token expires (30 days). */
export const REFRESH_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;

/** Storage keys of refresh leases start with this (see {@link TokenStore.acquireLease}). */
export const LEASE_KEY_PREFIX = '#lease:';

export type { Lease } from './kv.js';

/** A record and the version it was read at. */
export interface StoredToken {
  readonly record: TokenRecord;
  readonly version: number;
}

/** Why a stored record cannot be read (see {@link TokenStore.unreadable}). */
export type UnreadableReason =
  /** Encrypted with another `encryption_key`. */
  | 'other-key'
  /** Encrypted, and this store has no `encryption_key`. */
  | 'no-key'
  /** Written unencrypted, and this store has an `encryption_key` (it reads sealed records only). */
  | 'not-encrypted'
  /** Not a token record this version can read. */
  | 'not-a-record';

/** A stored token record this store cannot read, and whose it is. */
export interface UnreadableRecord {
  readonly id: string;
  /** The identity and server of its storage key. */
  readonly identity: string;
  readonly server: string;
  readonly reason: UnreadableReason;
}

/** A stored value opened: its record, or why it cannot be read. */
type Opened = { readonly record: TokenRecord } | { readonly reason: UnreadableReason };

/** Options of {@link TokenStore}. */
export interface TokenStoreOptions {
  /** Encrypt records at rest with a key derived from this passphrase. */
  readonly sealer?: Sealer;
  readonly now?: () => number;
  /** Kept this long past the access token's expiry: the refresh window (refresh token present) */
  readonly refreshWindowMs?: number;
  /** … or the refresh leeway (no refresh token). */
  readonly leewayMs?: number;
  /**
   * Keep workflow runs on this backend, shared by every process using it (the Redis backend of
   * replicas). Default false: runs stay in this process's memory.
   */
  readonly sharedRuns?: boolean;
  /**
   * Keep the events of resumable streams on this backend (sealed when the store seals), shared
   * by every process using it: the Redis or memory backend (one write per event); the file
   * backend has no append logs and is refused (`CONFIG_INVALID`). Default false: they stay in
   * this process's memory.
   */
  readonly sharedStreams?: boolean;
  /**
   * Keep the records of MCP sessions on this backend (sealed when the store seals), so that
   * replicas share their sessions (see `sessions.ts`). Default false: no records.
   */
  readonly sharedSessions?: boolean;
}

/** Token records on a key-value backend. */
export class TokenStore {
  readonly #kv: KeyValueStore;
  readonly #sealer: Sealer | undefined;
  readonly #now: () => number;
  readonly #refreshWindowMs: number;
  readonly #leewayMs: number;
  /** Client registrations (RFC 7591) kept on the same backend. */
  readonly registrations: RegistrationStore;
  /** Authorizations waiting for their callback (logins where no user could be asked). */
  readonly flows: PendingFlowStore;
  /** The last background-refresh event per server and identity. */
  readonly events: GrantEventStore;
  /** Workflow runs: on this backend when it is shared (`sharedRuns`), else in memory. */
  readonly runs: RunStore;
  /** The events of resumable streams: on this backend when shared (`sharedStreams`), else in memory. */
  readonly streams: StreamEventStore;
  /**
   * The single-use markers of `requestState`s (protocol 2026-07-28): this backend itself, so
   * replicas on Redis share them.
   */
  readonly markers: KeyValueStore;
  /** The records of shared MCP sessions (`sharedSessions`); `undefined` when not shared. */
  readonly sessions: SessionRecordStore | undefined;
  /** The MCP era each downstream server spoke at its last connect (never a token). */
  readonly verdicts: VerdictStore;

  constructor(kv: KeyValueStore, options: TokenStoreOptions = {}) {
    this.#kv = kv;
    this.markers = kv;
    this.#sealer = options.sealer;
    this.#now = options.now ?? Date.now;
    this.#refreshWindowMs = options.refreshWindowMs ?? REFRESH_WINDOW_MS;
    this.#leewayMs = options.leewayMs ?? 60_000;
    this.registrations = new RegistrationStore(kv, options.sealer);
    this.flows = new PendingFlowStore(kv, { sealer: options.sealer, now: this.#now });
    this.events = new GrantEventStore(kv);
    this.runs = options.sharedRuns
      ? new RunStore(kv, { shared: true, sealer: options.sealer })
      : new RunStore(new MemoryKeyValueStore({ now: this.#now }), { shared: false });
    this.streams = options.sharedStreams
      ? new SharedStreamEventStore(kv, { sealer: options.sealer, now: this.#now })
      : new MemoryStreamEventStore({ now: this.#now });
    this.sessions = options.sharedSessions
      ? new SessionRecordStore(kv, { sealer: options.sealer, now: this.#now })
      : undefined;
    this.verdicts = new VerdictStore(kv, { now: this.#now });
  }

  /** The access-token leeway: a token counts as expired this many milliseconds early. */
  get leewayMs(): number {
    return this.#leewayMs;
  }

  /**
   * The record under `key`, or `undefined` (also for one this store cannot read or open: see
   * {@link TokenStore.unreadable}).
   */
  async get(key: TokenKey): Promise<StoredToken | undefined> {
    const id = storageKey(key);
    const stored = await this.#kv.get(id);
    if (!stored) return undefined;
    const opened = this.#open(id, stored.value);
    return 'record' in opened ? { record: opened.record, version: stored.version } : undefined;
  }

  /** The record stored as `value` under `id`, or why it cannot be read. */
  #open(id: string, value: string): Opened {
    const sealed = Sealer.isSealed(value);
    if (!this.#sealer && sealed) return { reason: 'no-key' };
    if (this.#sealer && !sealed) return { reason: 'not-encrypted' };
    const text = this.#sealer ? this.#sealer.open(value, id) : value;
    if (text === undefined) return { reason: 'other-key' };
    const record = parseRecord(text);
    return record ? { record } : { reason: 'not-a-record' };
  }

  /**
   * Store `record` under `key`. With `expectVersion` (`null`: must not exist) the write happens
   * only if nobody wrote in between; returns the new version, or `undefined` when it did not.
   */
  async put(
    key: TokenKey,
    record: TokenRecord,
    options: { expectVersion?: number | null } = {},
  ): Promise<number | undefined> {
    const id = storageKey(key);
    const text = serializeRecord(record);
    const ttlMs = this.#ttl(record);
    return this.#kv.set(id, this.#sealer ? this.#sealer.seal(text, id) : text, {
      ...(options.expectVersion !== undefined ? { expectVersion: options.expectVersion } : {}),
      ...(ttlMs !== undefined ? { ttlMs } : {}),
    });
  }

  /** Delete the record under `key` (only at `expectVersion`, if given). */
  delete(key: TokenKey, options: { expectVersion?: number } = {}): Promise<boolean> {
    return this.#kv.delete(
      storageKey(key),
      options.expectVersion !== undefined ? { expectVersion: options.expectVersion } : {},
    );
  }

  /**
   * Take the lease on `key` for `ttlMs` (one refresh per token across processes and replicas):
   * a compare-and-set create with expiry, so a holder that dies releases it when the time is up.
   * `undefined` when someone else holds it. Released by compare-and-delete on the fencing value.
   */
  acquireLease(key: TokenKey, ttlMs: number): Promise<Lease | undefined> {
    return acquireLease(this.#kv, `${LEASE_KEY_PREFIX}${storageKey(key)}`, ttlMs);
  }

  /** Delete a record by its storage id (from {@link TokenStore.list}). */
  deleteStored(id: string): Promise<boolean> {
    return this.#kv.delete(id);
  }

  /** Every record this store can read, with its key's storage form. */
  async list(): Promise<{ id: string; record: TokenRecord }[]> {
    const out: { id: string; record: TokenRecord }[] = [];
    for (const { id, opened } of await this.#all()) {
      if ('record' in opened) out.push({ id, record: opened.record });
    }
    return out;
  }

  /**
   * The token records stored that this store cannot read (encrypted with another key, say),
   * which {@link TokenStore.get} and {@link TokenStore.list} pass over: a new login replaces them.
   */
  async unreadable(): Promise<UnreadableRecord[]> {
    const out: UnreadableRecord[] = [];
    for (const { id, opened } of await this.#all()) {
      if (!('reason' in opened)) continue;
      const [identity = '', server = ''] = id.split(':').map(decodeSafely);
      out.push({ id, identity, server, reason: opened.reason });
    }
    return out;
  }

  /** Every token record stored (not the internal keys), opened or with why it cannot be. */
  async #all(): Promise<{ id: string; opened: Opened }[]> {
    const out: { id: string; opened: Opened }[] = [];
    for (const id of await this.#kv.keys()) {
      if (id.startsWith(INTERNAL_KEY_PREFIX)) continue;
      const stored = await this.#kv.get(id);
      if (stored) out.push({ id, opened: this.#open(id, stored.value) });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.runs.close();
    await this.streams.close();
    await this.#kv.close();
  }

  /** Keep a record until its access token expires plus the refresh window or leeway. */
  #ttl(record: TokenRecord): number | undefined {
    if (record.expiresAt === undefined) return undefined;
    const window = record.refreshToken ? this.#refreshWindowMs : this.#leewayMs;
    return Math.max(1, record.expiresAt - this.#now() + window);
  }
}

/** The token store `oauth.token_store` configures. */
export function createTokenStore(
  settings: OAuthSettings['token_store'],
  options: { homeDir?: string; cwd?: string; now?: () => number } = {},
): TokenStore {
  const now = options.now ?? Date.now;
  let kv: KeyValueStore;
  switch (settings.backend) {
    case 'memory':
      kv = new MemoryKeyValueStore({ now });
      break;
    case 'file':
      kv = new FileKeyValueStore({
        path: settings.path,
        homeDir: options.homeDir ?? homedir(),
        ...(options.cwd ? { cwd: options.cwd } : {}),
        now,
      });
      break;
    case 'redis': {
      const url = settings.redis_url?.reveal();
      if (!url) {
        throw new McpAgentError(
          'CONFIG_INVALID',
          'oauth.token_store.redis_url is required for the redis backend.',
        );
      }
      kv = new RedisKeyValueStore({ url, prefix: settings.redis_prefix });
      break;
    }
  }
  return new TokenStore(kv, {
    now,
    leewayMs: settings.refresh_leeway_seconds * 1000,
    // Replicas share their Redis: workflow runs there are seen, and taken over, by all of them.
    sharedRuns: settings.backend === 'redis',
    // … and so are MCP sessions, with the events of their resumable streams: a request of a
    // session, or a resume, may land on any replica (issue 18).
    sharedStreams: settings.backend === 'redis',
    sharedSessions: settings.backend === 'redis',
    ...(settings.encryption_key ? { sealer: new Sealer(settings.encryption_key) } : {}),
  });
}

/** A storage-key part decoded, or as it is when it is not valid percent-encoding. */
function decodeSafely(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
