/**
 * Resumable streams through a protected `serve` (authorization on, real tokens of two users from
 * the development authorization server): a `Last-Event-ID` is honoured only in the session whose
 * stream it names, for the principal that opened it. Bob with Alice's session id and event id
 * finds no session (404); Alice's second session with her first session's event id gets 400; in
 * neither case is anything of the stream sent. Alice's own session resumes it.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mcpHeaders, rpc, type ServedApp, startServedApp, userTokens } from './serve-support.js';

const VERSION = '2025-11-25';

let served: ServedApp;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  served = await startServedApp({ downstream: true });
  const issuer = served.as.issuer;
  const [alice, bob] = await Promise.all([
    userTokens(issuer, served.resource, 'alice'),
    userTokens(issuer, served.resource, 'bob'),
  ]);
  tokens.alice = alice.accessToken;
  tokens.bob = bob.accessToken;
}, 60_000);

afterAll(async () => {
  await served?.close();
});

/** POST `body` as `user` in `session` (none: a new one); the session id and the stream's text. */
async function post(user: string, body: string, session?: string) {
  const extra: Record<string, string> = { 'mcp-protocol-version': VERSION };
  if (session) extra['mcp-session-id'] = session;
  const response = await fetch(served.resource, {
    method: 'POST',
    headers: mcpHeaders(tokens[user], extra),
    body,
  });
  return {
    session: response.headers.get('mcp-session-id') ?? session ?? '',
    text: await response.text(),
  };
}

/** A session of `user`, initialized. */
async function openSession(user: string): Promise<string> {
  const init = rpc('initialize', {
    protocolVersion: VERSION,
    capabilities: {},
    clientInfo: { name: `client of ${user}`, version: '1.0.0' },
  });
  const { session } = await post(user, init);
  await post(
    user,
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    session,
  );
  return session;
}

/** GET `session`'s stream as `user` from `lastEventId`: status and whole body. */
async function resume(user: string, session: string, lastEventId: string) {
  const response = await fetch(served.resource, {
    headers: {
      accept: 'text/event-stream',
      authorization: `Bearer ${tokens[user]}`,
      'mcp-protocol-version': VERSION,
      'mcp-session-id': session,
      'last-event-id': lastEventId,
    },
  });
  return { status: response.status, body: await response.text() };
}

test("another user's session and event id: 404; the owner's other session: 400; nothing sent", async () => {
  const first = await openSession('alice');
  const { text } = await post('alice', rpc('tools/list'), first);
  const eventId = /^id: (\S+)$/m.exec(text)?.[1] ?? '';
  expect(eventId).not.toBe('');
  expect(text).toContain('down_echo');

  const bob = await resume('bob', first, eventId);
  expect(bob.status).toBe(404);
  expect(bob.body).not.toContain('down_echo');
  expect(bob.body).not.toMatch(/^id: /m);

  const second = await openSession('alice');
  const other = await resume('alice', second, eventId);
  expect(other.status).toBe(400);
  expect(other.body).not.toContain('down_echo');
  expect(other.body).not.toMatch(/^id: /m);

  // The stream's own session and principal resume it (the list again, then the stream ends).
  const own = await resume('alice', first, eventId);
  expect(own.status).toBe(200);
  expect(own.body).toContain('down_echo');
});
