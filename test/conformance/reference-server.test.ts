/**
 * The conformance reference server (test/conformance/reference-server.mjs) on its own, over stdio
 * with v2 clients: on 2026-07-28, in manual multi-round-trip mode, each fixture of the
 * `input-required-result-*` and `server-stateless` scenarios answers its first round with the
 * InputRequiredResult the scenario describes and completes on the retry; on 2025-11-25 the same
 * tools ask through server-to-client requests (the SDK's legacy shim). Through serve these
 * scenarios still wait for the relay of downstream input (server-baseline.yml), so this is where
 * the fixtures are checked.
 */
import { fileURLToPath } from 'node:url';
import { Client, ProtocolError } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const SERVER = fileURLToPath(new URL('./reference-server.mjs', import.meta.url));

/** What a manual-mode call answers: a complete result or an InputRequiredResult. */
interface Answer {
  resultType?: string;
  inputRequests?: Record<string, { method: string; params?: Record<string, unknown> }>;
  requestState?: string;
  content?: { type: string; text?: string }[];
  messages?: { content: { type: string; text?: string } }[];
}

const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

type Capabilities = ConstructorParameters<typeof Client>[1] extends infer O
  ? O extends { capabilities?: infer C }
    ? C
    : never
  : never;

/** A v2 client of the reference server: 2026-07-28 in manual mode, or 2025-11-25 answering asks. */
async function connect(
  era: 'modern' | 'legacy',
  capabilities: Capabilities = { elicitation: {}, sampling: {}, roots: {} },
): Promise<Client> {
  const client = new Client(
    { name: 'reference-server-test', version: '1.0.0' },
    {
      capabilities,
      versionNegotiation: { mode: era === 'modern' ? { pin: '2026-07-28' } : 'legacy' },
      inputRequired: { autoFulfill: false },
    },
  );
  if (era === 'legacy') {
    client.setRequestHandler('elicitation/create', (request) => ({
      action: 'accept',
      content: {
        response: 'yes',
        name: 'Ann',
        color: 'teal',
        context: `for ${request.params.message}`,
      },
    }));
    client.setRequestHandler('sampling/createMessage', () => ({
      role: 'assistant',
      content: { type: 'text', text: 'Paris' },
      model: 'test-model',
      stopReason: 'endTurn',
    }));
    client.setRequestHandler('roots/list', () => ({
      roots: [{ uri: 'file:///work', name: 'work' }],
    }));
  }
  clients.push(client);
  await client.connect(
    new StdioClientTransport({ command: process.execPath, args: [SERVER], stderr: 'ignore' }),
  );
  return client;
}

/** One manual-mode `tools/call` round. */
async function call(client: Client, name: string, retry: Record<string, unknown> = {}) {
  const params = { name, arguments: {}, ...retry } as Parameters<Client['callTool']>[0];
  return (await client.callTool(params, { allowInputRequired: true })) as Answer;
}

const accept = (content: Record<string, unknown>) => ({ action: 'accept', content });
const sampled = (text: string) => ({
  role: 'assistant',
  content: { type: 'text', text },
  model: 'test-model',
  stopReason: 'endTurn',
});
const roots = { roots: [{ uri: 'file:///test/root', name: 'Test Root' }] };
const textOf = (answer: Answer) => answer.content?.map((block) => block.text).join('') ?? '';
const methods = (answer: Answer) =>
  Object.fromEntries(Object.entries(answer.inputRequests ?? {}).map(([k, v]) => [k, v.method]));

/** The JSON-RPC error a call ends with. */
async function failure(promise: Promise<unknown>): Promise<ProtocolError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ProtocolError);
  return error as ProtocolError;
}

