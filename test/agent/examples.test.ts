/**
 * The model-provider examples (`examples/model_providers/<provider>/main.ts`, mcp-agent's
 * `examples/model_providers`), each run with a configuration whose `fetch` server is a local
 * stdio stand-in (`page-server.mjs`) and whose provider points at a scripted stand-in of its API:
 * the model calls the finder's fetch tool, the tool runs, the final text is printed, and the
 * canary key is never printed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { main as ollama } from '../../examples/model_providers/ollama/main.js';
import {
  type ScriptedChat,
  startScriptedChat,
  toolResultsIn,
  toolThenText,
} from './scripted-chat.js';

const pageServer = fileURLToPath(new URL('./page-server.mjs', import.meta.url));
const PAGE = 'MCP is an open protocol. It standardizes context.';
const stdio = (tool: string) =>
  `command: ${JSON.stringify(process.execPath)}\n      args: [${JSON.stringify(pageServer)}, ${tool}]`;

let dir: string;
let chat: ScriptedChat;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'examples-'));
  chat = await startScriptedChat();
});
afterEach(async () => {
  await chat.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Write `config` as the example's configuration; the options `main` loads it with. */
function configured(config: string, env: Record<string, string>) {
  const configPath = join(dir, 'mcp_agent.config.yaml');
  writeFileSync(configPath, config);
  return { configPath, env: { HOME: dir, ...env }, homeDir: dir };
}

describe('examples/model_providers', () => {
  test('ollama: the finder lists fetch and filesystem tools, calls fetch, prints the answer', async () => {
    const lines: string[] = [];
    const auth = configured(
      `mcp:
  servers:
    fetch:
      ${stdio('fetch')}
    filesystem:
      ${stdio('read_file')}
openai:
  default_model: llama3.2:3b
`,
      { OPENAI_API_KEY: 'sk-canary-ollama', OPENAI_BASE_URL: `${chat.url}/v1` },
    );
    chat.script = toolThenText(
      'fetch_fetch',
      { url: 'https://modelcontextprotocol.io/introduction' },
      (page) => `Here: ${page}`,
    );
    await ollama({ auth, print: (line) => lines.push(line) });
    expect(lines).toEqual([
      'Tools available: fetch_fetch, filesystem_read_file',
      `Paragraphs: Here: ${PAGE}`,
    ]);
    expect(toolResultsIn(chat.received.at(-1))).toEqual([PAGE]);
    expect(chat.received[0]?.authorization).toBe('Bearer sk-canary-ollama');
    expect(chat.received[0]?.body.model).toBe('llama3.2:3b');
    expect(lines.join('\n')).not.toMatch(/canary/);
  });
});
