import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { freePort, waitFor } from '../support/net.js';

// The README's two examples, from their config files, against the local stand-ins.
const root = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'ghp_canary_example_7c1';

describe('examples/slack: credentials through a stdio server environment', () => {
  test('SLACK_BOT_TOKEN reaches the server; nothing else of the shell does', async () => {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      SLACK_BOT_TOKEN: 'xoxb-canary-example',
      SLACK_TEAM_ID: 'T0123',
      AWS_SECRET_ACCESS_KEY: 'parent-only-canary',
    };
    const args = ['-c', 'examples/slack/mcp_agent.config.yaml'];
    const listed = await runCli([...args, 'servers', 'list'], { cwd: root, env });
    expect(listed.stdout).toMatch(/slack\s+stdio\s+env/);
    expect(listed.stdout + listed.stderr).not.toContain('xoxb-canary-example');

    const result = await runCli([...args, '--json', 'tools', 'call', 'slack', 'get-env'], {
      cwd: root,
      env,
    });
    expect(result.code, result.stderr).toBe(0);
    const printed = JSON.parse(
      (JSON.parse(result.stdout) as { content: { text: string }[] }).content[0]?.text ?? '{}',
    ) as Record<string, string>;
    expect(printed.SLACK_BOT_TOKEN).toBe('xoxb-canary-example');
    expect(printed.SLACK_TEAM_ID).toBe('T0123');
    expect(printed.AWS_SECRET_ACCESS_KEY).toBeUndefined();
  });
});

describe('examples/github: static headers over SSE', () => {
  let standIn: ChildProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}/sse`;
    standIn = spawn(process.execPath, ['examples/github/stand-in.mjs', String(port)], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', GITHUB_TOKEN: TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    standIn.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await waitFor(
      'the stand-in to listen',
      () => (stderr.includes('listening') ? true : undefined),
      10_000,
    );
  });
  afterAll(() => {
    standIn?.kill();
  });

  const env = () => ({ GITHUB_TOKEN: TOKEN, ORG_ID: 'acme', GITHUB_MCP_URL: url });
  const args = ['-c', 'examples/github/mcp_agent.config.yaml'];

  test('tools list and tools call with the headers from the environment', async () => {
    const listed = await runCli([...args, 'tools', 'list'], { cwd: root, env: env() });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('github_whoami');
    const called = await runCli([...args, 'tools', 'call', 'github', 'whoami'], {
      cwd: root,
      env: env(),
    });
    expect(called.code, called.stderr).toBe(0);
    expect(called.stdout).toContain('organisation acme');
    expect(`${listed.stdout}${listed.stderr}${called.stdout}${called.stderr}`).not.toContain(TOKEN);
  });

  test('a wrong token: exit 1 and a sentence that points at the headers, without the token', async () => {
    const result = await runCli([...args, 'tools', 'list'], {
      cwd: root,
      env: { ...env(), GITHUB_TOKEN: 'wrong-token-canary' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /needs authentication \(HTTP 401\); set its credentials in mcp\.servers\.github\.headers/,
    );
    expect(result.stdout + result.stderr).not.toContain('wrong-token-canary');
  });
});
