/**
 * A local stand-in of the model APIs the agent's providers call (OpenAI and Azure OpenAI chat
 * completions, Anthropic messages, Gemini generateContent, Bedrock Converse, the
 * OpenAI-compatible API of Ollama and LM Studio): it records every request and answers with a
 * scripted text. For the tests of `src/agent/models.ts` and of the docs' example.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type Stub, startHttpStub } from '../support/stub-servers.js';
import { ANTHROPIC_MESSAGES } from './apis/anthropic-messages.js';
import { GEMINI } from './apis/gemini.js';
import { OPENAI_CHAT } from './apis/openai-chat.js';

/** A request as the stand-in received it; `intended` is the URL the provider meant to call. */
export interface Received {
  readonly method: string;
  readonly url: string;
  readonly intended: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export const ANSWER = 'The first two paragraphs, scripted.';

/** The scripted answer of each API, by the path it is asked on (the wire formats of `apis/`). */
function answerFor(path: string): unknown {
  if (path.endsWith('/chat/completions')) return OPENAI_CHAT.json({ text: ANSWER }, 1);
  if (path.endsWith('/messages')) return ANTHROPIC_MESSAGES.json({ text: ANSWER }, 1);
  if (path.endsWith(':generateContent')) return GEMINI.json({ text: ANSWER }, 1);
  if (path.endsWith('/converse')) {
    return {
      output: { message: { role: 'assistant', content: [{ text: ANSWER }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8 },
    };
  }
  return undefined;
}

/** The model id every stand-in rejects, and what it says. */
export const UNKNOWN_MODEL = 'no-such-model';
export const UNKNOWN_MODEL_TEXT = `The model ${UNKNOWN_MODEL} does not exist`;

/** One error body each provider's error schema reads its message from. */
const UNKNOWN_MODEL_ERROR = {
  type: 'error',
  message: UNKNOWN_MODEL_TEXT,
  error: { type: 'not_found_error', code: 404, status: 'NOT_FOUND', message: UNKNOWN_MODEL_TEXT },
};

const INTENDED = 'x-test-intended-url';

/** A running stand-in: a stub server that also keeps each request's body. */
export type StandIn = Pick<Stub, 'url' | 'close'> & { readonly received: Received[] };

/** Start a stand-in on a free loopback port. */
export async function startStandIn(): Promise<StandIn> {
  const received: Received[] = [];
  let origin = '';
  const stub = await startHttpStub((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = req.url ?? '/';
      const { [INTENDED]: intended, ...headers } = req.headers;
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({
        method: req.method ?? '',
        url,
        intended: String(intended ?? `${origin}${url}`),
        headers,
        body,
      });
      const unknown = url.includes(UNKNOWN_MODEL) || body.includes(`"${UNKNOWN_MODEL}"`);
      const answer = unknown ? undefined : answerFor(new URL(url, origin).pathname);
      res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer ?? UNKNOWN_MODEL_ERROR));
    });
  });
  origin = stub.url;
  return { url: origin, received, close: () => stub.close() };
}

/**
 * A `fetch` that sends what a provider means for its real host (Gemini, Azure, Bedrock) to the
 * stand-in instead, saying in a test header which URL was meant.
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
    });
  };
}

/** Every place a secret appears in a request (`header:<name>`, `url`, `body`). */
export { placesOf } from './apis/scripted.js';
