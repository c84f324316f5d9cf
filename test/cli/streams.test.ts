/**
 * Where each command's output lands (DESIGN.md, "The CLI contract"): the result on stdout (text,
 * or with --json exactly one JSON document), everything else on stderr; and a reader that closes
 * the pipe early (`| head -1`) ends the output, not the command.
 */
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { Output, processSink } from '../../src/cli/io.js';
import { runCli, tempTree } from '../helpers/cli.js';
import { q } from '../support/config.js';
import { EVERYTHING } from '../support/everything.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'mcp-agent.js');
const STACK_FRAME = /\n\s+at /;

let trees: ReturnType<typeof tempTree>[] = [];
afterEach(() => {
  for (const tree of trees) tree.cleanup();
  trees = [];
});

/** A project with a stdio server, a server that uses OAuth, and a static credential. */
function project(): ReturnType<typeof tempTree> {
  const tree = tempTree({
    'mcp_agent.config.yaml': `mcp:
  servers:
    ev:
      command: ${q(process.execPath)}
      args: [${q(EVERYTHING)}, "stdio"]
    remote:
      transport: streamable_http
      url: https://remote.example/mcp
      auth:
        oauth:
          enabled: true
oauth:
  token_store:
    backend: file
    path: ./tokens.json
credentials:
  weather:
    type: api_key
    hosts: [api.weather.example]
`,
    // Where `init --dir` writes, once per mode.
    'fresh/.keep': '',
    'again/.keep': '',
  });
  tree.write(
    'mcp_agent.secrets.yaml',
    'credentials:\n  weather:\n    api_key: streams-canary-key\n',
    0o600,
  );
  trees.push(tree);
  return tree;
}

/** One command: its arguments, what its text result looks like, and what goes to stderr. */
interface Case {
  readonly argv: readonly string[];
  /** Something only the text result has. */
  readonly result: RegExp;
  /** What stderr holds in text mode (hints, progress); default: nothing. */
  readonly stderr?: RegExp;
}

const CASES: readonly Case[] = [
  {
    argv: ['config', 'check'],
    result: /^Configuration OK: mcp_agent\.config\.yaml \+ mcp_agent\.secrets\.yaml\n/,
  },
  { argv: ['config', 'show'], result: /^# effective configuration from .*\nmcp:\n/ },
  { argv: ['servers', 'list'], result: /^NAME +TRANSPORT +AUTH +ENDPOINT\nev +stdio/ },
  { argv: ['tools', 'list', 'ev'], result: /echo +Echoes back the input string$/m },
  { argv: ['tools', 'call', 'ev', 'echo', '{"message":"piped"}'], result: /^Echo: piped\n$/ },
  { argv: ['doctor', 'ev'], result: /^ok {3}configuration: .*\nok {3}call: connected/ },
  { argv: ['auth', 'status'], result: /^weather: api_key credential .*\nremote: not logged in/ },
  { argv: ['auth', 'logout', 'remote'], result: /^remote: no stored token\.\n$/ },
  { argv: ['auth', 'login', 'weather'], result: /^Credential "weather" is an api_key credential/ },
  {
    argv: ['init', '--dir', 'fresh'],
    result: /^created +fresh\/mcp_agent\.config\.yaml$/m,
    stderr: /^Next: /,
  },
  {
    argv: ['serve', '--port', '0'],
    result: /^Serving MCP at http:\/\/127\.0\.0\.1:\d+\/mcp \(authorization is off/,
    stderr: /^Stopping\.\n$/,
  },
];

describe('each command: the result on stdout, the rest on stderr', () => {
  test.each(CASES.map((each) => [each.argv.join(' '), each] as const))(
    '%s',
    async (_, { argv, result, stderr }) => {
      const tree = project();
      const text = await runCli([...argv], { cwd: tree.dir });
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(result);
      if (stderr) expect(text.stderr).toMatch(stderr);
      else expect(text.stderr).toBe('');
      expect(text.stderr).not.toMatch(result);

      const json = await runCli(['--json', ...argv.map((arg) => arg.replace('fresh', 'again'))], {
        cwd: tree.dir,
      });
      expect(json.code, json.stderr).toBe(0);
      // Exactly one JSON document, and no result text anywhere.
      expect(() => JSON.parse(json.stdout), json.stdout).not.toThrow();
      expect(json.stdout).not.toMatch(result);
      expect(json.stderr).not.toMatch(result);
      for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) {
        expect(output).not.toContain('streams-canary-key');
      }
    },
    30_000,
  );

  test('--help and --version on stdout; the help of a usage error on stderr', async () => {
    const tree = project();
    const help = await runCli(['tools', '--help'], { cwd: tree.dir });
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: mcp-agent tools <command>/);
    const version = await runCli(['--version'], { cwd: tree.dir });
    expect(version).toMatchObject({ code: 0, stderr: '' });
    const usage = await runCli(['tools'], { cwd: tree.dir });
    expect(usage).toMatchObject({ code: 2, stdout: '' });
    expect(usage.stderr).toMatch(/^Usage: mcp-agent tools <command>/);
  });

  test('a failure: nothing on stdout, or with --json one document naming the error', async () => {
    const tree = project();
    const text = await runCli(['tools', 'call', 'ev', 'no-such-tool'], { cwd: tree.dir });
    expect(text).toMatchObject({ code: 2, stdout: '' });
    expect(text.stderr).toMatch(/^error: /);
    const json = await runCli(['--json', 'tools', 'call', 'ev', 'no-such-tool'], {
      cwd: tree.dir,
    });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'TOOL_UNKNOWN' } });
    expect(json.stderr).toMatch(/^error: /);
  });
});

