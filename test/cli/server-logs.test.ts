/**
 * A server's log messages during `mcp-agent tools call`, `resources read` and `prompts get` on
 * both revisions, against v2 servers over stdio that log one `info` message per request: the
 * conformance reference server's `test_logging_tool` and test/support/logging-content-server.mjs.
 * A 2026-07-28 server has no `logging/setLevel` and logs only when a request's envelope names a
 * level: the CLI names its shown level, so the line appears on stderr as for a 2025-11-25 server.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { q, writeConfig } from '../support/config.js';
import { within } from '../support/net.js';

const REFERENCE = fileURLToPath(new URL('../conformance/reference-server.mjs', import.meta.url));
const CONTENT = fileURLToPath(new URL('../support/logging-content-server.mjs', import.meta.url));

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** `mcp-agent ARGV…` with server `ref` running `script`, pinned to `protocol`. */
async function cli(script: string, protocol: string, argv: string[]) {
  const tree = writeConfig(
    [
      'mcp:',
      '  servers:',
      '    ref:',
      `      command: ${q(process.execPath)}`,
      `      args: [${q(script)}]`,
      `      protocol: ${q(protocol)}`,
    ].join('\n'),
  );
  cleanups.push(tree.cleanup);
  // Bounds a hang, not the speed: the CLI starts the server's Node process.
  return within(`mcp-agent ${argv.join(' ')}`, runCli(argv, { cwd: tree.dir, env: {} }), 15_000);
}

describe.each(['2026-07-28', '2025-11-25'])(
  "a server's log message on stderr, on %s",
  (protocol) => {
    test('during tools call', async () => {
      const result = await cli(REFERENCE, protocol, ['tools', 'call', 'ref', 'test_logging_tool']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('logged one message\n');
      expect(result.stderr).toContain('ref/reference [info]: test_logging_tool ran');
    });

    test('during resources read', async () => {
      const result = await cli(CONTENT, protocol, ['resources', 'read', 'ref', 'test://logged']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('the text\n');
      expect(result.stderr).toContain('ref/content [info]: read test://logged');
    });

    test('during prompts get', async () => {
      const result = await cli(CONTENT, protocol, ['prompts', 'get', 'ref_logged_prompt']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('user: the prompt\n');
      expect(result.stderr).toContain('ref/content [info]: got logged_prompt');
    });
  },
);
