/**
 * A command's result text at a terminal: a server's escape sequences (cursor moves, screen
 * clearing, window titles, concealed text) and bidirectional overrides do not reach it; piped or
 * redirected, the result is byte for byte what the server sent.
 */
import { expect, test } from 'vitest';
import { type CliIo, Output } from '../../src/cli/io.js';

const HOSTILE = 'ok\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202egro.elgoog\r\nline 2\t👩‍💻';

function written(stdoutIsTTY: boolean): string {
  let stdout = '';
  const io: CliIo = {
    stdout: {
      write: (text: string) => {
        stdout += text;
      },
    },
    stderr: { write: () => {} },
    env: {},
    cwd: '/',
    stdoutIsTTY,
  };
  const out = new Output(io, false);
  out.result(HOSTILE);
  out.stream(HOSTILE);
  return stdout;
}

test('at a terminal, result text loses its control characters and keeps lines, tabs and emoji', () => {
  const shown = written(true);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
  expect(shown).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  expect(shown).toContain('ok[2J]0;pwned31mgro.elgoog\nline 2\t👩‍💻');
});

test('piped or redirected, result text is as the server sent it', () => {
  expect(written(false)).toBe(`${HOSTILE}\n${HOSTILE}`);
});
