import { existsSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { runCli, tempTree } from '../helpers/cli.js';

let tree: ReturnType<typeof tempTree>;
afterEach(() => tree?.cleanup());

describe('mcp-agent init', () => {
  test('writes a starter config that passes config check, a 0600 secrets file and a .gitignore entry', async () => {
    tree = tempTree();
    const result = await runCli(['init'], { cwd: tree.dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/created\s+mcp_agent\.config\.yaml/);
    expect(result.stderr).toMatch(/^Next: /);
    expect(statSync(join(tree.dir, 'mcp_agent.secrets.yaml')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(tree.dir, '.gitignore'), 'utf8')).toBe('mcp_agent.secrets.yaml\n');
    const check = await runCli(['config', 'check'], { cwd: tree.dir });
    expect(check.code).toBe(0);
    expect(check.stderr).not.toMatch(/warning/);
  });

  test('keeps an existing config unless --force, and never overwrites the secrets file', async () => {
    tree = tempTree({
      'mcp_agent.config.yaml': 'name: mine\n',
      'mcp_agent.secrets.yaml': 'name: keep\n',
    });
    const refused = await runCli(['init'], { cwd: tree.dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already exists; pass --force/);
    const forced = await runCli(['init', '--force'], { cwd: tree.dir });
    expect(forced.code).toBe(0);
    expect(readFileSync(join(tree.dir, 'mcp_agent.secrets.yaml'), 'utf8')).toBe('name: keep\n');
    expect(readFileSync(join(tree.dir, 'mcp_agent.config.yaml'), 'utf8')).toMatch(
      /^# mcp-agent configuration/,
    );
  });

  test('appends to an existing .gitignore once', async () => {
    tree = tempTree({ '.gitignore': 'node_modules' });
    await runCli(['init', '--dir', '.'], { cwd: tree.dir });
    await runCli(['init', '--force'], { cwd: tree.dir });
    expect(readFileSync(join(tree.dir, '.gitignore'), 'utf8')).toBe(
      'node_modules\nmcp_agent.secrets.yaml\n',
    );
  });

  test('--json reports the files on stdout', async () => {
    tree = tempTree();
    const result = await runCli(['--json', 'init'], { cwd: tree.dir });
    const parsed = JSON.parse(result.stdout) as { ok: boolean; files: { action: string }[] };
    expect(parsed.ok).toBe(true);
    expect(parsed.files.map((file) => file.action)).toEqual(['created', 'created', 'created']);
  });
});

describe('mcp-agent init and links', () => {
  test('a dangling link where the secrets file goes is left alone, not written through', async () => {
    tree = tempTree();
    const target = join(tree.dir, 'elsewhere.txt');
    symlinkSync(target, join(tree.dir, 'mcp_agent.secrets.yaml'));
    const result = await runCli(['init'], { cwd: tree.dir });
    expect(result.code).toBe(0);
    expect(existsSync(target)).toBe(false);
    expect(result.stdout).toMatch(/unchanged\s+mcp_agent\.secrets\.yaml/);
  });
});
