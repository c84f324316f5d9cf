/**
 * `mcp-agent chat` (the built command) at a real terminal: util-linux `script` gives it a
 * pseudo-terminal on stdin, stdout and stderr, the test types on it. A server needs a login during
 * the first turn; its browser is on another machine, so the address it ends on is typed at chat's
 * prompt, where the login (borrowing chat's input) reads it; the answer follows, and Ctrl-C
 * (the terminal's ^C, a real SIGINT) at the prompt ends the session with exit code 0.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { startScriptedChat, toolThenText } from '../agent/scripted-chat.js';
import { tempTree } from '../helpers/cli.js';
import { followAuthorization } from '../support/browser.js';
import { loginConfig, startLoginServers } from '../support/cli-login.js';
import { builtFile, testWith } from '../support/services.js';
import { onTerminal, withTerminal } from '../support/terminal.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CANARY = 'sk-canary-chat-terminal';

testWith([builtFile('dist/cli/main.js'), withTerminal()])(
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
