// The Node.js versions of this project's scripts (docs/decisions/0003-node-runtime.md):
//
// - The project's own Node: npm's `node` package, a devDependency, puts a Node 24 in
//   node_modules/.bin, which npm scripts and npx find first on their PATH. If npm did not run
//   that package's install script (an `allowScripts` policy refusing it, `--ignore-scripts`),
//   the machine's Node runs instead: `requireProjectNode` says so and how to fix it.
// - The second Node of "tested on 22 and 24": `installNode22` installs the npm registry's
//   `node@22` into .tools/node22/ (once), for `npm run test:node22`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Node 22 the test suite also runs on (npm's `node` package, exact). */
export const NODE22_VERSION = '22.23.3';

const root = fileURLToPath(new URL('..', import.meta.url));
const node22Dir = join(root, '.tools', 'node22');
const node22Package = join(node22Dir, 'node_modules', 'node');

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** `[major, minor, patch]` of `22.13.0`, `v24.21.0` or `>=22.13.0`. */
function parts(version) {
  return (version.match(/(\d+)\.(\d+)\.(\d+)/)?.slice(1) ?? []).map(Number);
}

function atLeast(version, floor) {
  const [a = 0, b = 0, c = 0] = parts(version);
  const [x = 0, y = 0, z = 0] = parts(floor);
  return a !== x ? a > x : b !== y ? b > y : c >= z;
}

/** The oldest Node.js the package supports: `engines.node` of package.json (`>=22.13.0`). */
export function engineFloor() {
  return readJson(join(root, 'package.json'))?.engines?.node ?? '>=0.0.0';
}

/**
 * Exit with the reason and the fix when this script runs on a Node older than `engines.node`:
 * the project's Node 24 (node_modules/.bin/node) is missing and the machine's Node took over.
 */
export function requireProjectNode(what) {
  const floor = engineFloor();
  if (atLeast(process.versions.node, floor)) return;
  const installed = existsSync(join(root, 'node_modules', 'node', 'bin', 'node'));
  console.error(
    [
      `${what}: this project needs Node.js ${floor}; this is ${process.version} (${process.execPath}).`,
      installed
        ? 'node_modules/.bin/node is installed: run this through npm (`npm test`, `npm start`, `npx …`), which puts it first on the PATH.'
        : "npm's `node` package (a devDependency) has no binary: npm did not run its install script. Run `npm install` again; if npm says the script is not allowed, `npm install-scripts approve node`, then `npm rebuild node`.",
    ].join('\n'),
  );
  process.exit(1);
}

/**
 * The registry's `node@NODE22_VERSION`, installed into .tools/node22/ on first use: its path
 * and `--version`. Throws with npm's output when it cannot be installed or does not run.
 */
export function installNode22() {
  const binary = join(node22Package, 'bin', 'node');
  if (
    !(
      existsSync(binary) &&
      readJson(join(node22Package, 'package.json'))?.version === NODE22_VERSION
    )
  ) {
    console.error(
      `installing node@${NODE22_VERSION} from the npm registry into ${relative(root, node22Dir)}/ (once)…`,
    );
    mkdirSync(node22Dir, { recursive: true });
    const manifest = {
      private: true,
      description:
        'The Node 22 of `npm run test:node22` (scripts/node-runtime.mjs); not part of the package.',
      dependencies: { node: NODE22_VERSION },
      // The `node` package installs its binary (the registry's node-<os>-<arch>) from a preinstall
      // script: approved, as in the project's package.json (by name: a lockfile written with
      // omit-lockfile-registry-resolved has no URL for npm to match a pinned version against).
      allowScripts: { node: true },
    };
    writeFileSync(join(node22Dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const npm = spawnSync(
      process.platform === 'win32' ? 'npm.cmd' : 'npm',
      [
        'install',
        '--prefix',
        node22Dir,
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        '--ignore-scripts=false',
      ],
      { cwd: node22Dir, encoding: 'utf8' },
    );
    if (npm.status !== 0 || !existsSync(binary)) {
      throw new Error(
        `npm install node@${NODE22_VERSION} into ${relative(root, node22Dir)}/ failed${npm.error ? ` (${npm.error.message})` : ''}:\n${npm.stdout ?? ''}${npm.stderr ?? ''}`,
      );
    }
  }
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0 || !version.stdout.startsWith(`v${NODE22_VERSION}`)) {
    throw new Error(
      `${binary} does not run: ${version.stderr || version.error?.message || 'no output'}`,
    );
  }
  return { path: binary, version: version.stdout.trim() };
}
