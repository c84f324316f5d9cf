/**
 * The Node.js runtime of docs/decisions/0003-node-runtime.md kept true: the suite runs on a Node
 * the package supports (`npm test` runs it on the project's Node 24, then on Node 22), npm's
 * `node` package is a devDependency only, and the install-script policy in package.json
 * (`allowScripts`, npm 11) covers exactly the locked packages that have install scripts: a fresh
 * `npm install` warns about none, and an npm that blocks unreviewed scripts still installs the
 * `node` package's binary.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';

interface Manifest {
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}
interface Lockfile {
  packages: Record<string, { version?: string; hasInstallScript?: boolean }>;
}

const read = <T>(file: string): T =>
  JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')) as T;
const manifest = read<Manifest>('package.json');
const lockfile = read<Lockfile>('package-lock.json');

/** `[major, minor, patch]` of `22.13.0` or `>=22.13.0`. */
const parts = (version: string): number[] =>
  (version.match(/(\d+)\.(\d+)\.(\d+)/)?.slice(1) ?? []).map(Number);

describe('the Node.js runtime', () => {
  test('the suite runs on a Node that engines.node allows, 22 or later', () => {
    const floor = parts(manifest.engines?.node ?? '');
    expect(floor[0]).toBeGreaterThanOrEqual(22);
    const [major = 0, minor = 0, patch = 0] = parts(process.versions.node);
    const [x = 0, y = 0, z = 0] = floor;
    expect(
      major !== x ? major > x : minor !== y ? minor > y : patch >= z,
      `Node ${process.versions.node} is older than engines.node ${manifest.engines?.node}: run the tests through npm (npm test, npx vitest), which finds node_modules/.bin/node first`,
    ).toBe(true);
  });

  test("npm's node package is a devDependency only, never something a user of the package installs", () => {
    expect(manifest.devDependencies?.node).toMatch(/^\^24\./);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
      expect(Object.keys(manifest[field] ?? {}), field).not.toContain('node');
    }
  });

  test('allowScripts names exactly the locked packages with install scripts, and allows node', () => {
    const withScripts = Object.entries(lockfile.packages)
      .filter(([path, entry]) => path !== '' && entry.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    const policy = manifest.allowScripts ?? {};
    expect(
      [...new Set(withScripts)].sort(),
      'run `npm install-scripts ls` and approve or deny each package (docs/decisions/0003-node-runtime.md)',
    ).toEqual(Object.keys(policy).sort());
    expect(policy.node).toBe(true);
  });
});
