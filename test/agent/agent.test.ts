/**
 * `Agent` (issue 17, item 2): the real `@ai-sdk/openai` provider against a scripted stand-in of
 * OpenAI's chat completions, and the agent's tools on a real MCP server behind the development
 * authorization server (`protectedWorld`), signed in as alice. The AI SDK runs the tool loop; the
 * stand-in answers with the tool calls a test scripts, then with a final text.
 */
import { beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { Agent } from '../../src/agent/agent.js';
import { authorizationRequiredIn } from '../../src/client/hand-over.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { McpAgentError } from '../../src/errors.js';
import { protectedWorld, SERVER, signInHandedOver } from '../frameworks/protected-server.js';
import {
  type ScriptedChat,
  startScriptedChat,
  toolResultsIn,
  toolThenText,
} from './scripted-chat.js';

const world = protectedWorld();
let chat: ScriptedChat;
let finder: Agent;
const llmSettings = () =>
  settingsSchema.parse({
    openai: { api_key: 'sk-canary-agent', base_url: `${chat.url}/v1`, default_model: 'gpt-4o' },
  });

beforeAll(async () => {
  chat = await startScriptedChat();
  world().closing(() => chat.close());
  finder = new Agent(
    { name: 'finder', instruction: 'You find things.', serverNames: [SERVER] },
    { auth: world().auth },
  );
});
beforeEach(() => {
  chat.received.length = 0;
  chat.script = () => ({ text: 'nothing scripted' });
});

describe('Agent over an OAuth-protected MCP server, with the OpenAI provider', () => {
  test('listTools: the union of its servers tools, under LLM-safe {server}_{tool} names', async () => {
    const tools = await finder.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      'served_add',
      'served_admin_report',
      'served_whoami',
    ]);
    expect(tools.every((tool) => tool.server === SERVER)).toBe(true);
  });

  test("generateStr: the model's tool call runs with the user's token, then the final text", async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = toolThenText(
      'served_whoami',
      {},
      (result) => `You are ${JSON.parse(result).subject}.`,
    );
    expect(await llm.generateStr('Who am I?')).toBe('You are alice.');
    expect(chat.received).toHaveLength(2);
    const [first, second] = chat.received;
    expect(first?.authorization).toBe('Bearer sk-canary-agent');
    expect(first?.body.model).toBe('gpt-4o');
    expect(first?.body.messages[0]).toEqual({ role: 'system', content: 'You find things.' });
    const offered = ((first?.body.tools ?? []) as { function: { name: string } }[]).map(
      (tool) => tool.function.name,
    );
    expect(offered.sort()).toEqual(['served_add', 'served_admin_report', 'served_whoami']);
    expect(JSON.parse(toolResultsIn(second)[0] ?? '{}')).toMatchObject({ subject: 'alice' });
  });

  test('history: a second call sends the first exchange (prompt, tool call, result, answer)', async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = toolThenText('served_add', { a: 2, b: 3 }, (result) => `The sum is ${result}.`);
    expect(await llm.generateStr('Add 2 and 3.')).toBe('The sum is 5.');
    chat.script = () => ({ text: 'You asked me to add 2 and 3.' });
    expect(await llm.generateStr('What did I ask?')).toBe('You asked me to add 2 and 3.');
    const roles = chat.received.at(-1)?.body.messages.map((message) => message.role);
    expect(roles).toEqual(['system', 'user', 'assistant', 'tool', 'assistant', 'user']);
    expect(llm.history.map((message) => message.role)).toEqual([
      'user',
      'assistant',
      'tool',
      'assistant',
      'user',
      'assistant',
    ]);
  });

  test('per-call params reach the model: model, maxTokens, temperature, stop sequences, parallel tool calls', async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = () => ({ text: 'ok' });
    await llm.generateStr('Hi.', {
      model: 'gpt-4o-mini',
      maxTokens: 99,
      temperature: 0.25,
      stopSequences: ['END'],
      parallelToolCalls: false,
      useHistory: false,
    });
    expect(chat.received[0]?.body).toMatchObject({
      model: 'gpt-4o-mini',
      max_tokens: 99,
      temperature: 0.25,
      stop: ['END'],
      parallel_tool_calls: false,
    });
    expect(llm.history).toEqual([]);
  });

  test('maxIterations ends a model that never stops calling tools, with a clear error', async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = () => ({ tool: 'served_add', args: { a: 1, b: 1 } });
    const failure = await llm.generateStr('Loop.', { maxIterations: 3 }).catch((error) => error);
    expect(failure).toBeInstanceOf(McpAgentError);
    expect(failure).toMatchObject({ code: 'AGENT_MAX_ITERATIONS' });
    expect(failure.message).toMatch(/after 3 model calls \(maxIterations\)/);
    expect(chat.received).toHaveLength(3);
    expect(llm.history).toEqual([]);
  });

  test("a tool's error goes back to the model as a tool result, and the model answers", async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = toolThenText('served_add', { a: 'two', b: 3 }, () => 'I could not add those.');
    expect(await llm.generateStr('Add two and 3.')).toBe('I could not add those.');
    const [result] = toolResultsIn(chat.received[1]);
    expect(result).toMatch(/validation|invalid|expected number/i);
  });

  test("valid JSON arguments the tool's schema refuses: an error result naming the argument, the loop goes on", async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = toolThenText('served_add', { a: 'one' }, () => 'Those were not numbers.');
    expect(await llm.generateStr('Add one.')).toBe('Those were not numbers.');
    expect(chat.received).toHaveLength(2);
    const [result] = toolResultsIn(chat.received[1]);
    expect(result).toMatch(/\ba\b/);
    expect(result).toMatch(/validation|invalid|expected number/i);
    const toolMessage = llm.history.find((message) => message.role === 'tool');
    expect(JSON.stringify(toolMessage)).toMatch(/"type":"error-(text|json)"/);
  });

  test('a tool result longer than maxToolResultChars reaches the model cut, with a note', async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = toolThenText('served_whoami', {}, () => 'cut');
    expect(await llm.generateStr('Who am I?', { maxToolResultChars: 13 })).toBe('cut');
    const [result] = toolResultsIn(chat.received[1]);
    expect(result).toMatch(
      /^\{"subject":"a\n\[truncated: the tool's result has \d+ characters, the first 13 are shown\]$/,
    );
  });

  test("a model id the API rejects: the provider's error text reaches the caller, without the key", async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = () => ({ status: 404, error: 'The model `gpt-nope` does not exist.' });
    const failure = await llm.generateStr('Hi.', { model: 'gpt-nope' }).catch((error) => error);
    expect(String(failure?.message)).toMatch(/The model `gpt-nope` does not exist\./);
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toMatch(/canary/);
    expect(llm.history).toEqual([]);
  });

  test("a tool that does not exist: the AI SDK's own handling tells the model", async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = toolThenText('served_nope', {}, () => 'That tool does not exist.');
    expect(await llm.generateStr('Use nope.')).toBe('That tool does not exist.');
    const [result] = toolResultsIn(chat.received[1]);
    expect(result).toMatch(/served_nope/);
    expect(result).toMatch(/unavailable tool|no such tool|not found/i);
  });

  test("arguments that are not JSON: the AI SDK's own handling tells the model", async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    let calls = 0;
    chat.script = (request) =>
      request.body.messages.at(-1)?.role === 'tool'
        ? { text: 'Sorry, my arguments were broken.' }
        : { tool: 'served_add', args: {}, raw: `{"a": 1, "b": ${++calls}` };
    expect(await llm.generateStr('Add 1 and 1.')).toBe('Sorry, my arguments were broken.');
    const [result] = toolResultsIn(chat.received[1]);
    expect(result).toMatch(/served_add/);
    expect(result).toMatch(/invalid|JSON/i);
  });

  test("with user, the agent's tools run with that end user's own token", async () => {
    const forBob = new Agent(
      { name: 'finder', serverNames: [SERVER] },
      { auth: world().auth, user: 'bob' },
    );
    world().user = 'bob';
    try {
      const llm = await forBob.attachLlm('openai', { settings: llmSettings() });
      chat.script = toolThenText('served_whoami', {}, (result) => JSON.parse(result).subject);
      expect(await llm.generateStr('Who am I?')).toBe('bob');
    } finally {
      world().user = 'alice';
    }
  });

  test('generateStructured: an object matching the zod schema, after a tool call', async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = toolThenText('served_add', { a: 20, b: 22 }, (result) =>
      JSON.stringify({ sum: Number(result), explanation: 'added' }),
    );
    const answer = await llm.generateStructured(
      'Add 20 and 22.',
      z.object({ sum: z.number(), explanation: z.string() }),
    );
    expect(answer).toEqual({ sum: 42, explanation: 'added' });
    expect(chat.received[0]?.body.response_format).toMatchObject({ type: 'json_schema' });
  });

  test('an unknown server is a SERVER_UNKNOWN error when the agent is made', () => {
    expect(
      () => new Agent({ name: 'x', serverNames: ['nope'] }, { auth: world().auth }),
    ).toThrowError(expect.objectContaining({ code: 'SERVER_UNKNOWN' }));
  });
});