describe('2026-07-28 (server/discover), manual multi-round-trip', () => {
  let modern: Client;
  beforeAll(async () => {
    modern = await connect('modern');
  });

  test('negotiates 2026-07-28 and lists the fixtures', async () => {
    const client = modern;
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'test_input_required_result_elicitation',
        'test_missing_capability',
        'test_streaming_elicitation',
        'test_logging_tool',
        'test_custom_headers',
      ]),
    );
    const headers = tools.find((tool) => tool.name === 'test_custom_headers')?.inputSchema;
    expect(headers?.properties?.region).toMatchObject({ type: 'string', 'x-mcp-header': 'Region' });
    const schema = tools.find((tool) => tool.name === 'json_schema_2020_12_tool')?.inputSchema;
    expect(Object.keys(schema ?? {})).toEqual(
      expect.arrayContaining(['allOf', 'if', 'then', 'else']),
    );
  });

  test('elicitation: asks for user_name, greets on the retry, asks again for a wrong key', async () => {
    const client = modern;
    const first = await call(client, 'test_input_required_result_elicitation');
    expect(first.resultType).toBe('input_required');
    expect(first.inputRequests?.user_name).toMatchObject({
      method: 'elicitation/create',
      params: { message: 'What is your name?', requestedSchema: { required: ['name'] } },
    });
    const done = await call(client, 'test_input_required_result_elicitation', {
      inputResponses: { user_name: accept({ name: 'Alice' }), extra: accept({ x: 1 }) },
    });
    expect(done.resultType).not.toBe('input_required');
    expect(textOf(done)).toBe('Hello, Alice!');
    const wrong = await call(client, 'test_input_required_result_elicitation', {
      inputResponses: { wrong_key: accept({ data: 'wrong' }) },
    });
    expect(methods(wrong)).toEqual({ user_name: 'elicitation/create' });
    const invalid = await call(client, 'test_input_required_result_elicitation', {
      inputResponses: { user_name: 12345 },
    });
    expect(invalid.resultType).toBe('input_required');
  });

  test('sampling and roots: one request each, used on the retry', async () => {
    const client = modern;
    const sampling = await call(client, 'test_input_required_result_sampling');
    expect(sampling.inputRequests?.capital_question).toMatchObject({
      method: 'sampling/createMessage',
      params: { maxTokens: 100 },
    });
    const answered = await call(client, 'test_input_required_result_sampling', {
      inputResponses: { capital_question: sampled('Paris') },
    });
    expect(textOf(answered)).toContain('Paris');
    const listing = await call(client, 'test_input_required_result_list_roots');
    expect(listing.inputRequests?.client_roots).toMatchObject({ method: 'roots/list' });
    const listed = await call(client, 'test_input_required_result_list_roots', {
      inputResponses: { client_roots: roots },
    });
    expect(textOf(listed)).toContain('file:///test/root');
  });

  test('request state: echoed, it completes with state-ok; altered, it is refused (-32602)', async () => {
    const client = modern;
    for (const tool of [
      'test_input_required_result_request_state',
      'test_input_required_result_tampered_state',
    ]) {
      const first = await call(client, tool);
      expect(methods(first)).toEqual({ confirm: 'elicitation/create' });
      expect(first.requestState).toEqual(expect.any(String));
      const inputResponses = { confirm: accept({ ok: true }) };
      const done = await call(client, tool, { inputResponses, requestState: first.requestState });
      expect(done.resultType).not.toBe('input_required');
      const tampered = `${first.requestState}-TAMPERED`;
      const refused = await failure(call(client, tool, { inputResponses, requestState: tampered }));
      expect(refused.code).toBe(-32602);
    }
    const ok = await call(client, 'test_input_required_result_request_state');
    const done = await call(client, 'test_input_required_result_request_state', {
      inputResponses: { confirm: accept({ ok: true }) },
      requestState: ok.requestState,
    });
    expect(textOf(done)).toContain('state-ok');
  });

  test('multiple inputs in one round, and two rounds with an evolving state', async () => {
    const client = modern;
    const many = await call(client, 'test_input_required_result_multiple_inputs');
    expect(methods(many)).toEqual({
      user_name: 'elicitation/create',
      greeting: 'sampling/createMessage',
      client_roots: 'roots/list',
    });
    expect(many.requestState).toEqual(expect.any(String));
    const all = {
      user_name: accept({ name: 'Bo' }),
      greeting: sampled('Hi'),
      client_roots: roots,
    };
    const done = await call(client, 'test_input_required_result_multiple_inputs', {
      inputResponses: all,
      requestState: many.requestState,
    });
    expect(textOf(done)).toBe('name=Bo; greeting=Hi; roots=1');

    const step1 = await call(client, 'test_input_required_result_multi_round');
    expect(methods(step1)).toEqual({ step1: 'elicitation/create' });
    const step2 = await call(client, 'test_input_required_result_multi_round', {
      inputResponses: { step1: accept({ name: 'Cy' }) },
      requestState: step1.requestState,
    });
    expect(methods(step2)).toEqual({ step2: 'elicitation/create' });
    expect(step2.requestState).not.toBe(step1.requestState);
    const finished = await call(client, 'test_input_required_result_multi_round', {
      inputResponses: { step2: accept({ color: 'red' }) },
      requestState: step2.requestState,
    });
    expect(textOf(finished)).toBe("Cy's favourite colour is red.");
  });

  test('the prompt asks for a context, then answers a GetPromptResult', async () => {
    const client = modern;
    const get = (extra: Record<string, unknown> = {}) =>
      client.getPrompt(
        { name: 'test_input_required_result_prompt', ...extra },
        {
          allowInputRequired: true,
        },
      ) as Promise<Answer>;
    const first = await get();
    expect(methods(first)).toEqual({ user_context: 'elicitation/create' });
    const done = await get({ inputResponses: { user_context: accept({ context: 'tests' }) } });
    expect(done.messages?.[0]?.content.text).toBe('Use this context: tests');
  });

  test('streaming elicitation answers an InputRequiredResult, no request', async () => {
    const client = modern;
    const first = await call(client, 'test_streaming_elicitation');
    expect(methods(first)).toEqual({ answer: 'elicitation/create' });
  });

  test('asks only for declared capabilities; without sampling, -32021', async () => {
    const samplingOnly = await connect('modern', { sampling: {} });
    const first = await call(samplingOnly, 'test_input_required_result_capabilities');
    expect(methods(first)).toEqual({ capital_question: 'sampling/createMessage' });
    const done = await call(samplingOnly, 'test_input_required_result_capabilities', {
      inputResponses: { capital_question: sampled('Paris') },
    });
    expect(textOf(done)).toBe('Answered: capital_question');

    const none = await connect('modern', {});
    const refused = await failure(call(none, 'test_missing_capability'));
    expect(refused.code).toBe(-32021);
    expect(refused.data).toMatchObject({ requiredCapabilities: { sampling: {} } });
    const full = modern;
    const asked = await call(full, 'test_missing_capability');
    expect(methods(asked)).toEqual({ completion: 'sampling/createMessage' });
  });
});

