import { join } from 'node:path';
import { loadSettings } from '../../src/config/load.js';
import type { Settings } from '../../src/config/schema/settings.js';
import { tempTree } from '../helpers/cli.js';

/** A config file in a temporary directory, loaded the way the CLI loads it. */
export interface LoadedConfig {
  readonly dir: string;
  readonly settings: Settings;
  cleanup(): void;
}

/** The name of the config file {@link writeConfig} writes. */
export const CONFIG_FILE = 'mcp_agent.config.yaml';

/** Write `yaml` as the config file of a new temporary directory; returns the directory. */
export function writeConfig(yaml: string): ReturnType<typeof tempTree> {
  return tempTree({ [CONFIG_FILE]: yaml });
}

/** Write `yaml` as a config file and load it with `loadSettings`, variables from `env` only. */
export function loadConfig(yaml: string, env: Record<string, string> = {}): LoadedConfig {
  const tree = writeConfig(yaml);
  try {
    const { settings } = loadSettings({
      cwd: tree.dir,
      env,
      homeDir: join(tree.dir, '.home-that-does-not-exist'),
      dotenv: false,
    });
    return { dir: tree.dir, settings, cleanup: tree.cleanup };
  } catch (error) {
    tree.cleanup();
    throw error;
  }
}

/** A YAML scalar for `value` (a double-quoted string, which YAML reads as JSON does). */
export function q(value: string): string {
  return JSON.stringify(value);
}
