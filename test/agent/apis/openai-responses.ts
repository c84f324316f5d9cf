/**
 * OpenAI's Responses API as a {@link WireFormat}: a `response` object whose `output` is a
 * `function_call` or a `message`, or with `stream: true` its events (`response.created`,
 * `response.output_item.added`, `response.function_call_arguments.delta` or
 * `response.output_text.delta`, `response.output_item.done`, `response.completed`).
 */
import {
  type Answer,
  argumentsOf,
  halves,
  resultsAmong,
  type ServerSentEvent,
  streamFlagged,
  type WireFormat,
} from './scripted.js';

/** A Responses request body, as far as the tests read it. */
export interface ResponsesBody {
  model: string;
  input: { type?: string; role?: string; output?: unknown; call_id?: string }[];
  stream?: boolean;
  [key: string]: unknown;
}

const CREATED_AT = 1_700_000_000;
const USAGE = { input_tokens: 3, output_tokens: 5, total_tokens: 8 };

/** The output item of `answer` (a function call, or an assistant message), as done. */
function itemOf(answer: Answer, turn: number) {
  return 'text' in answer
    ? {
        type: 'message',
        role: 'assistant',
        id: `msg_${turn}`,
        status: 'completed',
        content: [{ type: 'output_text', text: answer.text, annotations: [] }],
      }
    : {
        type: 'function_call',
        id: `fc_${turn}`,
        call_id: `call_${turn}`,
        name: answer.tool,
        arguments: argumentsOf(answer),
        status: 'completed',
      };
}

function event(type: string, fields: Record<string, unknown>): ServerSentEvent {
  return { event: type, data: { type, ...fields } };
}

function deltas(answer: Answer, turn: number): ServerSentEvent[] {
  const item = itemOf(answer, turn);
  const [head, tail] = halves('text' in answer ? answer.text : argumentsOf(answer));
  const type =
    'text' in answer ? 'response.output_text.delta' : 'response.function_call_arguments.delta';
  const added =
    'text' in answer
      ? { type: 'message', role: 'assistant', id: item.id, status: 'in_progress', content: [] }
      : { ...item, arguments: '', status: 'in_progress' };
  return [
    event('response.output_item.added', { output_index: 0, item: added }),
    ...[head, tail].map((delta) =>
      event(type, { item_id: item.id, output_index: 0, content_index: 0, delta }),
    ),
    event('response.output_item.done', { output_index: 0, item }),
  ];
}

/** OpenAI's Responses API. */
export const OPENAI_RESPONSES: WireFormat<ResponsesBody> = {
  streamed: streamFlagged,
  toolResults: (body) =>
    resultsAmong(
      body?.input ?? [],
      (item) => item.type === 'function_call_output',
      (item) => item.output,
    ),
  json: (answer, turn) => ({
    id: `resp_${turn}`,
    object: 'response',
    created_at: CREATED_AT,
    model: 'scripted',
    status: 'completed',
    output: [itemOf(answer, turn)],
    incomplete_details: null,
    usage: USAGE,
  }),
  events: (answer, turn) => {
    const response = { id: `resp_${turn}`, created_at: CREATED_AT, model: 'scripted' };
    return [
      event('response.created', { response: { ...response, status: 'in_progress' } }),
      ...deltas(answer, turn),
      event('response.completed', {
        response: { ...response, status: 'completed', incomplete_details: null, usage: USAGE },
      }),
    ];
  },
  error: (_status, message) => ({
    error: { message, type: 'invalid_request_error', param: null, code: 'model_not_found' },
  }),
};
