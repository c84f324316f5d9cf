/**
 * A local stand-in of the model APIs the agent's providers call (OpenAI and Azure OpenAI chat
 * completions, Anthropic messages, Gemini generateContent, Bedrock Converse, the
 * OpenAI-compatible API of Ollama and LM Studio): it records every request and answers with a
 * scripted text. For the tests of `src/agent/models.ts` and of the docs' example.
 */
import type { Stub } from '../support/stub-servers.js';
import { ANTHROPIC_MESSAGES } from './apis/anthropic-messages.js';
import { converseJson } from './apis/converse.js';
import { GEMINI } from './apis/gemini.js';
import { OPENAI_CHAT } from './apis/openai-chat.js';
import { type Heard, startRecorder } from './apis/recorder.js';

/** A request as the stand-in received it; `intended` is the URL the provider meant to call. */
export interface Received extends Heard {
  /** The path and query asked for (as {@link Heard.path}). */
  readonly url: string;
}

export const ANSWER = 'The first two paragraphs, scripted.';

/** The scripted answer of each API, by the path it is asked on (the wire formats of `apis/`). */
function answerFor(path: string): unknown {
  if (path.endsWith('/chat/completions')) return OPENAI_CHAT.json({ text: ANSWER }, 1);
  if (path.endsWith('/messages')) return ANTHROPIC_MESSAGES.json({ text: ANSWER }, 1);
  if (path.endsWith(':generateContent')) return GEMINI.json({ text: ANSWER }, 1);
  if (path.endsWith('/converse')) return converseJson({ text: ANSWER });
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

/** A running stand-in: a stub server that also keeps each request's body. */
export type StandIn = Pick<Stub, 'url' | 'close'> & { readonly received: Received[] };

/** Start a stand-in on a free loopback port. */
export async function startStandIn(): Promise<StandIn> {
  const received: Received[] = [];
  const stub = await startRecorder((request, res) => {
    const { path: url, body } = request;
    received.push({ ...request, url });
    const unknown = url.includes(UNKNOWN_MODEL) || body.includes(`"${UNKNOWN_MODEL}"`);
    const answer = unknown ? undefined : answerFor(new URL(url, stub.url).pathname);
    res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer ?? UNKNOWN_MODEL_ERROR));
  });
  return { url: stub.url, received, close: () => stub.close() };
}

/**
 * A `fetch` that sends what a provider means for its real host (Gemini, Azure, Bedrock) to the
 * stand-in instead, saying in a test header which URL was meant.
 */
/** Every place a secret appears in a request (`header:<name>`, `url`, `body`). */
export { placesOf, routedTo } from './apis/recorder.js';
