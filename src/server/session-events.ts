/**
 * The SDK's `EventStore` of one Streamable HTTP session, over a {@link StreamEventStore}: every
 * event is written under the session's owner (its principal and id), and an event id is looked
 * up under that owner only. A `Last-Event-ID` of another session, or of another principal, is not
 * found: the SDK answers 400 and replays nothing. The SDK's stream ids go through unchanged.
 *
 * A store that fails (Redis away) does not fail the stream: the event is sent with an id nobody
 * can resume from, and a warning without the message is logged once per session.
 *
 * Nothing is skipped silently on replay. An event that has an id but was not kept (too large for
 * the session's share, or the store failed) leaves a gap: a lost response is replayed as a
 * JSON-RPC error response for its request (the result was too large to keep), so the caller's
 * call ends; any other gap refuses the resume (400), since what follows it would be incomplete.
 *
 * A stream whose requests are all answered is finished: serve replays it whole and ends it
 * ({@link SessionEvents.replayHere}), where the transport would keep it open forever. On a
 * revision without batches (2025-06-18 on) a POST's stream carries one request, so a stored
 * response finishes it, also on a replica that did not write it (shared sessions).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { EventStore, JSONRPCMessage, RequestId, StreamId } from '@modelcontextprotocol/server';
import type { Logger } from '../logger.js';
import { isStreamEventGap, newEventId, type StreamEventStore } from '../stores/stream-events.js';

/** The SDK's id of the standalone (GET) stream, which never finishes. */
const STANDALONE_STREAM = '_GET_stream';

/** Finished or damaged streams remembered per session (older ones are out of the store too). */
const STREAMS_REMEMBERED = 64;

/** The JSON-RPC error code of a response that was too large to keep for resumption. */
export const LOST_RESPONSE_CODE = -32603;

/** The message of a response replayed in place of one that was not kept. */
export const LOST_RESPONSE_MESSAGE =
  'The result of this request was too large to keep for resumption; call it again.';

/** What a resume from one event id replays: the events, or a refusal (a gap in the stream). */
export type Replay =
  | {
      readonly refused: false;
      readonly streamId: string;
      readonly finished: boolean;
      readonly events: readonly { readonly eventId: string; readonly message: JSONRPCMessage }[];
    }
  | { readonly refused: true };

/** The `EventStore` of one session, and what serve asks it beyond the SDK's interface. */
export interface SessionEvents extends EventStore {
  /**
   * `ids` are the requests of one POST carrying more than one: its stream finishes once all of
   * them are answered (a stream of one request finishes with its response).
   */
  expectBatch(ids: readonly RequestId[]): void;
  /** Forget a batch the transport refused (no stream carries it). */
  dropBatch(ids: readonly RequestId[]): void;
  /**
   * A resume from `lastEventId` that serve answers itself: refused (a gap), or the whole replay
   * of a finished stream, after which the response ends. `undefined`: the transport resumes it
   * (a stream still going, or an id not found).
   */
  replayHere(lastEventId: string): Promise<Replay | undefined>;
}

/** Options of {@link sessionEventStore}. */
export interface SessionEventOptions {
  /**
   * Whether each POST's stream carries one request (the session's revision has no batches,
   * 2025-06-18 on): its response, once stored, finishes it.
   */
  readonly oneRequestPerStream?: () => boolean;
}

/** Streams lost events were given to by a failing store: which responses, and whether more. */
interface Lost {
  refuse: boolean;
  readonly responses: Map<string, RequestId>;
}

/** The owner of a session's events: its principal and session id, hashed together. */
export function sessionOwner(principal: string, sessionId: string): string {
  return createHash('sha256').update(`${principal}\n${sessionId}`).digest('base64url');
}

