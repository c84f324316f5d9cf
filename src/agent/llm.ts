/**
 * The model an {@link Agent} attaches (mcp-agent's `AugmentedLLM`): `generate`, `generateStr` and
 * `generateStructured`, built on the Vercel AI SDK's `generateText` and its tool loop (`tools`
 * from the agent's MCP tools, `stopWhen: stepCountIs(maxIterations)`, `Output.object` for
 * structured answers), with the conversation kept across calls.
 *
 * @module
 */
import type { CallToolResult } from '@modelcontextprotocol/client';
import {
  type FlexibleSchema,
  type GenerateTextResult,
  generateText,
  type JSONSchema7,
  jsonSchema,
  type LanguageModel,
  type ModelMessage,
  Output,
  type OutputInterface,
  type StopCondition,
  stepCountIs,
  streamText,
  type Tool,
  tool,
} from 'ai';
import type { Settings } from '../config/schema/settings.js';
import { isMcpAgentError, McpAgentError } from '../errors.js';
import { scrub } from '../servers/credentials.js';
import type { AgentTool } from './agent.js';

/** What `attachLlm` accepts besides the provider. */
export interface LlmOptions {
  /** The model id; default the provider section's `default_model` (see `modelFor`). */
  readonly model?: string | undefined;
  /** The settings whose provider section makes the model; default the agent's `auth.settings`. */
  readonly settings?: Settings | undefined;
  /** The `fetch` the provider sends its requests with. Default the global `fetch`. */
  readonly fetch?: typeof fetch | undefined;
  /**
   * Told of each tool call as it starts, before the tool runs (to announce it, or report
   * progress); the call waits for it.
   */
  readonly onToolCall?: ((tool: AgentTool, args: Record<string, unknown>) => unknown) | undefined;
}

/** Per-call request parameters (mcp-agent's `RequestParams`). */
export interface RequestParams {
  /** Another model id of the same provider, for this call. */
  readonly model?: string | undefined;
  /** The most tokens the model may answer with (the AI SDK's `maxOutputTokens`). */
  readonly maxTokens?: number | undefined;
  readonly temperature?: number | undefined;
  /** The most model calls (steps) of one request; default {@link DEFAULT_MAX_ITERATIONS}. */
  readonly maxIterations?: number | undefined;
  readonly stopSequences?: string[] | undefined;
  /**
   * Whether the model may call several tools at once: OpenAI's and Azure's `parallel_tool_calls`,
   * Anthropic's `disable_parallel_tool_use` (inverted); the other providers have no such setting.
   * Default the provider's own (allowed).
   */
  readonly parallelToolCalls?: boolean | undefined;
  /**
   * The most characters of a tool's result the model is sent; a longer one is cut, with a note
   * saying so. Default {@link DEFAULT_MAX_TOOL_RESULT_CHARS}.
   */
  readonly maxToolResultChars?: number | undefined;
  /** Send the conversation so far, and keep this exchange in it. Default `true`. */
  readonly useHistory?: boolean | undefined;
  /** Stops the request (the model call and a running tool call). */
  readonly signal?: AbortSignal | undefined;
}

/** The model calls of one request when `maxIterations` is not given (mcp-agent's default). */
export const DEFAULT_MAX_ITERATIONS = 10;

/** The characters of a tool's result the model is sent when `maxToolResultChars` is not given. */
export const DEFAULT_MAX_TOOL_RESULT_CHARS = 100_000;

/** What {@link AugmentedLlm} is made of (by `Agent.attachLlm`). */
export interface AugmentedLlmParts {
  readonly provider: string;
  readonly model: LanguageModel;
  /** The model `id` of the same provider, for a call's `model`. */
  readonly modelFor: (id: string) => Promise<LanguageModel>;
  readonly instruction: string | undefined;
  readonly tools: () => Promise<readonly AgentTool[]>;
  /**
   * The secrets of the configured server `server` (its env and header values, its key or
   * token), scrubbed from its tools' results before the model reads them. Default none.
   */
  readonly secretsOf?: ((server: string) => readonly string[]) | undefined;
}

type ContentPart = CallToolResult['content'][number];

/** A part of a tool's result as text: a text's own; a note for an image, audio or resource. */
function partText(part: ContentPart): string {
  switch (part.type) {
    case 'text':
      return part.text;
    case 'image':
    case 'audio':
      return `[${part.type} omitted: ${part.mimeType}]`;
    case 'resource_link':
      return `[resource link: ${part.uri}]`;
    case 'resource':
      return 'text' in part.resource && typeof part.resource.text === 'string'
        ? `[resource ${part.resource.uri}]\n${part.resource.text}`
        : `[resource omitted: ${part.resource.uri}]`;
    default:
      return '[content omitted]';
  }
}

/**
 * An MCP tool result as the model reads it: its text (a note for each image, audio or binary
 * resource), with `secrets` scrubbed, an error when `isError` (MCP tools/call), cut to `limit`
 * characters with a note saying so.
 */
