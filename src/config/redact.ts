/**
 * The configuration as it may be shown: secrets and every value from the secrets file replaced
 * by `[redacted]`, passwords in URLs masked, and the origin of each value.
 *
 * @module
 */
import type { LoadedSettings } from './load.js';
import { isPlainObject } from './merge.js';
import { type ConfigPath, formatPath, type ValueOrigin } from './paths.js';
import { REDACTED, Secret } from './secret.js';

/** A JSON value with no secret in it. */
export type RedactedValue =
  | string
  | number
  | boolean
  | null
  | RedactedValue[]
  | { [key: string]: RedactedValue };

/** One shown value and where it came from. */
export interface ShownSource {
  readonly path: ConfigPath;
  readonly origin: ValueOrigin;
}

/**
 * The effective settings with every secret redacted, and the origin of each leaf value (`default`
 * for values no source set).
 */
export function redactSettings(loaded: LoadedSettings): {
  value: { [key: string]: RedactedValue };
  sources: ShownSource[];
} {
  const sources: ShownSource[] = [];
  const walk = (
    value: unknown,
    path: ConfigPath,
    fromSecrets: boolean,
  ): RedactedValue | undefined => {
    const own = loaded.origins.own(path);
    const secretFile = fromSecrets || (own?.kind === 'file' && own.role === 'secrets');
    if (value === undefined) return undefined;
    if (value instanceof Secret || (secretFile && !isContainer(value))) {
      sources.push({ path, origin: own ?? loaded.origins.lookup(path) ?? { kind: 'default' } });
      return REDACTED;
    }
    if (Array.isArray(value)) {
      sources.push({ path, origin: own ?? { kind: 'default' } });
      return value.map((item, index) => walk(item, [...path, index], secretFile) ?? null);
    }
    if (isPlainObject(value)) {
      const out: { [key: string]: RedactedValue } = {};
      for (const [key, item] of Object.entries(value)) {
        const shown = walk(item, [...path, key], secretFile);
        if (shown !== undefined) out[key] = shown;
      }
      return out;
    }
    sources.push({ path, origin: own ?? { kind: 'default' } });
    if (typeof value === 'string') return maskUrlPassword(value);
    if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
    return String(value);
  };
  const value = walk(loaded.settings, [], false);
  return {
    value: isPlainObject(value) ? (value as { [key: string]: RedactedValue }) : {},
    sources,
  };
}

function isContainer(value: unknown): boolean {
  return Array.isArray(value) || isPlainObject(value);
}

/**
 * `redis://user:pass@host` → `redis://user:[redacted]@host`; other strings unchanged.
 *
 * Also masks passwords a URL parser would not accept (an unencoded `/`, `?` or `#` in a generated
 * password): everything between the first `:` after `//` and the last `@` is masked then. That
 * can over-mask a URL with a port and an `@` in its path, which is the safe direction.
 */
export function maskUrlPassword(value: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value);
  if (!scheme || !value.includes('@')) return value;
  const start = scheme[0].length;
  const rest = value.slice(start);
  if (URL.canParse(value)) {
    const end = rest.search(/[/?#]/);
    const authority = end === -1 ? rest : rest.slice(0, end);
    if (new URL(value).password !== '' || !rest.slice(authority.length).includes('@')) {
      return maskAuthority(value, start, authority);
    }
  }
  return maskAuthority(value, start, rest);
}

/** Mask from the first `:` to the last `@` of `authority` (which starts at `start` in `value`). */
function maskAuthority(value: string, start: number, authority: string): string {
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  if (at === -1 || colon === -1 || colon > at) return value;
  return `${value.slice(0, start)}${authority.slice(0, colon + 1)}${REDACTED}${value.slice(start + at)}`;
}

/** `path → origin` pairs as a plain object keyed by the readable path. */
export function sourcesRecord(
  sources: readonly ShownSource[],
  describe: (origin: ValueOrigin) => string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { path, origin } of sources) out[formatPath(path)] = describe(origin);
  return out;
}
