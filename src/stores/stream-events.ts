/**
 * The events of resumable Streamable HTTP streams (MCP 2025-11-25, Transports, "Resumability and
 * Redelivery"): what a session's streams carried, kept so that a client whose stream dropped can
 * ask for what it missed with `Last-Event-ID`. Every event belongs to an owner (one session of
 * one principal): it is found only for that owner, so another session's event id replays
 * nothing. Event ids are random (144 bits), never counters. Kept bounded: events per stream,
 * streams per owner and bytes per owner (and, in memory, bytes in all), the oldest going first,
 * and each event for a limited time.
 *
 * This module holds the port, the bounds and the record logic both backends share, and the
 * memory backend; the shared (Redis) one is in `stream-events-shared.ts`. No MCP SDK: messages
 * are opaque JSON values here.
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
  /** Bytes of messages kept per owner; beyond, the oldest events go. */
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
  /** Keep `message` as the next event of `owner`'s stream `streamId`; its new random id. */
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

/** The bytes an event takes against the bounds. */
export function eventBytes(event: KeptEvent): number {
  return event.m.length + event.id.length + 16;
}

/** The bytes `record` takes. */
export function ownerBytes(record: OwnerStreams): number {
  let bytes = 0;
  for (const stream of record.streams) {
    for (const event of stream.events) bytes += eventBytes(event);
  }
  return bytes;
}

/** Drop the events of `record` written before `cutoff`, and the streams left empty. */
export function dropExpired(record: OwnerStreams, cutoff: number): void {
  for (const stream of record.streams) {
    const live = stream.events.findIndex((event) => event.at >= cutoff);
    stream.events.splice(0, live === -1 ? stream.events.length : live);
  }
  record.streams = record.streams.filter((stream) => stream.events.length > 0);
}

/**
 * Add `event` to stream `streamId` of `record` (which becomes the most recently written), then
 * apply the bounds: the stream's oldest events, the least recently written streams, then the
 * oldest events until the owner's bytes fit.
 */
export function appendKept(
  record: OwnerStreams,
  streamId: string,
  event: KeptEvent,
  bounds: StreamEventBounds,
): void {
  dropExpired(record, event.at - bounds.ttlMs);
  const found = record.streams.find((stream) => stream.id === streamId);
  const stream = found ?? { id: streamId, events: [] };
  record.streams = [...record.streams.filter((other) => other !== stream), stream];
  stream.events.push(event);
  stream.events.splice(0, Math.max(0, stream.events.length - bounds.eventsPerStream));
  record.streams.splice(0, Math.max(0, record.streams.length - bounds.streamsPerOwner));
  let bytes = ownerBytes(record);
  while (bytes > bounds.bytesPerOwner && record.streams.length > 0) {
    bytes -= dropOldest(record);
  }
}

/** Drop the oldest event of the least recently written stream; the bytes freed. */
export function dropOldest(record: OwnerStreams): number {
  const first = record.streams[0];
  const dropped = first?.events.shift();
  if (first && first.events.length === 0) record.streams.shift();
  return dropped ? eventBytes(dropped) : 0;
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

/** The events of resumable streams in this process's memory. */
export class MemoryStreamEventStore implements StreamEventStore {
  /** Owners, least recently written first (re-inserted on each write). */
  readonly #owners = new Map<string, OwnerStreams & { bytes: number }>();
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
    const event: KeptEvent = { id: newEventId(), at: this.#now(), m: JSON.stringify(message) };
    // One message larger than an owner's share is not kept (it would push out everything else).
    if (eventBytes(event) > this.#bounds.bytesPerOwner) return event.id;
    const record = this.#owners.get(owner) ?? { streams: [], bytes: 0 };
    this.#owners.delete(owner);
    appendKept(record, streamId, event, this.#bounds);
    this.#recount(owner, record);
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

  #find(owner: string, eventId: string): ReplayedStream | undefined {
    const record = this.#owners.get(owner);
    return record ? findAfter(record, eventId, this.#now() - this.#bounds.ttlMs) : undefined;
  }

  /** Store `record` of `owner` as the most recently written, with its bytes counted again. */
  #recount(owner: string, record: OwnerStreams & { bytes: number }): void {
    const bytes = ownerBytes(record);
    this.#bytes += bytes - record.bytes;
    record.bytes = bytes;
    if (record.streams.length > 0) this.#owners.set(owner, record);
  }

  /** Drop the oldest events of the least recently written owners until the total fits. */
  #fitTotal(): void {
    for (const [owner, record] of this.#owners) {
      if (this.#bytes <= this.#bounds.totalBytes) return;
      while (this.#bytes > this.#bounds.totalBytes && record.streams.length > 0) {
        const freed = dropOldest(record);
        record.bytes -= freed;
        this.#bytes -= freed;
      }
      if (record.streams.length === 0) this.#owners.delete(owner);
    }
  }
}
