/**
 * Each model API with its real AI SDK provider package (issue 17, item 6): OpenAI chat
 * completions, OpenAI Responses, Azure OpenAI (api-key), Anthropic messages, Gemini
 * generateContent, and the OpenAI-compatible API of Ollama and LM Studio, each against a scripted
 * stand-in of its wire format that answers with a tool call, then with a final text built from the
 * tool's result; non-streamed (`generateStr`) and streamed (`generateStream`, the API's own
 * server-sent events). The tool runs on a real OAuth-protected MCP server with the caller's own
 * token; each request carries its credential in exactly the API's header and nowhere else; canary
 * secrets reach no output and no error.
 */
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import type { AugmentedLlm } from '../../src/agent/llm.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { protectedWorld, SERVER } from '../frameworks/protected-server.js';
import { ANTHROPIC_MESSAGES } from './apis/anthropic-messages.js';
import { GEMINI } from './apis/gemini.js';
import { OPENAI_CHAT } from './apis/openai-chat.js';
import { OPENAI_RESPONSES } from './apis/openai-responses.js';
import {
  placesIn,
  type Recorded,
  type ScriptedApi,
  startScriptedApi,
  toolThenText,
  type WireFormat,
} from './apis/scripted.js';
import { settingsFrom } from './settings-from.js';

const CALLER = 'carol';
const FORMATS: readonly WireFormat[] = [OPENAI_CHAT, OPENAI_RESPONSES, ANTHROPIC_MESSAGES, GEMINI];

/** One API: the provider section that reaches it, where its requests go, its credential. */
interface Api {
  readonly api: string;
  readonly provider: string;
  readonly format: WireFormat;
  /** The provider section, given the stand-in's origin. */
  readonly section: (origin: string) => Record<string, unknown>;
  /** The provider's requests go to its real host: sent to the stand-in by its `fetch`. */
  readonly routed: boolean;
  /** The URL a request is meant for, given the stand-in's origin. */
  readonly intended: (origin: string, streamed: boolean) => string;
  /** The header the credential goes in, its value, and the secret. */
  readonly credential: readonly [header: string, value: string, secret: string];
  /** What else a first request must hold. */
  readonly alsoSent?: (request: Recorded) => void;
  /** The body fields {@link PARAMS} become in this API. */
  readonly params: Record<string, unknown>;
}

/** Per-call request parameters, as each API's fields in {@link Api.params}. */
const PARAMS = {
  maxTokens: 99,
  temperature: 0.25,
  stopSequences: ['END'],
  parallelToolCalls: false,
};

