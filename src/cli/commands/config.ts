/**
 * `mcp-agent config check` and `mcp-agent config show`.
 *
 * @module
 */
import { Document, isCollection, isPair, isScalar, isSeq, type Scalar, visit } from 'yaml';
import { formatIssue } from '../../config/issues.js';
import { type LoadedSettings, loadSettings } from '../../config/load.js';
import { formatOrigin, pathKey, type ValueOrigin } from '../../config/paths.js';
import { redactSettings, sourcesRecord } from '../../config/redact.js';
import { displayFile, issueJson } from '../format.js';
import type { CliIo, GlobalOptions, Output } from '../io.js';

/** Load the configuration the way every command does. */
export function loadForCli(io: CliIo, options: GlobalOptions): LoadedSettings {
  return loadSettings({
    ...(options.config ? { configPath: options.config } : {}),
    cwd: io.cwd,
    env: io.env,
    ...(io.homeDir ? { homeDir: io.homeDir } : {}),
  });
}

function describeSources(loaded: LoadedSettings, show: (file: string) => string): string {
  if (loaded.preloaded) return 'MCP_APP_SETTINGS_PRELOAD';
  if (!loaded.configFile) return 'defaults (no configuration file found)';
  return loaded.secretsFile
    ? `${show(loaded.configFile)} + ${show(loaded.secretsFile)}`
    : show(loaded.configFile);
}

/** `config check`: validate and summarise. */
export function configCheck(io: CliIo, options: GlobalOptions, out: Output): number {
  const loaded = loadForCli(io, options);
  const show = displayFile(io);
  const servers = Object.keys(loaded.settings.mcp.servers);
  out.resultJson({
    ok: true,
    config_file: loaded.configFile ?? null,
    secrets_file: loaded.secretsFile ?? null,
    dotenv_file: loaded.dotenvFile ?? null,
    preloaded: loaded.preloaded,
    servers,
    authorization_enabled: loaded.settings.authorization?.enabled ?? false,
    warnings: loaded.warnings.map((issue) => issueJson(issue, show)),
  });
  for (const warning of loaded.warnings) out.warn(formatIssue(warning, show));
  const inbound = loaded.settings.authorization?.enabled ? 'enabled' : 'disabled';
  out.result(
    `Configuration OK: ${describeSources(loaded, show)}\n  ${servers.length} server${servers.length === 1 ? '' : 's'}${servers.length > 0 ? ` (${servers.join(', ')})` : ''}; inbound authorization ${inbound}; token store ${loaded.settings.oauth.token_store.backend}`,
  );
  return 0;
}

/** `config show`: the effective configuration with secrets redacted. */
export function configShow(io: CliIo, options: GlobalOptions, out: Output): number {
  const loaded = loadForCli(io, options);
  const show = displayFile(io);
  const describe = (origin: ValueOrigin) => formatOrigin(origin, show);
  const { value, sources } = redactSettings(loaded);
  for (const warning of loaded.warnings) out.warn(formatIssue(warning, show));
  if (out.json) {
    out.resultJson({
      config_file: loaded.configFile ?? null,
      secrets_file: loaded.secretsFile ?? null,
      preloaded: loaded.preloaded,
      settings: value,
      sources: sourcesRecord(sources, describe),
      warnings: loaded.warnings.map((issue) => issueJson(issue, show)),
    });
    return 0;
  }
  const doc = new Document(value);
  if (options.verbose) {
    const bySource = new Map(sources.map((entry) => [pathKey(entry.path), describe(entry.origin)]));
    visit(doc, {
      Pair(_, pair, ancestors) {
        if (!isScalar(pair.key)) return;
        const path: (string | number)[] = [];
        ancestors.forEach((node, index) => {
          if (isPair(node) && isScalar(node.key)) path.push(String(node.key.value));
          if (isSeq(node)) path.push(node.items.indexOf(ancestors[index + 1] as never));
        });
        path.push(String((pair.key as Scalar).value));
        const source = bySource.get(pathKey(path));
        if (!source) return;
        const value = pair.value;
        if (isCollection(value) && value.items.length === 0) value.flow = true;
        if (isScalar(value) || (isCollection(value) && value.items.length === 0)) {
          value.comment = ` ${source}`;
        } else {
          (pair.key as Scalar).comment = ` ${source}`;
        }
      },
    });
  }
  // The heading is a YAML comment: what stdout carries stays one YAML document.
  out.result(`# effective configuration from ${describeSources(loaded, show)}; secrets redacted`);
  out.result(doc.toString({ lineWidth: 0 }));
  return 0;
}