function modelOutputOf(result: CallToolResult, limit: number, secrets: readonly string[]) {
  const whole = scrub(result.content.map(partText).join('\n'), secrets);
  const value =
    whole.length > limit
      ? `${whole.slice(0, limit)}\n[truncated: the tool's result has ${whole.length} characters, the first ${limit} are shown]`
      : whole;
  return result.isError ? { type: 'error-text' as const, value } : { type: 'text' as const, value };
}

/** What a tool's `execute` learns of its request (the AI SDK's per-tool `toolsContext`). */
type ToolCallContext = {
  /** Aborted by `fatal`: stops the request's other tool calls. */
  readonly stop: AbortSignal;
  /** Stops the request with an error of ours. */
  readonly fatal: (error: unknown) => void;
};

/** The AI SDK tools of an agent: MCP tools that learn their request's {@link ToolCallContext}. */
type AgentToolSet = Record<string, Tool<Record<string, unknown>, CallToolResult, ToolCallContext>>;

/**
 * The AI SDK tools of the agent's MCP tools, the same for every request while the tools are (each
 * request gives its own {@link ToolCallContext}). An error of ours (a login needed, a refused
 * token) is `fatal`: it stops the request and reaches the caller; any other error of a call goes
 * back to the model as the AI SDK's tool error, and an `isError` result as an error text.
 */
function toolSetOf(
  tools: readonly AgentTool[],
  limit: number,
  secretsOf: (server: string) => readonly string[],
): AgentToolSet {
  return Object.fromEntries(
    tools.map((agentTool) => [
      agentTool.name,
      tool<Record<string, unknown>, CallToolResult, ToolCallContext>({
        description: agentTool.tool.description ?? '',
        inputSchema: jsonSchema<Record<string, unknown>>(
          agentTool.tool.inputSchema as unknown as JSONSchema7,
        ),
        execute: async (input, { abortSignal, context }) => {
          const signal = abortSignal ? AbortSignal.any([abortSignal, context.stop]) : context.stop;
          // A request stopped (or left by its reader) calls no tool.
          signal.throwIfAborted();
          try {
            return await agentTool.call(input, signal);
          } catch (error) {
            if (isMcpAgentError(error)) context.fatal(error);
            throw error;
          }
        },
        toModelOutput: ({ output }) => modelOutputOf(output, limit, secretsOf(agentTool.server)),
      }),
    ]),
  );
}

/** Whether `a` and `b` hold the same tools (the same objects, in the same order). */
function sameTools(a: readonly AgentTool[], b: readonly AgentTool[]): boolean {
  return a.length === b.length && a.every((each, index) => each === b[index]);
}

type Result = GenerateTextResult<AgentToolSet, Record<string, unknown>, OutputInterface>;

/** One request, as {@link AugmentedLlm} prepares it for the AI SDK. */
interface Call {
  readonly options: {
    model: LanguageModel;
    instructions?: string;
    messages: ModelMessage[];
    tools: AgentToolSet;
    toolsContext: Record<string, ToolCallContext>;
    stopWhen: StopCondition<AgentToolSet>[];
    abortSignal?: AbortSignal;
    maxOutputTokens?: number;
    temperature?: number;
    stopSequences?: string[];
    providerOptions?: ReturnType<typeof parallelToolCallsOptions>;
  };
  readonly asked: ModelMessage;
  readonly useHistory: boolean;
  readonly maxIterations: number;
  /** The error of ours that stopped the request, if one did. */
  fatal(): unknown;
}

/** A language model with an agent's instruction and tools, and a conversation (see the module). */
export class AugmentedLlm {
  /** The provider section the model comes from. */
  readonly provider: string;
  readonly #parts: AugmentedLlmParts;
  readonly #history: ModelMessage[] = [];
  /** The AI SDK tools last built, and of what: kept while the agent offers the same tools. */
  #toolSet: { tools: readonly AgentTool[]; limit: number; set: AgentToolSet } | undefined;

  constructor(parts: AugmentedLlmParts) {
    this.provider = parts.provider;
    this.#parts = parts;
  }

  /** The conversation so far: each prompt and what the model and the tools answered. */
  get history(): readonly ModelMessage[] {
    return this.#history;
  }

