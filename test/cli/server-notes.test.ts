/**
 * The lines `tools call` (and `resources read`, `prompts get`) writes on stderr for a server's
 * progress notifications and log messages: tagged with the server, one line each, control
 * characters removed, the server's configured secrets scrubbed, debug only with `--verbose`.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Output } from '../../src/cli/io.js';
import { logLine, progressLine, serverNotes } from '../../src/cli/server-notes.js';
import type { ServerConnection } from '../../src/servers/registry.js';
import { type LoadedConfig, loadConfig } from '../support/config.js';

const CANARY = 'sk-server-notes-canary-4242';

let config: LoadedConfig;
beforeAll(() => {
  config = loadConfig(`mcp:
  servers:
    vault:
      command: node
      args: [server.js]
      env:
        VAULT_TOKEN: ${CANARY}
`);
});
afterAll(() => config.cleanup());

function notes(verbose: boolean) {
  let stdout = '';
  let stderr = '';
  const out = new Output(
    {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
      cwd: config.dir,
    },
    false,
  );
  const settings = config.settings.mcp.servers.vault;
  if (!settings) throw new Error('the config has no server "vault"');
  const connection = { name: 'vault', settings } as unknown as ServerConnection;
  return {
    notes: serverNotes(out, connection, verbose),
    stdout: () => stdout,
    stderr: () => stderr,
  };
}

test('progress: PROGRESS/TOTAL and the message, or the progress alone', () => {
  expect(progressLine('ev', { progress: 2, total: 5 })).toBe('ev: 2/5');
  expect(progressLine('ev', { progress: 0.5, message: 'halfway\n\u001b[31mthere' })).toBe(
    'ev: 0.5 halfway [31mthere',
  );
});

test('log: the level, the logger after the server, data that is not text as JSON', () => {
  expect(logLine('ev', { level: 'warning', data: 'disk\r\nlow' })).toBe('ev [warning]: disk low');
  expect(logLine('ev', { level: 'info', logger: 'db', data: { rows: 3 } })).toBe(
    'ev/db [info]: {"rows":3}',
  );
});

test('lines on stderr only, the server secrets scrubbed, debug with --verbose only', () => {
  const quiet = notes(false);
  quiet.notes.onprogress({ progress: 1, total: 2, message: `using ${CANARY}` });
  quiet.notes.log.message('vault', { level: 'debug', data: 'not shown' });
  quiet.notes.log.message('vault', { level: 'error', data: { token: CANARY } });
  expect(quiet.stdout()).toBe('');
  expect(quiet.stderr()).toBe(
    'vault: 1/2 using [redacted]\nvault [error]: {"token":"[redacted]"}\n',
  );
  expect(quiet.stderr()).not.toContain(CANARY);
  const verbose = notes(true);
  verbose.notes.log.message('vault', { level: 'debug', data: 'shown' });
  expect(verbose.stderr()).toBe('vault [debug]: shown\n');
});
