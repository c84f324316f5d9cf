/**
 * The relay of a downstream server's input on 2026-07-28 (ADR 0004, point 5): a 2026-07-28
 * server's `InputRequiredResult` (a form, sampling, roots, several at once, two rounds with its own
 * state; a prompt and a resource too) reaches a v2 client pinned to 2026-07-28 through `serve`,
 * aggregated and in front mode, under the server's own keys, with the server's state
 * encrypted inside ours; the client's handlers answer and the retries carry the answers back. A
 * 2025-11-25 server asking mid-call during a 2026-07-28 request is refused at once; a 2025-11-25
 * session of the caller is still asked through its session (a 2026-07-28 server's input too).
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  mcpHeaders,
  message,
  type RawResponse,
  raw,
  type ServedApp,
  startServedApp,
  textOf,
  userTokens,
} from '../server/serve-support.js';
import { type DualEraServer, startDualEraServer } from '../support/dual-era-server.js';
import { DOWNSTREAM_STATE } from '../support/input-tools.js';

const MODERN = '2026-07-28';

let dual: DualEraServer;
let old: DualEraServer;
let served: ServedApp;
let front: ServedApp;
const clients: Client[] = [];

beforeAll(async () => {
  [dual, old] = await Promise.all([
    startDualEraServer({ inputTools: true }),
    startDualEraServer({ modern: false }),
  ]);
  const servers = (names: string[]) =>
    Object.fromEntries(
      names.map((name) => [
        name,
        { transport: 'streamable_http', url: name === 'old' ? old.url : dual.url },
      ]),
    );
  [served, front] = await Promise.all([
    startServedApp({ servers: servers(['dual', 'old']) }),
    startServedApp({ servers: servers(['dual']), sections: { front: 'dual' } }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await served?.close();
  await front?.close();
  await dual?.close();
  await old?.close();
});

async function tokenOf(app: ServedApp, user: string): Promise<string> {
  return (await userTokens(app.as.issuer, app.resource, user)).accessToken;
}

/** What the caller's client answers: a colour, a name, a confirmation, a sample, its roots. */
const ANSWERS: Record<string, Record<string, unknown>> = {
  'Which colour?': { colour: 'teal' },
  'Your name?': { name: 'kim' },
  'Sure?': { sure: true },
};

/** A v2 client of `app` pinned to `mode`, answering elicitation, sampling and roots. */
async function connect(app: ServedApp, user: string, mode: 'legacy' | { pin: string }) {
  const client = new Client(
    { name: 'relay-test', version: '1.0.0' },
    {
      capabilities: { elicitation: { form: {} }, sampling: {}, roots: {} },
      versionNegotiation: { mode },
    },
  );
  client.setRequestHandler('elicitation/create', async (request) => ({
    action: 'accept',
    content: ANSWERS[request.params.message] as Record<string, string>,
  }));
  client.setRequestHandler('sampling/createMessage', async () => ({
    role: 'assistant',
    content: { type: 'text', text: 'short' },
    model: 'test-model',
  }));
  client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: 'file:///work' }] }));
  clients.push(client);
  const token = await tokenOf(app, user);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(app.resource), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

describe('a 2026-07-28 client through serve', () => {
  test.each([
    ['aggregated', () => served, 'dual_'],
    ['front mode', () => front, ''],
  ])(
    '%s: every kind of input, several at once and in two rounds, reaches the caller',
    async (_mode, app, prefix) => {
      const client = await connect(app(), 'alice', { pin: MODERN });
      const survey = await client.callTool({ name: `${prefix}survey`, arguments: {} });
      expect(textOf(survey)).toBe('survey: teal; short; file:///work');
      const steps = await client.callTool({ name: `${prefix}steps`, arguments: {} });
      expect(textOf(steps)).toBe('steps: kim confirmed');
      const prompt = await client.getPrompt({ name: `${prefix}poem` });
      expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'a poem on teal' });
      const read = await client.readResource({ uri: 'input://note' });
      expect(read.contents[0]).toMatchObject({ uri: 'input://note', text: 'a note for kim' });
    },
  );

  test('a 2025-11-25 server asking mid-call is refused at once; a 2025-11-25 session is asked as before', async () => {
    const modern = await connect(served, 'alice', { pin: MODERN });
    const refused = await modern.callTool({ name: 'old_ask', arguments: {} });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain('elicitation');
    const legacy = await connect(served, 'alice', 'legacy');
    expect(textOf(await legacy.callTool({ name: 'old_ask', arguments: {} }))).toBe(
      'legacy colour: teal',
    );
    // A 2026-07-28 server's input, on a 2025-11-25 session: fulfilled through the session.
    expect(textOf(await legacy.callTool({ name: 'dual_ask', arguments: {} }))).toBe(
      'modern colour: teal',
    );
  });

  test("a 2026-07-28 server's log messages reach a 2025-11-25 session at the session's level", async () => {
    const legacy = await connect(front, 'alice', 'legacy');
    const lines: unknown[] = [];
    legacy.setNotificationHandler('notifications/message', (notification) => {
      lines.push(notification.params.data);
    });
    await legacy.setLoggingLevel('info');
    expect(textOf(await legacy.callTool({ name: 'note', arguments: {} }))).toBe('note: done');
    expect(lines).toContain('noted');
    await legacy.getPrompt({ name: 'noted' });
    expect(lines).toContain('prompted');
    // Above the server's line: the envelope says `warning`, and the server sends nothing.
    lines.length = 0;
    await legacy.setLoggingLevel('warning');
    await legacy.callTool({ name: 'note', arguments: {} });
    expect(lines).not.toContain('noted');
  });
});

