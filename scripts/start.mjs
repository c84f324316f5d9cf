// `npm start`: the example agent (examples/agent) served by `mcp-agent dev`, protected by the
// embedded development authorization server: no external service needed. Extra arguments are
// passed on (`npm start -- --auto-approve`). Builds first when dist/ is missing. Runs on the
// project's Node 24 (npm's `node` package, first on npm scripts' PATH), and stops with the fix
// when an older Node took its place.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requireProjectNode } from './node-runtime.mjs';

requireProjectNode('npm start');

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
  const build = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const result = spawnSync(
  process.execPath,
  [
    'bin/mcp-agent.js',
    '--config',
    'examples/agent/mcp_agent.config.yaml',
    'dev',
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 0);
