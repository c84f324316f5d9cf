import { join } from 'node:path';
import { loadSettings } from '../../src/config/load.js';
import type { Settings } from '../../src/config/schema/settings.js';
import type { Logger } from '../../src/logger.js';
import { ServerRegistry } from '../../src/servers/registry.js';
import { tempTree } from '../helpers/cli.js';
import { within } from './net.js';

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

/** Options of {@link openRegistry}. */
export interface OpenRegistryOptions {
  /** Variables for `${VAR}` substitution when the config loads. */
  readonly loadEnv?: Record<string, string>;
  /** The registry's environment (stdio allow-list, proxies). Default: empty. */
  readonly env?: Record<string, string>;
  readonly logger?: Logger;
}

/**
 * Load `yaml` and open a registry on it. The config directory and the registry are cleaned up
 * through `cleanups`; closing is bounded, so a close that hangs fails the test instead of
 * stalling the run.
 */
export function openRegistry(
  yaml: string,
  cleanups: (() => unknown)[],
  options: OpenRegistryOptions = {},
): ServerRegistry {
  const config = loadConfig(yaml, options.loadEnv);
  cleanups.push(config.cleanup);
  const registry = new ServerRegistry(config.settings, {
    env: options.env ?? {},
    ...(options.logger ? { logger: options.logger } : {}),
  });
  cleanups.push(() => within('registry.closeAll()', registry.closeAll(), 5_000));
  return registry;
}
