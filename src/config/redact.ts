/**
 * The configuration as it may be shown: secrets and every value from the secrets file replaced
 * by `[redacted]`, passwords in URLs masked, and the origin of each value.
 *
 * @module
 */
import type { LoadedSettings } from './load.js';
import { maskUrlCredentials } from './mask.js';
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
    if (origin && isPrivateOrigin(origin) && !isContainer(value)) return REDACTED;
    if (value instanceof Secret) return value.shown;
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

/** `path → origin` pairs as a plain object keyed by the readable path. */
export function sourcesRecord(
  sources: readonly ShownSource[],
  describe: (origin: ValueOrigin) => string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { path, origin } of sources) out[formatPath(path)] = describe(origin);
  return out;
}
