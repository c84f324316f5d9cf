/**
 * The events of resumable streams on the token store's backend (Redis, shared by replicas): one
 * record per owner under a key made from a hash of the owner (a session id is never a key name),
 * sealed like the tokens when the store seals (messages can carry tool results), expiring with
 * the bounds' TTL. Every write is a compare-and-set on the record's version, so two writers of
 * one owner never lose each other's events.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { McpAgentError } from '../errors.js';
import type { KeyValueStore } from './kv.js';
import { Sealer } from './seal.js';
import {
  appendKept,
  DEFAULT_STREAM_EVENT_BOUNDS,
  dropExpired,
  findAfter,
  type KeptEvent,
  keptEvent,
  type OwnerStreams,
  type ReplayedStream,
  type StreamEventBounds,
  type StreamEventStore,
  type StreamEventStoreOptions,
} from './stream-events.js';

/** Storage keys of stream events start with this. */
export const STREAM_EVENTS_KEY_PREFIX = '#stream-events:';

/** Compare-and-set attempts before an append gives up (another writer kept winning). */
const MAX_CAS_ATTEMPTS = 50;

/** Options of {@link SharedStreamEventStore}. */
export interface SharedStreamEventStoreOptions extends StreamEventStoreOptions {
  /** Seal the records with this, as the tokens are. */
  readonly sealer?: Sealer | undefined;
}

/** The storage key of `owner`'s events: a hash, so no session id is written in clear. */
export function streamEventsKey(owner: string): string {
  return `${STREAM_EVENTS_KEY_PREFIX}${createHash('sha256').update(owner).digest('base64url')}`;
}

/**
 * The events of resumable streams on a {@link KeyValueStore}. Each event rewrites its owner's
 * whole record (read, open, append, seal, compare-and-set): fine for small sessions, but the work
 * grows with what the session keeps, so it is not the default (stream events stay in memory with
 * their session). Storing each event on its own comes with shared sessions (issue 18).
 */
export class SharedStreamEventStore implements StreamEventStore {
  readonly #kv: KeyValueStore;
  readonly #sealer: Sealer | undefined;
  readonly #bounds: StreamEventBounds;
  readonly #now: () => number;

  constructor(kv: KeyValueStore, options: SharedStreamEventStoreOptions = {}) {
    this.#kv = kv;
    this.#sealer = options.sealer;
    this.#bounds = { ...DEFAULT_STREAM_EVENT_BOUNDS, ...options.bounds };
    this.#now = options.now ?? Date.now;
  }

  async append(owner: string, streamId: string, message: unknown): Promise<string> {
    const event = keptEvent(message, this.#now(), this.#bounds);
    const key = streamEventsKey(owner);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt += 1) {
      const stored = await this.#kv.get(key);
      const record = (stored && this.#open(key, stored.value)) || { streams: [] };
      appendKept(record, streamId, event, this.#bounds);
      const written = await this.#kv.set(key, this.#seal(key, record), {
        expectVersion: stored?.version ?? null,
        ttlMs: this.#bounds.ttlMs,
      });
      if (written !== undefined) return event.id;
    }
    throw new McpAgentError(
      'STORE_UNAVAILABLE',
      'An event of a resumable stream could not be kept: other writers of its session kept changing it.',
    );
  }

  async streamOf(owner: string, eventId: string): Promise<string | undefined> {
    return (await this.after(owner, eventId))?.streamId;
  }

  async after(owner: string, eventId: string): Promise<ReplayedStream | undefined> {
    const key = streamEventsKey(owner);
    const stored = await this.#kv.get(key);
    const record = stored && this.#open(key, stored.value);
    return record ? findAfter(record, eventId, this.#now() - this.#bounds.ttlMs) : undefined;
  }

  async forget(owner: string): Promise<void> {
    await this.#kv.delete(streamEventsKey(owner));
  }

  async close(): Promise<void> {
    // The connection is the token store's, closed with it.
  }

  /** `record` as the text stored under `key`: JSON, sealed when the store seals. */
  #seal(key: string, record: OwnerStreams): string {
    const text = JSON.stringify({ v: 1, streams: record.streams });
    return this.#sealer ? this.#sealer.seal(text, key) : text;
  }

  /** The record stored as `value` under `key`, or `undefined` when it cannot be read. */
  #open(key: string, value: string): OwnerStreams | undefined {
    if (Sealer.isSealed(value) !== (this.#sealer !== undefined)) return undefined;
    const text = this.#sealer ? this.#sealer.open(value, key) : value;
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as { v?: unknown; streams?: unknown };
      if (parsed.v !== 1 || !Array.isArray(parsed.streams)) return undefined;
      const record: OwnerStreams = { streams: parsed.streams.filter(isKeptStream) };
      dropExpired(record, this.#now() - this.#bounds.ttlMs);
      return record;
    } catch {
      return undefined;
    }
  }
}

/** Whether a stored value is a kept stream (a record read back is not trusted). */
function isKeptStream(value: unknown): value is OwnerStreams['streams'][number] {
  if (typeof value !== 'object' || value === null) return false;
  const { id, events } = value as { id?: unknown; events?: unknown };
  return typeof id === 'string' && Array.isArray(events) && events.every(isKeptEvent);
}

/** Whether a stored value is a {@link KeptEvent}. */
function isKeptEvent(value: unknown): value is KeptEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { id, at, m } = value as { id?: unknown; at?: unknown; m?: unknown };
  return typeof id === 'string' && typeof at === 'number' && typeof m === 'string';
}
