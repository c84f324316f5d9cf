/**
 * Start-up benchmark (issue 16): what importing each entry point of the package, and starting
 * `mcp-agent --version`, `--help` and `config check`, costs next to a bare Node. Part of
 * `npm run bench`; alone: `npm run build && node bench/imports.mjs [PACKAGE_DIR]` (PACKAGE_DIR,
 * default this checkout, another built checkout to compare with: its own entries are measured).
 *
 * Each target is a fresh process on this Node (`process.execPath`):
 *
 * - `node`: `node -e ''`, the baseline; `node_esm`: `node empty.mjs`, an empty ES module file (what
 *   starting any ES module costs on top: the CLI is one);
 * - `root`, `config`, `client`, … (`node_http` for `/node`): `node --input-type=module -e "await
 *   import('mcp-agent-ts/…')"` in the package directory (the name resolves to the package itself,
 *   through its `exports`);
 * - `client_agent_auth`: what an agent's start-up costs on top of `/client`: `createAgentAuth({
 *   configPath })` on that configuration, `server('github')`, `status()` and `close()`;
 * - `cli_version`, `cli_help`, `cli_config_check`: `node bin/mcp-agent.js …`, the last in a
 *   directory holding a small `mcp_agent.config.yaml` (two servers, one with OAuth).
 *
 * Figures, one `BENCH imports.<target>_<figure> <number>` line each:
 *
 * - `_ms`: wall time from spawn to exit, median of BENCH_IMPORT_RUNS (default 21) runs, the
 *   targets taken in turn within each round so that the machine's noise falls on all of them;
 * - `_ratio`: that median ÷ the baseline's (goal for the three commands: close to 1, plus what
 *   their own work costs);
 * - `_heap_mib`: V8 heap used at exit after a full garbage collection, and `_rss_mib`: the peak
 *   resident set, from one more run under scripts/module-probe.mjs (a preload that records every
 *   module resolved);
 * - `_packages`: how many npm packages the target loaded (they are listed in a `#` line).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.BENCH_IMPORT_RUNS ?? 21);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const compareAt = process.argv.indexOf('--compare');
const compareDir = compareAt > 0 ? resolve(process.argv[compareAt + 1] ?? '.') : undefined;
const PROBE = fileURLToPath(new URL('../scripts/module-probe.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-bench-imports-'));

writeFileSync(
  join(work, 'mcp_agent.config.yaml'),
  `mcp:
  servers:
    fetch:
      command: uvx
      args: [mcp-server-fetch]
    github:
      transport: streamable_http
      url: https://api.githubcopilot.com/mcp/
      auth:
        oauth:
          enabled: true
          scopes: [repo]
`,
);

writeFileSync(join(work, 'empty.mjs'), '');

/**
 * The targets of the package in `dir`: its name, the Node arguments, the directory it runs in.
 * `label` marks those of a checkout compared with.
 */
function packageTargets(dir, label = '') {
  const prefix = label ? 'before_' : '';
  const compared = label !== '';
  const { exports } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const entries = Object.keys(exports)
    .filter((subpath) => subpath !== './package.json')
    .map((subpath) => {
      const specifier = subpath === '.' ? 'mcp-agent-ts' : `mcp-agent-ts/${subpath.slice(2)}`;
      return {
        name: `${prefix}${entryName(subpath)}`,
        what: `${label}import '${specifier}'`,
        compared,
        args: ['--input-type=module', '-e', `await import('${specifier}');`],
        cwd: dir,
      };
    });
  const bin = join(dir, 'bin', 'mcp-agent.js');
  const env = { HOME: work };
  const agentAuth = {
    name: `${prefix}client_agent_auth`,
    what: `${label}createAgentAuth() from 'mcp-agent-ts/client'`,
    compared,
    args: [
      '--input-type=module',
      '-e',
      `const { createAgentAuth } = await import('mcp-agent-ts/client');
const auth = createAgentAuth({ configPath: ${JSON.stringify(join(work, 'mcp_agent.config.yaml'))} });
auth.server('github');
await auth.status();
await auth.close();`,
    ],
    cwd: dir,
    env,
  };
  const command = (name, args) => ({
    name: `${prefix}cli_${name}`,
    what: `${label}mcp-agent ${args.join(' ')}`,
    compared,
    args: [bin, ...args],
    cwd: work,
    env,
  });
  return [
    ...entries,
    // A checkout without a `/client` entry (before issue 16) has no such target.
    ...(exports['./client'] ? [agentAuth] : []),
    command('version', ['--version']),
    command('help', ['--help']),
    command('config_check', ['config', 'check']),
  ];
}

