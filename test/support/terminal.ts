/**
 * A command run on a real pseudo-terminal: util-linux `script` gives it one on stdin, stdout and
 * stderr; the test reads what the terminal shows as it comes and types on it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { onPlatform } from './services.js';

/** util-linux `script`. */
export const SCRIPT = '/usr/bin/script';

/** The requirement of a test run on a terminal (Linux, with `script`). */
export const withTerminal = () =>
  onPlatform(
    process.platform === 'linux' && existsSync(SCRIPT),
    `util-linux script (${SCRIPT}) gives the pseudo-terminal`,
  );

/** `argv` run by `script` on a new pseudo-terminal in `cwd`; what the terminal shows, as it comes. */
export function onTerminal(argv: readonly string[], cwd: string) {
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
  let cursor = 0;
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
    /** Wait until `text` shows after what the last `next` found; then it counts as read. */
    next: (text: string) =>
      until(() => {
        const at = screen.indexOf(text, cursor);
        if (at < 0) return undefined;
        cursor = at + text.length;
        return true;
      }),
  };
}
