// `npm run test:conformance`: the official MCP conformance suite's client-auth scenarios against
// a client driver (default `node test/conformance/client.mjs`).
//
// The suite (installed from npm into .tools/conformance/ on first use) and the client under test
// both run on the Node that runs this script: the project's Node 24 under `npm run` (the suite's
// bundle needs Node >= 22: it imports `globSync` from 'fs'). Only the npm registry is used; every
// scenario binds ephemeral localhost ports.
//
// What runs, every scenario in its own suite process, all of them side by side (bounded):
//   decisive, at --wire (default 2025-11-25, the stateful initialize handshake):
//     (a) every 2025-11-25 auth scenario (those of `--suite auth`);
//     (b) every client-auth scenario introduced in 2026-07-28, with --force (a suite run filters
//         them out at 2025-11-25, and --force only applies to --scenario);
//     (c) the extension scenarios we implement (client credentials), with --force;
//   decisive too, at --second-wire (default 2026-07-28; `none` skips it): every scenario of that
//     revision (and the extensions) on its own wire. The client pins the revision of each run
//     (`protocol` of its server entry, from the suite's MCP_CONFORMANCE_PROTOCOL_VERSION), so
//     there our client is scored on server/discover and the per-request envelope;
//   all decisive runs with `--expected-failures test/conformance/baseline.yml`;
//   informational: the two 2025-03-26 back-compat scenarios, at --spec-version 2025-03-26.
//     One of them wants /authorize, /token and /register used with no metadata at all, which
//     the revisions we implement forbid (2025-11-25: a client MUST refuse to go on without
//     code_challenge_methods_supported; 2026-07-28 checks the response's iss against the
//     metadata's issuer). They are printed on one `conformance: …` line and listed; they never
//     change the exit code.
//
// Usage: node scripts/conformance.mjs [--command "<cmd>"] [--scenario <name>]... [--wire <rev>]
//        [--second-wire <rev>|none] [--timeout <ms>] [--verbose] [--install-only]
// Exit: 0 when every failing decisive scenario (or check) is in the baseline and no baseline
// entry is stale; 1 otherwise; 2 on a usage or installation error.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { findChecks } from './conformance-checks.mjs';
import { requireProjectNode } from './node-runtime.mjs';

const CONFORMANCE_VERSION = '0.2.0-alpha.12';
const DEFAULT_COMMAND = 'node test/conformance/client.mjs';
const BASELINE = 'test/conformance/baseline.yml';

const root = fileURLToPath(new URL('..', import.meta.url));
const toolsDir = join(root, '.tools', 'conformance');
const suitePackage = join(toolsDir, 'node_modules', '@modelcontextprotocol', 'conformance');
const suiteEntry = join(suitePackage, 'dist', 'index.js');
const resultsDir = join(toolsDir, 'results');

function fail(message, code = 2) {
  console.error(`conformance: ${message}`);
  process.exit(code);
}

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      command: { type: 'string', default: DEFAULT_COMMAND },
      scenario: { type: 'string', multiple: true },
      wire: { type: 'string', default: '2025-11-25' },
      'second-wire': { type: 'string', default: '2026-07-28' },
      timeout: { type: 'string', default: '30000' },
      verbose: { type: 'boolean', default: false },
      'install-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (options.help) {
  console.log(
    'Usage: node scripts/conformance.mjs [--command "<cmd>"] [--scenario <name>]... [--wire 2025-11-25|2026-07-28] [--second-wire 2026-07-28|none] [--timeout <ms>] [--verbose] [--install-only]',
  );
  process.exit(0);
}
requireProjectNode('conformance');
const timeoutMs = Number.parseInt(options.timeout, 10);
if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) fail(`--timeout must be a positive integer`);

function installedVersion(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function ensureInstalled() {
  const ready = existsSync(suiteEntry) && installedVersion(suitePackage) === CONFORMANCE_VERSION;
  if (!ready) {
    console.error(
      `conformance: installing @modelcontextprotocol/conformance@${CONFORMANCE_VERSION} into ${relative(root, toolsDir)}/ (once)…`,
    );
    mkdirSync(toolsDir, { recursive: true });
    writeFileSync(
      join(toolsDir, 'package.json'),
      `${JSON.stringify(
        {
          private: true,
          description: 'Tools for scripts/conformance.mjs; not part of the package.',
          dependencies: { '@modelcontextprotocol/conformance': CONFORMANCE_VERSION },
        },
        null,
        2,
      )}\n`,
    );
    const npm = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        toolsDir,
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        '--save-exact',
      ],
      { cwd: toolsDir, encoding: 'utf8' },
    );
    if (npm.status !== 0 || !existsSync(suiteEntry)) {
      process.stderr.write(npm.stdout ?? '');
      process.stderr.write(npm.stderr ?? '');
      fail(`npm install into ${toolsDir} failed${npm.error ? `: ${npm.error.message}` : ''}`);
    }
  }
}

