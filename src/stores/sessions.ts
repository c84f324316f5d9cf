/**
 * MCP session records (2025-11-25 Streamable HTTP sessions) on a {@link KeyValueStore}, so that
 * replicas behind a load balancer without affinity share them: a session opened on one replica is
 * found, for its own principal only, on every other, and a DELETE on any replica ends it on all.
 *
 * One record per session under a hash of its id (never the id in clear), sealed like the tokens
 * when the store seals (it carries the client's info and capabilities), expiring after the idle
 * timeout. A request refreshes that timeout, writing at most once per `touchEveryMs` per session,
 * so a session is forgotten between `idleMs − touchEveryMs` and `idleMs` after its last use.
 * On the token store's backend the keys are `<redis_prefix>:#session:<hash>`.
 * An ended session leaves a tombstone that outlives any copy a replica may still hold (at least
 * `idleMs + touchEveryMs`), so that replica, or a late create, sees that it ended: a copy is
 * never taken for a record Redis lost and written back. A record read back is not trusted: its shape is checked, and one
 * that does not open or fit reads as absent.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { McpAgentError } from '../errors.js';
import type { KeyValueStore } from './kv.js';
import { Sealer } from './seal.js';

/** Storage keys of session records start with this. */
export const SESSION_KEY_PREFIX = '#session:';

/** The default idle timeout of a session: 30 minutes, as `serve` has in memory. */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;

/** The default interval between two writes of one session's `lastUsed`: 30 seconds. */
export const DEFAULT_SESSION_TOUCH_EVERY_MS = 30_000;

/** The default largest record (JSON, before sealing): 16 KiB (a client's info and capabilities). */
export const DEFAULT_SESSION_RECORD_BYTES = 16 * 1024;

/** What is stored in place of an ended session. */
const TOMBSTONE = 'ended';

/** Compare-and-set attempts of a touch before it leaves the record to the writer that won. */
const MAX_CAS_ATTEMPTS = 5;

/** What a session is created with. */
export interface SessionInit {
  /** Whose session it is (the caller's identity): nobody else finds it. */
  readonly principal: string;
  /** The protocol revision negotiated by `initialize`. */
  readonly protocolVersion: string;
  /** The client's `clientInfo` (an MCP `Implementation`: `name`, `version`, …). */
  readonly clientInfo: SessionClientInfo;
  /** The client's declared capabilities. */
  readonly clientCapabilities: Record<string, unknown>;
  /** The log level the client set (`logging/setLevel`), if it set one. */
  readonly logLevel?: string | undefined;
}

/** The `clientInfo` of an `initialize` request: at least a name and a version. */
export interface SessionClientInfo {
  readonly name: string;
  readonly version: string;
  readonly [field: string]: unknown;
}

/** A stored session. */
export interface SessionRecord extends SessionInit {
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds of the last write by {@link SessionRecordStore.touch}. */
  readonly lastUsed: number;
}

/** Options of {@link SessionRecordStore}. */
export interface SessionRecordStoreOptions {
  /** Seal the records with this, as the tokens are. */
  readonly sealer?: Sealer | undefined;
  /** Forget a session this long after its last touch (written); default 30 minutes. */
  readonly idleMs?: number;
  /** Write a touched session at most this often; default 30 s (less than `idleMs`). */
  readonly touchEveryMs?: number;
  /**
   * Keep an ended session's tombstone this long; default and least `idleMs + touchEveryMs`, so it
   * outlives every replica's copy of the session (a shorter one would let a copy revive it).
   */
  readonly tombstoneMs?: number;
  /** Refuse records larger than this many bytes of JSON; default 16 KiB. */
  readonly maxRecordBytes?: number;
  readonly now?: () => number;
}

const recordSchema = z.object({
  v: z.literal(1),
  principal: z.string(),
  protocolVersion: z.string(),
  clientInfo: z.looseObject({ name: z.string(), version: z.string() }),
  clientCapabilities: z.record(z.string(), z.unknown()),
  logLevel: z.string().optional(),
  createdAt: z.number().int().nonnegative(),
  lastUsed: z.number().int().nonnegative(),
});

/** The storage key of session `id`: a hash, so no session id is written in clear. */
export function sessionKey(id: string): string {
  return `${SESSION_KEY_PREFIX}${createHash('sha256').update(id).digest('base64url')}`;
}

/** Session records shared by every process on the same backend. */
export class SessionRecordStore {
  readonly #kv: KeyValueStore;
  readonly #sealer: Sealer | undefined;
  readonly #idleMs: number;
  readonly #touchEveryMs: number;
  readonly #tombstoneMs: number;
  readonly #maxRecordBytes: number;
  readonly #now: () => number;

