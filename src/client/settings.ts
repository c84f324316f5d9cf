/**
 * The settings of {@link createAgentAuth}: read as the CLI reads them (a configuration file, its
 * secrets file, `.env`, `${VAR}` and `SECTION__KEY` overrides: `loadSettings`), or given as an
 * object and validated against the same schema, every problem reported in one `ConfigError`.
 *
 * @module
 */
import type { ConfigIssue } from '../config/issues.js';
import { ConfigError } from '../config/issues.js';
import { type LoadSettingsOptions, loadSettings } from '../config/load.js';
import { isPlainObject } from '../config/merge.js';
import { OriginMap } from '../config/paths.js';
import type { Settings, SettingsInput } from '../config/schema/settings.js';
import { Secret } from '../config/secret.js';
import { describeValue, validateSettings } from '../config/validate.js';
import { McpAgentError } from '../errors.js';

/** Where the settings come from (see {@link resolveSettings}). */
export interface SettingsSource {
  /** A configuration file, read with its secrets file as `mcp-agent --config PATH` does. */
  readonly configPath?: string | undefined;
  /**
   * The configuration document as an object (the YAML's shape, secrets as strings), or settings
   * already parsed (their `Secret`s are taken as they are); validated either way.
   */
  readonly settings?: SettingsInput | Settings | undefined;
  /** Where discovery starts, `.env` is read and relative paths resolve. Default `process.cwd()`. */
  readonly cwd?: string | undefined;
  /** Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Default `os.homedir()`. */
  readonly homeDir?: string | undefined;
}

/** The settings and the problems that did not stop them. */
export interface ResolvedSettings {
  /** The validated settings (secrets are `Secret`s). */
  readonly settings: Settings;
  /** Problems that did not stop it (as `config check` prints them). */
  readonly warnings: readonly ConfigIssue[];
}

/**
 * The validated settings of `source`: `source.settings` when given, else the configuration file
 * `source.configPath`, else the one discovery finds (or the defaults). Throws `ConfigError`
 * (`CONFIG_INVALID`) listing every problem, or `CONFIG_NOT_FOUND` / `CONFIG_UNREADABLE`.
 */
export function resolveSettings(source: SettingsSource): ResolvedSettings {
  if (source.settings !== undefined && source.configPath !== undefined) {
    throw new McpAgentError(
      'USAGE',
      'createAgentAuth takes either configPath or settings, not both; pass one of them.',
    );
  }
  if (source.settings !== undefined) return { settings: validated(source.settings), warnings: [] };
  const options: LoadSettingsOptions = {
    ...(source.configPath !== undefined ? { configPath: source.configPath } : {}),
    ...(source.cwd !== undefined ? { cwd: source.cwd } : {}),
    ...(source.env !== undefined ? { env: source.env } : {}),
    ...(source.homeDir !== undefined ? { homeDir: source.homeDir } : {}),
  };
  const loaded = loadSettings(options);
  return { settings: loaded.settings, warnings: loaded.warnings };
}

/** `document` validated against the settings schema; every problem in one {@link ConfigError}. */
function validated(document: unknown): Settings {
  if (!isPlainObject(document)) {
    throw new ConfigError([
      {
        severity: 'error',
        message: `the settings must be an object (the configuration document), not ${describeValue(document)}`,
      },
    ]);
  }
  const result = validateSettings(plain(document) as Record<string, unknown>, new OriginMap());
  if (!result.ok) throw new ConfigError(result.issues);
  return result.settings;
}

/** `value` with each {@link Secret} as the string the schema parses into one again. */
function plain(value: unknown): unknown {
  if (value instanceof Secret) return value.reveal();
  if (Array.isArray(value)) return value.map(plain);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
}
