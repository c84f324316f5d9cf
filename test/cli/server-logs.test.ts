/**
 * A server's log messages during `mcp-agent tools call` on both revisions, against the v2
 * reference server over stdio (test/conformance/reference-server.mjs), whose `test_logging_tool`
 * logs one `info` message only when the request names a level. A 2026-07-28 server has no
 * `logging/setLevel`: the CLI names its shown level in each request's envelope, so the line
 * appears on stderr as it does for a 2025-11-25 server.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { q, writeConfig } from '../support/config.js';
import { within } from '../support/net.js';

const REFERENCE = fileURLToPath(new URL('../conformance/reference-server.mjs', import.meta.url));

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** `mcp-agent tools call ref test_logging_tool` with the server pinned to `protocol`. */
async function callLoggingTool(protocol: string, extra: string[] = []) {
  const tree = writeConfig(
    [
      'mcp:',
      '  servers:',
      '    ref:',
      `      command: ${q(process.execPath)}`,
      `      args: [${q(REFERENCE)}]`,
      `      protocol: ${q(protocol)}`,
    ].join('\n'),
  );
  cleanups.push(tree.cleanup);
  const argv = ['tools', 'call', 'ref', 'test_logging_tool', '{}', ...extra];
  // Bounds a hang, not the speed: the CLI starts the server's Node process.
  return within(`mcp-agent ${argv.join(' ')}`, runCli(argv, { cwd: tree.dir, env: {} }), 15_000);
}

describe("a server's log message on stderr during tools call", () => {
  test.each(['2026-07-28', '2025-11-25'])('on %s', async (protocol) => {
    const result = await callLoggingTool(protocol);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('logged one message\n');
    expect(result.stderr).toContain('ref/reference [info]: test_logging_tool ran');
  });
});
