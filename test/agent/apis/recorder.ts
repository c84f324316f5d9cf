/**
 * The request recorder the agent's model stand-ins share (`stand-in.ts`, `cloud-stand-ins.ts`,
 * `apis/scripted.ts`): a loopback HTTP server that reads each request whole (its method, path,
 * headers and body, and the URL the provider meant to call) before the stand-in answers it, the
 * `fetch` that sends a provider's requests for its real host there, and where a secret shows in
 * a request.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { type Stub, startHttpStub } from '../../support/stub-servers.js';

/** The header {@link routedTo} names the URL the provider meant with. */
const INTENDED = 'x-test-intended-url';

/** A request as a stand-in heard it. */
export interface Heard {
  readonly method: string;
  /** The path and query asked for. */
  readonly path: string;
  /** The URL the provider meant (its real host, when sent through {@link routedTo}). */
  readonly intended: string;
  /** The headers, but the test's own. */
  readonly headers: IncomingHttpHeaders;
  /** The body as sent. */
  readonly body: string;
}

/** How a stand-in answers a request it has heard. */
export type Answerer = (request: Heard, response: ServerResponse) => void | Promise<void>;

async function hear(req: IncomingMessage, origin: string): Promise<Heard> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const path = req.url ?? '/';
  const { [INTENDED]: intended, ...headers } = req.headers;
  return {
    method: req.method ?? '',
    path,
    intended: String(intended ?? `${origin}${path}`),
    headers,
    body: Buffer.concat(chunks).toString('utf8'),
  };
}

/** Start a stand-in on a free loopback port that hears each request whole, then `answer`s it. */
export async function startRecorder(answer: Answerer): Promise<Stub> {
  let origin = '';
  const stub = await startHttpStub((req, res) => {
    void hear(req, origin).then((request) => answer(request, res));
  });
  origin = stub.url;
  return stub;
}

/**
 * A `fetch` that sends what a provider means for its real host (Gemini, Azure, Bedrock, OpenAI)
 * to the stand-in at `origin` instead, saying in a test header which URL was meant (a signature
 * or a token is for that URL).
 */
export function routedTo(origin: string): typeof fetch {
  return async (input, init) => {
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
  };
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

/** Every place `secret` appears in a request heard: `header:<name>`, `url`, `body`. */
export function placesIn(request: Heard, secret: string): string[] {
  return placesOf({ ...request, url: request.path }, secret);
}
