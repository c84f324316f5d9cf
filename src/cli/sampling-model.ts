/**
 * The model that answers a downstream server's `sampling/createMessage`: a provider section of
 * the configuration (chosen as `chat` chooses it), called through the AI SDK. The request's
 * `systemPrompt`, `messages` (text, images, audio), `maxTokens` (at most {@link MAX_TOKENS}),
 * `temperature` and `stopSequences` become the model call's; model preferences and
 * `includeContext` are not followed. A provider's error goes back as an error scrubbed of the
 * settings' secrets. Who approves the request is `./sampling.ts`'s concern.
 *
 * @module
 */
import type {
  CreateMessageRequest,
  CreateMessageResult,
  SamplingMessage,
} from '@modelcontextprotocol/client';
import type { LanguageModel, ModelMessage } from 'ai';
import { type ModelOptions, modelFor } from '../agent/models.js';
import { modelError } from '../agent/provider-error.js';
import type { Settings } from '../config/schema/settings.js';
import { isMcpAgentError } from '../errors.js';

/** The model that answers: a provider section (and model id) of the settings. */
export interface SamplingModel {
  readonly settings: Settings;
  /** The provider section (`openai`, …). */
  readonly provider: string;
  /** The model id; default the section's. */
  readonly model?: string | undefined;
  /** What the model is made with (its `fetch`, credentials), read when it is first made. */
  readonly options: () => ModelOptions;
}

/** The most tokens a server's request may have the model write; a larger `maxTokens` is cut. */
export const MAX_TOKENS = 4096;

/** A request's parameters. */
export type SamplingParams = CreateMessageRequest['params'];

/** What answers sampling requests: a model, named for people. */
export interface Sampler {
  /** The model's name for people (provider and model id). */
  readonly name: string;
  /** Request `params` sent to the model; its answer as MCP's result. */
  sample(params: SamplingParams, signal: AbortSignal): Promise<CreateMessageResult>;
}

/** One content block of a sampling message. */
export type Block = Exclude<SamplingMessage['content'], readonly unknown[]>;

/** The content blocks of `message`. */
export const blocksOf = (message: SamplingMessage): Block[] =>
  Array.isArray(message.content) ? message.content : [message.content as Block];

/** An error the server gets: `message`, with JSON-RPC `code` (default internal error). */
export function requestError(message: string, code?: number): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

/** The model's name for people: provider and model id (or its default). */
function modelName(model: SamplingModel): string {
  const section = (model.settings as unknown as Record<string, { default_model?: unknown }>)[
    model.provider
  ];
  const id = model.model ?? section?.default_model;
  return typeof id === 'string' ? `${model.provider} ${id}` : model.provider;
}

/** One MCP message as the AI SDK's. */
function modelMessage(message: SamplingMessage): ModelMessage {
  const parts = blocksOf(message).map((block) => {
    if (block.type === 'text') return { type: 'text' as const, text: block.text };
    if (block.type === 'image' || block.type === 'audio') {
      return { type: 'file' as const, data: block.data, mediaType: block.mimeType };
    }
    throw requestError(
      `Sampling content of type "${block.type}" is not supported by this client.`,
      -32602,
    );
  });
  return message.role === 'user'
    ? { role: 'user', content: parts }
    : { role: 'assistant', content: parts };
}

/**
 * Why the model stopped, in MCP's words: `stop` is `endTurn`, or `stopSequence` when the
 * provider's own reason (`raw`) says a stop sequence ended it (Anthropic's and Bedrock's
 * `stop_sequence`; OpenAI-style providers do not tell); `length` is `maxTokens`, `tool-calls`
 * `toolUse`, `content-filter` `contentFilter`; another reason (an error, none given) is left out.
 */
export function stopReasonOf(finishReason: string, raw?: string): string | undefined {
  if (finishReason === 'stop') {
    return raw !== undefined && /^stop_?sequence$/i.test(raw) ? 'stopSequence' : 'endTurn';
  }
  return {
    length: 'maxTokens',
    'tool-calls': 'toolUse',
    'content-filter': 'contentFilter',
  }[finishReason];
}

/** Asks the model of a {@link SamplingModel}, made once, at its first request. */
export class ModelSampler implements Sampler {
  readonly #model: SamplingModel;
  #made: Promise<LanguageModel> | undefined;

  constructor(model: SamplingModel) {
    this.#model = model;
  }

  /** The model's name for people (provider and model id). */
  get name(): string {
    return modelName(this.#model);
  }

  /** Request `params` sent to the model (`maxTokens` cut to {@link MAX_TOKENS}); its answer. */
  async sample(params: SamplingParams, signal: AbortSignal): Promise<CreateMessageResult> {
    const { settings, provider } = this.#model;
    const messages = params.messages.map(modelMessage);
    try {
      this.#made ??= modelFor(settings, provider, this.#model.model, this.#model.options());
      const model = await this.#made.catch((error: unknown) => {
        this.#made = undefined;
        throw error;
      });
      // Imported here: the AI SDK is loaded by a command only when a server asks for a message.
      const { generateText } = await import('ai');
      const result = await generateText({
        model,
        messages,
        maxOutputTokens: Math.min(params.maxTokens, MAX_TOKENS),
        abortSignal: signal,
        ...(params.systemPrompt ? { system: params.systemPrompt } : {}),
        ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
        ...(params.stopSequences ? { stopSequences: params.stopSequences } : {}),
      });
      const stopReason = stopReasonOf(result.finishReason, result.rawFinishReason);
      return {
        role: 'assistant',
        content: { type: 'text', text: result.text },
        model: result.response.modelId || this.#model.model || provider,
        ...(stopReason ? { stopReason } : {}),
      };
    } catch (error) {
      const scrubbed = modelError(provider, error, settings);
      if (isMcpAgentError(scrubbed)) throw requestError(scrubbed.message);
      throw error;
    }
  }
}