ensureInstalled();
if (options['install-only']) process.exit(0);

if (options.command === DEFAULT_COMMAND) {
  if (!existsSync(join(root, 'test/conformance/client.mjs'))) {
    fail('test/conformance/client.mjs does not exist; pass --command "<client command>"');
  }
  // The driver imports the built library: refuse a missing build, warn about a stale one.
  const built = join(root, 'dist', 'index.js');
  if (!existsSync(built)) fail('dist/index.js does not exist; run `npm run build` first');
  const newest = (dir) =>
    readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
      const path = join(dir, entry.name);
      return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
    }, 0);
  if (newest(join(root, 'src')) > statSync(built).mtimeMs) {
    console.error(
      'conformance: src/ is newer than dist/; run `npm run build` to test the current code',
    );
  }
}
if (!existsSync(join(root, BASELINE))) fail(`${BASELINE} is missing`);

// The client under test runs on this script's Node: the suite spawns `--command` through a shell
// with our environment, so put our Node's directory first on PATH.
const env = {
  ...process.env,
  PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter),
};

function suite(args, extra = {}) {
  return spawnSync(process.execPath, [suiteEntry, ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
    ...extra,
  });
}

// Scenario lists, from the installed suite itself: `- auth/x [2025-11-25,2026-07-28]`.
const listing = suite(['list', '--client']);
if (listing.status !== 0) fail(`\`conformance list --client\` failed: ${listing.stderr}`);
const tagged = [...listing.stdout.matchAll(/^\s+- (auth\/\S+) \[([^\]]*)\]$/gm)].map((m) => ({
  name: m[1],
  tags: m[2].split(','),
}));
const legacyAuth = tagged.filter((s) => s.tags.includes('2025-11-25')).map((s) => s.name);
const newAuth = tagged
  .filter((s) => s.tags.length === 1 && s.tags[0] === '2026-07-28')
  .map((s) => s.name);
// The back-compat scenarios of the 2025-03-26 revision (no protected-resource metadata).
const backCompat = tagged
  .filter((s) => s.tags.length === 1 && s.tags[0] === '2025-03-26')
  .map((s) => s.name);
// Extension scenarios we implement (the others — enterprise-managed authorization, DPoP, workload
// identity — are not features of ours yet).
const EXTENSIONS = ['auth/client-credentials-basic', 'auth/client-credentials-jwt'];
const extensionAuth = tagged
  .filter((s) => s.tags.includes('extension') && EXTENSIONS.includes(s.name))
  .map((s) => s.name)
  .filter((name, i, all) => all.indexOf(name) === i);
if (legacyAuth.length === 0 || newAuth.length === 0 || backCompat.length === 0) {
  fail(`unexpected \`list --client\` output:\n${listing.stdout}`);
}
const known = [...legacyAuth, ...newAuth, ...backCompat, ...extensionAuth];
const wanted = options.scenario ? new Set(options.scenario) : undefined;
if (wanted) {
  const unknown = [...wanted].filter((s) => !known.includes(s));
  if (unknown.length > 0) fail(`unknown client-auth scenario(s): ${unknown.join(', ')}`);
}
const pick = (names) => (wanted ? names.filter((s) => wanted.has(s)) : names);

// The groups. `force`: run a scenario outside the revisions it is tagged with (the 2026-07-28
// ones on the 2025-11-25 wire; the extensions, which carry no revision). `dir`: where its
// results go (a scenario runs once per wire, so each wire has its own).
const wire = options.wire;
const secondWire = options['second-wire'] === 'none' ? undefined : options['second-wire'];
const primaryDir = `decisive-${wire}`;
const groups = [
  {
    title: `${wire === '2025-11-25' ? '' : `${wire} wire, `}2025-11-25 auth`,
    wire,
    dir: primaryDir,
    scenarios: pick(legacyAuth),
  },
  { title: '2026-07-28 client auth', wire, dir: primaryDir, scenarios: pick(newAuth), force: true },
  { title: 'extensions', wire, dir: primaryDir, scenarios: pick(extensionAuth), force: true },
];
if (secondWire && secondWire !== wire) {
  // Everything of the second revision's requirement set on its own wire.
  const onWire = tagged.filter((s) => s.tags.includes(secondWire)).map((s) => s.name);
  groups.push({
    title: `${secondWire} scenarios at --wire ${secondWire}`,
    wire: secondWire,
    dir: `decisive-${secondWire}`,
    scenarios: pick([...new Set([...onWire, ...extensionAuth])]),
    force: true,
    suite: true,
  });
}
// Scored at the revision they belong to (they are removed from 2025-06-18 on), for information.
groups.push({
  title: '2025-03-26 back-compat',
  wire: '2025-03-26',
  dir: 'informational',
  scenarios: pick(backCompat),
  informational: true,
});
const planned = groups.filter((g) => g.scenarios.length > 0);

rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

/** The suite-process arguments of `group` for `--scenario name`, or `--suite auth`. */
function argsOf(group, which) {
  return [
    'client',
    ...which,
    ...(group.force && which[0] === '--scenario' ? ['--force'] : []),
    '--command',
    options.command,
    '--spec-version',
    group.wire,
    '--timeout',
    String(timeoutMs),
    // Informational runs are not held to the baseline (nor excused by it).
    ...(group.informational ? [] : ['--expected-failures', join(root, BASELINE)]),
  ];
}
// The second wire's run takes the scenarios of `--suite auth` in one suite process (which runs
// them side by side itself): fewer Node start-ups; the others run one per process.
const suiteGroup = planned.find((g) => g.suite && !wanted);
const runs = [
  ...(suiteGroup
    ? [
        {
          group: suiteGroup,
          label: `${suiteGroup.wire}-suite-auth`,
          dir: join(resultsDir, suiteGroup.dir),
          args: argsOf(suiteGroup, ['--suite', 'auth']),
        },
      ]
    : []),
  ...planned.flatMap((group) =>
    group.scenarios
      .filter((name) => !(group === suiteGroup && legacyAuth.includes(name)))
      .map((name) => ({
        group,
        label: `${group.wire}-${name.replace('/', '-')}`,
        dir: join(resultsDir, group.dir),
        args: argsOf(group, ['--scenario', name]),
      })),
  ),
];

const started = Date.now();
function run({ label, dir, args }) {
  const out = join(dir, label);
  const log = join(resultsDir, `${label}.log`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [suiteEntry, ...args, '--output-dir', out], {
      cwd: root,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    const collect = (chunk) => {
      text += chunk;
      if (options.verbose) process.stderr.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    // The suite kills a client that outlives --timeout; this bounds the suite itself.
    const timer = setTimeout(() => {
      text += `\n[conformance.mjs] killed after ${timeoutMs + 30_000} ms\n`;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, timeoutMs + 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      writeFileSync(log, text);
      resolve({ label, code: code ?? (signal ? 1 : 0), log });
    });
  });
}
// Bounded parallelism: every run is a suite process plus a client process, mostly waiting on
// each other and on process start-up; twice the cores keeps a small machine busy without
// starving it (each client has its own 25 s deadline).
async function pool(items, size, worker) {
  const out = [];
  let next = 0;
  const lanes = Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      out[index] = await worker(items[index]);
    }
  });
  await Promise.all(lanes);
  return out;
}
const exits = await pool(runs, Math.max(4, 2 * availableParallelism()), run);
const seconds = ((Date.now() - started) / 1000).toFixed(1);

// Every checks.json (see conformance-checks.mjs) is at <dir>/<label>/auth/<name>-<ISO timestamp with [:.] as '-'>/checks.json.
/** Scenario name → its checks, for the runs under `dir`. */
function resultsIn(dir) {
  const results = new Map();
  for (const file of findChecks(dir)) {
    const runDir = relative(dir, dirname(file)).split(sep).slice(1).join('/');
    const scenario = runDir.replace(/-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/, '');
    results.set(scenario, { checks: JSON.parse(readFileSync(file, 'utf8')), dir: dirname(file) });
  }
  return results;
}
const resultsByDir = new Map(
  [...new Set(planned.map((g) => g.dir))].map((dir) => [dir, resultsIn(join(resultsDir, dir))]),
);
const resultsOf = (dir) => resultsByDir.get(dir) ?? new Map();

// The baseline, evaluated as the suite does: a FAILURE or WARNING check fails its scenario;
// `scenario` excuses the whole scenario, `scenario:check-id` one check id.
const baseline = parseYaml(readFileSync(join(root, BASELINE), 'utf8'))?.client ?? [];
const wholeExcused = new Set(baseline.filter((e) => !String(e).includes(':')).map(String));
const checkExcused = new Set(baseline.filter((e) => String(e).includes(':')).map(String));
const bad = (check) => check.status === 'FAILURE' || check.status === 'WARNING';

/** Whether `scenario` passed on every decisive wire that ran it (a whole entry is then stale). */
function passesOnEveryWire(scenario) {
  return planned
    .filter((g) => !g.informational && g.scenarios.includes(scenario))
    .every((g) => {
      const result = resultsOf(g.dir).get(scenario);
      return result !== undefined && !result.checks.some(bad);
    });
}

