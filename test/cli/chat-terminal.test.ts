/**
 * `mcp-agent chat` (the built command) at a real terminal: util-linux `script` gives it a
 * pseudo-terminal on stdin, stdout and stderr, the test types on it. A server needs a login during
 * the first turn; its browser is on another machine, so the address it ends on is typed at chat's
 * prompt, where the login (borrowing chat's input) reads it; the answer follows, and Ctrl-C
 * (the terminal's ^C, a real SIGINT) at the prompt ends the session with exit code 0.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { startScriptedChat, toolThenText } from '../agent/scripted-chat.js';
import { tempTree } from '../helpers/cli.js';
import { followAuthorization } from '../support/browser.js';
import { loginConfig, startLoginServers } from '../support/cli-login.js';
import { builtFile, onPlatform, testWith } from '../support/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = '/usr/bin/script';
const CANARY = 'sk-canary-chat-terminal';

/** `argv` run by `script` on a new pseudo-terminal; what the terminal shows, as it comes. */
function onTerminal(argv: readonly string[], cwd: string) {
  const command = ['exec', ...argv.map((word) => `'${word.replaceAll("'", `'\\''`)}'`)].join(' ');
  const child = spawn(
    SCRIPT,
    ['--quiet', '--flush', '--return', '--command', command, '/dev/null'],
    {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: cwd, TERM: 'dumb' },
    },
  );
  let screen = '';
  const waits = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    for (const check of [...waits]) check();
  });
  const until = <T>(found: () => T | undefined): Promise<T> =>
    new Promise((resolve) => {
      const check = () => {
        const value = found();
        if (value === undefined) return;
        waits.delete(check);
        resolve(value);
      };
      waits.add(check);
      check();
    });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    child,
    screen: () => screen,
    until,
    exited,
    type: (text: string) => child.stdin.write(text),
  };
}

testWith([
  builtFile('dist/cli/main.js'),
  onPlatform(
    process.platform === 'linux' && existsSync(SCRIPT),
    `util-linux script (${SCRIPT}) gives the pseudo-terminal`,
  ),
])(
  'at a terminal: a login finished by typing the address at the prompt, then ^C ends the session',
  async () => {
    const servers = await startLoginServers();
    const chat = await startScriptedChat();
    chat.script = toolThenText('notion_whoami', {}, (result) => `You are ${result}.`);
    const extra = `openai:\n  default_model: gpt-4o-mini\n  base_url: ${chat.url}/v1\n  api_key: ${CANARY}\n`;
    const tree = tempTree({
      'mcp_agent.config.yaml': await loginConfig(servers.mcp.url, { extra }),
    });
    const main = join(root, 'dist', 'cli', 'main.js');
    const terminal = onTerminal([process.execPath, main, 'chat', '--no-browser'], tree.dir);
    try {
      await terminal.until(() => (terminal.screen().includes('> ') ? true : undefined));
      terminal.type('Who am I?\r');
      const shown = await terminal.until(
        () => /https?:\/\/\S+\/auth\?\S*code_challenge=[^\s\r]*/.exec(terminal.screen())?.[0],
      );
      const url = new URL(shown);
      const redirectUri = url.searchParams.get('redirect_uri') ?? '';
      const ended = await followAuthorization(url, { stopAtRedirectUri: redirectUri });
      const code = ended.finalUrl.searchParams.get('code') ?? '';
      expect(code).not.toBe('');
      terminal.type(`${ended.finalUrl.href}\r`);
      await terminal.until(() => (/You are .*alice/.test(terminal.screen()) ? true : undefined));
      await terminal.until(() => (/alice.*\.\r?\n> $/s.test(terminal.screen()) ? true : undefined));
      terminal.type('\u0003');
      expect(await terminal.exited, terminal.screen()).toBe(0);
      expect(terminal.screen()).toContain('→ whoami (notion)');
      expect(terminal.screen()).not.toContain(CANARY);
      const prompts = chat.received
        .at(-1)
        ?.body.messages.filter((message) => message.role === 'user')
        .map((message) => message.content);
      expect(prompts).toEqual(['Who am I?']);
      expect(JSON.stringify(chat.received.map((request) => request.body))).not.toContain(code);
    } finally {
      terminal.child.kill();
      await chat.close();
      await servers.close();
      tree.cleanup();
    }
  },
  30_000,
);
