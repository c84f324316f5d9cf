/**
 * A downstream server's questions answered at a real terminal (util-linux `script` gives the built
 * `mcp-agent` a pseudo-terminal): `tools call` of server-everything's `trigger-elicitation-request`
 * answered field by field (an invalid answer asked again, defaults taken on Enter), declined, and
 * cancelled with Ctrl-D; its `trigger-sampling-request` answered by the configured model (a
 * stand-in of OpenAI's chat completions) once approved. Without a provider sampling is not
 * declared, and without a terminal elicitation is not: server-everything then offers neither
 * tool, and a server that asks anyway gets the protocol's refusal.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ScriptedChat, startScriptedChat } from '../agent/scripted-chat.js';
import { runCli, tempTree } from '../helpers/cli.js';
import { EVERYTHING } from '../support/everything.js';
import { builtFile, describeWith } from '../support/services.js';
import { onTerminal, withTerminal } from '../support/terminal.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = join(root, 'dist', 'cli', 'main.js');
const ASKING = join(root, 'test', 'support', 'asking-server.mjs');
const CANARY = 'sk-canary-cli-sampling';

const servers = `mcp:
  servers:
    everything:
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(EVERYTHING)}, stdio]
    asking:
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(ASKING)}]
`;

describeWith([builtFile('dist/cli/main.js'), withTerminal()])('at a terminal', () => {
  let model: ScriptedChat;
  const plain = tempTree({ 'mcp_agent.config.yaml': servers });
  let withModel: ReturnType<typeof tempTree>;

  beforeAll(async () => {
    model = await startScriptedChat();
    model.script = () => ({ text: 'Sampled: the answer is 42.' });
    withModel = tempTree({
      'mcp_agent.config.yaml': `${servers}openai:\n  default_model: gpt-4o-mini\n  base_url: ${model.url}/v1\n  api_key: ${CANARY}\n`,
    });
  });
  afterAll(async () => {
    await model.close();
    plain.cleanup();
    withModel.cleanup();
  });

  const callTool = (dir: string, ...args: string[]) =>
    onTerminal([process.execPath, main, 'tools', 'call', 'everything', ...args], dir);

  test('a form answered field by field: required, invalid answers asked again, defaults, choices', async () => {
    const terminal = callTool(plain.dir, 'trigger-elicitation-request');
    const answer = async (question: string, typed: string) => {
      await terminal.next(question);
      await terminal.next('> ');
      terminal.type(`${typed}\r`);
    };
    try {
      await terminal.next('"everything" asks you to fill in a form');
      await terminal.next('Please provide inputs for the following fields:');
      await answer('Answer? [y]es / [n]o (decline)', 'y');
      await answer('name (String): Your full, legal name', '');
      await answer('an answer is required; try again.', 'Ada Lovelace');
      await answer('check (Boolean)', 'yes');
      await answer('[text; Enter: It was a dark and stormy night.]', '');
      await answer('email (String with email format)', 'not-an-email');
      await answer('that is not an email address; try again.', 'ada@example.com');
      await answer('homepage (String with uri format)', '');
      await answer('birthdate (String with date format)', '1815-12-10');
      await answer('[a whole number, 1 to 100; Enter: 42]', '500');
      await answer('500 is more than 100; try again.', '7');
      await answer('[a number, 0 to 1000; Enter: 3.14]', '');
      await answer('  2) Rachel', '2');
      await answer(
        '[numbers or values separated by commas, 1 to 3 choices; Enter: Guitar]',
        'Piano, drums',
      );
      await answer('  3) Wonder Woman', 'wonder woman');
      await answer('[numbers or values separated by commas, 1 to 3 choices; Enter: Tuna]', '');
      await answer('  2) Dogs', '2');
      await terminal.next('Your answers for "everything":');
      await terminal.next('  homepage: (left out)');
      await answer('Send? [y]es / [n]o (decline) / [e]dit', 'y');
      expect(await terminal.exited, terminal.screen()).toBe(0);
      const screen = terminal.screen();
      expect(screen).toContain('User provided the requested information!');
      expect(screen).toContain('- Name: Ada Lovelace');
      const raw = JSON.parse(
        /Raw result: (\{[\s\S]*\})/.exec(screen)?.[1]?.replace(/\r/g, '') ?? '{}',
      );
      expect(raw).toEqual({
        action: 'accept',
        content: {
          name: 'Ada Lovelace',
          check: true,
          firstLine: 'It was a dark and stormy night.',
          email: 'ada@example.com',
          birthdate: '1815-12-10',
          integer: 7,
          number: 3.14,
          untitledSingleSelectEnum: 'Rachel',
          untitledMultipleSelectEnum: ['Piano', 'Drums'],
          titledSingleSelectEnum: 'hero-3',
          titledMultipleSelectEnum: ['fish-1'],
          legacyTitledEnum: 'pet-2',
        },
      });
    } finally {
      terminal.child.kill();
    }
  }, 30_000);

  test('a form declined at the first question, and one cancelled by the end of input (Ctrl-D)', async () => {
    const declined = callTool(plain.dir, 'trigger-elicitation-request');
    const cancelled = callTool(plain.dir, 'trigger-elicitation-request');
    try {
      await declined.next('Answer? [y]es / [n]o (decline) > ');
      declined.type('n\r');
      expect(await declined.exited, declined.screen()).toBe(0);
      expect(declined.screen()).toContain('User declined to provide the requested information.');
      await cancelled.next('Answer? [y]es / [n]o (decline) > ');
      cancelled.type('y\r');
      await cancelled.next('name (String)');
      await cancelled.next('> ');
      cancelled.type('\u0004');
      expect(await cancelled.exited, cancelled.screen()).toBe(0);
      expect(cancelled.screen()).toContain('User cancelled the elicitation dialog.');
    } finally {
      declined.child.kill();
      cancelled.child.kill();
    }
  }, 30_000);

  test("a sampling request approved, answered by the configured provider's model", async () => {
    const terminal = callTool(
      withModel.dir,
      'trigger-sampling-request',
      '{"prompt": "What is the answer?", "maxTokens": 64}',
    );
    try {
      await terminal.next('"everything" asks the openai gpt-4o-mini model for a message:');
      await terminal.next('system: You are a helpful test server.');
      await terminal.next('user: Resource trigger-sampling-request context: What is the answer?');
      await terminal.next('(at most 64 tokens, temperature 0.7)');
      await terminal.next('Send it to the model? [y]es / [n]o (refuse) > ');
      terminal.type('y\r');
      await terminal.next('Sampled: the answer is 42.');
      await terminal.next('Return it to "everything"? [y]es / [n]o (refuse) > ');
      terminal.type('y\r');
      expect(await terminal.exited, terminal.screen()).toBe(0);
      const screen = terminal.screen();
      expect(screen).toContain('LLM sampling result');
      expect(screen).toContain('"text": "Sampled: the answer is 42."');
      expect(screen).toContain('"stopReason": "endTurn"');
      expect(screen).not.toContain(CANARY);
      const body = model.received.at(-1)?.body;
      expect(body?.messages).toEqual([
        { role: 'system', content: 'You are a helpful test server.' },
        { role: 'user', content: 'Resource trigger-sampling-request context: What is the answer?' },
      ]);
      expect(body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 64, temperature: 0.7 });
    } finally {
      terminal.child.kill();
    }
  }, 30_000);

  test('without a provider, sampling is not declared: the protocol refuses it', async () => {
    const listed = onTerminal([process.execPath, main, 'tools', 'list', 'everything'], plain.dir);
    const asking = onTerminal(
      [process.execPath, main, 'tools', 'call', 'asking', 'ask', '{"what": "sample"}'],
      plain.dir,
    );
    try {
      expect(await listed.exited, listed.screen()).toBe(0);
      expect(listed.screen()).toContain('everything_trigger-elicitation-request');
      expect(listed.screen()).not.toContain('everything_trigger-sampling-request');
      expect(await asking.exited, asking.screen()).toBe(0);
      expect(asking.screen()).toContain('refused: MCP error -32601: Method not found');
    } finally {
      listed.child.kill();
      asking.child.kill();
    }
  }, 30_000);
});

describeWith(builtFile('dist/cli/main.js'))('without a terminal', () => {
  const tree = tempTree({ 'mcp_agent.config.yaml': servers });
  let model: ScriptedChat;
  let withModel: ReturnType<typeof tempTree>;
  beforeAll(async () => {
    model = await startScriptedChat();
    model.script = () => ({ text: 'Unattended answer.' });
    withModel = tempTree({
      'mcp_agent.config.yaml': `${servers}openai:\n  default_model: gpt-4o-mini\n  base_url: ${model.url}/v1\n  api_key: ${CANARY}\n`,
    });
  });
  afterAll(async () => {
    tree.cleanup();
    withModel.cleanup();
    await model.close();
  });

  test('a configured provider alone is no consent: sampling is declared only with --provider', async () => {
    const sample = ['tools', 'call', 'asking', 'ask', '{"what": "sample", "maxTokens": 100000}'];
    const unasked = await runCli(sample, { cwd: withModel.dir });
    expect(unasked.code, unasked.stderr).toBe(0);
    expect(unasked.stdout).toContain('refused: MCP error -32601: Method not found');
    expect(model.received).toHaveLength(0);
    const listed = await runCli(['tools', 'list', 'everything'], { cwd: withModel.dir });
    expect(listed.stdout).toContain('everything_echo');
    expect(listed.stdout).not.toContain('trigger-sampling-request');

    const opted = await runCli([...sample, '--provider', 'openai'], { cwd: withModel.dir });
    expect(opted.code, opted.stderr).toBe(0);
    expect(opted.stdout).toContain('answered: ');
    expect(opted.stdout).toContain('Unattended answer.');
    expect(opted.stderr).toContain('"asking" asked the openai gpt-4o-mini model for a message.');
    expect(`${opted.stdout}${opted.stderr}`).not.toContain(CANARY);
    // maxTokens is cut to the ceiling.
    expect(model.received.at(-1)?.body).toMatchObject({ max_tokens: 4096 });
    const listedWith = await runCli(['tools', 'list', 'everything', '--provider', 'openai'], {
      cwd: withModel.dir,
    });
    expect(listedWith.code, listedWith.stderr).toBe(0);
    expect(listedWith.stdout).toContain('everything_trigger-sampling-request');
  }, 30_000);

  test('elicitation is not declared: no elicitation tool, and a server that asks is refused', async () => {
    const listed = await runCli(['tools', 'list', 'everything'], { cwd: tree.dir });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('everything_echo');
    expect(listed.stdout).not.toContain('trigger-elicitation-request');
    const called = await runCli(['tools', 'call', 'everything', 'trigger-elicitation-request'], {
      cwd: tree.dir,
    });
    expect(called.code).not.toBe(0);
    expect(called.stderr).toContain('trigger-elicitation-request');
    const asked = await runCli(['tools', 'call', 'asking', 'ask', '{"what": "form"}'], {
      cwd: tree.dir,
    });
    expect(asked.code, asked.stderr).toBe(0);
    expect(asked.stdout).toContain('refused: MCP error -32601: Method not found');
  }, 30_000);
});
