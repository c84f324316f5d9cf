/**
 * docs/agents.md's agent example, as the page shows it, run by Node (types stripped) against the
 * built package, with a configuration whose `openai:` section points at the scripted stand-in and
 * whose `clock` server is `examples/agent/clock-server.mjs` over stdio: it lists `clock_now`, the
 * model calls it, and the final text carries the tool's answer; the key goes in `Authorization`
 * only and never reaches the output.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { builtFile, testWith } from '../support/services.js';
import { startScriptedChat, toolThenText } from './scripted-chat.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

const config = (url: string) => `mcp:
  servers:
    clock:
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(join(root, 'examples', 'agent', 'clock-server.mjs'))}]
openai:
  default_model: gpt-4o-mini
  base_url: ${url}/v1
`;

testWith(builtFile('dist/agent/index.js'))(
  "docs/agents.md's finder-agent.ts lists the clock's tool and answers with it",
  async () => {
    const page = readFileSync(join(root, 'docs', 'agents.md'), 'utf8');
    const snippet = /^```ts\n(\/\/ finder-agent\.ts\n[\s\S]*?)^```$/m.exec(page)?.[1];
    expect(
      snippet,
      'docs/agents.md has a ```ts block starting with // finder-agent.ts',
    ).toBeDefined();
    // Inside the repository, so that `mcp-agent-ts` resolves to the built package.
    mkdirSync(join(root, '.tools'), { recursive: true });
    const dir = mkdtempSync(join(root, '.tools', 'agent-doc-'));
    const chat = await startScriptedChat();
    try {
      writeFileSync(join(dir, 'finder-agent.ts'), snippet as string);
      writeFileSync(join(dir, 'mcp_agent.config.yaml'), config(chat.url));
      writeFileSync(join(dir, 'mcp_agent.secrets.yaml'), 'openai:\n  api_key: sk-canary-doc\n', {
        mode: 0o600,
      });
      chat.script = toolThenText('clock_now', {}, (result) => `It is ${result}.`);
      const { stdout, stderr } = await run(process.execPath, ['finder-agent.ts'], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: dir },
      });
      const [tools, answer] = stdout.split('\n');
      expect(tools).toBe('clock_now');
      expect(answer).toMatch(/^It is \d{4}-\d\d-\d\dT[\d:.]+Z\.$/);
      expect(`${stdout}${stderr}`).not.toMatch(/canary/);
      expect(chat.received.map((request) => request.authorization)).toEqual([
        'Bearer sk-canary-doc',
        'Bearer sk-canary-doc',
      ]);
      expect(chat.received[0]?.body.model).toBe('gpt-4o-mini');
    } finally {
      await chat.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  30_000,
);
