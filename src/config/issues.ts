/**
 * Configuration problems: each names the key path and where the value came from, and all of them
 * are reported together.
 *
 * @module
 */
import { McpAgentError } from '../errors.js';
import { type ConfigPath, formatOrigin, formatPath, type ValueOrigin } from './paths.js';

/** One problem found in the configuration. Messages never contain configuration values. */
export interface ConfigIssue {
  /** `error`: the configuration is refused; `warning`: it is used, the problem reported. */
  readonly severity: 'error' | 'warning';
  /** The key path the problem is about; absent for problems with a whole file. */
  readonly path?: ConfigPath;
  /** Where the offending value (or file) came from. */
  readonly origin?: ValueOrigin;
  /** What is wrong and, where it helps, what to do. */
  readonly message: string;
}

/** Turns an absolute file path into the form shown to the user. */
export type DisplayFile = (file: string) => string;

/** One line per issue: `file:line:col: key.path: message`. */
export function formatIssue(issue: ConfigIssue, displayFile: DisplayFile = (file) => file): string {
  const where = issue.origin ? `${formatOrigin(issue.origin, displayFile)}: ` : '';
  const what = issue.path ? `${formatPath(issue.path)} ` : '';
  return `${where}${what}${issue.message}`;
}

/** The configuration could not be loaded; {@link ConfigError.issues} lists every error found. */
export class ConfigError extends McpAgentError {
  /** Every error (and the warnings gathered until then). */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: { cause?: unknown } = {}) {
    const errors = errorsOf(issues);
    const first = errors[0];
    const summary =
      errors.length === 1 && first
        ? `Invalid configuration: ${formatIssue(first)}`
        : `Invalid configuration: ${errors.length} errors`;
    super('CONFIG_INVALID', summary, options);
    this.issues = [...issues.filter((issue) => issue.severity !== 'error'), ...errors];
  }

  /** The error issues only. */
  get errors(): readonly ConfigIssue[] {
    return errorsOf(this.issues);
  }
}

/** The error issues, in the order they stand in their files (config, then secrets, then others). */
function errorsOf(issues: readonly ConfigIssue[]): readonly ConfigIssue[] {
  return issues.filter((issue) => issue.severity === 'error').sort(byPosition);
}

const ROLE_ORDER = { config: 0, secrets: 1 } as const;

/** Orders issues by file (config, then secrets), line and column; others keep their order, last. */
function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  const x = a.origin?.kind === 'file' ? a.origin : undefined;
  const y = b.origin?.kind === 'file' ? b.origin : undefined;
  if (!x || !y) return (x ? 0 : 1) - (y ? 0 : 1);
  return (
    ROLE_ORDER[x.role] - ROLE_ORDER[y.role] ||
    x.position.line - y.position.line ||
    x.position.column - y.position.column
  );
}

/** The known name closest to `input`, if it is close enough to be a likely typo. */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const needle = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(needle, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(needle.length / 3));
  if (best !== undefined && bestDistance <= limit) return best;
  // A longer spelling of a short key ("enviroment" for "env"), or a truncated one.
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    if (lower.length < 3 || needle.length < 3) continue;
    if (needle.startsWith(lower) || lower.startsWith(needle)) return candidate;
  }
  return undefined;
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = value;
    }
  }
  return at(a.length, b.length);
}
