/**
 * The MCP Streamable HTTP endpoint (MCP 2025-11-25, Transports): POST carries JSON-RPC messages
 * (an `initialize` without a session opens one), GET opens the server's stream, DELETE ends a
 * session. A session is found only for the principal that opened it.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { McpAgentError } from '../errors.js';
import type { SessionInit } from '../stores/sessions.js';
import { attachCaller, checkToolScopes } from './http-auth.js';
import { isInitialize, readJson, requestIds } from './http-body.js';
import type { HttpContext, McpCall } from './http-context.js';
import { serveIfModern } from './http-modern.js';
import { jsonRpcError, send, tooManySessions } from './http-reply.js';
import type { StreamableSession } from './http-sessions.js';
import {
  createMcpServer,
  SESSION_PROTOCOL_VERSIONS,
  sessionLogLevel,
  setSessionLogLevel,
} from './mcp-server.js';
import { sessionEventStore, sessionOwner } from './session-events.js';
import { sessionPeerOf } from './session-peer.js';
import { restoreSession } from './session-restore.js';
import {
  isStoreFailure,
  negotiatedOf,
  recordOfInitialize,
  SESSION_STORE_UNAVAILABLE_MESSAGE,
  type SharedSessions,
} from './shared-sessions.js';

/** A session looked up for a request; `'answered'` when the caller was already answered. */
type Lookup = StreamableSession | 'answered' | undefined;

/** Serve an authenticated request to the endpoint by its method; others get 405. */
export async function serveStreamable(ctx: HttpContext, call: McpCall): Promise<void> {
  const method = call.req.method;
  if (method === 'POST') await streamablePost(ctx, call);
  else if (method === 'GET' || method === 'DELETE') await streamableGetOrDelete(ctx, call);
  else send(call.res, 405, { allow: 'GET, POST, DELETE' }, '');
}

/** Messages for the caller's session, or an `initialize` opening one; body and scopes first. */
async function streamablePost(ctx: HttpContext, call: McpCall): Promise<void> {
  const body = await readJson(call.req, call.res, ctx.maxBodyBytes);
  if (body === undefined) return;
  if (!checkToolScopes(ctx, call.res, call.identity, body)) return;
  if (await serveIfModern(ctx, call, body)) return;
  const found = await callerSession(ctx, call);
  if (found === 'answered') return;
  const session = found ?? (await openOnInitialize(ctx, call, body));
  if (!session) return;
  await deliver(call, session, body);
  if (!found) await discardIfRefused(ctx, session);
}

/**
 * A session opened for an `initialize` the transport then refused (no session id given, e.g. a
 * client that cannot take an event stream): its server is closed and its shared record removed,
 * which would otherwise stay until it idled out, one per refused request.
 */
async function discardIfRefused(ctx: HttpContext, session: StreamableSession): Promise<void> {
  if (session.transport.sessionId !== undefined) return;
  await session.server.close().catch(() => {});
  await ctx.shared?.discardRefused(session.id);
}

/** The server's stream (GET) or the end of a session (DELETE): the session must exist. */
async function streamableGetOrDelete(ctx: HttpContext, call: McpCall): Promise<void> {
  const session = await callerSession(ctx, call);
  if (session === 'answered') return;
  if (!session) refuseWithoutSession(call);
  else if (call.req.method === 'DELETE' && !(await endShared(ctx, call, session))) return;
  else if (!(await resumedHere(call, session))) await deliver(call, session, undefined);
}

/** End a DELETEd session on every replica first; `false` once refused (the store failed). */
async function endShared(ctx: HttpContext, call: McpCall, session: StreamableSession) {
  const id = session.transport.sessionId;
  if (!ctx.shared || id === undefined) return true;
  try {
    await ctx.shared.records.end(id);
    return true;
  } catch (error) {
    ctx.shared.unavailable(call.res, error);
    return false;
  }
}

/**
 * Answer a resume (GET with `Last-Event-ID`) the transport would get wrong: a stream with a gap
 * is refused (400), and a finished stream (its responses all kept) is replayed and then ended,
 * where the transport would keep it open with nothing left to send. `false`: not such a resume.
 */
async function resumedHere(call: McpCall, session: StreamableSession): Promise<boolean> {
  const lastEventId = call.req.headers['last-event-id'];
  const accept = call.req.headers.accept ?? '';
  if (call.req.method !== 'GET' || typeof lastEventId !== 'string' || !session.events) return false;
  if (!accept.includes('text/event-stream')) return false;
  const replay = await session.events.replayHere(lastEventId);
  if (!replay) return false;
  if (replay.refused) {
    jsonRpcError(
      call.res,
      400,
      -32000,
      'Bad Request: this stream lost events; it cannot be resumed',
    );
    return true;
  }
  sendWholeStream(call, session, replay.events);
  return true;
}