const lines = [];
let unexpected = 0;
const staleEntries = new Set();
const tally = [];
const notes = [];
for (const group of planned) {
  const results = resultsOf(group.dir);
  let passed = 0;
  const out = [];
  for (const scenario of group.scenarios) {
    const result = results.get(scenario);
    if (!result) {
      if (!group.informational) unexpected++;
      out.push(`  ✗ ${scenario}: no results (see ${relative(root, resultsDir)}/*.log)`);
      continue;
    }
    const failing = result.checks.filter(bad);
    const scored = result.checks.filter((c) => c.status === 'SUCCESS' || c.status === 'FAILURE');
    const okCount = result.checks.filter((c) => c.status === 'SUCCESS').length;
    const excusable = !group.informational;
    if (failing.length === 0) {
      passed++;
      const staleEntry = excusable && wholeExcused.has(scenario) && passesOnEveryWire(scenario);
      if (staleEntry) staleEntries.add(scenario);
      if (!group.informational || options.verbose) {
        out.push(
          `  ✓ ${scenario} (${okCount}/${scored.length} checks)${staleEntry ? ' — stale baseline entry' : ''}`,
        );
      }
      continue;
    }
    const excused = !excusable
      ? []
      : wholeExcused.has(scenario)
        ? failing
        : failing.filter((c) => checkExcused.has(`${scenario}:${c.id}`));
    const notExcused = failing.filter((c) => !excused.includes(c));
    if (notExcused.length > 0 && !group.informational) unexpected++;
    const mark = group.informational ? '·' : notExcused.length > 0 ? '✗' : '~';
    out.push(
      `  ${mark} ${scenario} (${okCount}/${scored.length} checks)${excusable && notExcused.length === 0 ? ' — expected (baseline)' : ''}`,
    );
    for (const check of failing) {
      const why = check.errorMessage ?? check.description;
      out.push(
        `      ${excused.includes(check) ? '~' : '-'} ${check.id} [${check.status}]: ${String(why).split('\n')[0]}`,
      );
    }
  }
  if (group.informational && out.length > 0) lines.push(`  ${group.title} (informational):`);
  lines.push(...out);
  if (group.informational) {
    notes.push(`conformance: ${group.title}: ${passed}/${group.scenarios.length} (informational)`);
  } else {
    tally.push(`${group.title}: ${passed}/${group.scenarios.length} passed`);
  }
}
for (const entry of checkExcused) {
  const [scenario, id] = [entry.slice(0, entry.indexOf(':')), entry.slice(entry.indexOf(':') + 1)];
  // Stale when the check passes on every decisive wire that ran the scenario.
  const ran = planned
    .filter((g) => !g.informational && g.scenarios.includes(scenario))
    .map((g) => resultsOf(g.dir).get(scenario))
    .filter((result) => result !== undefined);
  const passesEverywhere =
    ran.length > 0 &&
    ran.every(
      (result) =>
        result.checks.some((c) => c.id === id && c.status === 'SUCCESS') &&
        !result.checks.some((c) => c.id === id && bad(c)),
    );
  if (passesEverywhere) {
    staleEntries.add(entry);
    lines.push(`  ! stale baseline entry: ${entry} now passes`);
  }
}
const stale = staleEntries.size;
const suiteFailed = exits.filter((e, i) => e.code !== 0 && !runs[i].group.informational);

console.log(
  `MCP conformance ${CONFORMANCE_VERSION} (suite and client on Node ${process.version}, wire ${wire}${secondWire && secondWire !== wire ? ` and ${secondWire}` : ''})`,
);
console.log(`client: ${options.command}`);
for (const line of lines) console.log(line);
console.log(`${tally.join(' · ')} · ${seconds} s`);
for (const note of notes) console.log(note);
if (unexpected > 0 || stale > 0 || suiteFailed.length > 0) {
  if (suiteFailed.length > 0 && unexpected === 0 && stale === 0) {
    console.log(
      `the suite reported failure in: ${suiteFailed.map((e) => relative(root, e.log)).join(', ')}`,
    );
  }
  const reasons = [];
  if (unexpected > 0) reasons.push(`${unexpected} scenario(s) fail outside ${BASELINE}`);
  if (stale > 0) reasons.push(`${stale} stale baseline entr${stale === 1 ? 'y' : 'ies'}`);
  if (reasons.length === 0) reasons.push('the suite exited non-zero');
  console.log(
    `FAILED: ${reasons.join(', ')}; logs and checks.json under ${relative(root, resultsDir)}/`,
  );
  process.exit(1);
}
console.log(
  `OK: no failures outside the baseline (at --wire ${wire}${secondWire && secondWire !== wire ? ` and ${secondWire}` : ''})`,
);
