/**
 * Finding the configuration and secrets files, in mcp-agent's order.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';

/** Config file names, in the order they are looked for. */
export const CONFIG_FILE_NAMES: readonly string[] = [
  'mcp-agent.config.yaml',
  'mcp_agent.config.yaml',
];

/** Secrets file names, in the order they are looked for. */
export const SECRETS_FILE_NAMES: readonly string[] = [
  'mcp-agent.secrets.yaml',
  'mcp_agent.secrets.yaml',
];

/** Whether `path` is an existing regular file. */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Every place a file with one of `names` is looked for, in order. */
export function candidatePaths(names: readonly string[], cwd: string, homeDir: string): string[] {
  const out: string[] = [];
  let dir = cwd;
  for (;;) {
    for (const name of names) {
      out.push(join(dir, name), join(dir, '.mcp-agent', name));
    }
    const parent = dirname(dir);
    if (parent === dir || dir === parse(dir).root) break;
    dir = parent;
  }
  for (const name of names) out.push(join(homeDir, '.mcp-agent', name));
  return out;
}

/**
 * The first existing file among `names`: in `cwd` and each of its parents up to the root (each
 * directory itself, then its `.mcp-agent/`), and finally `~/.mcp-agent/`.
 */
export function discoverFile(
  names: readonly string[],
  cwd: string,
  homeDir: string,
): string | undefined {
  return candidatePaths(names, cwd, homeDir).find(isFile);
}

/**
 * The secrets file for `configFile`: beside it first, otherwise the same discovery walk from
 * `cwd`.
 */
export function discoverSecretsFile(
  configFile: string,
  cwd: string,
  homeDir: string,
): string | undefined {
  const dir = dirname(configFile);
  const beside = SECRETS_FILE_NAMES.map((name) => join(dir, name)).find(isFile);
  return beside ?? discoverFile(SECRETS_FILE_NAMES, cwd, homeDir);
}
