/**
 * The environment as a configuration layer: `SECTION__KEY__…` overrides, the `.env` file and the
 * provider aliases (`OPENAI_API_KEY`, …).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import type { ConfigIssue } from './issues.js';
import { isPlainObject, type Layer } from './merge.js';
import { type ConfigPath, OriginMap, type ValueOrigin } from './paths.js';
import { isMapAt, knownKeysAt, valueKindAt } from './schema/introspect.js';
import { GENERIC_PROVIDER_ENV_ALIASES, PROVIDER_ENV_ALIASES } from './schema/providers.js';
import { FORBIDDEN_KEYS } from './yaml-limits.js';

/** Environment variables, as in `process.env`. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** The environment the loader works with: the process's, plus `.env` entries it does not set. */
export interface ResolvedEnvironment {
  readonly values: Environment;
  /** Names that came from the `.env` file (not from the real environment). */
  readonly fromDotenv: ReadonlySet<string>;
  /** The `.env` file that was read, if any. */
  readonly dotenvFile?: string;
}

/** Largest `.env` file read, in bytes. */
const MAX_DOTENV_BYTES = 1024 * 1024;

/**
 * Read `.env` in `cwd` (if present) under `env`. Real environment variables always win over
 * `.env` entries.
 */
export function resolveEnvironment(
  env: Environment,
  cwd: string,
  useDotenv: boolean,
): { environment: ResolvedEnvironment; issues: ConfigIssue[] } {
  if (!useDotenv) return { environment: { values: env, fromDotenv: new Set() }, issues: [] };
  const file = join(cwd, '.env');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return { environment: { values: env, fromDotenv: new Set() }, issues: [] };
    }
    return {
      environment: { values: env, fromDotenv: new Set() },
      issues: [
        {
          severity: 'warning',
          message: `could not read ${file} (${code ?? 'error'}); it was ignored`,
        },
      ],
    };
  }
  if (Buffer.byteLength(text) > MAX_DOTENV_BYTES) {
    return {
      environment: { values: env, fromDotenv: new Set() },
      issues: [{ severity: 'warning', message: `${file} is larger than 1 MiB; it was ignored` }],
    };
  }
  const parsed = parseEnv(text) as Record<string, string>;
  const values: Record<string, string | undefined> = { ...env };
  const fromDotenv = new Set<string>();
  for (const [name, value] of Object.entries(parsed)) {
    if (values[name] === undefined) {
      values[name] = value;
      fromDotenv.add(name);
    }
  }
  return { environment: { values, fromDotenv, dotenvFile: file }, issues: [] };
}

function originOf(environment: ResolvedEnvironment, variable: string): ValueOrigin {
  return environment.fromDotenv.has(variable) && environment.dotenvFile
    ? { kind: 'env', variable, dotenvFile: environment.dotenvFile }
    : { kind: 'env', variable };
}

/**
 * Apply `SECTION__KEY__…` variables to `base`. Variable names are matched without regard to
 * case; a map key (a server name, a header) that already exists keeps its spelling. Values are
 * converted to the type the schema expects (`true`, `42`, `["a","b"]`).
 */
export function applyEnvOverrides(
  base: Layer,
  environment: ResolvedEnvironment,
): { layer: Layer; issues: ConfigIssue[] } {
  const topLevel = new Set(knownKeysAt([]));
  const value = structuredClone(base.value);
  const origins = new OriginMap();
  origins.copySubtree(base.origins, []);
  const issues: ConfigIssue[] = [];

  const names = Object.keys(environment.values)
    .filter((name) => name.includes('__'))
    .sort();
  for (const name of names) {
    const raw = environment.values[name];
    if (raw === undefined) continue;
    const segments = name.split('__').map((segment) => segment.toLowerCase());
    const [section] = segments;
    if (section === undefined || !topLevel.has(section)) continue;
    if (segments.some((segment) => segment === '' || FORBIDDEN_KEYS.has(segment))) continue;

    const path: (string | number)[] = [];
    let node: Record<string, unknown> = value;
    let blocked = false;
    for (const [index, segment] of segments.entries()) {
      const key = matchKey(node, segment, path);
      path.push(key);
      if (index === segments.length - 1) break;
      const next = node[key];
      if (next === undefined || next === null) {
        node[key] = {};
      } else if (!isPlainObject(next)) {
        issues.push({
          severity: 'error',
          path: [...path],
          origin: originOf(environment, name),
          message: `cannot be overridden below: it is not a mapping (from ${name})`,
        });
        blocked = true;
        break;
      }
      node = node[key] as Record<string, unknown>;
    }
    if (blocked) continue;
    const leaf = path[path.length - 1] as string;
    const converted = convert(raw, valueKindAt(path));
    if (!converted.ok) {
      issues.push({
        severity: 'error',
        path: [...path],
        origin: originOf(environment, name),
        message: converted.message,
      });
      continue;
    }
    node[leaf] = converted.value;
    origins.deleteSubtree(path);
    origins.set(path, originOf(environment, name));
  }
  return { layer: { value, origins }, issues };
}

