/**
 * A scripted stand-in of a model API, for the agent's tests: a real HTTP server on a loopback
 * port that records each request and answers it with what the test's script says (a tool call, a
 * final text, or an API error), in the API's own wire format (a {@link WireFormat}: OpenAI chat
 * completions, OpenAI Responses, Anthropic messages, Gemini), as JSON or, when the request asks
 * for a stream, as that API's server-sent events. The real AI SDK provider packages and the AI
 * SDK's tool loop run against it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type Stub, startHttpStub } from '../../support/stub-servers.js';

/** The header {@link ScriptedApi.fetch} names the URL the provider meant with. */
const INTENDED = 'x-test-intended-url';

/** A request as the stand-in received it. */
// biome-ignore lint/suspicious/noExplicitAny: each API's own JSON, read by the tests.
export interface Recorded<Body = any> {
  readonly method: string;
  /** The path and query asked for. */
  readonly path: string;
  /** The URL the provider meant (its real host, when sent through {@link ScriptedApi.fetch}). */
  readonly intended: string;
  /** The headers, but the test's own. */
  readonly headers: IncomingHttpHeaders;
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
  let origin = '';
  const api: ScriptedApi<Body> = {
    url: '',
    received: [],
    script: () => ({ text: 'nothing scripted' }),
    fetch: (input, init) => routed(origin, input, init),
    close: () => stub?.close() ?? Promise.resolve(),
  };
  stub = await startHttpStub((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      const { [INTENDED]: intended, ...headers } = req.headers;
      const raw = Buffer.concat(chunks).toString('utf8');
      const request: Recorded<Body> = {
        method: req.method ?? '',
        path,
        intended: String(intended ?? `${origin}${path}`),
        headers,
        authorization: req.headers.authorization,
        raw,
        body: raw === '' ? undefined : JSON.parse(raw),
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
  });
  origin = stub.url;
  return Object.assign(api, { url: origin });
}

async function routed(
  origin: string,
  input: Parameters<typeof fetch>[0],
  init: Parameters<typeof fetch>[1],
): Promise<Response> {
  const request = new Request(input, init);
  const meant = new URL(request.url);
  const headers = new Headers(request.headers);
  headers.set(INTENDED, meant.toString());
  return fetch(`${origin}${meant.pathname}${meant.search}`, {
    method: request.method,
    headers,
    body: await request.text(),
    signal: request.signal,
  });
}

/** A request as far as {@link placesOf} reads it: the URL asked for and meant, headers, body. */
export interface Sent {
  readonly url: string;
  readonly intended: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Every place `secret` appears in a request: `header:<name>`, `url`, `body`. */
export function placesOf(request: Sent, secret: string): string[] {
  const headers = Object.entries(request.headers)
    .filter(([, value]) => String(value).includes(secret))
    .map(([name]) => `header:${name}`);
  const url = request.intended.includes(secret) || request.url.includes(secret) ? ['url'] : [];
  return [...headers, ...url, ...(request.body.includes(secret) ? ['body'] : [])];
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

/** `text` cut in two, so a stream carries it in more than one delta. */
export function halves(text: string): [string, string] {
  const middle = Math.ceil(text.length / 2);
  return [text.slice(0, middle), text.slice(middle)];
}

/** The arguments of a tool call as the API sends them: JSON, or `raw`. */
export function argumentsOf(answer: ToolCall): string {
  return answer.raw ?? JSON.stringify(answer.args);
}