/** The next `notifications/<kind>/list_changed` the client receives. */
function nextListChange(client: Client, kind: 'tools' | 'prompts'): Promise<void> {
  return new Promise((resolve) => {
    client.setNotificationHandler(`notifications/${kind}/list_changed`, () => resolve());
  });
}

describe('list changes (server-stateless): the trigger tools change a list and announce it', () => {
  test('2026-07-28: on a subscriptions/listen stream', async () => {
    const client = await connect('modern');
    const subscription = await client.listen({ toolsListChanged: true, promptsListChanged: true });
    const tools = nextListChange(client, 'tools');
    await call(client, 'test_trigger_tool_change');
    await tools;
    const listed = await client.listTools();
    expect(listed.tools.map((tool) => tool.name)).toContain('test_changed_tool');
    const prompts = nextListChange(client, 'prompts');
    await call(client, 'test_trigger_prompt_change');
    await prompts;
    await subscription.close();
  });

  test('2025-11-25: as notifications on the connection', async () => {
    const client = await connect('legacy');
    const prompts = nextListChange(client, 'prompts');
    await call(client, 'test_trigger_prompt_change');
    await prompts;
    const listed = await client.listPrompts();
    expect(listed.prompts.map((prompt) => prompt.name)).toContain('test_changed_prompt');
  });
});

describe('2025-11-25 (initialize): the same tools ask by server-to-client requests', () => {
  let legacy: Client;
  beforeAll(async () => {
    legacy = await connect('legacy');
  });

  test('negotiates 2025-11-25; elicitation and sampling are answered by the handlers', async () => {
    const client = legacy;
    expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    const elicited = await call(client, 'test_elicitation', { arguments: { message: 'Sure?' } });
    expect(textOf(elicited)).toBe(
      'action=accept, content={"response":"yes","name":"Ann","color":"teal","context":"for Sure?"}',
    );
    const sampledAnswer = await call(client, 'test_sampling', {
      arguments: { prompt: 'Capital?' },
    });
    expect(textOf(sampledAnswer)).toBe('LLM response: Paris');
  });

  test('multi-round fixtures complete in one call, their state verified in between', async () => {
    const client = legacy;
    const rounds = await call(client, 'test_input_required_result_multi_round');
    expect(textOf(rounds)).toBe("Ann's favourite colour is teal.");
    const many = await call(client, 'test_input_required_result_multiple_inputs');
    expect(textOf(many)).toBe('name=Ann; greeting=Paris; roots=1');
    const prompt = await client.getPrompt({ name: 'test_input_required_result_prompt' });
    expect(prompt.messages[0]?.content).toMatchObject({ type: 'text' });
  });
});
