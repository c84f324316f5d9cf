/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05), deprecated: GET `/sse` opens a session and its
 * event stream, POST `/messages` carries the caller's messages to it. The message URL holds a
 * secret of ours besides the transport's session id, and a session is found only for the
 * principal that opened it. The first client to open it gets one warning in the log.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { attachCaller, checkToolScopes } from './http-auth.js';
import { readJson } from './http-body.js';
import type { HttpContext, McpCall } from './http-context.js';
import { jsonRpcError, tooManySessions } from './http-reply.js';
import type { SseSession } from './http-sessions.js';
import { createMcpServer } from './mcp-server.js';
import { SSE_MESSAGES_PATH } from './metadata.js';
import { SseServerTransport } from './sse-transport.js';

/** The handlers whose log has had the deprecation warning. */
const warned = new WeakSet<HttpContext>();

/** Warn once per handler that a client uses the deprecated endpoint. */
function warnDeprecated(ctx: HttpContext): void {
  if (warned.has(ctx)) return;
  warned.add(ctx);
  ctx.logger?.warn(
    'a client opened /sse, the deprecated HTTP+SSE transport (MCP 2024-11-05); it will be removed in a later release: use the Streamable HTTP endpoint',
  );
}

/** GET `/sse`: open a session of the caller, answered by its event stream (503 when full). */
export async function openSse(ctx: HttpContext, call: McpCall): Promise<void> {
  const { res, principal } = call;
  if (!ctx.sessions.makeRoom(principal)) {
    tooManySessions(res);
    return;
  }
  warnDeprecated(ctx);
  const server = createMcpServer(ctx.catalog, ctx.info, ctx.logger);
  // The transport names SSE sessions with a UUID (122 random bits); ours adds 192 more, and a
  // message must carry both.
  const id = `sse:${randomBytes(24).toString('base64url')}`;
  const transport = new SseServerTransport(`${SSE_MESSAGES_PATH}?s=${id.slice(4)}`, res);
  const session: SseSession = { kind: 'sse', principal, server, transport, lastUsed: ctx.now() };
  ctx.sessions.add(id, session);
  res.on('close', () => {
    ctx.sessions.delete(id);
    void server.close().catch(() => {});
  });
  await server.connect(transport);
}

/** POST `/messages`: the caller's messages to its session (404 unless both ids match). */
export async function postSseMessage(ctx: HttpContext, call: McpCall): Promise<void> {
  const { req, res, url } = call;
  const secret = url.searchParams.get('s');
  const session =
    secret === null ? undefined : ctx.sessions.find(`sse:${secret}`, call.principal, 'sse');
  if (!session || url.searchParams.get('sessionId') !== session.transport.sessionId) {
    jsonRpcError(res, 404, -32001, 'Session not found');
    return;
  }
  const body = await readJson(req, res, ctx.maxBodyBytes);
  if (body === undefined) return;
  if (!checkToolScopes(ctx, res, call.identity, body, ctx.sseMetadataUrl)) return;
  attachCaller(call);
  await session.transport.handlePostMessage(req, res, body);
}
