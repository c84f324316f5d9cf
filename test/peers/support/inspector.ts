/**
 * The MCP Inspector 2.x command line (`@modelcontextprotocol/inspector`, a devDependency) run as
 * a user runs it: its launcher with `--cli` first, on the Node running the tests (the project's
 * Node 24; the Inspector needs ≥ 22.19), in a home directory of its own (it keeps its catalog,
 * client registration and OAuth state under `~/.mcp-inspector`), secrets in memory, no colours.
 *
 * - {@link runInspector}: without a terminal, as a script or CI runs it: it never starts a login
 *   (a 401 ends it with `auth_required`), so a bearer goes in `--header`.
 * - {@link inspectorOnTerminal}: on a pseudo-terminal with `MCP_AUTO_OPEN_ENABLED=false`: it signs
 *   in itself (prints `Please navigate to: URL`, never opens a browser) and waits for the code.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { onTerminal } from '../../support/terminal.js';

/** The Inspector package's directory, from the project's `node_modules`. */
function inspectorRoot(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve('@modelcontextprotocol/inspector/package.json'));
  } catch (error) {
    throw new Error('@modelcontextprotocol/inspector (a devDependency) is missing: npm install', {
      cause: error,
    });
  }
}

/** The installed Inspector's version (its `package.json`). */
export function inspectorVersion(): string {
  const manifest = JSON.parse(readFileSync(join(inspectorRoot(), 'package.json'), 'utf8'));
  return String(manifest.version);
}

/** `mcp-inspector …argv` as the package's `bin` runs it, on this Node. */
function inspectorArgv(argv: readonly string[]): string[] {
  return [process.execPath, join(inspectorRoot(), 'clients/launcher/build/index.js'), ...argv];
}

/** The variables of every run: no keychain, no colours. */
const QUIET = { MCP_INSPECTOR_SECRET_STORE: 'memory', NO_COLOR: '1' } as const;

/** How one run ended. */
export interface InspectorRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `mcp-inspector …argv` without a terminal, `home` as its home directory; waits for its exit. */
export function runInspector(argv: readonly string[], home: string): Promise<InspectorRun> {
  const [node = '', ...args] = inspectorArgv(argv);
  const child = spawn(node, args, {
    cwd: home,
    env: { PATH: process.env.PATH ?? '', HOME: home, ...QUIET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The `result` of a `--format json` run (its one JSON object on stdout); throws with the exit
 * code and stderr when it has none.
 */
export function resultOf(run: InspectorRun): Record<string, unknown> {
  const line = run.stdout.trim();
  const parsed = line.startsWith('{') ? JSON.parse(line) : {};
  if (parsed.result === undefined) {
    throw new Error(`the Inspector exited with ${run.code}: ${run.stderr.trim()}`);
  }
  return parsed.result;
}

/**
 * `mcp-inspector …argv` on a pseudo-terminal in `home`: when it prints the authorization URL,
 * `signIn` walks it (through to the Inspector's callback); resolves with the exit code and what
 * the terminal showed.
 */
export async function inspectorOnTerminal(
  argv: readonly string[],
  home: string,
  signIn: (url: URL) => Promise<unknown>,
): Promise<{ code: number | null; screen: string }> {
  const variables = Object.entries({ ...QUIET, MCP_AUTO_OPEN_ENABLED: 'false' }).map(
    ([name, value]) => `${name}=${value}`,
  );
  const terminal = onTerminal(['env', ...variables, ...inspectorArgv(argv)], home);
  const exited = terminal.exited.then((code) => ({ exited: code }));
  const prompt = terminal.until(() => /Please navigate to: (\S+)/.exec(terminal.screen())?.[1]);
  const first = await Promise.race([prompt, exited]);
  if (typeof first === 'string') await signIn(new URL(first));
  const code = await terminal.exited;
  return { code, screen: terminal.screen() };
}
