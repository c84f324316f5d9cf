/**
 * The events of resumable Streamable HTTP streams (MCP 2025-11-25, Transports, "Resumability and
 * Redelivery"): what a session's streams carried, kept so that a client whose stream dropped can
 * ask for what it missed with `Last-Event-ID`. Every event belongs to an owner (one session of
 * one principal): it is found only for that owner, so another session's event id replays
 * nothing. Event ids are random (144 bits), never counters. Kept bounded: events per stream,
 * streams per owner and bytes per owner (and, in memory, bytes in all), the oldest going first,
 * and each event for a limited time. A message too large for an owner's share is not kept, but
 * a {@link StreamEventGap} takes its place, so a replay never skips over it unawares.
 *
 * This module holds the port, the bounds and the event logic both backends share, and the
 * memory backend; the shared (Redis) one, with how it applies the bounds across replicas, is in
 * `stream-events-shared.ts`. No MCP SDK: messages are opaque JSON values here.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';

/** The limits of a {@link StreamEventStore}. */
export interface StreamEventBounds {
  /** Events kept per stream; one more drops the stream's oldest. */
  readonly eventsPerStream: number;
  /** Streams kept per owner; one more drops the owner's least recently written. */
  readonly streamsPerOwner: number;
  /**
   * Bytes of messages kept per owner; beyond, the oldest events go. A single message larger
   * than this is kept as a gap. The shared store drops the least recently written streams whole
   * (see there).
   */
  readonly bytesPerOwner: number;
  /** Bytes kept in all (the memory backend; Redis has its own `maxmemory`). */
  readonly totalBytes: number;
  /** An event is kept this long after it was written, in milliseconds. */
  readonly ttlMs: number;
}

/** The default {@link StreamEventBounds}: 1,000 events, 32 streams, 4 MiB, 64 MiB, 10 minutes. */
export const DEFAULT_STREAM_EVENT_BOUNDS: StreamEventBounds = {
  eventsPerStream: 1_000,
  streamsPerOwner: 32,
  bytesPerOwner: 4 * 1024 * 1024,
  totalBytes: 64 * 1024 * 1024,
  ttlMs: 10 * 60_000,
};

/** A stream found by one of its event ids, and the events written after that one. */
export interface ReplayedStream {
  readonly streamId: string;
  readonly events: readonly { readonly eventId: string; readonly message: unknown }[];
}

/** Where the events of resumable streams are kept. */
export interface StreamEventStore {
  /**
   * Keep `message` as the next event of `owner`'s stream `streamId` (a {@link StreamEventGap} in
   * its place when it is too large); its new random id.
   */
  append(owner: string, streamId: string, message: unknown): Promise<string>;
  /** The stream of `owner` that event `eventId` belongs to; `undefined` for anyone else's. */
  streamOf(owner: string, eventId: string): Promise<string | undefined>;
  /** The stream of `owner`'s event `eventId` and its events after it; `undefined` otherwise. */
  after(owner: string, eventId: string): Promise<ReplayedStream | undefined>;
  /** Forget every event of `owner` (its session ended). */
  forget(owner: string): Promise<void>;
  /** Release what the store holds (a shared one's connection is the token store's). */
  close(): Promise<void>;
}

/** One kept event: its id, when it was written, its message as JSON text. */
export interface KeptEvent {
  readonly id: string;
  readonly at: number;
  readonly m: string;
}

/** One kept stream and its events, oldest first. */
export interface KeptStream {
  readonly id: string;
  readonly events: KeptEvent[];
}

/** The streams of one owner, least recently written first. */
export interface OwnerStreams {
  streams: KeptStream[];
}

/** A new event id: 144 random bits, base64url. */
export function newEventId(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * What is kept in place of a message too large for its owner's share: the event keeps its id
 * and place in its stream, so a replay reaching it knows something is missing instead of
 * skipping over it. `responseTo` is the id of the request the lost message answered, when it was
 * a JSON-RPC response.
 */
export interface StreamEventGap {
  readonly gap: true;
  readonly responseTo?: string | number;
}

/** Whether a replayed message is a {@link StreamEventGap}. */
export function isStreamEventGap(message: unknown): message is StreamEventGap {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as StreamEventGap).gap === true &&
    !('jsonrpc' in message)
  );
}

/** The {@link StreamEventGap} kept for `message`. */
export function gapOf(message: unknown): StreamEventGap {
  const { id, result, error } = (message ?? {}) as {
    id?: unknown;
    result?: unknown;
    error?: unknown;
  };
  const answers = result !== undefined || error !== undefined;
  return answers && (typeof id === 'string' || typeof id === 'number')
    ? { gap: true, responseTo: id }
    : { gap: true };
}

/**
 * The event to keep for `message` written at `at`, with `id` (default: a new one): the message, or a
 * {@link StreamEventGap} when it alone is larger than an owner's share (it would push out
 * everything else).
 */
export function keptEvent(
  message: unknown,
  at: number,
  bounds: StreamEventBounds,
  id = newEventId(),
): KeptEvent {
  const event: KeptEvent = { id, at, m: JSON.stringify(message) };
  return eventBytes(event) > bounds.bytesPerOwner
    ? { ...event, m: JSON.stringify(gapOf(message)) }
    : event;
}

/** The bytes an event takes against the bounds. */
export function eventBytes(event: KeptEvent): number {
  return event.m.length + event.id.length + 16;
}

