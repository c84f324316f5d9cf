/**
 * The event store of one session (`sessionEventStore`) over a real memory store: a stream whose
 * requests are all answered is finished (serve replays it whole and ends it); a gap never lets a
 * replay skip over what was not kept: a lost response is replayed as a JSON-RPC error for its
 * request, any other lost event refuses the resume; a failing store is a gap too.
 */
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, test } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import {
  LOST_RESPONSE_CODE,
  LOST_RESPONSE_MESSAGE,
  type Replay,
  sessionEventStore,
  sessionOwner,
} from '../../src/server/session-events.js';
import { MemoryStreamEventStore } from '../../src/stores/stream-events.js';

const OWNER = sessionOwner('alice', 'session-1');
const progress = (n: number, text = ''): JSONRPCMessage => ({
  jsonrpc: '2.0',
  method: 'notifications/progress',
  params: { progressToken: 't', progress: n, text },
});
const response = (id: number, text = 'done'): JSONRPCMessage => ({
  jsonrpc: '2.0',
  id,
  result: { content: [{ type: 'text', text }] },
});

/** The messages a replay carries, or `'refused'`. */
function messagesOf(replay: Replay | undefined) {
  if (!replay) return undefined;
  return replay.refused ? 'refused' : replay.events.map((event) => event.message);
}

describe('finished streams', () => {
  test('a stream of one request finishes with its response; the standalone stream never does', async () => {
    const events = sessionEventStore(new MemoryStreamEventStore(), OWNER, undefined);
    const priming = await events.storeEvent('s1', {} as JSONRPCMessage);
    await events.storeEvent('s1', progress(1));
    expect(await events.replayHere(priming)).toBeUndefined();
    await events.storeEvent('s1', response(7));
    expect(messagesOf(await events.replayHere(priming))).toEqual([progress(1), response(7)]);
    const standalone = await events.storeEvent('_GET_stream', progress(2));
    await events.storeEvent('_GET_stream', progress(3));
    expect(await events.replayHere(standalone)).toBeUndefined();
  });

  test('a batch finishes once all its requests are answered', async () => {
    const events = sessionEventStore(new MemoryStreamEventStore(), OWNER, undefined);
    events.expectBatch([1, 2]);
    const priming = await events.storeEvent('s1', {} as JSONRPCMessage);
    await events.storeEvent('s1', response(2));
    expect(await events.replayHere(priming)).toBeUndefined();
    await events.storeEvent('s1', response(1));
    expect(messagesOf(await events.replayHere(priming))).toEqual([response(2), response(1)]);
  });
  test('another replica finishes a stream by its stored response, on a revision without batches', async () => {
    const store = new MemoryStreamEventStore();
    const writer = sessionEventStore(store, OWNER, undefined);
    const priming = await writer.storeEvent('s1', {} as JSONRPCMessage);
    await writer.storeEvent('s1', progress(1));
    const standalone = await writer.storeEvent('_GET_stream', progress(2));
    let batches = false;
    const other = sessionEventStore(store, OWNER, undefined, {
      oneRequestPerStream: () => !batches,
    });
    expect(await other.replayHere(priming)).toBeUndefined();
    await writer.storeEvent('s1', response(7));
    expect(messagesOf(await other.replayHere(priming))).toEqual([progress(1), response(7)]);
    await writer.storeEvent('_GET_stream', response(8));
    expect(await other.replayHere(standalone)).toBeUndefined();
    batches = true;
    expect(await other.replayHere(priming)).toBeUndefined();
  });
});

describe('gaps', () => {
  const small = () => new MemoryStreamEventStore({ bounds: { bytesPerOwner: 600 } });

  test('a response too large to keep is replayed as an error for its request', async () => {
    const events = sessionEventStore(small(), OWNER, undefined);
    const priming = await events.storeEvent('s1', {} as JSONRPCMessage);
    await events.storeEvent('s1', progress(1));
    const lost = await events.storeEvent('s1', response(9, 'x'.repeat(1_000)));
    const replay = await events.replayHere(priming);
    expect(messagesOf(replay)).toEqual([
      progress(1),
      {
        jsonrpc: '2.0',
        id: 9,
        error: { code: LOST_RESPONSE_CODE, message: LOST_RESPONSE_MESSAGE },
      },
    ]);
    expect(replay?.refused === false && replay.events[1]?.eventId).toBe(lost);
  });

  test('any other event too large to keep refuses the resume, for serve and for the SDK', async () => {
    const events = sessionEventStore(small(), OWNER, undefined);
    const priming = await events.storeEvent('s1', {} as JSONRPCMessage);
    await events.storeEvent('s1', progress(1, 'x'.repeat(1_000)));
    const after = await events.storeEvent('s1', progress(2));
    expect(await events.replayHere(priming)).toEqual({ refused: true });
    expect(await events.getStreamIdForEventId?.(priming)).toBeUndefined();
    // Past the gap, the stream resumes.
    expect(await events.getStreamIdForEventId?.(after)).toBe('s1');
  });

  test('a store that fails leaves a gap too: a lost response becomes an error, other losses refuse', async () => {
    let failing = false;
    /** The memory store, failing its appends while `failing` is set. */
    class FlakyStore extends MemoryStreamEventStore {
      override async append(owner: string, streamId: string, message: unknown) {
        if (failing) throw new McpAgentError('STORE_UNAVAILABLE', 'the store is away');
        return await super.append(owner, streamId, message);
      }
    }
    const flaky = new FlakyStore();
    const warnings: string[] = [];
    const logger = { warn: (text: string) => warnings.push(text) };
    const events = sessionEventStore(flaky, OWNER, logger as never);
    const first = await events.storeEvent('s1', {} as JSONRPCMessage);
    failing = true;
    const lost = await events.storeEvent('s1', response(3));
    failing = false;
    expect(messagesOf(await events.replayHere(first))).toEqual([
      {
        jsonrpc: '2.0',
        id: 3,
        error: { code: LOST_RESPONSE_CODE, message: LOST_RESPONSE_MESSAGE },
      },
    ]);
    expect(lost).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const other = await events.storeEvent('s2', {} as JSONRPCMessage);
    failing = true;
    await events.storeEvent('s2', progress(1));
    failing = false;
    await events.storeEvent('s2', response(4));
    expect(await events.replayHere(other)).toEqual({ refused: true });
    expect(warnings).toHaveLength(1);
  });
});
