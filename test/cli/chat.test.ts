/**
 * `mcp-agent chat --once`: the real `@ai-sdk/openai` provider against the scripted
 * chat-completions stand-in, the `clock` server of `examples/agent` over stdio. The answer goes to
 * stdout, a line per tool call to stderr, the key only in `Authorization`.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ScriptedChat, startScriptedChat, toolThenText } from '../agent/scripted-chat.js';
import { runCli, tempTree } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CANARY = 'sk-canary-chat-cli';

const config = (url: string, extra = '') => `mcp:
  servers:
    clock:
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(join(root, 'examples', 'agent', 'clock-server.mjs'))}]
openai:
  default_model: gpt-4o-mini
  base_url: ${url}/v1
${extra}`;

describe('mcp-agent chat', () => {
  let chat: ScriptedChat;
  beforeAll(async () => {
    chat = await startScriptedChat();
  });
  afterAll(() => chat.close());

  function tree(extra = '', secrets = `openai:\n  api_key: ${CANARY}\n`) {
    return tempTree({
      'mcp_agent.config.yaml': config(chat.url, extra),
      'mcp_agent.secrets.yaml': secrets,
    });
  }

  test('streams the answer on stdout and names each tool call on stderr', async () => {
    const { dir, cleanup } = tree();
    chat.received.length = 0;
    chat.script = toolThenText('clock_now', {}, (result) => `It is ${result}.`);
    try {
      const result = await runCli(['chat', '--once', 'What time is it?'], { cwd: dir });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^It is \d{4}-\d\d-\d\dT[\d:.]+Z\.\n$/);
      expect(result.stderr).toContain('→ now (clock)');
      expect(`${result.stdout}${result.stderr}`).not.toContain(CANARY);
      expect(chat.received.map((request) => request.authorization)).toEqual([
        `Bearer ${CANARY}`,
        `Bearer ${CANARY}`,
      ]);
      expect(chat.received[0]?.body.stream).toBe(true);
    } finally {
      cleanup();
    }
  }, 30_000);

  test('--agent takes its instruction and servers from agents.definitions; --model', async () => {
    const { dir, cleanup } = tree(
      'agents:\n  definitions:\n    - name: timekeeper\n      instruction: Keep the time.\n      server_names: [clock]\n',
    );
    chat.received.length = 0;
    chat.script = () => ({ text: 'On time.' });
    try {
      const result = await runCli(
        ['chat', '--once', 'hi', '--agent', 'timekeeper', '--model', 'gpt-4.1', '--json'],
        { cwd: dir },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ answer: 'On time.' });
      expect(chat.received[0]?.body.model).toBe('gpt-4.1');
      expect(JSON.stringify(chat.received[0]?.body.messages)).toContain('Keep the time.');
      const unknown = await runCli(['chat', '--once', 'hi', '--agent', 'nobody'], { cwd: dir });
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('No agent "nobody" in agents.definitions');
      expect(unknown.stderr).toContain('timekeeper');
    } finally {
      cleanup();
    }
  }, 30_000);

  test('a provider without its key: exit 1 naming what to set, nothing on stdout', async () => {
    const { dir, cleanup } = tree('', '{}\n');
    try {
      const result = await runCli(['chat', '--once', 'hi'], { cwd: dir });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/openai\.api_key/);
      expect(result.stderr.match(/error:/g)).toHaveLength(1);
    } finally {
      cleanup();
    }
  }, 30_000);

  test("a model error: exit 1 with the provider's text, the key it echoes scrubbed", async () => {
    const { dir, cleanup } = tree();
    // A gateway that echoes the key it refused (OpenAI-compatible ones do).
    chat.script = () => ({
      status: 401,
      error: `Incorrect API key provided: ${CANARY}. The model \`gpt-nope\` does not exist.`,
    });
    try {
      const result = await runCli(['chat', '--once', 'hi', '--model', 'gpt-nope'], { cwd: dir });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('gpt-nope');
      expect(result.stderr).toContain('Incorrect API key provided: [redacted]');
      expect(result.stderr).not.toContain('This is a bug');
      expect(result.stderr.match(/error:/g)).toHaveLength(1);
      expect(result.stderr).not.toContain(CANARY);
    } finally {
      cleanup();
    }
  }, 30_000);

  test('without --once: a prompt per line of stdin, the conversation kept, an error survived', async () => {
    const { dir, cleanup } = tree();
    chat.received.length = 0;
    chat.script = (request) => {
      const users = request.body.messages.filter((message) => message.role === 'user');
      return users.at(-1)?.content === 'second'
        ? { status: 400, error: 'Too many turns for this model.' }
        : { text: `Answer ${users.length}.` };
    };
    const stdin = new PassThrough();
    stdin.end('first\n\nsecond\nthird\n');
    try {
      const result = await runCli(['chat'], { cwd: dir, stdin });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('Answer 1.\nAnswer 2.\n');
      expect(result.stderr).toContain('error: The openai model failed: Too many turns');
      expect(result.stderr).not.toContain(CANARY);
      // The failed turn is not kept: the third prompt follows the first exchange.
      const third = chat.received.at(-1)?.body.messages ?? [];
      expect(third.map((message) => [message.role, message.content])).toEqual([
        ['user', 'first'],
        ['assistant', 'Answer 1.'],
        ['user', 'third'],
      ]);
    } finally {
      cleanup();
    }
  }, 30_000);

  test('--help gives both forms and lists every flag', async () => {
    const { dir, cleanup } = tempTree();
    try {
      const help = await runCli(['chat', '--help'], { cwd: dir });
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('chat --once PROMPT');
      for (const flag of ['--once PROMPT', '--agent NAME', '--provider P', '--model M']) {
        expect(help.stdout).toMatch(new RegExp(`^\\s+${flag} `, 'm'));
      }
      expect(help.stdout).toMatch(/^\s+--no-browser /m);
      expect(help.stdout).toMatch(/^\s+--device /m);
      expect(help.stdout).toContain('Ctrl-C');
    } finally {
      cleanup();
    }
  });

  test('no provider section: says which to set; chat without --once is a usage error', async () => {
    const { dir, cleanup } = tempTree({ 'mcp_agent.config.yaml': 'mcp:\n  servers: {}\n' });
    try {
      const result = await runCli(['chat', '--once', 'hi'], { cwd: dir });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('No model provider is configured');
      const usage = await runCli(['chat'], { cwd: dir });
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('--once');
    } finally {
      cleanup();
    }
  }, 30_000);
});