/** The stream of event `eventId` in `record` and the live events after it. */
export function findAfter(
  record: OwnerStreams,
  eventId: string,
  cutoff: number,
): ReplayedStream | undefined {
  for (const stream of record.streams) {
    const index = stream.events.findIndex((event) => event.id === eventId);
    if (index === -1 || (stream.events[index]?.at ?? 0) < cutoff) continue;
    const events = stream.events
      .slice(index + 1)
      .filter((event) => event.at >= cutoff)
      .map((event) => ({ eventId: event.id, message: JSON.parse(event.m) as unknown }));
    return { streamId: stream.id, events };
  }
  return undefined;
}

/** Options of the stream event stores. */
export interface StreamEventStoreOptions {
  readonly bounds?: Partial<StreamEventBounds>;
  readonly now?: () => number;
}

/** A stream kept in memory: its events, oldest first, and their bytes. */
interface MemoryStream {
  readonly events: KeptEvent[];
  bytes: number;
}

/** An owner's streams in memory, least recently written first, and their bytes. */
interface MemoryOwner {
  readonly streams: Map<string, MemoryStream>;
  bytes: number;
}

/**
 * The events of resumable streams in this process's memory. Byte counts are kept per stream,
 * per owner and in all as events come and go, so an append costs the event, not the owner's
 * whole record.
 */
export class MemoryStreamEventStore implements StreamEventStore {
  /** Owners, least recently written first (re-inserted on each write). */
  readonly #owners = new Map<string, MemoryOwner>();
  readonly #bounds: StreamEventBounds;
  readonly #now: () => number;
  #bytes = 0;

  constructor(options: StreamEventStoreOptions = {}) {
    this.#bounds = { ...DEFAULT_STREAM_EVENT_BOUNDS, ...options.bounds };
    this.#now = options.now ?? Date.now;
  }

  /** Bytes kept in all. */
  get bytes(): number {
    return this.#bytes;
  }

  async append(owner: string, streamId: string, message: unknown): Promise<string> {
    const event = keptEvent(message, this.#now(), this.#bounds);
    const record = this.#owners.get(owner) ?? { streams: new Map(), bytes: 0 };
    this.#owners.delete(owner);
    this.#owners.set(owner, record);
    this.#expire(record, event.at - this.#bounds.ttlMs);
    const stream = record.streams.get(streamId) ?? { events: [], bytes: 0 };
    record.streams.delete(streamId);
    record.streams.set(streamId, stream);
    stream.events.push(event);
    this.#count(record, stream, eventBytes(event));
    while (stream.events.length > this.#bounds.eventsPerStream) this.#shift(record, stream);
    while (record.streams.size > this.#bounds.streamsPerOwner) this.#dropFirstStream(record);
    while (record.bytes > this.#bounds.bytesPerOwner && record.streams.size > 0) {
      this.#dropOldest(record);
    }
    if (record.streams.size === 0) this.#owners.delete(owner);
    this.#fitTotal();
    return event.id;
  }

  async streamOf(owner: string, eventId: string): Promise<string | undefined> {
    return this.#find(owner, eventId)?.streamId;
  }

  async after(owner: string, eventId: string): Promise<ReplayedStream | undefined> {
    return this.#find(owner, eventId);
  }

  async forget(owner: string): Promise<void> {
    this.#bytes -= this.#owners.get(owner)?.bytes ?? 0;
    this.#owners.delete(owner);
  }

  async close(): Promise<void> {
    this.#owners.clear();
    this.#bytes = 0;
  }

  /** The stream of `owner`'s event `eventId` and the live events after it. */
  #find(owner: string, eventId: string): ReplayedStream | undefined {
    const record = this.#owners.get(owner);
    if (!record) return undefined;
    const streams = [...record.streams].map(([id, stream]) => ({ id, events: stream.events }));
    return findAfter({ streams }, eventId, this.#now() - this.#bounds.ttlMs);
  }

  /** Add `bytes` (negative: remove) to `stream`, its owner `record` and the total. */
  #count(record: MemoryOwner, stream: MemoryStream, bytes: number): void {
    stream.bytes += bytes;
    record.bytes += bytes;
    this.#bytes += bytes;
  }

  /** Drop `stream`'s oldest event (and the stream once empty). */
  #shift(record: MemoryOwner, stream: MemoryStream): void {
    const dropped = stream.events.shift();
    if (dropped) this.#count(record, stream, -eventBytes(dropped));
    if (stream.events.length > 0) return;
    for (const [id, other] of record.streams) {
      if (other === stream) record.streams.delete(id);
    }
  }

  /** Drop the least recently written stream of `record` and all its events. */
  #dropFirstStream(record: MemoryOwner): void {
    const first = record.streams.entries().next().value;
    if (!first) return;
    record.streams.delete(first[0]);
    record.bytes -= first[1].bytes;
    this.#bytes -= first[1].bytes;
  }

  /** Drop the oldest event of the least recently written stream of `record`. */
  #dropOldest(record: MemoryOwner): void {
    const first = record.streams.values().next().value;
    if (first) this.#shift(record, first);
  }

  /** Drop the events of `record` written before `cutoff`: each stream's oldest first. */
  #expire(record: MemoryOwner, cutoff: number): void {
    for (const stream of [...record.streams.values()]) {
      while ((stream.events[0]?.at ?? cutoff) < cutoff) this.#shift(record, stream);
    }
  }

  /** Drop the oldest events of the least recently written owners until the total fits. */
  #fitTotal(): void {
    for (const [owner, record] of this.#owners) {
      if (this.#bytes <= this.#bounds.totalBytes) return;
      while (this.#bytes > this.#bounds.totalBytes && record.streams.size > 0) {
        this.#dropOldest(record);
      }
      if (record.streams.size === 0) this.#owners.delete(owner);
    }
  }
}