/** An event stream of `events` (each with its id), complete: the response ends after them. */
function sendWholeStream(
  call: McpCall,
  session: StreamableSession,
  events: readonly { readonly eventId: string; readonly message: unknown }[],
): void {
  const frames = events.map(
    (event) => `id: ${event.eventId}\ndata: ${JSON.stringify(event.message)}\n\n`,
  );
  const headers: Record<string, string> = {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache, no-transform',
  };
  if (session.transport.sessionId) headers['mcp-session-id'] = session.transport.sessionId;
  send(call.res, 200, headers, frames.join(''));
}

/** A new session for an `initialize` without `Mcp-Session-Id`, or `undefined` once refused. */
async function openOnInitialize(
  ctx: HttpContext,
  call: McpCall,
  body: unknown,
): Promise<StreamableSession | undefined> {
  if (sessionIdOf(call) !== undefined || !isInitialize(body)) {
    refuseWithoutSession(call);
    return undefined;
  }
  // Nothing is closed for it yet: the transport may still refuse the initialize (see
  // openStreamable, which makes room once the session is named).
  if (!ctx.sessions.hasRoom(call.principal)) {
    tooManySessions(call.res);
    return undefined;
  }
  const session = await openStreamable(ctx, call.principal);
  if (!ctx.shared) return session;
  try {
    if (await ctx.shared.records.create(session.id, recordOfInitialize(body, call.principal))) {
      return session;
    }
    throw new Error('a session id was drawn twice');
  } catch (error) {
    await session.server.close().catch(() => {});
    if (isStoreFailure(error)) ctx.shared.unavailable(call.res, error);
    else if (error instanceof McpAgentError && error.code === 'USAGE') {
      // The client's info and capabilities are too large to keep (the message says so).
      jsonRpcError(call.res, 400, -32600, `Invalid Request: ${error.message}`);
    } else throw error;
    return undefined;
  }
}

/** 404 for a session id the caller has no session of, else 400: `initialize` comes first. */
function refuseWithoutSession(call: McpCall): void {
  if (sessionIdOf(call) !== undefined) {
    jsonRpcError(call.res, 404, -32001, 'Session not found');
  } else {
    jsonRpcError(call.res, 400, -32000, 'Bad Request: no session; send initialize first');
  }
}

/** The `Mcp-Session-Id` the caller sent, if any. */
function sessionIdOf(call: McpCall): string | undefined {
  const header = call.req.headers['mcp-session-id'];
  return typeof header === 'string' ? header : undefined;
}

/**
 * The caller's session of this endpoint named by `Mcp-Session-Id`, if it has one. With shared
 * sessions its record is touched (an ended one is closed here), and a session this replica does
 * not hold is restored from its record; a store that does not answer is a 503.
 */
async function callerSession(ctx: HttpContext, call: McpCall): Promise<Lookup> {
  const id = sessionIdOf(call);
  const local = ctx.sessions.find(id, call.principal, 'streamable');
  const shared = ctx.shared;
  if (!shared || id === undefined) return local;
  try {
    if (!local) {
      // Requests arriving together share one restore, but each is answered on its own.
      const restored = await shared.once(id, call.principal, () =>
        restoreShared(ctx, call.principal, id),
      );
      if (restored !== 'full') return restored;
      tooManySessions(call.res);
      return 'answered';
    }
    const record = await shared.records.touch(id);
    if (record) {
      // The level the client set last, on whichever replica.
      if (record.logLevel !== undefined) setSessionLogLevel(local.server, record.logLevel);
      return local;
    }
    // Its record is gone but not ended (a Redis that restarted empty): written again from here.
    if (!(await shared.records.ended(id)) && (await shared.records.create(id, initOf(local)))) {
      return local;
    }
    // Ended on another replica: closed here too.
    await local.transport.close().catch(() => {});
    return undefined;
  } catch (error) {
    // Anything else (the SDK's internals changed, say) is an internal error (500).
    if (!isStoreFailure(error)) throw error;
    shared.unavailable(call.res, error);
    return 'answered';
  }
}

/** Write `level` into session `id`'s shared record; a store that fails is the request's error. */
async function keepLogLevel(shared: SharedSessions, id: string, level: string): Promise<void> {
  try {
    await shared.records.setLogLevel(id, level);
  } catch {
    throw new ProtocolError(ProtocolErrorCode.InternalError, SESSION_STORE_UNAVAILABLE_MESSAGE);
  }
}

