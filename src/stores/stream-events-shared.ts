/**
 * The events of resumable streams on the token store's backend (Redis, shared by replicas), one
 * write per event: each stream is a log of its events, a member of its owner's group
 * ({@link AppendLog.appendToMember}), whose index lists the owner's streams, most recently written
 * last. An append writes the event to its stream's log and moves the stream to the end of the
 * index, pushing out what is beyond the bounds and renewing the TTL, in one atomic step (one
 * Redis script), whatever the session already holds; only a replay reads a log.
 *
 * Key names hold hashes only (SHA-256 of the owner and of the stream id), never a session id in
 * clear. An event's id starts with its stream's hash (`<stream hash>.<random>`), so a resume reads
 * that one stream's log: an id that names no stream of the owner costs one read of nothing, where
 * searching every stream would read up to `streamsPerOwner × bytesPerOwner` bytes per request. Each event is `<id> <time> <body>`, the body (stream id and message) sealed like the
 * tokens when the store seals, with the log's key, the event id and its time as associated data:
 * an event moved to another log, or given another id or time, no longer opens.
 *
 * Bounds, on a backend shared by replicas that do not talk to each other, each enforced in the
 * atomic step of the append:
 * - each event: a message larger than `bytesPerOwner` is kept as a gap (as in memory);
 * - each stream: at most `eventsPerStream` events, the oldest going first;
 * - each owner: at most `streamsPerOwner` streams and `bytesPerOwner` bytes of messages (as in
 *   memory), the least recently written streams going first, whole (memory drops the oldest
 *   events instead), then the oldest events of the stream written to, if it alone holds more;
 * - time: each event is replayed at most `ttlMs` after it was written; a stream's log and the
 *   owner's index expire `ttlMs` after their last write;
 * - `totalBytes` does not apply: bound the Redis with `maxmemory`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { McpAgentError } from '../errors.js';
import { type AppendLog, isAppendLog, memberLogKey } from './append-log.js';
import type { KeyValueStore } from './kv.js';
import { Sealer } from './seal.js';
import {
  DEFAULT_STREAM_EVENT_BOUNDS,
  eventBytes,
  type KeptEvent,
  keptEvent,
  newEventId,
  type ReplayedStream,
  type StreamEventBounds,
  type StreamEventStore,
  type StreamEventStoreOptions,
} from './stream-events.js';

/** Storage keys of stream events start with this. */
export const STREAM_EVENTS_KEY_PREFIX = '#stream-events:';

/** Options of {@link SharedStreamEventStore}. */
export interface SharedStreamEventStoreOptions extends StreamEventStoreOptions {
  /** Seal the events with this, as the tokens are. */
  readonly sealer?: Sealer | undefined;
}

/** A hash of `text` for key names (base64url SHA-256). */
function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** The storage key of `owner`'s index of streams: a hash, so no session id is written in clear. */
export function streamEventsKey(owner: string): string {
  return `${STREAM_EVENTS_KEY_PREFIX}${hashOf(owner)}`;
}

/** The storage key of the events of `owner`'s stream whose index entry is `streamHash`. */
function streamKey(owner: string, streamHash: string): string {
  return memberLogKey(streamEventsKey(owner), streamHash);
}

/** One stored event read back: its id, time and (still sealed) body. */
interface StoredEvent {
  readonly id: string;
  readonly at: number;
  readonly body: string;
}

/** The event an anchor id was found as, with its stream's id and the events after it. */
interface Found {
  readonly key: string;
  readonly streamId: string;
  readonly rest: readonly StoredEvent[];
}

/**
 * The events of resumable streams on an {@link AppendLog} backend (Redis or memory): one write
 * per event (see the module's description for the bounds). The file backend has no append logs:
 * constructing this store on it throws `CONFIG_INVALID` (a file is not shared by replicas anyway;
 * keep the events in memory there).
 */
export class SharedStreamEventStore implements StreamEventStore {
  readonly #log: AppendLog;
  readonly #sealer: Sealer | undefined;
  readonly #bounds: StreamEventBounds;
  readonly #now: () => number;

  constructor(backend: AppendLog | KeyValueStore, options: SharedStreamEventStoreOptions = {}) {
    if (!isAppendLog(backend)) {
      throw new McpAgentError(
        'CONFIG_INVALID',
        'Shared stream events need the redis (or memory) token store: the file backend cannot keep an event log. Keep stream events in memory with it.',
      );
    }
    this.#log = backend;
    this.#sealer = options.sealer;
    this.#bounds = { ...DEFAULT_STREAM_EVENT_BOUNDS, ...options.bounds };
    this.#now = options.now ?? Date.now;
  }

