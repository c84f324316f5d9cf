/**
 * A stand-in of OpenAI's chat completions for the agent benchmark (node:http only): a request
 * whose last message is not a tool result is answered with a call of `tool` (`{"text":"hi"}`),
 * one whose last message is a tool result with a final text quoting it. `onRequest` runs at each
 * request (the memory benchmark samples there, while every run is in flight).
 *
 * @module
 */
import { createServer } from 'node:http';

function completion(turn, toolName, last) {
  const message =
    last?.role === 'tool'
      ? { role: 'assistant', content: `The tool said: ${JSON.stringify(last.content)}` }
      : {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: `call_${turn}`,
              type: 'function',
              function: { name: toolName, arguments: '{"text":"hi"}' },
            },
          ],
        };
  return {
    id: `chatcmpl-${turn}`,
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'bench',
    choices: [{ index: 0, message, finish_reason: message.tool_calls ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
  };
}

/** Start the stand-in on 127.0.0.1; `{ url, requests(), close() }`. */
export async function startChatStandIn({ toolName, onRequest = () => {} }) {
  let turn = 0;
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    onRequest();
    turn += 1;
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const text = JSON.stringify(completion(turn, toolName, body.messages.at(-1)));
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests: () => turn,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}
