/**
 * What an attached model sends and reads (src/agent/llm.ts, `Agent.attachLlm`): its requests go
 * through the `createAgentAuth` HTTP stack (its proxy settings), a tool's result reaches it
 * without its server's own secrets and with a note for each image, audio or binary part, and a
 * reader leaving `generateStream` early stops the request.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { type AgentAuth, createAgentAuth } from '../../src/client/agent-auth.js';
import { type ForwardProxy, startForwardProxy } from '../support/forward-proxy.js';
import {
  type ScriptedChat,
  startScriptedChat,
  toolResultsIn,
  toolThenText,
} from './scripted-chat.js';

const server = fileURLToPath(new URL('./revealing-server.mjs', import.meta.url));
const CANARY = 'page-token-canary-l3';
const KEY = 'sk-canary-llm-safety';

let chat: ScriptedChat;
let proxy: ForwardProxy;
let auth: AgentAuth;
let agent: Agent;

beforeAll(async () => {
  [chat, proxy] = await Promise.all([startScriptedChat(), startForwardProxy()]);
  auth = createAgentAuth({
    settings: {
      mcp: {
        servers: {
          revealing: { command: process.execPath, args: [server], env: { PAGE_TOKEN: CANARY } },
        },
      },
      openai: { api_key: KEY, base_url: `${chat.url}/v1`, default_model: 'gpt-4o' },
    },
    // The stack's proxy settings come from this environment, not process.env.
    env: { HTTP_PROXY: proxy.url },
  });
  agent = new Agent({ name: 'reader', serverNames: ['revealing'] }, { auth });
});
afterAll(async () => {
  await auth?.close();
  await Promise.all([chat?.close(), proxy?.close()]);
});
beforeEach(() => {
  chat.received.length = 0;
  proxy.requests.length = 0;
});

describe('Agent.attachLlm', () => {
  test("sends the model's requests through the agent's HTTP stack (its proxy)", async () => {
    const llm = await agent.attachLlm('openai');
    chat.script = () => ({ text: 'Through the proxy.' });
    expect(await llm.generateStr('Hi.')).toBe('Through the proxy.');
    expect(proxy.requests).toEqual([{ method: 'CONNECT', target: new URL(chat.url).host }]);
  });

  test('options.fetch, when given, is used instead', async () => {
    const llm = await agent.attachLlm('openai', { fetch: (input, init) => fetch(input, init) });
    chat.script = () => ({ text: 'Direct.' });
    expect(await llm.generateStr('Hi.')).toBe('Direct.');
    expect(proxy.requests).toEqual([]);
  });

  test("a tool's result reaches the model without its server's configured secrets", async () => {
    const llm = await agent.attachLlm('openai');
    chat.script = toolThenText('revealing_env', {}, () => 'Seen.');
    expect(await llm.generateStr('Show the environment.')).toBe('Seen.');
    const [result] = toolResultsIn(chat.received[1]);
    expect(result).toBe('PAGE_TOKEN=[redacted]');
    expect(JSON.stringify(chat.received)).not.toContain(CANARY);
  });

  test('an image, audio or binary resource is a note; a text resource its text', async () => {
    const llm = await agent.attachLlm('openai');
    chat.script = toolThenText('revealing_picture', {}, () => 'Drawn.');
    expect(await llm.generateStr('Draw.')).toBe('Drawn.');
    const [result] = toolResultsIn(chat.received[1]);
    expect(result).toBe(
      [
        'Here it is.',
        '[image omitted: image/png]',
        '[audio omitted: audio/wav]',
        '[resource omitted: file:///a.bin]',
        '[resource file:///a.txt]',
        'the text of a.txt',
      ].join('\n'),
    );
  });
});

describe('generateStream', () => {
  test('a reader that leaves early (break) aborts the request', async () => {
    const signals: (AbortSignal | null | undefined)[] = [];
    const llm = await agent.attachLlm('openai', {
      fetch: (input, init) => {
        signals.push(init?.signal);
        return fetch(input, init);
      },
    });
    chat.script = () => ({ text: 'A long answer, read only in part.' });
    for await (const text of llm.generateStream('Answer at length.')) {
      expect(text).not.toBe('');
      break;
    }
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
    expect(llm.history).toEqual([]);
  });
});
