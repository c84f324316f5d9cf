/**
 * Gemini's generateContent as a {@link WireFormat}: a `GenerateContentResponse` whose part is a
 * `functionCall` or a text, or for `:streamGenerateContent?alt=sse` its chunks as `data:` events,
 * the last with the finish reason and the usage.
 */
import { halves, type ServerSentEvent, type ToolCall, type WireFormat } from './scripted.js';

type Part = {
  text?: string;
  functionResponse?: { name: string; response: { content?: unknown; error?: unknown } };
};

/** A generateContent request body, as far as the tests read it. */
export interface GeminiBody {
  contents: { role: string; parts: Part[] }[];
  [key: string]: unknown;
}

const USAGE = { promptTokenCount: 3, candidatesTokenCount: 5, totalTokenCount: 8 };

function response(parts: unknown[], last: boolean) {
  return {
    candidates: [
      { content: { role: 'model', parts }, index: 0, ...(last ? { finishReason: 'STOP' } : {}) },
    ],
    ...(last ? { usageMetadata: USAGE } : {}),
  };
}

const callOf = (answer: ToolCall) => ({
  functionCall: { name: answer.tool, args: answer.args },
});

function resultOf(part: Part): string[] {
  const result = part.functionResponse?.response;
  if (result === undefined) return [];
  const value = result.content ?? result.error;
  return [typeof value === 'string' ? value : JSON.stringify(value)];
}

/** Gemini's generateContent (and streamGenerateContent). */
export const GEMINI: WireFormat<GeminiBody> = {
  streamed: (request) => request.path.includes(':streamGenerateContent?alt=sse'),
  toolResults: (body) => {
    const contents = body?.contents ?? [];
    return {
      results: contents.flatMap((content) => content.parts.flatMap(resultOf)),
      last: (contents.at(-1)?.parts ?? []).some((part) => resultOf(part).length > 0),
    };
  },
  json: (answer) => response(['text' in answer ? { text: answer.text } : callOf(answer)], true),
  events: (answer): ServerSentEvent[] => {
    if (!('text' in answer)) return [{ data: response([callOf(answer)], true) }];
    const [head, tail] = halves(answer.text);
    return [
      { data: response([{ text: head }], false) },
      { data: response([{ text: tail }], true) },
    ];
  },
  error: (status, message) => ({ error: { code: status, message, status: 'NOT_FOUND' } }),
};