  async append(owner: string, streamId: string, message: unknown): Promise<string> {
    const streamHash = hashOf(streamId);
    const event = keptEvent(message, this.#now(), this.#bounds, `${streamHash}.${newEventId()}`);
    const key = streamKey(owner, streamHash);
    const { ttlMs, eventsPerStream, bytesPerOwner, streamsPerOwner } = this.#bounds;
    await this.#log.appendToMember(
      streamEventsKey(owner),
      streamHash,
      this.#entry(key, streamId, event),
      {
        maxEntries: eventsPerStream,
        maxMembers: streamsPerOwner,
        maxGroupBytes: bytesPerOwner,
        bytes: eventBytes(event),
        ttlMs,
      },
    );
    return event.id;
  }

  async streamOf(owner: string, eventId: string): Promise<string | undefined> {
    return (await this.#find(owner, eventId))?.streamId;
  }

  async after(owner: string, eventId: string): Promise<ReplayedStream | undefined> {
    const found = await this.#find(owner, eventId);
    if (!found) return undefined;
    const cutoff = this.#now() - this.#bounds.ttlMs;
    const events = found.rest
      .filter((event) => event.at >= cutoff)
      .map((event) => ({
        eventId: event.id,
        // An event that does not open (damaged, another key) is replayed as a gap, never skipped.
        message: this.#open(found.key, event)?.message ?? { gap: true },
      }));
    return { streamId: found.streamId, events };
  }

  async forget(owner: string): Promise<void> {
    const index = streamEventsKey(owner);
    for (const streamHash of await this.#log.readLog(index)) {
      await this.#log.deleteLog(streamKey(owner, streamHash));
    }
    await this.#log.deleteLog(index);
  }

  async close(): Promise<void> {
    // The connection is the token store's, closed with it.
  }

  /** The live event `eventId` of `owner`, its stream and the events after it: one log read. */
  async #find(owner: string, eventId: string): Promise<Found | undefined> {
    const streamHash = streamHashOf(eventId);
    if (streamHash === undefined) return undefined;
    const cutoff = this.#now() - this.#bounds.ttlMs;
    const key = streamKey(owner, streamHash);
    const events = (await this.#log.readLog(key)).map(parseStored);
    const index = events.findIndex((event) => event?.id === eventId);
    const anchor = events[index];
    if (!anchor || anchor.at < cutoff) return undefined;
    const opened = this.#open(key, anchor);
    if (!opened) return undefined;
    const rest = events.slice(index + 1).map((event) => event ?? damaged());
    return { key, streamId: opened.streamId, rest };
  }

  /** The stored form of `event` of stream `streamId` in the log `key`. */
  #entry(key: string, streamId: string, event: KeptEvent): string {
    const body = `{"s":${JSON.stringify(streamId)},"m":${event.m}}`;
    const sealed = this.#sealer ? this.#sealer.seal(body, associated(key, event)) : body;
    return `${event.id} ${event.at} ${sealed}`;
  }

  /** The stream id and message of `event` read from the log `key`; `undefined` if it does not open. */
  #open(key: string, event: StoredEvent): { streamId: string; message: unknown } | undefined {
    if (Sealer.isSealed(event.body) !== (this.#sealer !== undefined)) return undefined;
    const text = this.#sealer ? this.#sealer.open(event.body, associated(key, event)) : event.body;
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as { s?: unknown; m?: unknown };
      if (typeof parsed.s !== 'string' || !('m' in parsed)) return undefined;
      return { streamId: parsed.s, message: parsed.m };
    } catch {
      return undefined;
    }
  }
}

/** The stream hash an event id starts with (a base64url SHA-256); `undefined` for any other id. */
function streamHashOf(eventId: string): string | undefined {
  const match = /^([A-Za-z0-9_-]{43})\./.exec(eventId);
  return match?.[1];
}

/** What a sealed event is bound to: its log, its id and its time. */
function associated(key: string, event: { readonly id: string; readonly at: number }): string {
  return `${key}\n${event.id}\n${event.at}`;
}

/** A stored entry read back (not trusted): `<id> <time> <body>`, or `undefined`. */
function parseStored(entry: string): StoredEvent | undefined {
  const first = entry.indexOf(' ');
  const second = entry.indexOf(' ', first + 1);
  if (first <= 0 || second <= first) return undefined;
  const at = Number(entry.slice(first + 1, second));
  if (!Number.isSafeInteger(at)) return undefined;
  return { id: entry.slice(0, first), at, body: entry.slice(second + 1) };
}

/** An entry that cannot be read in place: replayed as a gap with an id that matches nothing. */
function damaged(): StoredEvent {
  return { id: 'damaged', at: Number.MAX_SAFE_INTEGER, body: '' };
}
