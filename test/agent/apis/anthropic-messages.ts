/**
 * Anthropic's messages API as a {@link WireFormat}: a `message` whose content is a `tool_use` or
 * a `text` block, or with `stream: true` its events (`message_start`, `content_block_start`,
 * `content_block_delta` with `input_json_delta` or `text_delta`, `content_block_stop`,
 * `message_delta`, `message_stop`).
 */
import {
  type Answer,
  argumentsOf,
  halves,
  type ServerSentEvent,
  streamFlagged,
  type WireFormat,
} from './scripted.js';

type Block = { type: string; text?: string; content?: unknown; tool_use_id?: string };

/** A messages request body, as far as the tests read it. */
export interface MessagesBody {
  model: string;
  messages: { role: string; content: string | Block[] }[];
  stream?: boolean;
  [key: string]: unknown;
}

const MESSAGE = { type: 'message', role: 'assistant', model: 'scripted', stop_sequence: null };
const stopReason = (answer: Answer) => ('text' in answer ? 'end_turn' : 'tool_use');

/** The text of a `tool_result` block: a string, or text blocks. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return Array.isArray(content)
    ? content.map((block: Block) => block.text ?? JSON.stringify(block)).join('')
    : JSON.stringify(content);
}

function event(type: string, fields: Record<string, unknown> = {}): ServerSentEvent {
  return { event: type, data: { type, ...fields } };
}

function block(answer: Answer, turn: number, input: unknown) {
  return 'text' in answer
    ? { type: 'text', text: input }
    : { type: 'tool_use', id: `toolu_${turn}`, name: answer.tool, input };
}

/** Anthropic's messages API. */
export const ANTHROPIC_MESSAGES: WireFormat<MessagesBody> = {
  streamed: streamFlagged,
  toolResults: (body) => {
    const messages = body?.messages ?? [];
    const resultsOf = (message: MessagesBody['messages'][number]) =>
      typeof message.content === 'string'
        ? []
        : message.content
            .filter((part) => part.type === 'tool_result')
            .map((part) => textOf(part.content));
    const last = messages.at(-1);
    return {
      results: messages.flatMap(resultsOf),
      last: last !== undefined && last.role === 'user' && resultsOf(last).length > 0,
    };
  },
  json: (answer, turn) => ({
    ...MESSAGE,
    id: `msg_${turn}`,
    content: [block(answer, turn, 'text' in answer ? answer.text : answer.args)],
    stop_reason: stopReason(answer),
    usage: { input_tokens: 3, output_tokens: 5 },
  }),
  events: (answer, turn) => {
    const [head, tail] = halves('text' in answer ? answer.text : argumentsOf(answer));
    const delta = (part: string) =>
      'text' in answer
        ? { type: 'text_delta', text: part }
        : { type: 'input_json_delta', partial_json: part };
    return [
      event('message_start', {
        message: {
          ...MESSAGE,
          id: `msg_${turn}`,
          content: [],
          stop_reason: null,
          usage: { input_tokens: 3, output_tokens: 1 },
        },
      }),
      event('content_block_start', {
        index: 0,
        content_block: block(answer, turn, 'text' in answer ? '' : {}),
      }),
      ...[head, tail].map((part) => event('content_block_delta', { index: 0, delta: delta(part) })),
      event('content_block_stop', { index: 0 }),
      event('message_delta', {
        delta: { stop_reason: stopReason(answer), stop_sequence: null },
        usage: { output_tokens: 5 },
      }),
      event('message_stop'),
    ];
  },
  error: (_status, message) => ({ type: 'error', error: { type: 'not_found_error', message } }),
};
