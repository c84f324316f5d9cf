/**
 * Settings as `loadSettings` makes them from configuration files, for the agent's tests: the
 * files are written to a temporary directory (the working and the home directory), read without
 * a `.env`, with only the given environment, and removed.
 */
import { loadSettings } from '../../src/config/load.js';
import type { Settings } from '../../src/config/schema/settings.js';
import { tempTree } from '../helpers/cli.js';

/** The settings `files` (by name: `mcp_agent.config.yaml`, …) and `env` make. */
export function settingsFrom(
  files: Record<string, string>,
  env: Record<string, string> = {},
): Settings {
  const tree = tempTree(files);
  try {
    return loadSettings({ cwd: tree.dir, homeDir: tree.dir, dotenv: false, env }).settings;
  } finally {
    tree.cleanup();
  }
}
