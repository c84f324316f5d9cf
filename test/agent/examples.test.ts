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
import { main as azure } from '../../examples/model_providers/azure/main.js';
import { main as bedrock } from '../../examples/model_providers/bedrock/main.js';
import type { ExampleOptions } from '../../examples/model_providers/finder.js';
import { main as google } from '../../examples/model_providers/google/main.js';
import { main as ollama } from '../../examples/model_providers/ollama/main.js';
import type { LlmOptions } from '../../src/agent/llm.js';
import { CONVERSE, GEMINI, scriptedApi } from './scripted-api.js';
import {
  type ScriptedChat,
  startScriptedChat,
  toolResultsIn,
  toolThenText,
} from './scripted-chat.js';

const pageServer = fileURLToPath(new URL('./page-server.mjs', import.meta.url));
const URL_ASKED = 'https://modelcontextprotocol.io/introduction';
const FETCH_CALL = { tool: 'fetch_fetch', args: { url: URL_ASKED } };
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

/**
 * Run `main` with `config` (its servers: `mcp:` is prepended), `env` and `llm`, the scripted chat
 * calling the finder's fetch tool, then answering with the page; the lines it printed.
 */
async function run(
  main: (options: ExampleOptions) => Promise<void>,
  config: string,
  env: Record<string, string>,
  llm: LlmOptions = {},
): Promise<string[]> {
  const configPath = join(dir, 'mcp_agent.config.yaml');
  writeFileSync(configPath, `mcp:\n  servers:\n${config}`);
  chat.script = toolThenText('fetch_fetch', { url: URL_ASKED }, (page) => `Here: ${page}`);
  const lines: string[] = [];
  await main({
    auth: { configPath, env: { HOME: dir, ...env }, homeDir: dir },
    llm,
    print: (line) => lines.push(line),
  });
  // The model's stand-in is the scripted chat, unless `llm` brings its own.
  if (llm.fetch === undefined) expect(toolResultsIn(chat.received.at(-1))).toEqual([PAGE]);
  expect(lines).toContain(`Paragraphs: Here: ${PAGE}`);
  expect(lines.join('\n')).not.toMatch(/canary/);
  return lines;
}

describe('examples/model_providers', () => {
  test('ollama: the finder lists fetch and filesystem tools, calls fetch, prints the answer', async () => {
    const config = `    fetch:
      ${stdio('fetch')}
    filesystem:
      ${stdio('read_file')}
openai:
  default_model: llama3.2:3b
`;
    const env = { OPENAI_API_KEY: 'sk-canary-ollama', OPENAI_BASE_URL: `${chat.url}/v1` };
    const lines = await run(ollama, config, env);
    expect(lines[0]).toBe('Tools available: fetch_fetch, filesystem_read_file');
    expect(chat.received[0]?.authorization).toBe('Bearer sk-canary-ollama');
    expect(chat.received[0]?.body.model).toBe('llama3.2:3b');
  });

  test('azure: the finder lists fetch, calls it, prints the answer (deployments API, api-key)', async () => {
    const config = `    fetch:
      ${stdio('fetch')}
azure:
  default_model: gpt-4o-mini
  api_version: "2025-01-01-preview"
`;
    const env = { AZURE_OPENAI_API_KEY: 'canary-azure', AZURE_OPENAI_ENDPOINT: chat.url };
    const lines = await run(azure, config, env);
    expect(lines[0]).toBe('Tools available: fetch_fetch');
    expect(chat.received[0]?.headers['api-key']).toBe('canary-azure');
    expect(chat.received[0]?.path).toBe(
      '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2025-01-01-preview',
    );
  });

  test('google: the finder calls fetch, prints the answer, then a structured essay', async () => {
    const essay = { title: 'MCP', body: PAGE, conclusion: 'Open.' };
    // Structured, with tools: the AI SDK offers Gemini a `json` function to answer with.
    const gemini = scriptedApi(
      GEMINI,
      (prompt) => (prompt.includes('essay') ? { tool: 'json', args: essay } : FETCH_CALL),
      `Here: ${PAGE}`,
    );
    const config = `    fetch:\n      ${stdio('fetch')}\ngoogle:\n  default_model: gemini-2.0-flash\n`;
    const env = { GOOGLE_API_KEY: 'canary-gemini' };
    const lines = await run(google, config, env, { fetch: gemini.fetch });
    expect(lines).toEqual([
      'Tools available: fetch_fetch',
      `Paragraphs: Here: ${PAGE}`,
      `Essay: ${JSON.stringify(essay)}`,
    ]);
    const result = gemini.received[1]?.body.contents.at(-1).parts[0].functionResponse;
    expect(result).toMatchObject({ name: 'fetch_fetch', response: { content: PAGE } });
    expect(gemini.received[0]?.headers.get('x-goog-api-key')).toBe('canary-gemini');
    expect(gemini.received[0]?.url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent',
    );
  });

  test('bedrock: the finder calls fetch over Converse, signed with the configured key', async () => {
    const converse = scriptedApi(CONVERSE, () => FETCH_CALL, `Here: ${PAGE}`);
    const config = `    fetch:\n      ${stdio('fetch')}\nbedrock:\n  default_model: us.amazon.nova-lite-v1:0\n`;
    const env = {
      AWS_ACCESS_KEY_ID: 'AKIDCANARY',
      AWS_SECRET_ACCESS_KEY: 'canary-aws-secret',
      AWS_REGION: 'us-east-1',
    };
    const lines = await run(bedrock, config, env, { fetch: converse.fetch });
    expect(lines).toEqual(['Tools available: fetch_fetch', `Paragraphs: Here: ${PAGE}`]);
    const result = converse.received[1]?.body.messages.at(-1).content[0].toolResult;
    expect(JSON.stringify(result)).toContain(PAGE);
    expect(converse.received[0]?.url).toBe(
      'https://bedrock-runtime.us-east-1.amazonaws.com/model/us.amazon.nova-lite-v1%3A0/converse',
    );
    expect(converse.received[0]?.headers.get('authorization')).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDCANARY\/\d{8}\/us-east-1\/bedrock\/aws4_request/,
    );
    const sent = JSON.stringify([...(converse.received[0]?.headers ?? [])]);
    expect(sent).not.toContain('canary-aws-secret');
    expect(lines.join('\n')).not.toMatch(/CANARY/);
  });
});
