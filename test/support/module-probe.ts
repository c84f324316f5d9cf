/**
 * Run Node in a fresh process under scripts/module-probe.mjs: what it printed, and every module it
 * resolved (import and require alike) with the npm packages they belong to. For tests of what an
 * entry point or a command loads.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROBE = fileURLToPath(new URL('../../scripts/module-probe.mjs', import.meta.url));

/** What a probed process did. */
export interface ProbedRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Every module resolved, as URLs (`file:`, `node:`). */
  readonly urls: readonly string[];
  /** The npm packages those modules came from, sorted. */
  readonly packages: readonly string[];
}

/** Run `node --import module-probe.mjs ARGS` in `cwd` (the environment: `env`, else this one's). */
export function runProbed(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): ProbedRun {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-probe-'));
  try {
    const out = join(dir, 'loaded.json');
    const child = spawnSync(process.execPath, ['--import', PROBE, ...args], {
      cwd: options.cwd,
      encoding: 'utf8',
      env: { ...(options.env ?? process.env), MODULE_PROBE_OUT: out },
    });
    if (child.error) throw child.error;
    let loaded: { urls: string[]; packages: string[] } = { urls: [], packages: [] };
    try {
      loaded = JSON.parse(readFileSync(out, 'utf8')) as typeof loaded;
    } catch {
      // The process died before its exit handler ran; the status and stderr say why.
    }
    return { status: child.status, stdout: child.stdout, stderr: child.stderr, ...loaded };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
