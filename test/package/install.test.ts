/**
 * The package as a user gets it: `npm pack`, installed into a new project with npm, then its
 * command and its library entry used from there (the README's "Use it in your own project").
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let work: string;
let project: string;

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
  });
  if (result.error) throw result.error;
  return result;
}

beforeAll(() => {
  // `npm test` builds first; packing here must not rebuild under the other tests' feet.
  expect(existsSync(join(root, 'dist', 'index.js')), 'dist/ is missing: run npm run build').toBe(
    true,
  );
  work = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-pack-'));
  const packed = run(npm, ['pack', '--ignore-scripts', '--pack-destination', work], root);
  expect(packed.status, packed.stderr).toBe(0);
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
  expect(tarball).toBeDefined();
  project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module' }),
  );
  const installed = run(npm, ['install', '--prefer-offline', join(work, tarball ?? '')], project);
  expect(installed.status, installed.stderr).toBe(0);
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball installed in a new project', () => {
  test('npx mcp-agent is this package and checks a configuration', () => {
    writeFileSync(
      join(project, 'mcp_agent.config.yaml'),
      'mcp:\n  servers:\n    fetch:\n      command: uvx\n      args: [mcp-server-fetch]\n',
    );
    const version = run('npx', ['--no-install', 'mcp-agent', '--version'], project);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const check = run('npx', ['--no-install', 'mcp-agent', 'config', 'check'], project);
    expect(check.status, check.stderr).toBe(0);
    expect(`${check.stdout}${check.stderr}`).toContain('Configuration OK');
  });

  test('the library loads from the package name', () => {
    writeFileSync(
      join(project, 'use.mjs'),
      [
        "import { loadSettings } from 'mcp-agent-ts';",
        "const { settings } = loadSettings({ configPath: 'mcp_agent.config.yaml' });",
        'console.log(Object.keys(settings.mcp.servers).join(","));',
      ].join('\n'),
    );
    const used = run(process.execPath, ['use.mjs'], project);
    expect(used.status, used.stderr).toBe(0);
    expect(used.stdout.trim()).toBe('fetch');
  });

  test("installing it brings no Node.js of its own: npm's node package is only this repository's devDependency", () => {
    expect(existsSync(join(project, 'node_modules', 'node'))).toBe(false);
    const installed = JSON.parse(
      readFileSync(join(project, 'node_modules', 'mcp-agent-ts', 'package.json'), 'utf8'),
    ) as { engines?: { node?: string }; dependencies?: Record<string, string> };
    expect(Object.keys(installed.dependencies ?? {})).not.toContain('node');
    expect(installed.engines?.node).toBe('>=22.13.0');
  });

  test('the tarball holds the built code, not the sources or the tests', () => {
    const listed = run(
      'tar',
      ['-tzf', join(work, readdirSync(work).find((n) => n.endsWith('.tgz')) ?? '')],
      work,
    );
    const files = listed.stdout.split('\n').filter(Boolean);
    expect(files).toContain('package/bin/mcp-agent.js');
    expect(files).toContain('package/dist/index.js');
    expect(files.filter((file) => /^package\/(src|test)\//.test(file))).toEqual([]);
  });
});