describe('a login a tool call needs, with handOverConsent', () => {
  const current = protectedWorld({ handOver: true });

  test('stops the request and reaches the caller with its URL, not the model', async () => {
    const { auth } = current();
    const login = authorizationRequiredIn(await auth.login(SERVER).catch((error) => error));
    if (!login) throw new Error('the first login was not handed over');
    await auth.completeLogin(SERVER, await signInHandedOver(login.authorizationUrl));
    const admin = new Agent({ name: 'admin', serverNames: [SERVER] }, { auth });
    const llm = await admin.attachLlm('openai', { settings: llmSettings() });
    chat.script = toolThenText('served_admin_report', {}, () => 'the model saw the login');
    const failure = await llm.generateStr('Report.').catch((error) => error);
    const stepUp = authorizationRequiredIn(failure);
    expect(stepUp?.code).toBe('OAUTH_LOGIN_REQUIRED');
    expect(new URL(stepUp?.authorizationUrl ?? '').searchParams.get('scope')).toMatch(/mcp:admin/);
    expect(chat.received).toHaveLength(1);
    expect(llm.history).toEqual([]);
  });
});

describe('generateStream, against the stand-in streaming (server-sent events)', () => {
  test('maxIterations ends the stream with the same clear error', async () => {
    const llm = await finder.attachLlm('openai', { settings: llmSettings() });
    chat.script = () => ({ tool: 'served_add', args: { a: 1, b: 1 } });
    const consume = async () => {
      for await (const _ of llm.generateStream('Loop.', { maxIterations: 2 })) {
        // nothing streams: every answer is a tool call
      }
    };
    await expect(consume()).rejects.toMatchObject({ code: 'AGENT_MAX_ITERATIONS' });
    expect(chat.received).toHaveLength(2);
    expect(llm.history).toEqual([]);
  });
});
