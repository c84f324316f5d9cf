/**
 * The built command loads only what the command it runs needs (issue 16): `--version`, `--help`
 * and a usage error load no npm package at all, `config check` only the configuration layer's
 * (yaml, zod). Each run is a fresh process under scripts/module-probe.mjs, which records every
 * module resolved.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { tempTree } from '../helpers/cli.js';
import { runProbed } from '../support/module-probe.js';
import { builtFile, describeWith } from '../support/services.js';

const bin = fileURLToPath(new URL('../../bin/mcp-agent.js', import.meta.url));
const tree = tempTree();

afterAll(() => tree.cleanup());

/** Run `mcp-agent ARGS` in the temporary tree: its exit code, output and what it loaded. */
function mcpAgent(args: string[]) {
  return runProbed([bin, ...args], {
    cwd: tree.dir,
    env: { PATH: process.env.PATH ?? '', HOME: tree.dir },
  });
}

describeWith(builtFile('dist/cli/main.js'))('what each command loads', () => {
  test.each([
    [['--version'], 0],
    [['--help'], 0],
    [['auth', '--help'], 0],
    [['serve', '--help'], 0],
    [['no-such-command'], 2],
  ])('mcp-agent %j loads no npm package', (args, status) => {
    const result = mcpAgent(args);
    expect(result.status, result.stderr).toBe(status);
    expect(result.packages).toEqual([]);
  });

  test('mcp-agent config check loads the configuration layer only (yaml, zod)', () => {
    tree.write(
      'mcp_agent.config.yaml',
      'mcp:\n  servers:\n    fetch:\n      command: uvx\n      args: [mcp-server-fetch]\n',
    );
    const result = mcpAgent(['config', 'check']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('Configuration OK');
    expect(result.packages).toEqual(['yaml', 'zod']);
  });
});
