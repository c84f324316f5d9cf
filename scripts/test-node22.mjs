// `npm run test:node22 [-- <vitest arguments>]`: the test suite again, on Node 22 (the oldest LTS
// the package supports; `npm run test:unit` runs it on the project's Node 24). The registry's
// `node@22` is installed into .tools/node22/ on first use; a failure to install it fails the run
// (exit 1), CI or not: skipping would report Node 22 as tested when it was not.
//
// Vitest runs on Node 22, and so does every child process a test starts: Node 22's directory
// comes first on the PATH (npm, npx and `node` included), and tests that spawn process.execPath
// get it as well.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installNode22, requireProjectNode } from './node-runtime.mjs';

requireProjectNode('test:node22');
const root = fileURLToPath(new URL('..', import.meta.url));
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
if (!existsSync(vitest)) {
  console.error('test:node22: node_modules/vitest is missing; run `npm install` first');
  process.exit(1);
}

let node22;
try {
  node22 = installNode22();
} catch (error) {
  console.error(`test:node22: FAILED, Node 22 is not tested: ${error.message}`);
  process.exit(1);
}
console.log(`test:node22: vitest on Node ${node22.version} (${relative(root, node22.path)})`);
const started = Date.now();
const run = spawnSync(node22.path, [vitest, 'run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PATH: [dirname(node22.path), process.env.PATH ?? ''].join(delimiter) },
});
const seconds = ((Date.now() - started) / 1000).toFixed(0);
console.log(
  `test:node22: ${run.status === 0 ? 'passed' : 'FAILED'} on Node ${node22.version} in ${seconds} s`,
);
process.exit(run.status ?? 1);
