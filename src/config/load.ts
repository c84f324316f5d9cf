/**
 * `loadSettings()`: find, read, merge and validate the configuration.
 *
 * Precedence, highest first: `MCP_APP_SETTINGS_PRELOAD` (used instead of the files) ›
 * `SECTION__KEY` environment variables › the secrets file › the config file › defaults. Flat
 * provider variables (`OPENAI_API_KEY`, …) only fill keys nothing else set.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { McpAgentError } from '../errors.js';
import { CONFIG_FILE_NAMES, discoverFile, discoverSecretsFile, isFile } from './discovery.js';
import {
  applyEnvOverrides,
  applyProviderAliases,
  type Environment,
  parseBoolean,
  type ResolvedEnvironment,
  resolveEnvironment,
} from './environment.js';
import { ConfigError, type ConfigIssue } from './issues.js';
import { type Layer, mergeLayers } from './merge.js';
import { OriginMap, pathKey } from './paths.js';
import { providerProblems } from './providers.js';
import { isUsableServerUrl, type ServerSettings } from './schema/servers.js';
import { SECTIONS_NOT_USED, type Settings } from './schema/settings.js';
import { DEFAULT_MAX_FILE_BYTES, parseSource, readSourceFile } from './sources.js';
import { frontProblems, toolNameProblems } from './tool-names.js';
import { validateSettings } from './validate.js';

/** Options of {@link loadSettings}. Every one has a default taken from the process. */
export interface LoadSettingsOptions {
  /** Use this config file instead of discovering one; it must exist. */
  configPath?: string;
  /** Where discovery starts and where `.env` is read. Default `process.cwd()`. */
  cwd?: string;
  /** The environment. Default `process.env`. */
  env?: Environment;
  /** The user's home directory (for `~/.mcp-agent/`). Default `os.homedir()`. */
  homeDir?: string;
  /** Read `.env` from `cwd`. Default `true`. */
  dotenv?: boolean;
  /** Largest file accepted, in bytes. Default 1 MiB. */
  maxFileBytes?: number;
}

/** The loaded configuration and how it was put together. */
export interface LoadedSettings {
  /** The validated settings, frozen. */
  readonly settings: Settings;
  /** The config file that was read, if any. */
  readonly configFile?: string;
  /** The secrets file that was read, if any. */
  readonly secretsFile?: string;
  /** The `.env` file that was read, if any. */
  readonly dotenvFile?: string;
  /** Whether `MCP_APP_SETTINGS_PRELOAD` supplied the configuration. */
  readonly preloaded: boolean;
  /** Where each value came from; keys without an entry have their default. */
  readonly origins: OriginMap;
  /** Problems that did not stop loading. */
  readonly warnings: readonly ConfigIssue[];
}

/**
 * Load the configuration. Throws {@link ConfigError} (code `CONFIG_INVALID`) listing every problem,
 * or {@link McpAgentError} `CONFIG_NOT_FOUND` / `CONFIG_UNREADABLE` for a file that cannot be used.
 */
