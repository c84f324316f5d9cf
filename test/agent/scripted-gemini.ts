/**
 * A scripted stand-in of Gemini's generateContent, as the `fetch` the `@ai-sdk/google` provider
 * is given (real `Response` objects): a prompt is answered with what the script says (a text, or
 * a function call), a turn carrying a function's result with a fixed text.
 */

/** A generateContent request as the stand-in received it. */
export interface GeminiRequest {
  readonly url: string;
  readonly apiKey: string | null;
  readonly body: {
    contents: { role: string; parts: Record<string, unknown>[] }[];
  };
}

/** The stand-in: its `fetch`, what it received, the script of a tool call then texts. */
export interface ScriptedGemini {
  readonly fetch: typeof fetch;
  readonly received: GeminiRequest[];
}

const candidate = (part: unknown) => ({
  candidates: [{ content: { role: 'model', parts: [part] }, finishReason: 'STOP', index: 0 }],
  usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 5, totalTokenCount: 8 },
});

/** The function results of the request's last turn (`functionResponse` parts), as JSON. */
export function functionResultsIn(request: GeminiRequest | undefined): string[] {
  const parts = request?.body.contents.at(-1)?.parts ?? [];
  return parts.filter((part) => 'functionResponse' in part).map((part) => JSON.stringify(part));
}

/** A model's turn: a text, or a call of a function. */
export type GeminiReply =
  | { readonly text: string }
  | { readonly tool: string; readonly args: unknown };

const partOf = (reply: GeminiReply) =>
  'text' in reply ? { text: reply.text } : { functionCall: { name: reply.tool, args: reply.args } };

/**
 * A stand-in that answers a prompt with `script(prompt)`, and a turn carrying a function's result
 * with the text `result`.
 */
export function scriptedGemini(
  script: (prompt: string) => GeminiReply,
  result: string,
): ScriptedGemini {
  const received: GeminiRequest[] = [];
  const stand: typeof fetch = async (input, init) => {
    const request: GeminiRequest = {
      url: String(input instanceof Request ? input.url : input),
      apiKey: new Headers(init?.headers).get('x-goog-api-key'),
      body: JSON.parse(String(init?.body)),
    };
    received.push(request);
    const asked = request.body.contents.at(-1)?.parts.find((part) => 'text' in part)?.text;
    const reply = typeof asked === 'string' ? script(asked) : { text: result };
    return Response.json(candidate(partOf(reply)));
  };
  return { fetch: stand, received };
}
