import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { tempTree } from '../helpers/cli.js';
import { builtFile, describeWith } from '../support/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/mcp-agent.js', import.meta.url));

function mcpAgent(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: root },
  });
}

// The built command, as `npx mcp-agent` runs it (`npm test` builds before running the tests).
describeWith(builtFile('dist/cli/main.js'))('bin/mcp-agent.js', () => {
  test('--version prints the package version', () => {
    const result = mcpAgent(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('checks the bundled example, as npm start does', () => {
    const result = mcpAgent([
      '--config',
      'examples/basic/mcp_agent.config.yaml',
      'config',
      'check',
    ]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Configuration OK');
  });

  test('shows the bundled example as JSON with secrets redacted', () => {
    // As its comment says: the example secrets copied next to it and made private.
    const tree = tempTree();
    const config = tree.write(
      'mcp_agent.config.yaml',
      readFileSync(join(root, 'examples/basic/mcp_agent.config.yaml'), 'utf8'),
    );
    tree.write(
      'mcp_agent.secrets.yaml',
      readFileSync(join(root, 'examples/basic/mcp_agent.secrets.yaml.example'), 'utf8'),
      0o600,
    );
    const result = mcpAgent(['--json', '-c', config, 'config', 'show']);
    tree.cleanup();
    expect(result.stderr).not.toContain('can be read by other users');
    expect(result.status).toBe(0);
    const shown = JSON.parse(result.stdout) as {
      settings: { mcp: { servers: Record<string, unknown> } };
    };
    expect(Object.keys(shown.settings.mcp.servers)).toEqual(['everything', 'github', 'notion']);
    expect(result.stdout).not.toContain('example-client-secret-not-real');
    expect(result.stdout).toContain('[redacted]');
  });

  test('a configuration error exits 2 without a stack trace', () => {
    const result = mcpAgent(['--config', 'no/such/file.yaml', 'config', 'check']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error: The configuration file .* does not exist/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