export function loadSettings(options: LoadSettingsOptions = {}): LoadedSettings {
  const cwd = resolve(options.cwd ?? process.cwd());
  const homeDir = options.homeDir ?? homedir();
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const { environment, issues: envIssues } = resolveEnvironment(
    options.env ?? process.env,
    cwd,
    options.dotenv ?? true,
  );
  const warnings: ConfigIssue[] = [...envIssues];
  const lookup = (name: string): string | undefined => environment.values[name];
  const dotenv = environment.dotenvFile ? { dotenvFile: environment.dotenvFile } : {};

  const preload = environment.values.MCP_APP_SETTINGS_PRELOAD;
  if (preload !== undefined && preload.trim() !== '') {
    const strict = parseBoolean(environment.values.MCP_APP_SETTINGS_PRELOAD_STRICT ?? '') === true;
    if (options.configPath) {
      const named = resolve(cwd, options.configPath);
      if (!isFile(named)) readSourceFile(named, 'config', maxBytes); // throws: a named file must exist
      warnings.push({
        severity: 'warning',
        message: `MCP_APP_SETTINGS_PRELOAD is set, so ${named} is not read unless the preload is invalid`,
      });
    }
    const source = parseSource(preload, 'preload', lookup, undefined, maxBytes);
    const empty: Layer = { value: {}, origins: new OriginMap() };
    const result = source.layer
      ? build(empty, environment, source.issues, source.layer)
      : { ok: false as const, issues: source.issues };
    if (result.ok) {
      return freezeResult({
        settings: result.settings,
        ...dotenv,
        preloaded: true,
        origins: result.origins,
        warnings: [...warnings, ...result.warnings],
      });
    }
    if (strict) throw new ConfigError([...warnings, ...result.issues]);
    warnings.push({
      severity: 'warning',
      message:
        'MCP_APP_SETTINGS_PRELOAD is invalid and was ignored (set MCP_APP_SETTINGS_PRELOAD_STRICT=true to make this fatal); the configuration files were used instead:',
    });
    for (const issue of result.issues) warnings.push({ ...issue, severity: 'warning' });
  }

  const configFile = options.configPath
    ? resolve(cwd, options.configPath)
    : discoverFile(CONFIG_FILE_NAMES, cwd, homeDir);
  const readLayer = (file: string, role: 'config' | 'secrets') =>
    parseSource(readSourceFile(file, role, maxBytes), role, lookup, file);
  let layer: Layer = { value: {}, origins: new OriginMap() };
  const fileIssues: ConfigIssue[] = [];
  let secretsFile: string | undefined;
  if (configFile) {
    const config = readLayer(configFile, 'config');
    fileIssues.push(...config.issues);
    secretsFile = discoverSecretsFile(configFile, cwd, homeDir);
    let secretsLayer: Layer | undefined;
    if (secretsFile) {
      const secrets = readLayer(secretsFile, 'secrets');
      fileIssues.push(...secrets.issues);
      secretsLayer = secrets.layer;
      warnings.push(...permissionWarnings(secretsFile));
    }
    if (!config.layer || (secretsFile && !secretsLayer)) {
      throw new ConfigError([...warnings, ...fileIssues]);
    }
    layer = secretsLayer ? mergeLayers(config.layer, secretsLayer) : config.layer;
  }

  if (!configFile) {
    warnings.push({
      severity: 'warning',
      message:
        'no mcp-agent.config.yaml or mcp_agent.config.yaml found here, in a parent directory or in ~/.mcp-agent/; using the defaults (run `mcp-agent init` to create one)',
    });
  }
  const result = build(layer, environment, fileIssues);
  if (!result.ok) throw new ConfigError([...warnings, ...result.issues]);
  return freezeResult({
    settings: result.settings,
    ...(configFile ? { configFile } : {}),
    ...(secretsFile ? { secretsFile } : {}),
    ...dotenv,
    preloaded: false,
    origins: result.origins,
    warnings: [...warnings, ...result.warnings],
  });
}

type BuildResult =
  | { ok: true; settings: Settings; origins: OriginMap; warnings: ConfigIssue[] }
  | { ok: false; issues: ConfigIssue[] };

/**
 * Environment overrides over the merged files, then `top` (the preload) over both, then provider
 * aliases and validation.
 */