  /** Answer `prompt`, calling tools as the model asks; returns this exchange's new messages. */
  async generate(prompt: string, params: RequestParams = {}): Promise<ModelMessage[]> {
    return (await this.#run(prompt, params)).responseMessages;
  }

  /** Answer `prompt`, calling tools as the model asks; returns the final text. */
  async generateStr(prompt: string, params: RequestParams = {}): Promise<string> {
    return (await this.#run(prompt, params)).text;
  }

  /**
   * Answer `prompt` with an object matching `schema` (a zod schema, or the AI SDK's `jsonSchema`),
   * through the AI SDK's structured output (`Output.object`); tools may be called first.
   */
  async generateStructured<T>(
    prompt: string,
    schema: FlexibleSchema<T>,
    params: RequestParams = {},
  ): Promise<T> {
    return (await this.#run(prompt, params, Output.object({ schema }))).output as T;
  }

  /**
   * Answer `prompt` as {@link AugmentedLlm.generateStr} does, yielding the text as the model
   * streams it (the AI SDK's `streamText`); the conversation is kept once the answer is complete.
   * The errors of `generateStr` are thrown by the iteration, after the text streamed so far.
   */
  async *generateStream(prompt: string, params: RequestParams = {}): AsyncGenerator<string, void> {
    // Aborted when the reader leaves early (a `break`): the request stops, no tool call follows.
    const left = new AbortController();
    const signal = params.signal ? AbortSignal.any([params.signal, left.signal]) : left.signal;
    const call = await this.#prepare(prompt, { ...params, signal });
    // The error is thrown below, from its stream part: not logged by the AI SDK's default `onError`.
    const result = streamText({ ...call.options, onError: () => {} });
    let complete = false;
    try {
      for await (const part of result.stream) {
        if (part.type === 'text-delta') yield part.text;
        else if (part.type === 'error') throw part.error;
      }
      complete = true;
      this.#finish(call, await result.finishReason, await result.responseMessages);
    } catch (error) {
      throw call.fatal() ?? error;
    } finally {
      if (!complete) left.abort(new Error('The reader of the stream left before its end.'));
    }
  }

  async #run(prompt: string, params: RequestParams, output?: OutputInterface): Promise<Result> {
    const call = await this.#prepare(prompt, params);
    let result: Result;
    try {
      result = await generateText({ ...call.options, ...(output ? { output } : {}) });
    } catch (error) {
      throw call.fatal() ?? error;
    }
    this.#finish(call, result.finishReason, result.responseMessages);
    return result;
  }

  /** The options of one request, and how to tell an error of ours that stopped it. */
  async #prepare(prompt: string, params: RequestParams): Promise<Call> {
    const asked: ModelMessage = { role: 'user', content: prompt };
    const useHistory = params.useHistory ?? true;
    const stop = new AbortController();
    let fatal: unknown;
    const limit = params.maxToolResultChars ?? DEFAULT_MAX_TOOL_RESULT_CHARS;
    const tools = this.#toolSetOf(await this.#parts.tools(), limit);
    // Our own stop reaches the tool calls only (through their context), not the model's requests:
    // after an error of ours, the tool calls running are aborted and no model call follows.
    const context: ToolCallContext = {
      stop: stop.signal,
      fatal: (error) => {
        fatal ??= error;
        stop.abort(error);
      },
    };
    const maxIterations = params.maxIterations ?? DEFAULT_MAX_ITERATIONS;
    const options = {
      model: params.model ? await this.#parts.modelFor(params.model) : this.#parts.model,
      ...(this.#parts.instruction ? { instructions: this.#parts.instruction } : {}),
      messages: [...(useHistory ? this.#history : []), asked],
      tools,
      toolsContext: Object.fromEntries(Object.keys(tools).map((name) => [name, context])),
      stopWhen: [stepCountIs(maxIterations), () => fatal !== undefined],
      ...(params.signal ? { abortSignal: params.signal } : {}),
      ...callSettings(params),
    };
    return { options, asked, useHistory, maxIterations, fatal: () => fatal };
  }

  /** The AI SDK tools of `tools`: those of the last request while the tools are the same. */
  #toolSetOf(tools: readonly AgentTool[], limit: number): AgentToolSet {
    const kept = this.#toolSet;
    if (kept && kept.limit === limit && sameTools(kept.tools, tools)) return kept.set;
    const set = toolSetOf(tools, limit, this.#parts.secretsOf ?? (() => []));
    this.#toolSet = { tools, limit, set };
    return set;
  }

  /** Throw what stopped the request, else keep the exchange in the conversation. */
  #finish(call: Call, finishReason: string, messages: readonly ModelMessage[]): void {
    const fatal = call.fatal();
    if (fatal) throw fatal;
    if (finishReason === 'tool-calls') throw this.#tooManyIterations(call.maxIterations);
    if (call.useHistory) this.#history.push(call.asked, ...messages);
  }

  #tooManyIterations(maxIterations: number): McpAgentError {
    return new McpAgentError(
      'AGENT_MAX_ITERATIONS',
      `The ${this.provider} model was still calling tools after ${maxIterations} model calls (maxIterations), so there is no answer; raise maxIterations or ask for less. The conversation was left as it was before this request.`,
    );
  }
}

/** The AI SDK's call settings of `params` (only those given). */
function callSettings(params: RequestParams) {
  return {
    ...(params.maxTokens !== undefined ? { maxOutputTokens: params.maxTokens } : {}),
    ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
    ...(params.stopSequences !== undefined ? { stopSequences: params.stopSequences } : {}),
    ...(params.parallelToolCalls !== undefined
      ? { providerOptions: parallelToolCallsOptions(params.parallelToolCalls) }
      : {}),
  };
}

/** `parallelToolCalls` in the options of the providers that have it (each reads its own). */
function parallelToolCallsOptions(parallel: boolean) {
  return {
    openai: { parallelToolCalls: parallel },
    anthropic: { disableParallelToolUse: !parallel },
  };
}