const APIS: readonly Api[] = [
  {
    api: 'OpenAI chat completions',
    provider: 'openai',
    format: OPENAI_CHAT,
    section: (origin) => ({
      api_key: 'sk-canary-openai',
      base_url: `${origin}/v1`,
      organization: 'org-finder',
      default_headers: { 'x-team': 'finders' },
      default_model: 'gpt-4o',
    }),
    routed: false,
    intended: (origin) => `${origin}/v1/chat/completions`,
    credential: ['authorization', 'Bearer sk-canary-openai', 'sk-canary-openai'],
    params: { max_tokens: 99, temperature: 0.25, stop: ['END'], parallel_tool_calls: false },
    alsoSent: (request) => {
      expect(request.headers['openai-organization']).toBe('org-finder');
      expect(request.headers['x-team']).toBe('finders');
      expect(request.body.model).toBe('gpt-4o');
      // Not a reasoning model: no reasoning effort, though the section has one (medium).
      expect(request.body).not.toHaveProperty('reasoning_effort');
    },
  },
  {
    api: 'OpenAI Responses (a reasoning model)',
    provider: 'openai',
    format: OPENAI_RESPONSES,
    section: () => ({
      api_key: 'sk-canary-responses',
      default_model: 'gpt-5-mini',
      reasoning_effort: 'low',
    }),
    routed: true,
    intended: () => 'https://api.openai.com/v1/responses',
    credential: ['authorization', 'Bearer sk-canary-responses', 'sk-canary-responses'],
    // A reasoning model takes no temperature, the Responses API no stop sequences.
    params: { max_output_tokens: 99, parallel_tool_calls: false },
    alsoSent: (request) => {
      expect(request.body.model).toBe('gpt-5-mini');
      expect(request.body.reasoning).toMatchObject({ effort: 'low' });
      // The exchange is not stored at OpenAI, as chat completions are not.
      expect(request.body.store).toBe(false);
    },
  },
  {
    api: 'Azure OpenAI (api-key)',
    provider: 'azure',
    format: OPENAI_CHAT,
    section: () => ({
      api_key: 'canary-azure',
      endpoint: 'https://contoso.openai.azure.com/',
      api_version: '2024-10-21',
      azure_deployment: 'finder-gpt4o',
    }),
    routed: true,
    intended: () =>
      'https://contoso.openai.azure.com/openai/deployments/finder-gpt4o/chat/completions?api-version=2024-10-21',
    credential: ['api-key', 'canary-azure', 'canary-azure'],
    params: { max_tokens: 99, temperature: 0.25, stop: ['END'], parallel_tool_calls: false },
    alsoSent: (request) => expect(request.authorization).toBeUndefined(),
  },
  {
    api: 'Anthropic messages',
    provider: 'anthropic',
    format: ANTHROPIC_MESSAGES,
    section: (origin) => ({
      api_key: 'canary-anthropic',
      base_url: origin,
      default_model: 'claude-sonnet-4-5',
    }),
    routed: false,
    intended: (origin) => `${origin}/v1/messages`,
    credential: ['x-api-key', 'canary-anthropic', 'canary-anthropic'],
    params: {
      max_tokens: 99,
      temperature: 0.25,
      stop_sequences: ['END'],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
    },
    alsoSent: (request) => {
      expect(request.body.model).toBe('claude-sonnet-4-5');
      expect(request.body.system).toEqual([{ type: 'text', text: 'You find things.' }]);
    },
  },
  {
    api: 'Gemini generateContent',
    provider: 'google',
    format: GEMINI,
    section: () => ({ api_key: 'canary-gemini', default_model: 'gemini-2.5-flash' }),
    routed: true,
    intended: (_origin, streamed) =>
      `https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:${
        streamed ? 'streamGenerateContent?alt=sse' : 'generateContent'
      }`,
    credential: ['x-goog-api-key', 'canary-gemini', 'canary-gemini'],
    params: {
      generationConfig: { maxOutputTokens: 99, temperature: 0.25, stopSequences: ['END'] },
    },
  },
  {
    api: "Ollama's OpenAI-compatible API",
    provider: 'ollama',
    format: OPENAI_CHAT,
    section: (origin) => ({
      base_url: `${origin}/v1/`,
      api_key: 'canary-ollama',
      default_model: 'llama3.2:3b',
    }),
    routed: false,
    intended: (origin) => `${origin}/v1/chat/completions`,
    credential: ['authorization', 'Bearer canary-ollama', 'canary-ollama'],
    // The OpenAI-compatible API has no parallel tool calls setting.
    params: { max_tokens: 99, temperature: 0.25, stop: ['END'] },
    alsoSent: (request) => expect(request.body.model).toBe('llama3.2:3b'),
  },
  {
    api: "LM Studio's OpenAI-compatible API",
    provider: 'lm_studio',
    format: OPENAI_CHAT,
    section: (origin) => ({
      base_url: `${origin}/v1`,
      api_key: 'canary-lm-studio',
      default_model: 'qwen2.5-7b-instruct',
    }),
    routed: false,
    intended: (origin) => `${origin}/v1/chat/completions`,
    credential: ['authorization', 'Bearer canary-lm-studio', 'canary-lm-studio'],
    params: { max_tokens: 99, temperature: 0.25, stop: ['END'] },
    alsoSent: (request) => expect(request.body.model).toBe('qwen2.5-7b-instruct'),
  },
];

const ROWS = APIS.flatMap((api) => [
  { ...api, mode: 'not streamed', streamed: false },
  { ...api, mode: 'streamed', streamed: true },
]);

const world = protectedWorld();
const standIns = new Map<WireFormat, ScriptedApi>();
let finder: Agent;

