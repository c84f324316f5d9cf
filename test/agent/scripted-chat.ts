/**
 * A scripted stand-in of OpenAI's chat completions, for the agent's tests: each request is
 * recorded and answered with what the test's script says (a tool call, or a final text), so the
 * real `@ai-sdk/openai` provider and the AI SDK's tool loop run against it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type Stub, startHttpStub } from '../support/stub-servers.js';

/** A chat-completions request as the stand-in received it. */
export interface ChatRequest {
  readonly authorization: string | undefined;
  /** The path and query asked for (Azure's deployment and `api-version`). */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: {
    model: string;
    messages: { role: string; content?: unknown; tool_calls?: unknown[] }[];
    [key: string]: unknown;
  };
}

/** A tool call (`args` sent as JSON, or `raw` as it is), a final text, or an API error. */
export type Reply =
  | { readonly tool: string; readonly args: unknown; readonly raw?: string }
  | { readonly text: string }
  | { readonly status: number; readonly error: string };

/** A running stand-in: its origin, what it received, the script to follow, `close()`. */
export interface ScriptedChat {
  readonly url: string;
  readonly received: ChatRequest[];
  script: (request: ChatRequest) => Reply;
  close(): Promise<void>;
}

function completion(reply: Exclude<Reply, { status: number }>, turn: number): unknown {
  const message =
    'tool' in reply
      ? {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: `call_${turn}`,
              type: 'function',
              function: { name: reply.tool, arguments: reply.raw ?? JSON.stringify(reply.args) },
            },
          ],
        }
      : { role: 'assistant', content: reply.text };
  return {
    id: `chatcmpl-${turn}`,
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'scripted',
    choices: [{ index: 0, message, finish_reason: 'tool' in reply ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
  };
}

/** `reply` as server-sent events (`stream: true`): the text in two deltas, or the tool call. */
function eventsOf(reply: Exclude<Reply, { status: number }>, turn: number): string {
  const chunk = (delta: unknown, finish: string | null) => ({
    id: `chatcmpl-${turn}`,
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'scripted',
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const deltas =
    'tool' in reply
      ? [
          chunk(
            {
              role: 'assistant',
              tool_calls: [
                {
                  index: 0,
                  id: `call_${turn}`,
                  type: 'function',
                  function: {
                    name: reply.tool,
                    arguments: reply.raw ?? JSON.stringify(reply.args),
                  },
                },
              ],
            },
            null,
          ),
        ]
      : [
          chunk({ role: 'assistant', content: reply.text.slice(0, 4) }, null),
          chunk({ content: reply.text.slice(4) }, null),
        ];
  const events = [...deltas, chunk({}, 'tool' in reply ? 'tool_calls' : 'stop')];
  return `${events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join('')}data: [DONE]\n\n`;
}

/** Start the stand-in on a free loopback port; its script answers "nothing scripted". */
export async function startScriptedChat(): Promise<ScriptedChat> {
  let stub: Stub | undefined;
  const chat: ScriptedChat = {
    url: '',
    received: [],
    script: () => ({ text: 'nothing scripted' }),
    close: () => stub?.close() ?? Promise.resolve(),
  };
  stub = await startHttpStub((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ChatRequest = {
        authorization: req.headers.authorization,
        path: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      };
      chat.received.push(request);
      const reply = chat.script(request);
      const turn = chat.received.length;
      if ('status' in reply) {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: reply.error, type: 'invalid_request_error' } }));
      } else if (request.body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(eventsOf(reply, turn));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(completion(reply, turn)));
      }
    });
  });
  return Object.assign(chat, { url: stub.url });
}

/** The tool results the model was sent in `request` (OpenAI's `role: tool` messages). */
export function toolResultsIn(request: ChatRequest | undefined): string[] {
  return (request?.body.messages ?? [])
    .filter((message) => message.role === 'tool')
    .map((message) => String(message.content));
}

/** A script: a call of `tool` first; when the request ends with its result, the final text. */
export function toolThenText(
  tool: string,
  args: unknown,
  text: (result: string) => string,
): (request: ChatRequest) => Reply {
  return (request) => {
    const last = toolResultsIn(request).at(-1);
    return last !== undefined && request.body.messages.at(-1)?.role === 'tool'
      ? { text: text(last) }
      : { tool, args };
  };
}
