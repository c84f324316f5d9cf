/**
 * `mcp-agent chat` as a process (the built command): a prompt written on its stdin is answered on
 * stdout; Ctrl-C (SIGINT) during an answer stops that answer only, between answers it ends the
 * session with exit code 0.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { startScriptedChat } from '../agent/scripted-chat.js';
import { tempTree } from '../helpers/cli.js';
import { builtFile, testWith } from '../support/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The built `mcp-agent chat`, in a folder whose configuration points openai at `modelUrl`. */
function startChat(modelUrl: string) {
  const tree = tempTree({
    'mcp_agent.config.yaml': `mcp:
  servers: {}
openai:
  default_model: gpt-4o-mini
  base_url: ${modelUrl}/v1
  api_key: sk-canary-chat-signal
`,
  });
  const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'chat'], {
    cwd: tree.dir,
    env: { PATH: process.env.PATH ?? '', HOME: tree.dir },
  });
  return { tree, child };
}

testWith(builtFile('dist/cli/main.js'))(
  'Ctrl-C between answers ends the session, exit 0',
  async () => {
    const chat = await startScriptedChat();
    chat.script = () => ({ text: 'Answer.' });
    const { tree, child } = startChat(chat.url);
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

/** A chat-completions stand-in whose first request never answers; later ones stream `Fast.`. */
async function slowThenFast() {
  const bodies: string[] = [];
  let arrived: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const held: ServerResponse[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      bodies.push(body);
      if (bodies.length === 1) {
        held.push(response);
        arrived();
        return;
      }
      const chunk = (delta: unknown, finish: string | null) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        `${chunk({ role: 'assistant', content: 'Fast.' }, null)}${chunk({}, 'stop')}data: [DONE]\n\n`,
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    first,
    close: () => {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      server.close();
    },
  };
}

testWith(builtFile('dist/cli/main.js'))(
  'Ctrl-C during an answer stops that answer; the session goes on without it',
  async () => {
    const model = await slowThenFast();
    const { tree, child } = startChat(model.url);
    try {
      let stdout = '';
      let stderr = '';
      let stopped: () => void = () => {};
      const wasStopped = new Promise<void>((resolve) => {
        stopped = resolve;
      });
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('(stopped)')) stopped();
      });
      const exited = once(child, 'exit');
      child.stdin.write('slow\n');
      await model.first;
      child.kill('SIGINT');
      await wasStopped;
      child.stdin.end('fast\n');
      const [code] = await exited;
      expect(code, stderr).toBe(0);
      expect(stdout).toBe('Fast.\n');
      const second = JSON.parse(model.bodies[1] ?? '{}') as { messages: { content: unknown }[] };
      expect(second.messages.map((message) => message.content)).toEqual(['fast']);
    } finally {
      child.kill();
      model.close();
      tree.cleanup();
    }
  },
  30_000,
);