  constructor(kv: KeyValueStore, options: SessionRecordStoreOptions = {}) {
    this.#kv = kv;
    this.#sealer = options.sealer;
    this.#idleMs = positive('idleMs', options.idleMs ?? DEFAULT_SESSION_IDLE_MS);
    this.#touchEveryMs = positive(
      'touchEveryMs',
      options.touchEveryMs ?? Math.min(DEFAULT_SESSION_TOUCH_EVERY_MS, this.#idleMs / 2),
    );
    this.#tombstoneMs = Math.max(
      positive('tombstoneMs', options.tombstoneMs ?? this.#idleMs),
      this.#idleMs + this.#touchEveryMs,
    );
    this.#maxRecordBytes = positive(
      'maxRecordBytes',
      options.maxRecordBytes ?? DEFAULT_SESSION_RECORD_BYTES,
    );
    if (this.#touchEveryMs >= this.#idleMs) {
      throw new McpAgentError(
        'USAGE',
        'Session records: touchEveryMs must be less than idleMs, or a used session would expire.',
      );
    }
    this.#now = options.now ?? Date.now;
  }

  /**
   * Store the new session `id` unless one exists (or has just ended) under it; the record
   * stored, or `undefined` when the id is taken. A record larger than `maxRecordBytes` is refused
   * with `USAGE` (a client's info and capabilities are small).
   */
  async create(id: string, init: SessionInit): Promise<SessionRecord | undefined> {
    const now = this.#now();
    const record: SessionRecord = {
      principal: init.principal,
      protocolVersion: init.protocolVersion,
      clientInfo: init.clientInfo,
      clientCapabilities: init.clientCapabilities,
      ...(init.logLevel === undefined ? {} : { logLevel: init.logLevel }),
      createdAt: now,
      lastUsed: now,
    };
    const key = sessionKey(id);
    const written = await this.#kv.set(key, this.#encode(key, record), {
      expectVersion: null,
      ttlMs: this.#idleMs,
    });
    return written === undefined ? undefined : record;
  }

  /** The live session `id`, whoever's it is; `undefined` when absent, ended or unreadable. */
  async get(id: string): Promise<SessionRecord | undefined> {
    return (await this.#read(id))?.record;
  }

  /** The live session `id` if it belongs to `principal`; `undefined` otherwise (even if it exists). */
  async find(id: string, principal: string): Promise<SessionRecord | undefined> {
    const record = await this.get(id);
    return record?.principal === principal ? record : undefined;
  }

  /**
   * Note a use of session `id`: when its last write is `touchEveryMs` old or more, write it again
   * with `lastUsed` now, which restarts its idle timeout; otherwise write nothing. The record (as
   * written, or as found), or `undefined` when the session is absent or ended.
   */
  async touch(id: string): Promise<SessionRecord | undefined> {
    return this.#update(id, (record, now) =>
      now - record.lastUsed < this.#touchEveryMs ? undefined : { ...record, lastUsed: now },
    );
  }

  /**
   * Keep `level` as session `id`'s log level (and note a use); the record written, or
   * `undefined` when the session is absent or ended.
   */
  async setLogLevel(id: string, level: string): Promise<SessionRecord | undefined> {
    return this.#update(id, (record, now) => ({ ...record, logLevel: level, lastUsed: now }));
  }

  /**
   * Write `change(record)` over session `id`'s record unless it is `undefined` (nothing to
   * write: the record read is returned), with compare-and-set.
   */
  async #update(
    id: string,
    change: (record: SessionRecord, now: number) => SessionRecord | undefined,
  ): Promise<SessionRecord | undefined> {
    const key = sessionKey(id);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt += 1) {
      const read = await this.#read(id);
      if (!read) return undefined;
      const next = change(read.record, this.#now());
      if (next === undefined) return read.record;
      const written = await this.#kv.set(key, this.#encode(key, next), {
        expectVersion: read.version,
        ttlMs: this.#idleMs,
      });
      if (written !== undefined) return next;
    }
    // Other replicas kept touching it: it is in use, and they refreshed it.
    return this.get(id);
  }

  /**
   * End session `id` on every replica: its live record is replaced by a tombstone kept
   * `tombstoneMs`, which `get`, `find`, `touch` and `create` all see (a touch racing with it
   * loses: it writes only over the version it read). Whether a live session was ended.
   */
  async end(id: string): Promise<boolean> {
    // Nothing live, nothing to end: an unknown id leaves no tombstone behind.
    if ((await this.#read(id)) === undefined) return false;
    await this.#kv.set(sessionKey(id), TOMBSTONE, { ttlMs: this.#tombstoneMs });
    return true;
  }

  /**
   * Remove the record of session `id`, which no client was ever given (its `initialize` was
   * refused): no tombstone, since no replica can hold a copy of it.
   */
  async discard(id: string): Promise<void> {
    await this.#kv.delete(sessionKey(id));
  }

  /** Whether session `id` was ended (its tombstone is still kept). */
  async ended(id: string): Promise<boolean> {
    return (await this.#kv.get(sessionKey(id)))?.value === TOMBSTONE;
  }

  async #read(id: string): Promise<{ record: SessionRecord; version: number } | undefined> {
    const key = sessionKey(id);
    const stored = await this.#kv.get(key);
    if (!stored || stored.value === TOMBSTONE) return undefined;
    const record = this.#decode(key, stored.value);
    return record ? { record, version: stored.version } : undefined;
  }

  #encode(key: string, record: SessionRecord): string {
    const text = JSON.stringify({ v: 1, ...record });
    if (Buffer.byteLength(text) > this.#maxRecordBytes) {
      throw new McpAgentError(
        'USAGE',
        `A session record is larger than ${this.#maxRecordBytes} bytes (the client's info and capabilities); it is not kept.`,
      );
    }
    return this.#sealer ? this.#sealer.seal(text, key) : text;
  }

  /** The record stored as `value` under `key`; `undefined` when it does not open or fit. */
  #decode(key: string, value: string): SessionRecord | undefined {
    if (Sealer.isSealed(value) !== (this.#sealer !== undefined)) return undefined;
    const text = this.#sealer ? this.#sealer.open(value, key) : value;
    if (text === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    const parsed = recordSchema.safeParse(json);
    if (!parsed.success) return undefined;
    const { v: _format, ...record } = parsed.data;
    return record;
  }
}

function positive(name: string, value: number): number {
  if (Number.isFinite(value) && value > 0) return value;
  throw new McpAgentError(
    'USAGE',
    `Session records: ${name} must be a positive number of milliseconds.`,
  );
}
