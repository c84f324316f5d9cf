/**
 * `mcp-agent chat` as a process (the built command): a prompt written on its stdin is answered on
 * stdout, and Ctrl-C (SIGINT) between answers ends the session with exit code 0.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { startScriptedChat } from '../agent/scripted-chat.js';
import { tempTree } from '../helpers/cli.js';
import { builtFile, testWith } from '../support/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

testWith(builtFile('dist/cli/main.js'))(
  'Ctrl-C between answers ends the session, exit 0',
  async () => {
    const chat = await startScriptedChat();
    const tree = tempTree({
      'mcp_agent.config.yaml': `mcp:
  servers: {}
openai:
  default_model: gpt-4o-mini
  base_url: ${chat.url}/v1
  api_key: sk-canary-chat-signal
`,
    });
    chat.script = () => ({ text: 'Answer.' });
    const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'chat'], {
      cwd: tree.dir,
      env: { PATH: process.env.PATH ?? '', HOME: tree.dir },
    });
    try {
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const answered = new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('\n')) resolve();
        });
      });
      child.stdin.write('hello\n');
      await answered;
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const [code] = await exited;
      expect(code, stderr).toBe(0);
      expect(stdout).toBe('Answer.\n');
      expect(`${stdout}${stderr}`).not.toContain('sk-canary');
    } finally {
      child.kill();
      await chat.close();
      tree.cleanup();
    }
  },
  30_000,
);