/** The record of a session held here, from what its server negotiated. */
function initOf(session: StreamableSession): SessionInit {
  const { server } = session;
  return {
    principal: session.principal,
    protocolVersion: server.getNegotiatedProtocolVersion() ?? SESSION_PROTOCOL_VERSIONS[0] ?? '',
    clientInfo: server.getClientVersion() ?? { name: '', version: '' },
    clientCapabilities: server.getClientCapabilities() ?? {},
    logLevel: sessionLogLevel(server),
  };
}

/** Session `id` of the caller restored from its shared record, when it has one. */
async function restoreShared(
  ctx: HttpContext,
  principal: string,
  id: string,
): Promise<StreamableSession | 'full' | undefined> {
  const record = await ctx.shared?.records.find(id, principal);
  if (!record) return undefined;
  // Another request of the session restored it meanwhile.
  const restored = ctx.sessions.find(id, principal, 'streamable');
  if (restored) return restored;
  if (!ctx.sessions.makeRoom(principal)) return 'full';
  const session = await openStreamable(ctx, principal, id);
  restoreSession(session.server, session.transport, negotiatedOf(id, record));
  if (record.logLevel !== undefined) setSessionLogLevel(session.server, record.logLevel);
  ctx.sessions.add(id, session);
  return session;
}

/** Hand the request to the session's transport, with the caller attached and its stream watched. */
async function deliver(call: McpCall, session: StreamableSession, body: unknown): Promise<void> {
  attachCaller(call);
  watchStream(call, session, body);
  await session.transport.handleRequest(call.req, call.res, body);
}

/**
 * Tell the session's peer when the stream of `body`'s requests closes before it was finished
 * (the caller disconnected): requests forwarded to the caller on it fail at once.
 */
function watchStream(call: McpCall, session: StreamableSession, body: unknown): void {
  const ids = requestIds(body);
  if (ids.length === 0) return;
  // A batch's stream finishes once all its requests are answered (see SessionEvents).
  if (ids.length > 1) session.events?.expectBatch(ids);
  call.res.once('close', () => {
    if (call.res.statusCode !== 200) session.events?.dropBatch(ids);
    if (!call.res.writableFinished) sessionPeerOf(session.server)?.streamClosed(ids);
  });
}

/**
 * A session of `principal` with its own MCP server; registered once the transport names it.
 * With an event store its streams are resumable, their events kept under the session's owner.
 * `restoring`: the id of a shared session opened elsewhere (then registered by the caller).
 * Its events are forgotten when it ends (DELETE), or, unless shared, once closed here.
 */
async function openStreamable(
  ctx: HttpContext,
  principal: string,
  restoring?: string,
): Promise<StreamableSession> {
  // 192 bits from the CSPRNG, never derived from the token; drawn now, so the events of the
  // session's first stream are already bound to it.
  const sessionId = restoring ?? randomBytes(24).toString('base64url');
  const shared = ctx.shared;
  const server = createMcpServer(ctx.catalog, ctx.info, ctx.logger, {
    // The level goes into the shared record, so that every replica sends at it.
    onLogLevel: shared ? (level) => keepLogLevel(shared, sessionId, level) : undefined,
  });
  let session: StreamableSession | undefined;
  const owner = sessionOwner(principal, sessionId);
  const forget = () => void ctx.events?.forget(owner).catch(() => {});
  const closedHere = () => {
    if (session) ctx.sessions.delete(sessionId, session);
    if (!ctx.shared) forget();
  };
  const events = ctx.events
    ? sessionEventStore(ctx.events, owner, ctx.logger, {
        // Revisions are dates: 2025-06-18 removed JSON-RPC batches.
        oneRequestPerStream: () => (server.getNegotiatedProtocolVersion() ?? '') >= '2025-06-18',
      })
    : undefined;
  const transport = new NodeStreamableHTTPServerTransport({
    sessionIdGenerator: () => sessionId,
    onsessioninitialized: (id) => {
      if (!session) return;
      // Its principal's least recently used session goes beyond the cap (checked before, in all).
      ctx.sessions.makeRoom(principal);
      ctx.sessions.add(id, session);
    },
    onsessionclosed: () => {
      closedHere();
      forget();
    },
    ...(events
      ? {
          eventStore: events,
          ...(ctx.streamRetryMs !== undefined ? { retryInterval: ctx.streamRetryMs } : {}),
        }
      : {}),
  });
  transport.onclose = () => {
    if (transport.sessionId) closedHere();
  };
  session = {
    kind: 'streamable',
    id: sessionId,
    principal,
    server,
    transport,
    events,
    lastUsed: ctx.now(),
  };
  await server.connect(transport);
  return session;
}