describe('Output', () => {
  function capture(json: boolean) {
    const written = { stdout: '', stderr: '' };
    const out = new Output(
      {
        stdout: { write: (text: string) => (written.stdout += text) },
        stderr: { write: (text: string) => (written.stderr += text) },
        env: {},
        cwd: root,
      },
      json,
    );
    return { out, written };
  }

  test('names where each line goes, with and without --json', () => {
    for (const json of [false, true]) {
      const { out, written } = capture(json);
      out.result('the result');
      out.resultJson({ the: 'document' });
      out.note('a hint');
      out.warn('careful');
      out.error('it failed');
      expect(written.stdout).toBe(json ? '{\n  "the": "document"\n}\n' : 'the result\n');
      expect(written.stderr).toBe('a hint\nwarning: careful\nerror: it failed\n');
    }
  });

  test('one JSON document per run: a second one is a bug, not a second document', () => {
    const { out, written } = capture(true);
    expect(out.wroteJson).toBe(false);
    out.resultJson({ n: 1 });
    expect(out.wroteJson).toBe(true);
    expect(() => out.resultJson({ n: 2 })).toThrow(/second JSON document/);
    expect(JSON.parse(written.stdout)).toEqual({ n: 1 });
  });
});

describe('processSink', () => {
  /** A stream that records writes and can fail like a pipe. */
  function fakeStream() {
    const stream = Object.assign(new EventEmitter(), {
      written: [] as string[],
      write(text: string) {
        stream.written.push(text);
        return true;
      },
    });
    return stream;
  }

  test('after EPIPE, output is dropped quietly', () => {
    const stream = fakeStream();
    const errors: unknown[] = [];
    const sink = processSink(stream as unknown as NodeJS.WritableStream, (e) => errors.push(e));
    sink.write('one\n');
    stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    sink.write('two\n');
    expect(stream.written).toEqual(['one\n']);
    expect(errors).toEqual([]);
  });

  test('another write error is reported once, then output is dropped', () => {
    const stream = fakeStream();
    const errors: unknown[] = [];
    const sink = processSink(stream as unknown as NodeJS.WritableStream, (e) => errors.push(e));
    const full = Object.assign(new Error('no space'), { code: 'ENOSPC' });
    stream.emit('error', full);
    stream.emit('error', full);
    sink.write('lost\n');
    expect(errors).toEqual([full]);
    expect(stream.written).toEqual([]);
  });
});

describe('the built command with real pipes and files', () => {
  function requireBuild(): void {
    if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
      throw new Error('dist/ is missing: run `npm run build` first (`npm test` does).');
    }
  }

  test('mcp-agent config show > file writes the result into the file', () => {
    requireBuild();
    const tree = project();
    const file = join(tree.dir, 'out.yaml');
    const fd = openSync(file, 'w');
    try {
      const run = spawnSync(process.execPath, [bin, 'config', 'show'], {
        cwd: tree.dir,
        env: { PATH: process.env.PATH ?? '', HOME: tree.dir },
        stdio: ['ignore', fd, 'pipe'],
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toBe('');
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, 'utf8')).toMatch(/^# effective configuration .*\nmcp:\n {2}servers:/);
  });

  test('| head -1: the reader going away ends the output, exit 0, no stack trace', async () => {
    requireBuild();
    // Far more than a pipe holds (64 KiB), so writes go on after the reader has gone.
    const servers = Array.from(
      { length: 2000 },
      (_, i) => `    server-with-a-long-name-${i}:\n      command: npx\n`,
    ).join('');
    const tree = tempTree({ 'mcp_agent.config.yaml': `mcp:\n  servers:\n${servers}` });
    trees.push(tree);
    const child = spawn(process.execPath, [bin, 'servers', 'list'], {
      cwd: tree.dir,
      env: { PATH: process.env.PATH ?? '', HOME: tree.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const first = await new Promise<string>((resolve) => {
      child.stdout.once('data', (chunk: Buffer) => {
        // What `head -1` does: read one line, then close the pipe.
        child.stdout.destroy();
        resolve(chunk.toString('utf8').split('\n')[0] ?? '');
      });
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(first).toMatch(/^NAME +TRANSPORT +AUTH +ENDPOINT$/);
    expect(stderr).not.toMatch(STACK_FRAME);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 30_000);
});
