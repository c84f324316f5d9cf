/**
 * A downstream server's `sampling/createMessage` put to the person at the terminal and answered
 * by the model (`./sampling-model.ts`). At a terminal the person approves each request first (the
 * server, its messages summarised, the token limit) and then the model's answer, before it goes
 * back (the human in the loop MCP asks clients for); without one (sampling is then declared only
 * on `--provider`, see `./terminal-peer.ts`), each request is noted on stderr. A command answers
 * at most {@link MAX_REQUESTS} requests: past them, each is refused with an error saying so.
 *
 * @module
 */
import type { CreateMessageResult } from '@modelcontextprotocol/client';
import type { PeerRequestOptions } from '../servers/peer.js';
import {
  type Block,
  blocksOf,
  MAX_TOKENS,
  requestError,
  type Sampler,
  type SamplingParams,
} from './sampling-model.js';
import { type Ask, oneLine, shown, type TerminalQuestions } from './terminal-questions.js';

/** The JSON-RPC code of a request refused (by the person, or past {@link MAX_REQUESTS}). */
export const REFUSED_CODE = -1;

/** The most sampling requests one command answers (a `chat` session included). */
export const MAX_REQUESTS = 10;

/** Longest text of one message shown for approval. */
const SHOWN_CHARACTERS = 300;

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

/**
 * Server `server`'s request `params` summarised: the model (`model`, its name for people), each
 * message, the token limit (cut to {@link MAX_TOKENS}).
 */
export function samplingSummary(server: string, params: SamplingParams, model: string): string[] {
  const lines = [`"${oneLine(server)}" asks the ${model} model for a message:`];
  if (params.systemPrompt) lines.push(`  system: ${clipped(params.systemPrompt)}`);
  for (const message of params.messages) {
    lines.push(`  ${message.role}: ${clipped(blocksOf(message).map(blockText).join(' '))}`);
  }
  const tokens = Math.min(params.maxTokens, MAX_TOKENS);
  const asked = tokens < params.maxTokens ? ` (asked for ${params.maxTokens})` : '';
  const limits = [`at most ${tokens} tokens${asked}`];
  if (params.temperature !== undefined) limits.push(`temperature ${params.temperature}`);
  lines.push(`  (${limits.join(', ')})`);
  return lines;
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

/** The sampling requests of one command's servers, answered by a model (see the module). */
export class TerminalSampling {
  readonly #sampler: Sampler;
  readonly #questions: TerminalQuestions | undefined;
  readonly #note: (line: string) => void;
  #asked = 0;

  /**
   * Requests answered by `sampler`, approved at the terminal (`questions`), else noted by `note`
   * (a line for stderr; it is passed through {@link oneLine} first).
   */
  constructor(
    sampler: Sampler,
    questions: TerminalQuestions | undefined,
    note: (line: string) => void,
  ) {
    this.#sampler = sampler;
    this.#questions = questions;
    this.#note = (line) => note(oneLine(line));
  }

  /** Server `server`'s request `params` answered (see the module), or refused with an error. */
  answer(
    server: string,
    params: SamplingParams,
    options: PeerRequestOptions,
  ): Promise<CreateMessageResult> {
    this.#asked += 1;
    if (this.#asked > MAX_REQUESTS) {
      this.#note(`"${server}" asked the model for more messages than ${MAX_REQUESTS}: refused.`);
      return Promise.reject(
        requestError(
          `This client answers at most ${MAX_REQUESTS} sampling requests per command; refused.`,
          REFUSED_CODE,
        ),
      );
    }
    const questions = this.#questions;
    if (!questions) {
      this.#note(`"${server}" asked the ${this.#sampler.name} model for a message.`);
      return this.#sampler.sample(params, options.signal);
    }
    return questions.dialogue(options.signal, (ask) => this.#approve(ask, server, params, options));
  }

  async #approve(
    ask: Ask,
    server: string,
    params: SamplingParams,
    options: PeerRequestOptions,
  ): Promise<CreateMessageResult> {
    ask.tell('');
    for (const line of samplingSummary(server, params, this.#sampler.name)) ask.tell(line);
    if (!(await approved(ask, 'Send it to the model? [y]es / [n]o (refuse) > '))) {
      throw refused(server);
    }
    const result = await this.#sampler.sample(params, options.signal);
    const text = result.content.type === 'text' ? result.content.text : '';
    ask.tell(`The model answered (${result.stopReason ?? 'done'}):`);
    for (const line of shown(text)) ask.tell(`  ${line}`);
    if (!(await approved(ask, `Return it to "${oneLine(server)}"? [y]es / [n]o (refuse) > `))) {
      throw refused(server);
    }
    return result;
  }
}
