/**
 * Validating the merged document against the schema, with messages that name the key, where it
 * was written, and (for unknown keys) the key that was probably meant.
 *
 * @module
 */
import type * as z from 'zod';
import { type ConfigIssue, suggest } from './issues.js';
import { isPlainObject } from './merge.js';
import type { ConfigPath, OriginMap } from './paths.js';
import { withAzureScopes } from './providers.js';
import { knownKeysAt } from './schema/introspect.js';
import { type Settings, settingsSchema } from './schema/settings.js';

/** Validate `document`; on success the settings, otherwise every problem found. */
export function validateSettings(
  document: Record<string, unknown>,
  origins: OriginMap,
): { ok: true; settings: Settings } | { ok: false; issues: ConfigIssue[] } {
  const result = settingsSchema.safeParse(document);
  // The defaults one section gives another's keys (credentials.azure's scopes).
  if (result.success) return { ok: true, settings: withAzureScopes(result.data) };
  const issues: ConfigIssue[] = [];
  for (const issue of result.error.issues) {
    issues.push(...toConfigIssues(issue, document, origins));
  }
  return { ok: false, issues };
}

function toConfigIssues(
  issue: z.core.$ZodIssue,
  document: unknown,
  origins: OriginMap,
): ConfigIssue[] {
  const path = issue.path.filter(
    (segment): segment is string | number => typeof segment !== 'symbol',
  );
  const at = (target: ConfigPath, message: string): ConfigIssue => {
    const origin = origins.lookup(target);
    return origin
      ? { severity: 'error', path: target, origin, message }
      : { severity: 'error', path: target, message };
  };
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const known = knownKeysAt(path);
        const hint = suggest(key, known);
        const kind = path.length === 0 ? 'is not a known section' : 'is not a known key';
        return at(
          [...path, key],
          hint ? `${kind}; did you mean "${hint}"?` : `${kind}${listKnown(known)}`,
        );
      });
    case 'invalid_type': {
      const received = valueAt(document, path);
      if (received === undefined)
        return [at(path, `is required (${expectedName(issue.expected)})`)];
      return [
        at(
          path,
          `must be ${expectedName(issue.expected)}, not ${describeValue(received)}${typeHint(issue.expected, received)}`,
        ),
      ];
    }
    case 'invalid_value':
      return [
        at(path, `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`),
      ];
    case 'too_small':
      return [at(path, describeBound('min', issue.origin, issue.minimum, issue.inclusive))];
    case 'too_big':
      return [at(path, describeBound('max', issue.origin, issue.maximum, issue.inclusive))];
    case 'invalid_format':
      return [
        at(
          path,
          issue.message.startsWith('Invalid')
            ? `is not in the expected ${issue.format} format`
            : issue.message,
        ),
      ];
    case 'invalid_union':
      return [at(path, 'does not match any of the accepted forms')];
    case 'custom':
      return [at(path, issue.message)];
    default:
      return [at(path, 'is not valid')];
  }
}

function typeHint(expected: string, received: unknown): string {
  if (expected === 'number' && typeof received === 'string') {
    return received.trim() !== '' && Number.isFinite(Number(received))
      ? ' (remove the quotes)'
      : '';
  }
  if (expected === 'boolean' && typeof received === 'string')
    return ' (write true or false without quotes)';
  if (
    expected === 'string' &&
    (typeof received === 'number' || typeof received === 'boolean' || received instanceof Date)
  ) {
    return ' (put the value in quotes)';
  }
  return '';
}

function listKnown(known: readonly string[]): string {
  return known.length > 0 && known.length <= 20 ? ` (known keys: ${known.join(', ')})` : '';
}

function describeBound(
  side: 'min' | 'max',
  origin: string,
  bound: number | bigint,
  inclusive = true,
): string {
  const word =
    side === 'min' ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than';
  switch (origin) {
    case 'string':
      return Number(bound) === 1 && word === 'at least'
        ? 'must not be empty'
        : `must be ${word} ${bound} characters long`;
    case 'array':
      return `must have ${word} ${bound} entries`;
    default:
      return `must be ${word} ${bound}`;
  }
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function expectedName(expected: string): string {
  return EXPECTED[expected] ?? `a value of type ${expected}`;
}

/** A description of a value's type, never of the value itself. */
export function describeValue(value: unknown): string {
  if (value === null) return 'empty (null)';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  if (isPlainObject(value)) return 'a mapping';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isInteger(value) ? 'a whole number' : 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return `a ${typeof value}`;
  }
}

function valueAt(document: unknown, path: ConfigPath): unknown {
  let current = document;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (
      isPlainObject(current) &&
      typeof segment === 'string' &&
      Object.hasOwn(current, segment)
    ) {
      current = current[segment];
    } else return undefined;
  }
  return current;
}
