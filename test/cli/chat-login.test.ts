/**
 * `mcp-agent chat` when a server needs a login: the real oidc-provider authorization server and
 * protected MCP server (test/support/cli-login.ts), the scripted chat-completions stand-in.
 * Without a terminal, `--once` hands the login over (its URL on stderr, exit 1). In a session at a
 * terminal the login happens during the turn, as in `tools call`: through the loopback callback,
 * or with the address the browser ended on typed at chat's prompt, which the login then borrows
 * (the address, which carries the authorization code, never becomes a prompt); Ctrl-C stops a
 * turn waiting for a login and the session goes on.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { run } from '../../src/cli/run.js';
import { type ScriptedChat, startScriptedChat, toolThenText } from '../agent/scripted-chat.js';
import { runCli, tempTree } from '../helpers/cli.js';
import { followAuthorization } from '../support/browser.js';
import {
  approvingBrowser,
  type LoginServers,
  loginConfig,
  startLoginServers,
} from '../support/cli-login.js';

const CANARY = 'sk-canary-chat-login';
const AUTHORIZATION_URL = /https?:\/\/\S+\/auth\?\S*code_challenge=\S*/g;

let servers: LoginServers;
let chat: ScriptedChat;

beforeAll(async () => {
  servers = await startLoginServers();
  chat = await startScriptedChat();
});

afterAll(async () => {
  await chat?.close();
  await servers?.close();
});

async function chatTree() {
  const extra = `openai:\n  default_model: gpt-4o-mini\n  base_url: ${chat.url}/v1\n  api_key: ${CANARY}\n`;
  return tempTree({ 'mcp_agent.config.yaml': await loginConfig(servers.mcp.url, { extra }) });
}

/**
 * `mcp-agent chat` in process, its stdin a terminal the test types on, its output watched as it
 * is written, Ctrl-C sent through `interrupt()`.
 */
function chatAtTerminal(dir: string, options: { openBrowser?: (url: URL) => Promise<boolean> }) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  let stdout = '';
  let stderr = '';
  const waits = new Set<() => void>();
  const written = () => {
    for (const check of [...waits]) check();
  };
  const interrupts = new Set<() => void>();
  const done = run(['chat'], {
    stdout: {
      write: (text: string) => {
        stdout += text;
        written();
      },
    },
    stderr: {
      write: (text: string) => {
        stderr += text;
        written();
      },
    },
    env: {},
    cwd: dir,
    homeDir: join(dir, '.home'),
    stdin,
    ...(options.openBrowser ? { openBrowser: options.openBrowser } : {}),
    onInterrupt: (listener) => {
      interrupts.add(listener);
      return () => interrupts.delete(listener);
    },
  });
  /** Resolves once `found` finds something in what was written. */
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
  return {
    type: (line: string) => stdin.write(`${line}\n`),
    end: () => stdin.end(),
    interrupt: () => {
      for (const listener of interrupts) listener();
    },
    stdout: () => stdout,
    stderr: () => stderr,
    until,
    /** The `n`th authorization URL printed (1-based), once it is. */
    authorizationUrl: (n: number) =>
      until(() => [...stderr.matchAll(AUTHORIZATION_URL)][n - 1]?.[0]).then((url) => new URL(url)),
    done,
  };
}

const sentToModel = () => JSON.stringify(chat.received.map((request) => request.body));