type Json = Record<string, unknown>;
let nextId = 1;

/** A raw 2026-07-28 `tools/call` of `dual_steps` by `token`, as a retry when given. */
function callSteps(
  token: string,
  retry?: { state: string; responses: Json },
): Promise<RawResponse> {
  return callRaw(token, 'dual_steps', {
    ...(retry ? { requestState: retry.state, inputResponses: retry.responses } : {}),
  });
}

/**
 * A raw 2026-07-28 `tools/call` of `tool` by `token` with `extra` params, its envelope declaring
 * `capabilities` (form elicitation only unless given).
 */
async function callRaw(
  token: string,
  tool: string,
  extra: Json,
  capabilities: Json = { elicitation: { form: {} } },
): Promise<RawResponse> {
  const params = {
    name: tool,
    arguments: {},
    ...extra,
    _meta: {
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientInfo': { name: 'raw-relay', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': capabilities,
    },
  };
  return raw(served.resource, {
    method: 'POST',
    headers: mcpHeaders(token, {
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/call',
      'mcp-name': tool,
    }),
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params }),
  });
}

function resultOf(response: RawResponse): Json {
  expect(response.status, response.body).toBe(200);
  const answer = message(response.body);
  expect(answer.error, response.body).toBeUndefined();
  return answer.result as Json;
}

function errorCodeOf(response: RawResponse): number | undefined {
  return (message(response.body).error as { code?: number } | undefined)?.code;
}

/** Every base64url piece of `state`, decoded: what a client could read of it. */
function readable(state: string): string {
  return state
    .split(/[^A-Za-z0-9_-]/)
    .map((piece) => Buffer.from(piece, 'base64url').toString('latin1'))
    .join(' ');
}

describe('the relayed rounds on the wire', () => {
  test("the server's own keys, the server's state sealed; another caller's, an altered and a replayed state are -32602", async () => {
    const [alice, bob] = await Promise.all([tokenOf(served, 'alice'), tokenOf(served, 'bob')]);
    const first = resultOf(await callSteps(alice));
    expect(first.resultType).toBe('input_required');
    expect(Object.keys(first.inputRequests as Json)).toEqual(['name']);

    const second = resultOf(
      await callSteps(alice, {
        state: String(first.requestState),
        responses: { name: { action: 'accept', content: { name: 'kim' } } },
      }),
    );
    expect(Object.keys(second.inputRequests as Json)).toEqual(['confirm']);
    const state = String(second.requestState);
    expect(state).not.toContain(DOWNSTREAM_STATE);
    expect(readable(state)).not.toContain(DOWNSTREAM_STATE);

    const responses = { confirm: { action: 'accept', content: { sure: true } } };
    expect(errorCodeOf(await callSteps(bob, { state, responses }))).toBe(-32602);
    const last = state.at(-2) === 'A' ? 'B' : 'A';
    const altered = `${state.slice(0, -2)}${last}${state.at(-1)}`;
    expect(errorCodeOf(await callSteps(alice, { state: altered, responses }))).toBe(-32602);

    // Keys the server did not ask are ignored: an `open_url` answer in a relayed round is not
    // taken for a declined sign-in page of ours.
    const extra = { ...responses, open_url: { action: 'decline' }, unasked: { action: 'accept' } };
    const done = resultOf(await callSteps(alice, { state, responses: extra }));
    expect(textOf(done)).toBe('steps: kim confirmed');
    expect(errorCodeOf(await callSteps(alice, { state, responses }))).toBe(-32602);
  });

  test('answers sent without any state go to the server, which may use them (SEP-2322)', async () => {
    const alice = await tokenOf(served, 'alice');
    const name = { action: 'accept', content: { name: 'ada' } };
    const ahead = resultOf(await callRaw(alice, 'dual_steps', { inputResponses: { name } }));
    // The server took the name at once and asks its second round.
    expect(Object.keys(ahead.inputRequests as Json)).toEqual(['confirm']);
  });

  test("a capability the server needs and the caller did not declare is the caller's -32021", async () => {
    const alice = await tokenOf(served, 'alice');
    // `survey` asks a form, a sampling request and the roots; the caller declared forms only.
    const refused = await callRaw(alice, 'dual_survey', {});
    expect(errorCodeOf(refused)).toBe(-32021);
    const error = message(refused.body).error as { message?: string; data?: Json };
    // The capability the server misses is named; the HTTP status is 400.
    expect(error.data?.requiredCapabilities).toHaveProperty('sampling');
    expect(refused.status).toBe(400);
    // The server's own words (here they name its input key `summary`, any text it chooses) and
    // any other data of its error stay out of the caller's error.
    expect(error.message).not.toContain('summary');
    expect(Object.keys(error.data ?? {})).toEqual(['requiredCapabilities']);
  });
});
