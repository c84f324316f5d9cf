/**
 * A downstream server's `sampling/createMessage` answered by the agent's model (a provider
 * section of the configuration, chosen as `chat` chooses it). At a terminal the person approves
 * each request first (the server, its messages summarised, the token limit) and then the
 * model's answer, before it goes back (the human in the loop MCP asks clients for); without one,
 * each request is noted on stderr. The request's `systemPrompt`, `messages` (text, images, audio),
 * `maxTokens`, `temperature` and `stopSequences` become the model call's; model preferences and
 * `includeContext` are not followed. A provider's error goes back as an error scrubbed of the
 * settings' secrets.
 *
 * @module
 */
import type {
  CreateMessageRequest,
  CreateMessageResult,
  SamplingMessage,
} from '@modelcontextprotocol/sdk/types.js';
import type { LanguageModel, ModelMessage } from 'ai';
import { type ModelOptions, modelFor } from '../agent/models.js';
import { modelError } from '../agent/provider-error.js';
import type { Settings } from '../config/schema/settings.js';
import { isMcpAgentError } from '../errors.js';
import type { PeerRequestOptions } from '../servers/peer.js';
import { type Ask, shown, type TerminalQuestions } from './terminal-questions.js';

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

/** The JSON-RPC code of a request the person refused (as MCP's examples use). */
export const REFUSED_CODE = -1;

/** Longest text of one message shown for approval. */
const SHOWN_CHARACTERS = 300;

type Params = CreateMessageRequest['params'];
type Block = Exclude<SamplingMessage['content'], readonly unknown[]>;

const blocksOf = (message: SamplingMessage): Block[] =>
  Array.isArray(message.content) ? message.content : [message.content as Block];

/** What the person sees of one content block. */
function blockText(block: Block): string {
  if (block.type === 'text') return block.text;
  if (block.type === 'image' || block.type === 'audio') return `[${block.type} ${block.mimeType}]`;
  return `[${block.type}]`;
}

function clipped(text: string): string {
  const line = shown(text).join(' ⏎ ');
  return line.length > SHOWN_CHARACTERS ? `${line.slice(0, SHOWN_CHARACTERS)}…` : line;
}

/** The model's name for people: provider and model id (or its default). */
function modelName(model: SamplingModel): string {
  const section = (model.settings as unknown as Record<string, { default_model?: unknown }>)[
    model.provider
  ];
  const id = model.model ?? section?.default_model;
  return typeof id === 'string' ? `${model.provider} ${id}` : model.provider;
}

/**
 * Server `server`'s request `params` summarised: the model (`model`, its name for people), each
 * message, the token limit.
 */
export function samplingSummary(server: string, params: Params, model: string): string[] {
  const lines = [`"${shown(server).join(' ')}" asks the ${model} model for a message:`];
  if (params.systemPrompt) lines.push(`  system: ${clipped(params.systemPrompt)}`);
  for (const message of params.messages) {
    lines.push(`  ${message.role}: ${clipped(blocksOf(message).map(blockText).join(' '))}`);
  }
  const limits = [`at most ${params.maxTokens} tokens`];
  if (params.temperature !== undefined) limits.push(`temperature ${params.temperature}`);
  lines.push(`  (${limits.join(', ')})`);
  return lines;
}

/** An error the server gets: `message`, with JSON-RPC `code` (default internal error). */
function requestError(message: string, code?: number): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
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

/** Why the model stopped, in MCP's words where it has them. */
function stopReasonOf(finishReason: string): string {
  if (finishReason === 'stop') return 'endTurn';
  if (finishReason === 'length') return 'maxTokens';
  return finishReason;
}

/** Asks the model of a {@link SamplingModel}, made once, at its first request. */
export class ModelSampler {
  readonly #model: SamplingModel;
  #made: Promise<LanguageModel> | undefined;

  constructor(model: SamplingModel) {
    this.#model = model;
  }

  /** The model's name for people (provider and model id). */
  get name(): string {
    return modelName(this.#model);
  }

  /** Request `params` sent to the model; its answer as MCP's result. */
  async sample(params: Params, signal: AbortSignal): Promise<CreateMessageResult> {
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
        maxOutputTokens: params.maxTokens,
        abortSignal: signal,
        ...(params.systemPrompt ? { system: params.systemPrompt } : {}),
        ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
        ...(params.stopSequences ? { stopSequences: params.stopSequences } : {}),
      });
      return {
        role: 'assistant',
        content: { type: 'text', text: result.text },
        model: result.response.modelId || this.#model.model || provider,
        stopReason: stopReasonOf(result.finishReason),
      };
    } catch (error) {
      const scrubbed = modelError(provider, error, settings);
      if (isMcpAgentError(scrubbed)) throw requestError(scrubbed.message);
      throw error;
    }
  }
}

async function approved(ask: Ask, question: string): Promise<boolean> {
  for (;;) {
    const typed = await ask.ask(question);
    if (typed === undefined) return false;
    const first = typed.trim().toLowerCase()[0] ?? 'y';
    if (first === 'y' || first === 'n') return first === 'y';
    ask.tell('  ✗ answer y or n; try again.');
  }
}

const refused = (server: string) =>
  requestError(`The user refused the sampling request of "${server}".`, REFUSED_CODE);

/**
 * Server `server`'s sampling request answered by `sampler`'s model: at a terminal (`questions`)
 * once the person approved the request and then the answer; without one, noted by `note`.
 */
export function sampleAtTerminal(
  questions: TerminalQuestions | undefined,
  sampler: ModelSampler,
  server: string,
  params: Params,
  options: PeerRequestOptions & { readonly note: (line: string) => void },
): Promise<CreateMessageResult> {
  if (!questions) {
    options.note(`"${shown(server).join(' ')}" asked the ${sampler.name} model for a message.`);
    return sampler.sample(params, options.signal);
  }
  return questions.dialogue(options.signal, async (ask) => {
    ask.tell('');
    for (const line of samplingSummary(server, params, sampler.name)) ask.tell(line);
    if (!(await approved(ask, 'Send it to the model? [y]es / [n]o (refuse) > '))) {
      throw refused(server);
    }
    const result = await sampler.sample(params, options.signal);
    const text = result.content.type === 'text' ? result.content.text : '';
    ask.tell(`The model answered (${result.stopReason ?? 'done'}):`);
    for (const line of shown(text)) ask.tell(`  ${line}`);
    if (
      !(await approved(ask, `Return it to "${shown(server).join(' ')}"? [y]es / [n]o (refuse) > `))
    ) {
      throw refused(server);
    }
    return result;
  });
}
