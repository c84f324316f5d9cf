/**
 * The agent's tool cache (issue 17, item 7): a server's tools are listed once per connection and
 * listed again after the server sends `notifications/tools/list_changed`, or on a new connection.
 * The server is a real stdio MCP server (the SDK's `McpServer`) that counts the `tools/list`
 * requests it receives; the model is the real `@ai-sdk/openai` provider against a scripted
 * stand-in, which records the tools each request offers.
 */
import { fileURLToPath } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import type { AugmentedLlm } from '../../src/agent/llm.js';
import { type AgentAuth, createAgentAuth } from '../../src/client/agent-auth.js';
import { sharedClient } from '../../src/client/shared-server.js';
import { connectionOf } from '../../src/servers/connections-by-transport.js';
import { type ScriptedChat, startScriptedChat, toolThenText } from './scripted-chat.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./changing-tools-server.mjs', import.meta.url));

let chat: ScriptedChat;
let auth: AgentAuth;
let llm: AugmentedLlm;

beforeAll(async () => {
  chat = await startScriptedChat();
  chat.script = () => ({ text: 'done' });
  auth = createAgentAuth({
    settings: {
      mcp: { servers: { changing: { command: process.execPath, args: [SERVER_SCRIPT] } } },
      openai: { api_key: 'sk-tool-cache', base_url: `${chat.url}/v1`, default_model: 'gpt-4o' },
    },
    env: {},
  });
  const agent = new Agent({ name: 'watcher', serverNames: ['changing'] }, { auth });
  llm = await agent.attachLlm('openai');
});
afterAll(async () => {
  await auth?.close();
  await chat?.close();
});

/** The text of a tool of the server, called on the agent's own connection. */
async function call(tool: string): Promise<string> {
  const client = await auth.connect('changing');
  const result = (await client.callTool({ name: tool, arguments: {} })) as CallToolResult;
  return result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

/** The tool names the model was offered in its last request. */
function offered(): string[] {
  const tools = (chat.received.at(-1)?.body.tools ?? []) as { function: { name: string } }[];
  return tools.map((tool) => tool.function.name).sort();
}

describe('the tools an agent offers its model', () => {
  test('are listed once: a second request sends no tools/list', async () => {
    expect(await llm.generateStr('First.', { useHistory: false })).toBe('done');
    expect(offered()).toEqual(['changing_echo', 'changing_grow', 'changing_lists']);
    expect(await call('lists')).toBe('1');
    expect(await llm.generateStr('Second.', { useHistory: false })).toBe('done');
    expect(offered()).toEqual(['changing_echo', 'changing_grow', 'changing_lists']);
    expect(await call('lists')).toBe('1');
  });

  test('another agent on the same connection uses the same listing', async () => {
    const other = new Agent({ name: 'other', serverNames: ['changing'] }, { auth });
    expect((await other.listTools()).map((tool) => tool.name)).toContain('changing_echo');
    expect(await call('lists')).toBe('1');
  });

  test("the connection is found through an end user's view of the agent's client", async () => {
    const client = await auth.connect('changing');
    const connection = connectionOf(client);
    expect(connection?.client).toBe(client);
    expect(connectionOf(sharedClient('changing', client))).toBe(connection);
  });

  test('a tool call still reaches the server through the kept tools', async () => {
    chat.script = toolThenText('changing_echo', { text: 'kept' }, (result) => `said ${result}`);
    expect(await llm.generateStr('Echo.', { useHistory: false })).toBe('said kept');
    chat.script = () => ({ text: 'done' });
    expect(await call('lists')).toBe('1');
  });

  test('after notifications/tools/list_changed, the next request offers the new tool', async () => {
    expect(await call('grow')).toBe('grown');
    expect(await llm.generateStr('Third.', { useHistory: false })).toBe('done');
    expect(offered()).toEqual([
      'changing_echo',
      'changing_grow',
      'changing_later',
      'changing_lists',
    ]);
    expect(await call('lists')).toBe('2');
    expect(await llm.generateStr('Fourth.', { useHistory: false })).toBe('done');
    expect(await call('lists')).toBe('2');
  });

  test('a new connection lists its tools afresh (the cache follows the connection)', async () => {
    await auth.server('changing').disconnect();
    // A new server process: `later` is gone until grow runs again.
    expect(await llm.generateStr('Fifth.', { useHistory: false })).toBe('done');
    expect(offered()).toEqual(['changing_echo', 'changing_grow', 'changing_lists']);
    expect(await call('lists')).toBe('1');
    chat.script = toolThenText('changing_echo', { text: 'anew' }, (result) => `said ${result}`);
    expect(await llm.generateStr('Echo.', { useHistory: false })).toBe('said anew');
    chat.script = () => ({ text: 'done' });
  });
});