/**
 * The figure name of an entry: `root`, or its subpath (`server`, `config`, …); `/node` is
 * `node_http`, since `node` is the baseline's.
 */
function entryName(subpath) {
  if (subpath === '.') return 'root';
  const name = subpath.slice(2).replaceAll(/[^\w]/g, '_');
  return name === 'node' ? 'node_http' : name;
}

/** Every target: the two baselines, this package's, and those of the checkout compared with. */
function targets() {
  const all = [
    { name: 'node', what: "node -e ''", args: ['-e', ''], cwd: work },
    { name: 'node_esm', what: 'node empty.mjs', args: [join(work, 'empty.mjs')], cwd: work },
    ...packageTargets(packageDir),
    ...(compareDir ? packageTargets(compareDir, 'before: ') : []),
  ];
  // Their times are kept by name: two targets of one name would share (and spoil) one median.
  const names = all.map((target) => target.name);
  const twice = names.filter((name, index) => names.indexOf(name) !== index);
  if (twice.length > 0) throw new Error(`targets named twice: ${twice.join(', ')}`);
  return all;
}

/** Run `target` once; its wall time in ms. */
function timeOnce(target) {
  const started = performance.now();
  const result = spawnSync(process.execPath, target.args, {
    cwd: target.cwd,
    env: { ...process.env, ...target.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ms = performance.now() - started;
  if (result.status !== 0) {
    throw new Error(`${target.what} failed (${result.status}): ${result.stderr.toString()}`);
  }
  return ms;
}

/** Run `target` once under the module probe: heap, peak RSS and the packages it loaded. */
function probe(target) {
  const out = join(work, `${target.name}.json`);
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', PROBE, ...target.args], {
    cwd: target.cwd,
    env: { ...process.env, ...target.env, MODULE_PROBE_OUT: out },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (result.status !== 0) {
    throw new Error(`${target.what} failed (${result.status}): ${result.stderr.toString()}`);
  }
  return JSON.parse(readFileSync(out, 'utf8'));
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);

try {
  const all = targets();
  const times = new Map(all.map((target) => [target.name, []]));
  for (const target of all) timeOnce(target); // warm the file system cache
  for (let round = 0; round < RUNS; round++) {
    const order = round % 2 ? [...all].reverse() : all;
    for (const target of order) times.get(target.name).push(timeOnce(target));
  }
  const baseline = median(times.get('node'));
  const rows = all.map((target) => {
    const ms = median(times.get(target.name));
    return { target, ms, ratio: ms / baseline, probed: probe(target) };
  });
  console.log(
    `# Node ${process.version}, ${RUNS} fresh processes per target${compareDir ? `; before: ${compareDir}` : ''}`,
  );
  const width = Math.max(...all.map((target) => target.what.length));
  console.log(
    `# ${'target'.padEnd(width)} ${'ms'.padStart(7)} ${'ratio'.padStart(6)} ${'heap MiB'.padStart(9)} ${'RSS MiB'.padStart(8)} ${'packages'.padStart(8)}`,
  );
  for (const { target, ms, ratio, probed } of rows) {
    console.log(
      `# ${target.what.padEnd(width)} ${ms.toFixed(1).padStart(7)} ${ratio.toFixed(2).padStart(6)} ${mib(probed.heapUsed).padStart(9)} ${mib(probed.maxRss).padStart(8)} ${String(probed.packages.length).padStart(8)}`,
    );
  }
  for (const { target, probed } of rows) {
    if (probed.packages.length > 0) console.log(`# ${target.what}: ${probed.packages.join(' ')}`);
  }
  for (const { target, ms, ratio, probed } of rows.filter((row) => !row.target.compared)) {
    console.log(`BENCH imports.${target.name}_ms ${ms.toFixed(1)}`);
    console.log(`BENCH imports.${target.name}_ratio ${ratio.toFixed(2)}`);
    console.log(`BENCH imports.${target.name}_heap_mib ${mib(probed.heapUsed)}`);
    console.log(`BENCH imports.${target.name}_rss_mib ${mib(probed.maxRss)}`);
    console.log(`BENCH imports.${target.name}_packages ${probed.packages.length}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
