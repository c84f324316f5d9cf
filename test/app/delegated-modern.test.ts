/**
 * Per-user downstream login on protocol 2026-07-28 (ADR 0004, point 5): where a 2025-11-25 call
 * asks for a URL elicitation (or fails with -32042), a 2026-07-28 call ends with an
 * `InputRequiredResult` asking the client to open the sign-in page, with a signed `requestState`;
 * the retry with `accept` after the sign-in runs the call. A sign-in still pending gets the page
 * again with a fresh state; another caller's, an altered or a replayed state gets -32602.
 */
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
  realm = await startRealm();
  agent = await serveAgent(delegatedSettings({ realm, inbound }), inbound.port);
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
});

async function tokenOf(user: string): Promise<string> {
  return (await userTokens(inbound.as.issuer, inbound.resource, user)).accessToken;
}

let nextId = 1;

/** A 2026-07-28 `tools/call` of `down_whoami` by `token`, retrying with `retry` when given. */
async function callWhoami(
  token: string,
  retry?: { state: string; answer: 'accept' | 'decline' | 'cancel' },
): Promise<RawResponse> {
  const params = {
    name: 'down_whoami',
    arguments: {},
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
      'mcp-method': 'tools/call',
      'mcp-name': 'down_whoami',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params }),
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