beforeAll(async () => {
  for (const format of FORMATS) {
    const standIn = await startScriptedApi(format);
    standIns.set(format, standIn);
    world().closing(() => standIn.close());
  }
  // The agent acts for its caller: the MCP server sees the caller's own token.
  world().user = CALLER;
  finder = new Agent(
    { name: 'finder', instruction: 'You find things.', serverNames: [SERVER] },
    { auth: world().auth, user: CALLER },
  );
});

/** What the AI SDK, its providers or ours wrote to the console during a test. */
const logged: string[] = [];
beforeEach(() => {
  logged.length = 0;
  for (const level of ['debug', 'info', 'log', 'warn', 'error'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((arg) => inspect(arg, { depth: 8 })).join(' '));
    });
  }
  for (const standIn of standIns.values()) {
    standIn.received.length = 0;
    standIn.script = () => ({ text: 'nothing scripted' });
  }
});
afterEach(() => {
  vi.restoreAllMocks();
  expect(logged.join('\n')).not.toMatch(/canary/i);
});
afterAll(() => {
  world().user = 'alice';
});

function standInOf(row: Api): ScriptedApi {
  const standIn = standIns.get(row.format);
  if (!standIn) throw new Error(`no stand-in for ${row.api}`);
  return standIn;
}

async function attach(row: Api, standIn: ScriptedApi): Promise<AugmentedLlm> {
  const settings = settingsSchema.parse({ [row.provider]: row.section(standIn.url) });
  return finder.attachLlm(row.provider, {
    settings,
    ...(row.routed ? { fetch: standIn.fetch } : {}),
  });
}

/** The answer to `prompt`, in the deltas it came in (one, when not streamed). */
async function ask(
  llm: AugmentedLlm,
  prompt: string,
  streamed: boolean,
  model?: string,
): Promise<string[]> {
  if (!streamed) return [await llm.generateStr(prompt, { model })];
  const deltas: string[] = [];
  for await (const delta of llm.generateStream(prompt, { model })) deltas.push(delta);
  return deltas;
}

describe('each API, with its real AI SDK provider, a tool call then the answer', () => {
  test.each(ROWS)('$api, $mode', async (row) => {
    const standIn = standInOf(row);
    const llm = await attach(row, standIn);
    standIn.script = toolThenText(
      row.format,
      'served_whoami',
      {},
      (result) => `You are ${JSON.parse(result).subject}.`,
    );

    const deltas = await ask(llm, 'Who am I?', row.streamed);

    expect(deltas.join('')).toBe(`You are ${CALLER}.`);
    if (row.streamed) expect(deltas.length).toBeGreaterThan(1);
    expect(standIn.received).toHaveLength(2);
    const [header, value, secret] = row.credential;
    for (const request of standIn.received) {
      expect(request.method).toBe('POST');
      expect(request.intended).toBe(row.intended(standIn.url, row.streamed));
      expect(row.format.streamed(request)).toBe(row.streamed);
      expect(request.headers[header]).toBe(value);
      expect(placesIn(request, secret)).toEqual([`header:${header}`]);
    }
    const [first, second] = standIn.received as [Recorded, Recorded];
    expect(first.raw).toContain('served_whoami');
    row.alsoSent?.(first);
    const { results, last } = row.format.toolResults(second.body);
    expect(last).toBe(true);
    expect(JSON.parse(results[0] ?? '{}')).toMatchObject({ subject: CALLER });
    expect(llm.history.map((message) => message.role)).toEqual([
      'user',
      'assistant',
      'tool',
      'assistant',
    ]);
    const seen = `${deltas.join('')} ${JSON.stringify(llm.history)} ${JSON.stringify(world().requests)}`;
    expect(seen).not.toMatch(/canary/i);
  });
});

