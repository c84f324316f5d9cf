/**
 * The configuration as it may be shown: secrets and every value from the secrets file replaced
 * by `[redacted]`, passwords in URLs masked, and the origin of each value.
 *
 * @module
 */
import type { LoadedSettings } from './load.js';
import { isPlainObject } from './merge.js';
import { type ConfigPath, formatPath, type ValueOrigin } from './paths.js';
import { isEnumAt } from './schema/introspect.js';
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
 * The effective settings as they may be shown, and the origin of each value (`default` for
 * values no source set):
 *
 * - secrets, and every value from the secrets file or `MCP_APP_SETTINGS_PRELOAD`: `[redacted]`;
 * - strings that came from the environment: as written, so `${GH_TOKEN}` rather than its value
 *   (a `SECTION__KEY` or provider variable shows as `${NAME}`);
 * - other strings: unchanged, but with the credentials of any URL in them masked.
 */
export function redactSettings(loaded: LoadedSettings): {
  value: { [key: string]: RedactedValue };
  sources: ShownSource[];
} {
  const sources: ShownSource[] = [];
  const walk = (
    value: unknown,
    path: ConfigPath,
    inherited?: ValueOrigin,
  ): RedactedValue | undefined => {
    if (value === undefined) return undefined;
    const origin = loaded.origins.own(path) ?? inherited;
    if (
      path.length > 0 &&
      (!isContainer(value) || origin?.kind === 'env' || Array.isArray(value))
    ) {
      sources.push({ path, origin: origin ?? { kind: 'default' } });
    }
    if (value instanceof Secret) return REDACTED;
    if (origin && isPrivateOrigin(origin) && !isContainer(value)) return REDACTED;
    if (
      origin?.kind === 'env' &&
      (isContainer(value) || (typeof value === 'string' && !isEnumAt(path)))
    ) {
      return `\${${origin.variable}}`;
    }
    if (Array.isArray(value)) {
      // Items keep the list's origin when they have none of their own (a list set as a whole).
      return value.map((item, index) => walk(item, [...path, index], origin) ?? null);
    }
    if (isPlainObject(value)) {
      const out: { [key: string]: RedactedValue } = {};
      for (const [key, item] of Object.entries(value)) {
        const shown = walk(item, [...path, key]);
        if (shown !== undefined) out[key] = shown;
      }
      return out;
    }
    if (typeof value === 'string') {
      const template = origin && 'template' in origin ? origin.template : undefined;
      return maskUrlCredentials(template ?? value);
    }
    if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
    return String(value);
  };
  const value = walk(loaded.settings, []);
  return {
    value: isPlainObject(value) ? (value as { [key: string]: RedactedValue }) : {},
    sources,
  };
}

/** Sources whose every value is treated as secret. */
function isPrivateOrigin(origin: ValueOrigin): boolean {
  return (origin.kind === 'file' && origin.role === 'secrets') || origin.kind === 'preload';
}

function isContainer(value: unknown): boolean {
  return Array.isArray(value) || isPlainObject(value);
}

/**
 * Mask the credentials of every URL in `text`: `redis://user:pass@host` becomes
 * `redis://user:[redacted]@host`, and `https://token@host` becomes `https://[redacted]@host`.
 * Other text is unchanged.
 *
 * A URL runs from its `scheme://` to the next whitespace. Its credentials are everything before
 * its last `@`, unless the URL parses and that `@` is in its path; a password with an unencoded
 * `/`, `?` or `#` (which a parser rejects) is therefore masked too. This can over-mask a URL that
 * has both a port and an `@` in its path, which is the safe direction.
 */
export function maskUrlCredentials(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s]+/gi, (url) => {
    const start = url.indexOf('//') + 2;
    const rest = url.slice(start);
    let at = rest.lastIndexOf('@');
    if (at === -1) return url;
    if (URL.canParse(url)) {
      const parsed = new URL(url);
      if (parsed.username === '' && parsed.password === '') return url;
      const end = rest.search(/[/?#]/);
      at = (end === -1 ? rest : rest.slice(0, end)).lastIndexOf('@');
    }
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    const shown = colon === -1 ? REDACTED : `${userinfo.slice(0, colon + 1)}${REDACTED}`;
    return `${url.slice(0, start)}${shown}${rest.slice(at)}`;
  });
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