test('--once needing a login without a terminal: the URL on stderr, exit 1', async () => {
  const tree = await chatTree();
  chat.received.length = 0;
  chat.script = () => ({ text: 'never' });
  try {
    const result = await runCli(['chat', '--once', 'hi', '--no-browser'], { cwd: tree.dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${servers.as.issuer}`);
    expect(result.stderr).toMatch(AUTHORIZATION_URL);
    expect(result.stderr).not.toContain(CANARY);
    expect(result.stderr.match(/error:/g)).toHaveLength(1);
    expect(result.stderr).toContain('auth complete');
    expect(chat.received).toHaveLength(0);
  } finally {
    tree.cleanup();
  }
}, 30_000);

describe('a chat session at a terminal', () => {
  test('a login during a turn, completed through the loopback callback', async () => {
    const tree = await chatTree();
    chat.received.length = 0;
    chat.script = toolThenText('notion_whoami', {}, (result) => `You are ${result}.`);
    const session = chatAtTerminal(tree.dir, { openBrowser: approvingBrowser });
    try {
      session.type('Who am I?');
      await session.until(() => (session.stdout().includes('\n') ? true : undefined));
      session.end();
      expect(await session.done, session.stderr()).toBe(0);
      expect(session.stdout()).toMatch(/^You are .*alice.*\.\n$/);
      expect(session.stderr()).toContain('To authorize server "notion"');
      expect(session.stderr()).toContain('Authorization received.');
      expect(session.stderr()).toContain('→ whoami (notion)');
      expect(servers.mcp.calls.at(-1)?.sub).toBe('alice');
      expect(`${session.stdout()}${session.stderr()}`).not.toContain(CANARY);
    } finally {
      tree.cleanup();
    }
  }, 30_000);

  test('a login completed by typing the address the browser ended on: the login reads it, the model never sees it', async () => {
    const tree = await chatTree();
    chat.received.length = 0;
    chat.script = toolThenText('notion_whoami', {}, (result) => `You are ${result}.`);
    const session = chatAtTerminal(tree.dir, {});
    try {
      session.type('Who am I?');
      const url = await session.authorizationUrl(1);
      // The browser is on another machine: it cannot reach the loopback redirect.
      const redirectUri = url.searchParams.get('redirect_uri') ?? '';
      const ended = await followAuthorization(url, { stopAtRedirectUri: redirectUri });
      const code = ended.finalUrl.searchParams.get('code') ?? '';
      expect(code).not.toBe('');
      session.type(ended.finalUrl.href);
      await session.until(() => (session.stdout().includes('\n') ? true : undefined));
      chat.script = () => ({ text: 'Still here.' });
      session.type('And now?');
      session.end();
      expect(await session.done, session.stderr()).toBe(0);
      expect(session.stdout()).toMatch(/^You are .*alice.*\.\nStill here\.\n$/);
      expect(session.stderr()).toContain('paste the address');
      expect(session.stderr()).toContain('→ whoami (notion)');
      const prompts = chat.received.at(-1)?.body.messages.filter((m) => m.role === 'user');
      expect(prompts?.map((message) => message.content)).toEqual(['Who am I?', 'And now?']);
      expect(sentToModel()).not.toContain(code);
      expect(`${session.stdout()}${session.stderr()}`).not.toContain(code);
    } finally {
      tree.cleanup();
    }
  }, 30_000);

  test('Ctrl-C while a login waits stops that turn and its login; the session goes on', async () => {
    const tree = await chatTree();
    chat.received.length = 0;
    chat.script = () => ({ text: 'Logged in now.' });
    let opened = 0;
    const browser = async (url: URL) => {
      opened += 1;
      // The first login is left waiting; the second is approved.
      return opened === 1 ? true : approvingBrowser(url);
    };
    const session = chatAtTerminal(tree.dir, { openBrowser: browser });
    try {
      session.type('first');
      const first = await session.authorizationUrl(1);
      session.interrupt();
      await session.until(() => (session.stderr().includes('(stopped)') ? true : undefined));
      // A line typed now is a prompt again, not input of the cancelled login.
      session.type('second');
      await session.until(() => (session.stdout().includes('\n') ? true : undefined));
      session.end();
      expect(await session.done, session.stderr()).toBe(0);
      expect(session.stdout()).toBe('Logged in now.\n');
      expect(opened).toBe(2);
      // The cancelled login's state is no longer awaited: its callback is refused.
      const late = await followAuthorization(first).catch((error: unknown) => error);
      expect(late).toBeInstanceOf(Error);
      const prompts = chat.received.at(-1)?.body.messages.filter((m) => m.role === 'user');
      expect(prompts?.map((message) => message.content)).toEqual(['second']);
    } finally {
      tree.cleanup();
    }
  }, 30_000);
});