function build(
  files: Layer,
  environment: ResolvedEnvironment,
  earlierIssues: readonly ConfigIssue[],
  top?: Layer,
): BuildResult {
  const overridden = applyEnvOverrides(files, environment);
  const layer = top ? mergeLayers(overridden.layer, top) : overridden.layer;
  const present = Object.keys(layer.value);
  const aliasWarnings = applyProviderAliases(layer, environment);
  const errors = [...earlierIssues.filter((i) => i.severity === 'error'), ...overridden.issues];
  const warnings = [...earlierIssues.filter((i) => i.severity === 'warning'), ...aliasWarnings];
  const validated = validateSettings(layer.value, layer.origins);
  if (!validated.ok) {
    // A string whose substitution failed is reported once, not again for its (raw) value.
    const reported = new Set(errors.flatMap((issue) => (issue.path ? [pathKey(issue.path)] : [])));
    errors.push(
      ...validated.issues.filter((issue) => !issue.path || !reported.has(pathKey(issue.path))),
    );
  }
  if (errors.length > 0 || !validated.ok) return { ok: false, issues: [...warnings, ...errors] };

  for (const section of present) {
    if (SECTIONS_NOT_USED.includes(section)) {
      const origin = layer.origins.lookup([section]);
      warnings.push({
        severity: 'warning',
        path: [section],
        ...(origin ? { origin } : {}),
        message:
          'is an mcp-agent setting that mcp-agent-ts does not use; it is accepted and ignored',
      });
    }
  }
  for (const problem of providerProblems(validated.settings, environment.values)) {
    const origin = layer.origins.lookup([problem.key]);
    warnings.push({
      severity: 'warning',
      path: [problem.key],
      ...(origin ? { origin } : {}),
      message: problem.message,
    });
  }
  const named = [
    ...toolNameProblems(validated.settings).map((p) => ({ ...p, severity: 'warning' as const })),
    ...frontProblems(validated.settings),
  ];
  for (const { severity, path, message } of named) {
    const origin = layer.origins.lookup(path);
    (severity === 'error' ? errors : warnings).push({
      severity,
      path: [...path],
      ...(origin ? { origin } : {}),
      message,
    });
  }
  for (const [name, server] of Object.entries(validated.settings.mcp.servers)) {
    for (const problem of serverProblems(server)) {
      const path = ['mcp', 'servers', name, problem.key];
      const origin = layer.origins.lookup(path);
      warnings.push({
        severity: 'warning',
        path,
        ...(origin ? { origin } : {}),
        message: problem.message,
      });
    }
  }
  // `front` naming no configured server: every other problem is reported with it.
  if (errors.length > 0) return { ok: false, issues: [...warnings, ...errors] };
  return { ok: true, settings: validated.settings, origins: layer.origins, warnings };
}

/**
 * What makes a server that loads unusable. mcp-agent only finds out when it connects; we say so
 * at load time, as warnings, so that files mcp-agent accepts still load.
 */
function serverProblems(server: ServerSettings): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  if (server.transport === 'stdio') {
    if (!server.command) {
      problems.push({
        key: 'command',
        message:
          'is not set, so this stdio server cannot be started (set command, or transport and url)',
      });
    }
  } else if (!server.url) {
    problems.push({
      key: 'url',
      message: `is not set, so this ${server.transport} server cannot be reached`,
    });
  } else if (
    URL.canParse(server.url) &&
    (new URL(server.url).username || new URL(server.url).password)
  ) {
    problems.push({
      key: 'url',
      message:
        'has credentials in it, which are never sent (and would show in logs); put them in headers',
    });
  } else if (!isUsableServerUrl(server.url, server.transport)) {
    problems.push({
      key: 'url',
      message: `is not a valid ${server.transport === 'websocket' ? 'ws(s)' : 'http(s)'} URL; connecting to this server will fail`,
    });
  }
  for (const key of ['http_timeout_seconds', 'read_timeout_seconds'] as const) {
    if (server[key] === 0) {
      problems.push({
        key,
        message: 'is 0, so every request would time out at once; remove it for the default',
      });
    }
  }
  return problems;
}

function permissionWarnings(file: string): ConfigIssue[] {
  if (process.platform === 'win32') return [];
  try {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) === 0) return [];
    return [
      {
        severity: 'warning',
        message: `the secrets file ${file} can be read by other users (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 on it`,
      },
    ];
  } catch {
    return [];
  }
}

function freezeResult(result: LoadedSettings): LoadedSettings {
  deepFreeze(result.settings);
  return Object.freeze(result);
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const item of Object.values(value)) deepFreeze(item);
}
