/**
 * The package as a user gets it: `npm pack`, installed into a new project with npm (with the
 * TypeScript and `@types/node` of such a project), then used from there by its name only (the
 * README's "Use it in your own project"): its command, its library entry, and recipes of the docs
 * copied as they are (`node.ts` and `server-v1.ts` of docs/middleware.md, `sdk-v1.ts` of
 * docs/frameworks.md), run end to end by test/package/project/driver.ts under the `tsx` the
 * package brings, and type-checked, with every subpath's types, against the installed declarations.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
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
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { recipe } from '../frameworks/protected-server.js';
import { freePort } from '../support/net.js';

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
  // The TypeScript a project of the user's has, and the v1 SDK its v1 recipes import (the package
  // no longer brings it): the versions this repository uses (in npm's cache).
  const installed = run(
    npm,
    [
      'install',
      '--prefer-offline',
      join(work, tarball ?? ''),
      ...devVersions('typescript', '@types/node', '@modelcontextprotocol/sdk'),
    ],
    project,
  );
  expect(installed.status, installed.stderr).toBe(0);
  copyRecipes();
}, 240_000);

/** `name@version` of each package as this repository has it installed. */
function devVersions(...names: string[]): string[] {
  return names.map((name) => {
    const manifest = readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8');
    return `${name}@${(JSON.parse(manifest) as { version: string }).version}`;
  });
}

/**
 * A module importing the types of every subpath of `exports`, by name: each one's `types`
 * condition must resolve in the project (the frameworks' own types, `express` and the like, are
 * the user's and not installed here: `skipLibCheck` lets the adapters' declarations refer to them).
 */
function entriesModule(): string {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  const names = Object.keys(manifest.exports)
    .filter((subpath) => subpath !== './package.json')
    .map((subpath) => `mcp-agent-ts${subpath.slice(1)}`);
  return [
    ...names.map((name, index) => `import type * as entry${index} from '${name}';`),
    `export type Entries = [${names.map((_, index) => `typeof entry${index}`).join(', ')}];`,
    '',
  ].join('\n');
}

/**
 * Into the project, as they are: the middleware recipes, the SDK v1 recipe (importing the package
 * by its name, as docs/frameworks.md shows it), the tests' headless browser standing in for the
 * person, the driver, and a minimal tsconfig.json.
 */
function copyRecipes(): void {
  for (const [to, from] of [
    ['node.ts', 'examples/middleware/node.ts'],
    ['server-v1.ts', 'examples/middleware/server-v1.ts'],
    ['browser.ts', 'test/support/browser.ts'],
    ['driver.ts', 'test/package/project/driver.ts'],
  ] as const) {
    copyFileSync(join(root, from), join(project, to));
  }
  writeFileSync(join(project, 'sdk-v1.ts'), recipe('sdk-v1.ts').example);
  writeFileSync(join(project, 'entries.ts'), entriesModule());
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        types: ['node'],
        strict: true,
        skipLibCheck: true,
        noEmit: true,
      },
      include: ['*.ts'],
    }),
  );
}

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

  test('recipes of the docs run from the installed package: protected on node:http, logged in, called', async () => {
    expect(readFileSync(join(project, 'sdk-v1.ts'), 'utf8')).toContain("from 'mcp-agent-ts'");
    const ports = [await freePort(), await freePort()].map(String);
    // Node's own loader with the tsx the package depends on (hoisted into the project).
    const ran = run(process.execPath, ['--import', 'tsx', 'driver.ts', ...ports], project);
    expect(ran.status, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout.trim().split('\n').at(-1) ?? '');
    const installed = pathToFileURL(join(project, 'node_modules', 'mcp-agent-ts', 'dist')).href;
    for (const url of Object.values(result.resolved as Record<string, string>)) {
      expect(url.startsWith(`${installed}/`), url).toBe(true);
    }
    expect(result.whoami.issuer).toBe(result.issuer);
    expect(result).toMatchObject({
      tools: ['add', 'admin_report', 'whoami'],
      whoami: { subject: 'alice', fromAuthInfo: 'alice', scopes: ['mcp:tools'], token: 'held' },
      add: '5',
      status: { scopes: ['mcp:tools'], hasRefreshToken: true },
      browsed: 1,
      shownIssuer: true,
    });
    // Nothing printed a token (the dev server's access tokens are JWTs).
    expect(`${ran.stdout}${ran.stderr}`).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
  });

  test('the copied recipes, the driver and every subpath type-check against the installed declarations', () => {
    const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    expect(checked.status, checked.stdout).toBe(0);
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
