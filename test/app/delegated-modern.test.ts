/**
 * Per-user downstream login on protocol 2026-07-28 (ADR 0004, point 5): where a 2025-11-25 call
 * asks for a URL elicitation (or fails with -32042), a 2026-07-28 call ends with an
 * `InputRequiredResult` asking the client to open the sign-in page, with a signed `requestState`;
 * the retry with `accept` after the sign-in runs the call. A sign-in still pending gets the page
 * again with a fresh state; another caller's, an altered or a replayed state gets -32602. The same
 * for a `prompts/get` of the server's prompt (where 2025-11-25 fails with -32042).
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RawResponse, raw, userTokens } from '../server/serve-support.js';
import {
  delegatedSettings,
  type Inbound,
  type Realm,
  type ServedAgent,
  serveAgent,
  signIn,
  startInbound,
  startRealm,
} from './delegated-support.js';

const MODERN = '2026-07-28';

let inbound: Inbound;
let realm: Realm;
let agent: ServedAgent;

beforeAll(async () => {
  inbound = await startInbound();
  realm = await startRealm(greeting);
  agent = await serveAgent(delegatedSettings({ realm, inbound }), inbound.port);
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
});

/** The protected server's prompt, telling whose token reached it. */
function greeting(server: McpServer): void {
  server.registerPrompt('greeting', { description: 'Greets the signed-in user' }, (extra) => ({
    messages: [
      {
        role: 'user',
        content: { type: 'text', text: `hello ${String(extra.authInfo?.extra?.sub)}` },
      },
    ],
  }));
}

async function tokenOf(user: string): Promise<string> {
  return (await userTokens(inbound.as.issuer, inbound.resource, user)).accessToken;
}

let nextId = 1;

type Retry = { state: string; answer: 'accept' | 'decline' | 'cancel' };

/** A 2026-07-28 `tools/call` of `down_whoami` by `token`, retrying with `retry` when given. */
function callWhoami(token: string, retry?: Retry): Promise<RawResponse> {
  return send(token, 'tools/call', { name: 'down_whoami', arguments: {} }, retry);
}

/** A 2026-07-28 `prompts/get` of `down_greeting` by `token`, retrying with `retry` when given. */
function getGreeting(token: string, retry?: Retry): Promise<RawResponse> {
  return send(token, 'prompts/get', { name: 'down_greeting' }, retry);
}

/** A 2026-07-28 request `method` with `request` (its name first) by `token`. */
async function send(
  token: string,
  method: string,
  request: { name: string; arguments?: Record<string, unknown> },
  retry?: Retry,
): Promise<RawResponse> {
  const params = {
    ...request,
    ...(retry
      ? { requestState: retry.state, inputResponses: { open_url: { action: retry.answer } } }
      : {}),
    _meta: {
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientInfo': { name: 'raw-modern', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': { elicitation: { url: {} } },
    },
  };
  return raw(agent.running.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
      'mcp-protocol-version': MODERN,
      'mcp-method': method,
      'mcp-name': request.name,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  });
}

type Json = Record<string, unknown>;

function answerOf(response: RawResponse): Json {
  expect(response.status, response.body).toBe(200);
  const trimmed = response.body.trim();
  const line = trimmed.startsWith('{')
    ? trimmed
    : (trimmed
        .split('\n')
        .filter((one) => one.startsWith('data:'))
        .map((one) => one.slice('data:'.length))
        .find((one) => one.includes('"id"')) ?? '{}');
  return JSON.parse(line) as Json;
}

/** The sign-in URL and state of an input-required result. */
function signInRequest(response: RawResponse): { url: string; state: string } {
  const result = answerOf(response).result as Json;
  const inputs = result.inputRequests as Record<string, { method: string; params: Json }>;
  const input = inputs.open_url;
  expect(input?.method).toBe('elicitation/create');
  expect(input?.params.mode).toBe('url');
  expect(typeof result.requestState).toBe('string');
  return { url: String(input?.params.url), state: String(result.requestState) };
}

function errorCodeOf(response: RawResponse): number | undefined {
  return (answerOf(response).error as { code?: number } | undefined)?.code;
}

function textOf(response: RawResponse): string {
  const result = answerOf(response).result as { content?: { type: string; text?: string }[] };
  return result.content?.find((item) => item.type === 'text')?.text ?? '';
}

describe('a sign-in on 2026-07-28', () => {
  test('input required, pending, signed in: the retry runs the call; its state is then spent', async () => {
    const token = await tokenOf('kim');
    const first = signInRequest(await callWhoami(token));
    expect(first.url).toContain('/internal/oauth/connect');

    // Not signed in yet: the page again, with a fresh state.
    const pending = signInRequest(
      await callWhoami(token, { state: first.state, answer: 'accept' }),
    );
    expect(pending.state).not.toBe(first.state);

    await signIn(pending.url, 'kim-down');
    const done = await callWhoami(token, { state: pending.state, answer: 'accept' });
    expect(textOf(done)).toContain('kim-down');

    // The same state once more: replayed.
    const replayed = await callWhoami(token, { state: pending.state, answer: 'accept' });
    expect(errorCodeOf(replayed)).toBe(-32602);
  });

  test("another caller's state and an altered state are refused (-32602); a declined page does nothing", async () => {
    const [lee, max] = await Promise.all([tokenOf('lee'), tokenOf('max')]);
    const request = signInRequest(await callWhoami(lee));

    expect(errorCodeOf(await callWhoami(max, { state: request.state, answer: 'accept' }))).toBe(
      -32602,
    );
    const last = request.state.at(-2) === 'A' ? 'B' : 'A';
    const altered = `${request.state.slice(0, -2)}${last}${request.state.at(-1)}`;
    expect(errorCodeOf(await callWhoami(lee, { state: altered, answer: 'accept' }))).toBe(-32602);

    // The refusals did not spend lee's own state.
    const declined = await callWhoami(lee, { state: request.state, answer: 'decline' });
    expect(textOf(declined)).toContain('was not accepted');
  });
});

describe('a sign-in during prompts/get on 2026-07-28', () => {
  test('input required, pending, signed in: the retry answers the prompt; a declined page does nothing', async () => {
    const token = await tokenOf('noa');
    const first = signInRequest(await getGreeting(token));
    expect(first.url).toContain('/internal/oauth/connect');
    const declined = await getGreeting(token, { state: first.state, answer: 'decline' });
    expect(answerOf(declined).error).toMatchObject({
      message: expect.stringContaining('not accepted'),
    });

    const again = signInRequest(await getGreeting(token));
    const pending = signInRequest(
      await getGreeting(token, { state: again.state, answer: 'accept' }),
    );
    await signIn(pending.url, 'noa-down');
    const done = answerOf(await getGreeting(token, { state: pending.state, answer: 'accept' }));
    const messages = (done.result as { messages: { content: { text: string } }[] }).messages;
    expect(messages[0]?.content.text).toBe('hello noa-down');
    expect(errorCodeOf(await getGreeting(token, { state: pending.state, answer: 'accept' }))).toBe(
      -32602,
    );
  });
});
