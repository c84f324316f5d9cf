/**
 * The SDK's `EventStore` of one Streamable HTTP session, over a {@link StreamEventStore}: every
 * event is written under the session's owner (its principal and id), and an event id is looked
 * up under that owner only. A `Last-Event-ID` of another session, or of another principal, is not
 * found: the SDK answers 400 and replays nothing. The SDK's stream ids go through unchanged.
 *
 * A store that fails (Redis away) does not fail the stream: the event is sent with an id nobody
 * can resume from, and a warning without the message is logged once per session.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { EventStore, StreamId } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import { newEventId, type StreamEventStore } from '../stores/stream-events.js';

/** The owner of a session's events: its principal and session id, hashed together. */
export function sessionOwner(principal: string, sessionId: string): string {
  return createHash('sha256').update(`${principal}\n${sessionId}`).digest('base64url');
}

/** The `EventStore` given to the transport of the session whose {@link sessionOwner} is `owner`. */
export function sessionEventStore(
  store: StreamEventStore,
  owner: string,
  logger: Logger | undefined,
): EventStore {
  let warned = false;
  const warn = (error: unknown) => {
    if (warned) return;
    warned = true;
    const code = (error as { code?: unknown } | undefined)?.code;
    logger?.warn(
      'an event of a resumable stream could not be kept; a client that loses this stream cannot resume it',
      { code: typeof code === 'string' ? code : 'unknown' },
    );
  };
  return {
    storeEvent: async (streamId: StreamId, message: JSONRPCMessage) => {
      try {
        return await store.append(owner, streamId, message);
      } catch (error) {
        warn(error);
        return newEventId();
      }
    },
    getStreamIdForEventId: (eventId) => store.streamOf(owner, eventId),
    replayEventsAfter: async (lastEventId, { send }) => {
      const found = await store.after(owner, lastEventId);
      // Not this session's event (getStreamIdForEventId refused it first), or gone since.
      if (!found) throw new Error('unknown event id');
      for (const event of found.events) {
        // The priming event (an empty object) is never sent again.
        if (isMessage(event.message)) await send(event.eventId, event.message);
      }
      return found.streamId;
    },
  };
}

function isMessage(value: unknown): value is JSONRPCMessage {
  return typeof value === 'object' && value !== null && 'jsonrpc' in value;
}