describe('a model id the API rejects: its error text reaches the caller, without a secret', () => {
  test.each(ROWS)('$api, $mode', async (row) => {
    const standIn = standInOf(row);
    const llm = await attach(row, standIn);
    standIn.script = () => ({ status: 404, error: 'The model `no-such-model` does not exist.' });

    const failure = await ask(llm, 'Hi.', row.streamed, 'no-such-model').then(
      () => undefined,
      (error: unknown) => error as Error,
    );

    expect(failure?.message).toContain('The model `no-such-model` does not exist.');
    expect(`${failure?.message} ${inspect(failure, { depth: 8 })}`).not.toMatch(/canary/i);
    expect(standIn.received).toHaveLength(1);
    expect(llm.history).toEqual([]);
  });
});

describe("openai's reasoning settings: mcp-agent's reasoning models (o1, o3, o4, gpt-5…)", () => {
  test.each([
    {
      name: "a reasoning model on OpenAI's API: the Responses API, reasoning_effort (default medium)",
      openai: { default_model: 'gpt-5' },
      format: OPENAI_RESPONSES,
      intended: 'https://api.openai.com/v1/responses',
      sent: { model: 'gpt-5', reasoning: { effort: 'medium' }, parallel_tool_calls: false },
    },
    {
      name: 'a reasoning model at another base_url (a gateway): chat completions with reasoning_effort',
      openai: { default_model: 'o3-mini', reasoning_effort: 'high', base_url: 'STAND_IN/v1' },
      format: OPENAI_CHAT,
      intended: 'STAND_IN/v1/chat/completions',
      sent: { model: 'o3-mini', reasoning_effort: 'high', parallel_tool_calls: false },
    },
    {
      name: "another model on OpenAI's API: chat completions, no reasoning effort (as mcp-agent)",
      openai: { default_model: 'gpt-4.1', reasoning_effort: 'high' },
      format: OPENAI_CHAT,
      intended: 'https://api.openai.com/v1/chat/completions',
      sent: { model: 'gpt-4.1', parallel_tool_calls: false },
      absent: 'reasoning_effort',
    },
  ])('$name', async ({ openai, format, intended, sent, absent }) => {
    const standIn = standIns.get(format) as ScriptedApi;
    const section = JSON.parse(JSON.stringify(openai).replaceAll('STAND_IN', standIn.url));
    const settings = settingsSchema.parse({ openai: { ...section, api_key: 'sk-canary-r' } });
    const llm = await finder.attachLlm('openai', { settings, fetch: standIn.fetch });
    standIn.script = () => ({ text: 'Reasoned.' });
    // A call's own provider options (parallelToolCalls) merge with the section's reasoning effort.
    expect(await llm.generateStr('Think.', { parallelToolCalls: false })).toBe('Reasoned.');
    const [request] = standIn.received as [Recorded];
    expect(request.intended).toBe(intended.replace('STAND_IN', standIn.url));
    expect(request.body).toMatchObject(sent);
    if (absent) expect(request.body).not.toHaveProperty(absent);
  });

  test("OPENAI_REASONING_EFFORT and OPENAI_DEFAULT_MODEL (mcp-agent's aliases) fill the section", async () => {
    const settings = settingsFrom(
      { 'mcp_agent.config.yaml': 'name: finder\n' },
      {
        OPENAI_API_KEY: 'sk-canary-env',
        OPENAI_DEFAULT_MODEL: 'o4-mini',
        OPENAI_REASONING_EFFORT: 'high',
      },
    );
    const standIn = standIns.get(OPENAI_RESPONSES) as ScriptedApi;
    const llm = await finder.attachLlm('openai', { settings, fetch: standIn.fetch });
    standIn.script = () => ({ text: 'Reasoned.' });
    expect(await llm.generateStr('Think.')).toBe('Reasoned.');
    const [request] = standIn.received as [Recorded];
    expect(request.intended).toBe('https://api.openai.com/v1/responses');
    expect(request.body).toMatchObject({ model: 'o4-mini', reasoning: { effort: 'high' } });
  });
});

describe('per-call request parameters reach each API in its own fields', () => {
  test.each(APIS)('$api', async (row) => {
    const standIn = standInOf(row);
    const llm = await attach(row, standIn);
    standIn.script = () => ({ text: 'ok' });
    expect(await llm.generateStr('Hi.', { ...PARAMS, useHistory: false })).toBe('ok');
    expect(standIn.received[0]?.body).toMatchObject(row.params);
  });
});