/** The existing key of `node` that equals `segment` ignoring case, else `segment`. */
function matchKey(node: Record<string, unknown>, segment: string, path: ConfigPath): string {
  if (Object.hasOwn(node, segment)) return segment;
  if (!isMapAt(path)) return segment;
  return Object.keys(node).find((key) => key.toLowerCase() === segment) ?? segment;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** `true`/`1`/`yes`/`on` and their opposites, in any case; `undefined` for anything else. */
export function parseBoolean(raw: string): boolean | undefined {
  const lower = raw.trim().toLowerCase();
  return TRUE.has(lower) ? true : FALSE.has(lower) ? false : undefined;
}

/** Convert an environment string to the kind the schema expects at its key. */
export function convert(
  raw: string,
  kind: ReturnType<typeof valueKindAt>,
): { ok: true; value: unknown } | { ok: false; message: string } {
  switch (kind) {
    case 'boolean': {
      const value = parseBoolean(raw);
      return value === undefined
        ? { ok: false, message: 'expects true or false' }
        : { ok: true, value };
    }
    case 'number': {
      const number = Number(raw.trim());
      return raw.trim() !== '' && Number.isFinite(number)
        ? { ok: true, value: number }
        : { ok: false, message: 'expects a number' };
    }
    case 'array':
    case 'object': {
      try {
        return { ok: true, value: JSON.parse(raw) as unknown };
      } catch {
        return {
          ok: false,
          message: `expects a JSON ${kind === 'array' ? 'list such as ["a","b"]' : 'object such as {"key":"value"}'}`,
        };
      }
    }
    default:
      return { ok: true, value: raw };
  }
}

/**
 * Fill keys nobody set from the flat provider aliases mcp-agent accepts (`OPENAI_API_KEY`,
 * `ANTHROPIC_API_KEY`, `AWS_REGION`, …). Modifies `layer` in place.
 */
export function applyProviderAliases(
  layer: Layer,
  environment: ResolvedEnvironment,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const apply = (table: typeof PROVIDER_ENV_ALIASES, onlyExisting: boolean): void => {
    for (const [variable, targets] of Object.entries(table)) {
      const raw = environment.values[variable];
      if (raw === undefined || raw === '') continue;
      for (const [section, key] of targets) {
        const existing = layer.value[section];
        if (existing !== undefined && existing !== null && !isPlainObject(existing)) continue;
        if ((existing === undefined || existing === null) && onlyExisting) continue;
        const target = isPlainObject(existing) ? existing : {};
        if (target[key] !== undefined && target[key] !== null) continue;
        const converted = convert(raw, valueKindAt([section, key]));
        if (!converted.ok) {
          issues.push({
            severity: 'warning',
            path: [section, key],
            origin: originOf(environment, variable),
            message: `was not set from ${variable}: it ${converted.message}`,
          });
          continue;
        }
        target[key] = converted.value;
        layer.value[section] = target;
        layer.origins.set([section, key], originOf(environment, variable));
      }
    }
  };
  apply(PROVIDER_ENV_ALIASES, false);
  apply(GENERIC_PROVIDER_ENV_ALIASES, true);
  return issues;
}
