/**
 * A scripted stand-in of a model API, for the agent's tests: a real HTTP server on a loopback
 * port that records each request and answers it with what the test's script says (a tool call, a
 * final text, or an API error), in the API's own wire format (a {@link WireFormat}: OpenAI chat
 * completions, OpenAI Responses, Anthropic messages, Gemini), as JSON or, when the request asks
 * for a stream, as that API's server-sent events. The real AI SDK provider packages and the AI
 * SDK's tool loop run against it.
 */
import type { Stub } from '../../support/stub-servers.js';
import { type Heard, placesOf, routedTo, startRecorder } from './recorder.js';

/** A request as the stand-in received it. */
// biome-ignore lint/suspicious/noExplicitAny: each API's own JSON, read by the tests.
export interface Recorded<Body = any> extends Omit<Heard, 'body'> {
  /** The `Authorization` header. */
  readonly authorization: string | undefined;
  /** The body as sent. */
  readonly raw: string;
  /** The body, parsed. */
  readonly body: Body;
}

/** A final text, or a call of a tool (`args` sent as JSON, or `raw` as it is). */
export type Answer =
  | { readonly text: string }
  | { readonly tool: string; readonly args: unknown; readonly raw?: string };

/** A call of a tool, as {@link Answer} has it. */
export type ToolCall = Extract<Answer, { tool: string }>;

/** What the stand-in answers: an {@link Answer}, or an API error. */
export type Reply = Answer | { readonly status: number; readonly error: string };

/** How one API asks and answers. */
// biome-ignore lint/suspicious/noExplicitAny: each API's own JSON.
export interface WireFormat<Body = any> {
  /** Whether the request asks for server-sent events. */
  streamed(request: Recorded<Body>): boolean;
  /** The tool results the request carries, as text, in order; `last`: its last turn is one. */
  toolResults(body: Body | undefined): { readonly results: string[]; readonly last: boolean };
  /** `answer` as the API's JSON response; `turn` counts the requests (1, 2, …). */
  json(answer: Answer, turn: number): unknown;
  /** `answer` as the API's stream of events (the text in more than one delta). */
  events(answer: Answer, turn: number): ServerSentEvent[];
  /** The API's error body saying `message`. */
  error(status: number, message: string): unknown;
}

/** One server-sent event: its data (JSON, or a string as it is) and its `event:` name, if any. */
export interface ServerSentEvent {
  readonly event?: string;
  readonly data: unknown;
}

/** A running stand-in (see the module). */
// biome-ignore lint/suspicious/noExplicitAny: each API's own JSON, read by the tests.
export interface ScriptedApi<Body = any> {
  /** Its origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly received: Recorded<Body>[];
  /** How the next requests are answered. Default: the text "nothing scripted". */
  script: (request: Recorded<Body>) => Reply;
  /**
   * A `fetch` that sends what a provider means for its real host (Gemini, Azure, OpenAI) here
   * instead, keeping the URL it meant as {@link Recorded.intended}.
   */
  readonly fetch: typeof fetch;
  close(): Promise<void>;
}

const sse = (events: readonly ServerSentEvent[]): string =>
  events
    .map(({ event, data }) => {
      const line = `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
      return event === undefined ? line : `event: ${event}\n${line}`;
    })
    .join('');

/** Start a stand-in of the API `format` on a free loopback port. */
export async function startScriptedApi<Body>(format: WireFormat<Body>): Promise<ScriptedApi<Body>> {
  let stub: Stub | undefined;
  const api: ScriptedApi<Body> = {
    url: '',
    received: [],
    script: () => ({ text: 'nothing scripted' }),
    fetch: (input, init) => routedTo(api.url)(input, init),
    close: () => stub?.close() ?? Promise.resolve(),
  };
  stub = await startRecorder((heard, res) => {
    const request: Recorded<Body> = {
      ...heard,
      authorization: heard.headers.authorization,
      raw: heard.body,
      body: heard.body === '' ? undefined : JSON.parse(heard.body),
    };
    api.received.push(request);
    const reply = api.script(request);
    const turn = api.received.length;
    if ('status' in reply) {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(format.error(reply.status, reply.error)));
    } else if (format.streamed(request)) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(sse(format.events(reply, turn)));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(format.json(reply, turn)));
    }
  });
  return Object.assign(api, { url: stub.url });
}

/** Every place `secret` appears in `request`: `header:<name>`, `url`, `body`. */
export function placesIn(request: Recorded, secret: string): string[] {
  const { path: url, intended, headers, raw: body } = request;
  return placesOf({ url, intended, headers, body }, secret);
}

/**
 * A script for `format`: a call of `tool` first; once a request ends with the tool's result,
 * the final text `text(result)`.
 */
export function toolThenText<Body>(
  format: WireFormat<Body>,
  tool: string,
  args: unknown,
  text: (result: string) => string,
): (request: Recorded<Body>) => Reply {
  return (request) => {
    const { results, last } = format.toolResults(request.body);
    const result = results.at(-1);
    return last && result !== undefined ? { text: text(result) } : { tool, args };
  };
}

/** {@link WireFormat.streamed} of the APIs whose body asks for a stream with `stream: true`. */
export function streamFlagged(request: Recorded<{ stream?: boolean }>): boolean {
  return request.body.stream === true;
}

/**
 * What {@link WireFormat.toolResults} says of a request whose turns are `turns`: the text of each
 * turn `isResult` picks (its `content` read as a string), in order, and whether the last is one.
 */
export function resultsAmong<Turn>(
  turns: readonly Turn[],
  isResult: (turn: Turn) => boolean,
  content: (turn: Turn) => unknown,
): { readonly results: string[]; readonly last: boolean } {
  const tail = turns.at(-1);
  return {
    results: turns.filter(isResult).map((turn) => String(content(turn))),
    last: tail !== undefined && isResult(tail),
  };
}

/** `text` cut in two, so a stream carries it in more than one delta. */
export function halves(text: string): [string, string] {
  const middle = Math.ceil(text.length / 2);
  return [text.slice(0, middle), text.slice(middle)];
}

/** The arguments of a tool call as the API sends them: JSON, or `raw`. */
export function argumentsOf(answer: ToolCall): string {
  return answer.raw ?? JSON.stringify(answer.args);
}
