import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from '../../src/cli/run.js';

/** The result of one in-process CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in process with captured stdout and stderr and an explicit environment. */
export async function runCli(
  argv: string[],
  options: {
    cwd: string;
    env?: Record<string, string>;
    homeDir?: string;
    /** A headless browser for logins (default: none can be opened). */
    openBrowser?: (url: URL) => Promise<boolean>;
    stdin?: NodeJS.ReadableStream;
    /** When a long-running command (`serve`, `dev`) stops; default: at once after it started. */
    stop?: Promise<void>;
  },
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: options.env ?? {},
    cwd: options.cwd,
    homeDir: options.homeDir ?? join(options.cwd, '.home-that-does-not-exist'),
    ...(options.openBrowser ? { openBrowser: options.openBrowser } : {}),
    ...(options.stdin ? { stdin: options.stdin } : {}),
    stop: options.stop ?? Promise.resolve(),
  });
  return { code, stdout, stderr };
}

/** A long-running CLI command in process (`serve`, `dev`): its output so far, and how to stop it. */
export interface RunningCli {
  stdout(): string;
  stderr(): string;
  /** Ask it to stop (as Ctrl-C does); its exit code. */
  stop(): Promise<number>;
  readonly done: Promise<number>;
}

/** Start the CLI in process with captured output; it runs until {@link RunningCli.stop}. */
export function startCli(
  argv: string[],
  options: { cwd: string; env?: Record<string, string>; homeDir?: string },
): RunningCli {
  let out = '';
  let err = '';
  let release = () => {};
  const stop = new Promise<void>((done) => {
    release = done;
  });
  const done = run(argv, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: options.env ?? {},
    cwd: options.cwd,
    homeDir: options.homeDir ?? join(options.cwd, '.home-that-does-not-exist'),
    stop,
  });
  return {
    stdout: () => out,
    stderr: () => err,
    done,
    stop: () => {
      release();
      return done;
    },
  };
}

/** A temporary directory tree, removed by `cleanup()`. */
export function tempTree(files: Record<string, string> = {}): {
  dir: string;
  write(path: string, text: string, mode?: number): string;
  cleanup(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-'));
  const write = (path: string, text: string, mode?: number): string => {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    if (mode !== undefined) chmodSync(file, mode);
    return file;
  };
  for (const [path, text] of Object.entries(files)) write(path, text);
  return { dir, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
