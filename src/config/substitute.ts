/**
 * `${VAR}` substitution in configuration strings, as mcp-agent documents it (and never
 * implemented).
 *
 * - `${NAME}`: the variable's value; an unset variable is an error.
 * - `${NAME:-default}`: the default when the variable is unset or empty.
 * - `${NAME-default}`: the default only when the variable is unset.
 * - `$$`: a literal `$`. A `$` followed by anything else is kept as written.
 *
 * Defaults may themselves contain references: `${A:-${B:-fallback}}`.
 *
 * @module
 */
import { isPlainObject, setOwn } from './merge.js';

/**
 * A problem in one string. Messages name the unset variable and give character positions; they
 * never quote the string (it may be a secret that happens to contain "${") or a variable's value.
 */
export interface SubstitutionProblem {
  readonly kind: 'unset' | 'syntax';
  /** The unset variable, for `kind: 'unset'`. */
  readonly variable?: string;
  readonly message: string;
}

/** The outcome of substituting one string. */
export type SubstitutionResult =
  | { readonly ok: true; readonly value: string; readonly variables: readonly string[] }
  | { readonly ok: false; readonly problems: readonly SubstitutionProblem[] };

/** Looks a variable up; `undefined` means unset. */
export type VariableLookup = (name: string) => string | undefined;

const NAME_START = /[A-Za-z_]/;
const NAME_PART = /[A-Za-z0-9_]/;

/** Substitute every reference in `input`. All problems in the string are reported together. */
export function substitute(input: string, lookup: VariableLookup): SubstitutionResult {
  if (!input.includes('$')) return { ok: true, value: input, variables: [] };
  const problems: SubstitutionProblem[] = [];
  const variables: string[] = [];
  const parser = new Parser(input, lookup, problems, variables);
  const value = parser.parseText(false);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value, variables };
}

class Parser {
  #pos = 0;
  readonly #input: string;
  readonly #lookup: VariableLookup;
  #problems: SubstitutionProblem[];
  readonly #variables: string[];

  constructor(
    input: string,
    lookup: VariableLookup,
    problems: SubstitutionProblem[],
    variables: string[],
  ) {
    this.#input = input;
    this.#lookup = lookup;
    this.#problems = problems;
    this.#variables = variables;
  }

  /** Text up to the end, or (inside a default) up to the closing `}`, which is left unread. */
  parseText(inDefault: boolean): string {
    let out = '';
    const input = this.#input;
    while (this.#pos < input.length) {
      const ch = input[this.#pos];
      if (inDefault && ch === '}') return out;
      if (ch !== '$') {
        out += ch;
        this.#pos++;
        continue;
      }
      const next = input[this.#pos + 1];
      if (next === '$') {
        out += '$';
        this.#pos += 2;
      } else if (next === '{') {
        out += this.#parseReference();
      } else {
        out += '$';
        this.#pos++;
      }
    }
    return out;
  }

  /** `${NAME}`, `${NAME:-default}` or `${NAME-default}`, starting at `$`. */
  #parseReference(): string {
    const input = this.#input;
    const start = this.#pos;
    this.#pos += 2;
    let name = '';
    if (NAME_START.test(input[this.#pos] ?? '')) {
      while (NAME_PART.test(input[this.#pos] ?? '')) name += input[this.#pos++];
    }
    const close = input.indexOf('}', this.#pos);
    if (name === '') {
      this.#syntax(
        close === -1
          ? `has an unterminated "\${" at character ${start + 1} (write "$\${" for a literal "\${")`
          : `has a "\${…}" at character ${start + 1} without a valid variable name (letters, digits and _, not starting with a digit; write "$\${" for a literal "\${")`,
      );
      this.#pos = close === -1 ? input.length : close + 1;
      return '';
    }
    const op = input.startsWith(':-', this.#pos) ? ':-' : input[this.#pos] === '-' ? '-' : '';
    if (op === '' && input[this.#pos] !== '}') {
      this.#syntax(
        close === -1
          ? `has an unterminated "\${" at character ${start + 1} (missing "}")`
          : `has an invalid "\${…}" at character ${start + 1}: write \${NAME}, \${NAME:-default} or \${NAME-default} (or "$\${" for a literal "\${")`,
      );
      this.#pos = close === -1 ? input.length : close + 1;
      return '';
    }
    this.#pos += op.length;
    // The default is parsed now (its syntax errors always count) but its unset variables only
    // matter when it is used, as in the shell.
    const deferred: SubstitutionProblem[] = [];
    const fallback = op === '' ? undefined : this.#parseDefault(deferred);
    if (input[this.#pos] !== '}') {
      this.#syntax(`has an unterminated "\${" at character ${start + 1} (missing "}")`);
      return '';
    }
    this.#pos++;
    this.#variables.push(name);
    const value = this.#lookup(name);
    if (value !== undefined && !(op === ':-' && value === '')) return value;
    if (fallback !== undefined) {
      this.#problems.push(...deferred);
      return fallback;
    }
    this.#problems.push({
      kind: 'unset',
      variable: name,
      message: `uses \${${name}} but ${name} is not set; set it in the environment or .env, or write \${${name}:-default} (or "$\${" if the text is meant literally)`,
    });
    return '';
  }

  /** Parse a default, keeping its "unset" problems in `deferred` until it is known to be used. */
  #parseDefault(deferred: SubstitutionProblem[]): string {
    const outer = this.#problems;
    const inner: SubstitutionProblem[] = [];
    this.#problems = inner;
    try {
      return this.parseText(true);
    } finally {
      this.#problems = outer;
      for (const problem of inner) (problem.kind === 'unset' ? deferred : outer).push(problem);
    }
  }

  #syntax(message: string): void {
    this.#problems.push({ kind: 'syntax', message });
  }
}

/**
 * Substitute every string in a YAML value tree. Calls `onProblem` with the path of each string
 * that has problems; returns the new tree (the input is not modified).
 */
export function substituteTree(
  value: unknown,
  lookup: VariableLookup,
  onProblem: (path: readonly (string | number)[], problem: SubstitutionProblem) => void,
  onSubstituted: (
    path: readonly (string | number)[],
    variables: readonly string[],
    template: string,
  ) => void = () => {},
  path: readonly (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    const result = substitute(value, lookup);
    if (!result.ok) {
      for (const problem of result.problems) onProblem(path, problem);
      return value;
    }
    if (result.variables.length > 0) onSubstituted(path, result.variables, value);
    return result.value;
  }
  if (Array.isArray(value)) {
    return value.map((item, index) =>
      substituteTree(item, lookup, onProblem, onSubstituted, [...path, index]),
    );
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      setOwn(out, key, substituteTree(item, lookup, onProblem, onSubstituted, [...path, key]));
    }
    return out;
  }
  return value;
}