/** The events of the session whose {@link sessionOwner} is `owner`, kept in `store`. */
export function sessionEventStore(
  store: StreamEventStore,
  owner: string,
  logger: Logger | undefined,
  options: SessionEventOptions = {},
): SessionEvents {
  const finished = new Map<string, true>();
  const lost = new Map<string, Lost>();
  const batches = new Map<RequestId, Set<RequestId>>();
  const warn = onceWarning(logger);
  /** Note that `message` on `streamId` answered its request, finishing the stream once all are. */
  const answered = (streamId: string, message: JSONRPCMessage) => {
    const id = responseId(message);
    if (id === undefined || streamId === STANDALONE_STREAM) return;
    const batch = batches.get(id);
    batches.delete(id);
    batch?.delete(id);
    if (!batch || batch.size === 0) remember(finished, streamId, true);
  };
  const replay = async (lastEventId: string) => {
    const found = await planReplay(store, owner, lastEventId, finished, lost);
    if (found?.refused !== false || found.finished || !options.oneRequestPerStream?.()) {
      return found;
    }
    const answered =
      found.streamId !== STANDALONE_STREAM &&
      found.events.some((event) => responseId(event.message) !== undefined);
    return { ...found, finished: answered };
  };
  return {
    storeEvent: async (streamId: StreamId, message: JSONRPCMessage) => {
      let eventId: string;
      try {
        eventId = await store.append(owner, streamId, message);
      } catch (error) {
        warn(error);
        eventId = newEventId();
        noteLost(lost, streamId, eventId, message);
      }
      answered(streamId, message);
      return eventId;
    },
    getStreamIdForEventId: async (eventId) => {
      const found = await replay(eventId);
      return found?.refused === false ? found.streamId : undefined;
    },
    replayEventsAfter: async (lastEventId, { send }) => {
      const found = await replay(lastEventId);
      // Not this session's event (getStreamIdForEventId refused it first), or gone since.
      if (!found || found.refused) throw new Error('unknown event id');
      for (const event of found.events) await send(event.eventId, event.message);
      return found.streamId;
    },
    expectBatch: (ids) => {
      const batch = new Set(ids);
      for (const id of ids) batches.set(id, batch);
    },
    dropBatch: (ids) => {
      for (const id of ids) batches.delete(id);
    },
    replayHere: async (lastEventId) => {
      const found = await replay(lastEventId);
      return found && (found.refused || found.finished) ? found : undefined;
    },
  };
}

/** A warning logged once (per session) when an event could not be kept; no message in it. */
function onceWarning(logger: Logger | undefined): (error: unknown) => void {
  let warned = false;
  return (error) => {
    if (warned) return;
    warned = true;
    const code = (error as { code?: unknown } | undefined)?.code;
    logger?.warn(
      'an event of a resumable stream could not be kept; a client that loses this stream cannot resume it',
      { code: typeof code === 'string' ? code : 'unknown' },
    );
  };
}

/** Remember that `message` (event `eventId` of `streamId`) was given an id but not kept. */
function noteLost(
  lost: Map<string, Lost>,
  streamId: string,
  eventId: string,
  message: JSONRPCMessage,
): void {
  const entry = lost.get(streamId) ?? { refuse: false, responses: new Map() };
  const id = responseId(message);
  if (id === undefined) entry.refuse = true;
  else entry.responses.set(eventId, id);
  remember(lost, streamId, entry);
}

/** Set `key` in `map` as its newest entry, dropping the oldest past {@link STREAMS_REMEMBERED}. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= STREAMS_REMEMBERED) break;
    map.delete(oldest);
  }
}

/** What a resume from `lastEventId` replays, with gaps turned into errors or a refusal. */
async function planReplay(
  store: StreamEventStore,
  owner: string,
  lastEventId: string,
  finished: ReadonlyMap<string, true>,
  lost: ReadonlyMap<string, Lost>,
): Promise<Replay | undefined> {
  const found = await store.after(owner, lastEventId);
  if (!found) return undefined;
  const damage = lost.get(found.streamId);
  if (damage?.refuse) return { refused: true };
  const events: { eventId: string; message: JSONRPCMessage }[] = [];
  for (const event of found.events) {
    if (isStreamEventGap(event.message)) {
      if (event.message.responseTo === undefined) return { refused: true };
      events.push({ eventId: event.eventId, message: lostResponse(event.message.responseTo) });
    } else if (isMessage(event.message)) {
      // The priming event (an empty object) is never sent again.
      events.push({ eventId: event.eventId, message: event.message });
    }
  }
  for (const [eventId, id] of damage?.responses ?? []) {
    events.push({ eventId, message: lostResponse(id) });
  }
  return {
    refused: false,
    streamId: found.streamId,
    finished: finished.has(found.streamId),
    events,
  };
}

/** The error response replayed for request `id` whose response was not kept. */
function lostResponse(id: RequestId): JSONRPCMessage {
  return {
    jsonrpc: '2.0',
    id,
    error: { code: LOST_RESPONSE_CODE, message: LOST_RESPONSE_MESSAGE },
  };
}

/** The request id `message` answers, when it is a JSON-RPC response. */
function responseId(message: JSONRPCMessage): RequestId | undefined {
  const { id, result, error } = message as { id?: unknown; result?: unknown; error?: unknown };
  if (result === undefined && error === undefined) return undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

/** Whether a replayed value is a JSON-RPC message (the priming event, `{}`, is not). */
function isMessage(value: unknown): value is JSONRPCMessage {
  return typeof value === 'object' && value !== null && 'jsonrpc' in value;
}
