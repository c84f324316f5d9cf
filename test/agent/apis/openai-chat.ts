/**
 * OpenAI's chat completions as a {@link WireFormat} (also Azure OpenAI's, and the
 * OpenAI-compatible API of Ollama and LM Studio): a `chat.completion`, or with `stream: true`
 * `data:` chunks (`chat.completion.chunk`) whose tool call comes in argument deltas, then
 * `data: [DONE]`.
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

/** A chat-completions request body, as far as the tests read it. */
export interface ChatBody {
  model: string;
  messages: { role: string; content?: unknown; tool_calls?: unknown[] }[];
  stream?: boolean;
  [key: string]: unknown;
}

const COMMON = { object: 'chat.completion', created: 1_700_000_000, model: 'scripted' };

function chunk(turn: number, delta: unknown, finish: string | null): ServerSentEvent {
  return {
    data: {
      ...COMMON,
      id: `chatcmpl-${turn}`,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: finish }],
    },
  };
}

function deltas(answer: Answer, turn: number): ServerSentEvent[] {
  if ('text' in answer) {
    const [head, tail] = halves(answer.text);
    return [
      chunk(turn, { role: 'assistant', content: head }, null),
      chunk(turn, { content: tail }, null),
    ];
  }
  const [head, tail] = halves(argumentsOf(answer));
  const call = (fn: Record<string, string>, first: boolean) => ({
    tool_calls: [
      { index: 0, ...(first ? { id: `call_${turn}`, type: 'function' } : {}), function: fn },
    ],
  });
  return [
    chunk(turn, { role: 'assistant', ...call({ name: answer.tool, arguments: head }, true) }, null),
    chunk(turn, call({ arguments: tail }, false), null),
  ];
}

/** OpenAI's chat completions. */
export const OPENAI_CHAT: WireFormat<ChatBody> = {
  streamed: streamFlagged,
  toolResults: (body) =>
    resultsAmong(
      body?.messages ?? [],
      (message) => message.role === 'tool',
      (message) => message.content,
    ),
  json: (answer, turn) => ({
    ...COMMON,
    id: `chatcmpl-${turn}`,
    choices: [
      {
        index: 0,
        message:
          'text' in answer
            ? { role: 'assistant', content: answer.text }
            : {
                role: 'assistant',
                content: null,
                tool_calls: [
                  {
                    id: `call_${turn}`,
                    type: 'function',
                    function: { name: answer.tool, arguments: argumentsOf(answer) },
                  },
                ],
              },
        finish_reason: 'text' in answer ? 'stop' : 'tool_calls',
      },
    ],
    usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
  }),
  events: (answer, turn) => [
    ...deltas(answer, turn),
    chunk(turn, {}, 'text' in answer ? 'stop' : 'tool_calls'),
    { data: '[DONE]' },
  ],
  error: (_status, message) => ({ error: { message, type: 'invalid_request_error' } }),
};
