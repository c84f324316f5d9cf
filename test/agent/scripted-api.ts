/**
 * Scripted stand-ins of Gemini's generateContent and Bedrock's Converse, as the `fetch` the
 * provider (`@ai-sdk/google`, `@ai-sdk/amazon-bedrock`) is given (real `Response` objects): a
 * prompt is answered with what the script says (a text, or a function call), a turn carrying a
 * function's result with a fixed text.
 */
import { converseJson } from './apis/converse.js';
import { GEMINI as GEMINI_FORMAT } from './apis/gemini.js';

/** A request as the stand-in received it. */
export interface ApiRequest {
  readonly url: string;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: each API's own JSON, read by the tests.
  readonly body: any;
}

/** The stand-in: its `fetch` and what it received. */
export interface ScriptedApi {
  readonly fetch: typeof fetch;
  readonly received: ApiRequest[];
}

/** A model's turn: a text, or a call of a function. */
export type ApiReply =
  | { readonly text: string }
  | { readonly tool: string; readonly args: unknown };

/** How an API asks and answers: the prompt of a request's last turn (if a text), a response. */
export interface ApiShape {
  prompt(body: ApiRequest['body']): string | undefined;
  response(reply: ApiReply): unknown;
}

type Part = Record<string, unknown>;
const promptIn = (parts: Part[] | undefined) => {
  const text = parts?.find((part) => 'text' in part)?.text;
  return typeof text === 'string' ? text : undefined;
};

/** Gemini's generateContent (its JSON from `apis/gemini.ts`). */
export const GEMINI: ApiShape = {
  prompt: (body) => promptIn(body.contents.at(-1)?.parts),
  response: (reply) => GEMINI_FORMAT.json(reply, 1),
};

/** Bedrock's Converse (its JSON from `apis/converse.ts`). */
export const CONVERSE: ApiShape = {
  prompt: (body) => promptIn(body.messages.at(-1)?.content),
  response: converseJson,
};

/**
 * A stand-in of `api` that answers a prompt with `script(prompt)`, and a turn carrying a
 * function's result with the text `result`.
 */
export function scriptedApi(
  api: ApiShape,
  script: (prompt: string) => ApiReply,
  result: string,
): ScriptedApi {
  const received: ApiRequest[] = [];
  const stand: typeof fetch = async (input, init) => {
    const request: ApiRequest = {
      url: String(input instanceof Request ? input.url : input),
      headers: new Headers(init?.headers),
      body: JSON.parse(String(init?.body)),
    };
    received.push(request);
    const asked = api.prompt(request.body);
    return Response.json(api.response(asked === undefined ? { text: result } : script(asked)));
  };
  return { fetch: stand, received };
}
