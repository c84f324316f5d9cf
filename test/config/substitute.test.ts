import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type SubstitutionProblem,
  type SubstitutionResult,
  substitute,
  substituteTree,
  type VariableLookup,
} from '../../src/config/substitute.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** A lookup over a fixed set of variables; everything else is unset. */
function env(vars: Record<string, string> = {}): VariableLookup {
  const map = new Map(Object.entries(vars));
  return (name) => map.get(name);
}

/** A lookup that fails the test if it is consulted at all. */
const noLookup: VariableLookup = (name) => {
  throw new Error(`lookup must not be called (asked for ${name})`);
};

function okValue(result: SubstitutionResult): string {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.problems)}`);
  return result.value;
}

function variablesOf(result: SubstitutionResult): readonly string[] {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.problems)}`);
  return result.variables;
}

function problemsOf(result: SubstitutionResult): readonly SubstitutionProblem[] {
  if (result.ok) throw new Error(`expected problems, got value ${JSON.stringify(result.value)}`);
  return result.problems;
}

function sub(input: string, vars: Record<string, string> = {}): SubstitutionResult {
  return substitute(input, env(vars));
}

const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---------------------------------------------------------------------------------------------
// Unit tests: substitute
// ---------------------------------------------------------------------------------------------

describe('substitute: strings without references', () => {
  test.each(['', 'plain', 'with spaces and {braces} and : and -', '{}', '}{', 'unicode ☃ 🎉'])(
    '%j is returned unchanged without consulting the lookup',
    (input) => {
      const result = substitute(input, noLookup);
      expect(result).toEqual({ ok: true, value: input, variables: [] });
    },
  );
});

describe('substitute: ${NAME}', () => {
  test('replaces a set variable with its value', () => {
    const result = sub('${HOME}', { HOME: '/home/me' });
    expect(okValue(result)).toBe('/home/me');
    expect(variablesOf(result)).toEqual(['HOME']);
  });

  test('replaces references embedded in text', () => {
    expect(okValue(sub('http://${HOST}:${PORT}/x', { HOST: 'h', PORT: '80' }))).toBe(
      'http://h:80/x',
    );
  });

  test('replaces adjacent references', () => {
    expect(okValue(sub('${A}${B}${A}', { A: '1', B: '2' }))).toBe('121');
  });

  test('lists the variables it used, in order, once per reference', () => {
    expect(variablesOf(sub('${A}-${B}-${A}', { A: '1', B: '2' }))).toEqual(['A', 'B', 'A']);
  });

  test('a set-but-empty variable substitutes the empty string', () => {
    expect(okValue(sub('[${EMPTY}]', { EMPTY: '' }))).toBe('[]');
  });

  test('values are inserted verbatim and never re-scanned', () => {
    const vars = { A: '${B}', B: 'nope', C: '$$', D: '$', E: '}' };
    expect(okValue(sub('${A}', vars))).toBe('${B}');
    expect(okValue(sub('${C}', vars))).toBe('$$');
    expect(okValue(sub('${D}{B}', vars))).toBe('${B}');
    expect(okValue(sub('${A:-x${E}}', vars))).toBe('${B}');
  });

  test('accepts letters, digits and underscores, not starting with a digit', () => {
    const vars = { _: 'u', _X1: 'a', lower: 'b', MiXeD_9: 'c', A1B2: 'd' };
    expect(okValue(sub('${_}${_X1}${lower}${MiXeD_9}${A1B2}', vars))).toBe('uabcd');
  });

  test('names are case-sensitive and passed to the lookup exactly', () => {
    const asked: string[] = [];
    const result = substitute('${Path}${PATH}', (name) => {
      asked.push(name);
      return name === 'PATH' ? 'upper' : undefined;
    });
    expect(asked).toEqual(['Path', 'PATH']);
    expect(problemsOf(result)).toEqual([
      expect.objectContaining({ kind: 'unset', variable: 'Path' }),
    ]);
  });

  test('an unset variable is a problem of kind "unset" naming the variable', () => {
    const problems = problemsOf(sub('prefix ${MISSING} suffix'));
    expect(problems).toHaveLength(1);
    const [problem] = problems;
    expect(problem?.kind).toBe('unset');
    expect(problem?.variable).toBe('MISSING');
    expect(problem?.message).toContain('MISSING');
  });

  test('the unset message suggests a default', () => {
    const [problem] = problemsOf(sub('${TOKEN}'));
    expect(problem?.message).toContain('${TOKEN:-default}');
  });
});

describe('substitute: ${NAME:-default}', () => {
  test('uses the default when the variable is unset', () => {
    const result = sub('${A:-fallback}');
    expect(okValue(result)).toBe('fallback');
    expect(variablesOf(result)).toEqual(['A']);
  });

  test('uses the default when the variable is empty', () => {
    expect(okValue(sub('${A:-fallback}', { A: '' }))).toBe('fallback');
  });

  test('uses the value when the variable is set and non-empty', () => {
    expect(okValue(sub('${A:-fallback}', { A: 'value' }))).toBe('value');
  });

  test('an empty default is allowed', () => {
    expect(okValue(sub('[${A:-}]'))).toBe('[]');
    expect(okValue(sub('[${A:-}]', { A: '' }))).toBe('[]');
  });

  test('the default may contain ":", "-", ":-", "{", spaces and a lone "$"', () => {
    expect(okValue(sub('${A:-a:-b}'))).toBe('a:-b');
    expect(okValue(sub('${A:--}'))).toBe('-');
    expect(okValue(sub('${A:-{x}'))).toBe('{x');
    expect(okValue(sub('${A:-hello world}'))).toBe('hello world');
    expect(okValue(sub('${A:-$5 off}'))).toBe('$5 off');
    expect(okValue(sub('${A:-$}'))).toBe('$');
  });

  test('the default ends at the first "}"; the rest is literal text', () => {
    expect(okValue(sub('${A:-x}y}'))).toBe('xy}');
  });

  test('"$$" inside a default is a literal "$"', () => {
    expect(okValue(sub('${A:-$$}'))).toBe('$');
    // `$${B` is the escaped text "${B", the first "}" closes the reference, the second is literal.
    expect(okValue(sub('${A:-$${B}}'))).toBe('${B}');
  });
});

describe('substitute: ${NAME-default}', () => {
  test('uses the default when the variable is unset', () => {
    expect(okValue(sub('${A-fallback}'))).toBe('fallback');
  });

  test('keeps the empty value when the variable is set but empty', () => {
    expect(okValue(sub('[${A-fallback}]', { A: '' }))).toBe('[]');
  });

  test('uses the value when the variable is set', () => {
    expect(okValue(sub('${A-fallback}', { A: 'v' }))).toBe('v');
  });

  test('an empty default is allowed', () => {
    expect(okValue(sub('[${A-}]'))).toBe('[]');
  });

  test('a default starting with "-" or ":" is literal', () => {
    expect(okValue(sub('${A--x}'))).toBe('-x');
    expect(okValue(sub('${A-:-x}'))).toBe(':-x');
  });
});

describe('substitute: nested defaults', () => {
  test('${A:-${B:-x}} resolves through every level', () => {
    expect(okValue(sub('${A:-${B:-x}}'))).toBe('x');
    expect(okValue(sub('${A:-${B:-x}}', { B: 'b' }))).toBe('b');
    expect(okValue(sub('${A:-${B:-x}}', { A: 'a', B: 'b' }))).toBe('a');
    expect(okValue(sub('${A:-${B:-x}}', { A: '', B: '' }))).toBe('x');
    expect(okValue(sub('${A-${B-x}}', { A: '', B: 'b' }))).toBe('');
    expect(okValue(sub('${A-${B-x}}', { B: '' }))).toBe('');
  });

  test('defaults mix text and references', () => {
    expect(okValue(sub('${URL:-http://${HOST:-localhost}:${PORT:-80}/}', { PORT: '8080' }))).toBe(
      'http://localhost:8080/',
    );
  });

  test('three levels deep', () => {
    expect(okValue(sub('<${A:-${B:-${C:-deep}}}>'))).toBe('<deep>');
    expect(okValue(sub('<${A:-${B:-${C:-deep}}}>', { C: 'c' }))).toBe('<c>');
  });

  test('an unset variable in a used default is reported', () => {
    const problems = problemsOf(sub('${A:-${B}}'));
    expect(problems).toEqual([expect.objectContaining({ kind: 'unset', variable: 'B' })]);
  });

  test('the variables list includes variables used in defaults', () => {
    expect(new Set(variablesOf(sub('${A:-${B:-x}}')))).toEqual(new Set(['A', 'B']));
  });

  // Shell semantics: a default is only needed when the variable is unset (or empty, for ":-"),
  // so an unset variable inside a default that is not used is not an error.
  test('an unset variable inside an UNUSED default is not an error (${A:-${B}} with A set)', () => {
    expect(okValue(sub('${A:-${B}}', { A: 'a' }))).toBe('a');
    expect(okValue(sub('${A-${B}}', { A: '' }))).toBe('');
    expect(okValue(sub('${A:-prefix-${B}}', { A: 'a' }))).toBe('a');
    expect(okValue(sub('${A:-${B:-${C}}}', { B: 'b' }))).toBe('b');
  });

  test('unset variables in a used default are all reported, in order', () => {
    const problems = problemsOf(sub('${A:-${B}-${C:-${D}}-${E}}'));
    expect(problems.map((p) => [p.kind, p.variable])).toEqual([
      ['unset', 'B'],
      ['unset', 'D'],
      ['unset', 'E'],
    ]);
  });

  test('syntax problems in an unused default still count', () => {
    const problems = problemsOf(sub('${A:-${}}', { A: 'a' }));
    expect(problems.map((p) => p.kind)).toEqual(['syntax']);
    expect(problemsOf(sub('${A:-${B:?x}}', { A: 'a' })).map((p) => p.kind)).toEqual(['syntax']);
  });
});

describe('substitute: "$" handling', () => {
  test('"$$" is a literal "$"', () => {
    expect(okValue(sub('$$'))).toBe('$');
    expect(okValue(sub('a$$b'))).toBe('a$b');
    expect(okValue(sub('$$$$'))).toBe('$$');
  });

  test('"$${NAME}" is the literal text "${NAME}" and looks nothing up', () => {
    const result = substitute('$${NAME}', noLookup);
    expect(okValue(result)).toBe('${NAME}');
    expect(variablesOf(result)).toEqual([]);
  });

  test('"$$$" followed by a reference is "$" plus the reference', () => {
    expect(okValue(sub('$$${A}', { A: 'v' }))).toBe('$v');
  });

  test.each([
    ['$', '$'],
    ['a$', 'a$'],
    ['cost: $5', 'cost: $5'],
    ['$NAME', '$NAME'],
    ['$(cmd)', '$(cmd)'],
    ['$ {A}', '$ {A}'],
    ['$}', '$}'],
    ['$:-', '$:-'],
    ['$$$', '$$'],
    ['a$b$c', 'a$b$c'],
  ])('a "$" not followed by "$" or "{" is kept: %j -> %j', (input, expected) => {
    const result = substitute(input, noLookup);
    expect(okValue(result)).toBe(expected);
    expect(variablesOf(result)).toEqual([]);
  });

  test('a lone "$" before a reference stays, the reference is substituted', () => {
    expect(okValue(sub('$a${A}', { A: 'v' }))).toBe('$av');
  });

  // Not a bug, but worth pinning: a lone "$" at the end of a default is kept, and the output is
  // never re-scanned, so the output may contain "${" without any error.
  test('a "$" ending a default followed by "{" produces "${" (output is not re-scanned)', () => {
    expect(okValue(sub('${A:-$}{'))).toBe('${');
  });
});

describe('substitute: syntax problems', () => {
  // A syntax problem never quotes the text: a secret may contain "${" by chance.
  test.each([
    ['${X', 'X', 1],
    ['abc ${LONG_NAME', 'LONG_NAME', 5],
    ['${X:-abc', 'X', 1],
    ['${X-abc', 'X', 1],
    ['${X:?y}', 'X:?', 1],
    ['${X:=y}', 'X:=', 1],
    ['${X:}', 'X:', 1],
    ['${X y}', 'X y', 1],
    ['${X.Y}', 'X.Y', 1],
    ['${X!}', 'X!', 1],
  ])('%j is a syntax problem at its position that does not quote %s', (input, text, at) => {
    const problems = problemsOf(sub(input, { X: 'x', LONG_NAME: 'l' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.kind).toBe('syntax');
    expect(problems[0]?.message).toContain(`at character ${at}`);
    expect(problems[0]?.message).not.toContain(`\${${text}`);
  });

  test.each([
    '${',
    'text ${',
    '${}',
    '${1X}',
    '${9}',
    '${ X}',
    '${-X}',
    '${:-x}',
    '${$}',
    '${{X}}',
  ])('%j is a syntax problem', (input) => {
    const problems = problemsOf(sub(input, { X: 'x' }));
    expect(problems.length).toBeGreaterThanOrEqual(1);
    expect(problems[0]?.kind).toBe('syntax');
    expect(problems[0]?.variable).toBeUndefined();
  });

  test('an unterminated "${" suggests "$${" for a literal', () => {
    const [problem] = problemsOf(sub('price ${'));
    expect(problem?.message).toContain('$${');
  });

  test('an unterminated default reports where the reference starts (1-based)', () => {
    const [problem] = problemsOf(sub('ab${A:-x'));
    expect(problem?.kind).toBe('syntax');
    expect(problem?.message).toContain('character 3');
  });

  test('an invalid operator suggests the valid forms', () => {
    const [problem] = problemsOf(sub('${X:?y}'));
    expect(problem?.message).toContain('${NAME:-default}');
  });

  test('a syntax problem inside a default is reported and the outer reference still closes', () => {
    const problems = problemsOf(sub('${A:-${}}tail', { A: 'a' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.kind).toBe('syntax');
  });

  test('nested unterminated references report both levels', () => {
    const problems = problemsOf(sub('${A:-${B:-x'));
    expect(problems.map((p) => p.kind)).toEqual(['syntax', 'syntax']);
    expect(problems.some((p) => p.message.includes('character 1'))).toBe(true);
    expect(problems.some((p) => p.message.includes('character 6'))).toBe(true);
  });
});

describe('substitute: every problem is reported', () => {
  test('unset and syntax problems in one string are reported together, in order', () => {
    const problems = problemsOf(sub('${A} ${} ${B} ${1X} ${C:?x} ${SET}', { SET: 's' }));
    expect(problems.map((p) => [p.kind, p.variable])).toEqual([
      ['unset', 'A'],
      ['syntax', undefined],
      ['unset', 'B'],
      ['syntax', undefined],
      ['syntax', undefined],
    ]);
    expect(problems[4]?.message).toContain('character 21');
  });

  test('parsing resumes after a syntax problem', () => {
    const problems = problemsOf(sub('${1X} then ${MISSING}'));
    expect(problems.map((p) => p.kind)).toEqual(['syntax', 'unset']);
    expect(problems[1]?.variable).toBe('MISSING');
  });

  test('an unset variable referenced twice is reported (each problem names it)', () => {
    const problems = problemsOf(sub('${A}/${A}'));
    expect(problems.length).toBeGreaterThanOrEqual(1);
    for (const problem of problems) expect(problem.variable).toBe('A');
  });
});

describe('substitute: messages never contain values', () => {
  const CANARY = 'c4n4ry§s3cr3t';

  test.each([
    '${SECRET:?x}',
    '${SECRET:=x}',
    '${SECRET x}',
    '${SECRET',
    '${SECRET:-${MISSING}',
    '${SECRET} ${MISSING}',
    '${MISSING:-${SECRET}${ALSO_MISSING}}',
    '${SECRET:-${1}}',
  ])('%j', (input) => {
    const problems = problemsOf(sub(input, { SECRET: CANARY }));
    expect(problems.length).toBeGreaterThan(0);
    expect(JSON.stringify(problems)).not.toContain(CANARY);
    expect(JSON.stringify(problems)).not.toContain('§');
  });
});

// ---------------------------------------------------------------------------------------------
// Unit tests: substituteTree
// ---------------------------------------------------------------------------------------------

type Path = readonly (string | number)[];

function collect(value: unknown, lookup: VariableLookup) {
  const problems: { path: Path; problem: SubstitutionProblem }[] = [];
  const substituted: { path: Path; variables: readonly string[] }[] = [];
  const out = substituteTree(
    value,
    lookup,
    (path, problem) => problems.push({ path, problem }),
    (path, variables) => substituted.push({ path, variables }),
  );
  return { out, problems, substituted };
}

describe('substituteTree', () => {
  test('substitutes strings at every depth, in maps and lists', () => {
    const date = new Date(0);
    const input = {
      name: '${NAME}',
      mcp: { servers: { fs: { command: 'npx', args: ['-y', '${PKG:-pkg}', 3] } } },
      flags: [true, null, { deep: ['${NAME}-x'] }],
      n: 42,
      when: date,
    };
    const { out, problems, substituted } = collect(input, env({ NAME: 'agent' }));
    expect(problems).toEqual([]);
    expect(out).toEqual({
      name: 'agent',
      mcp: { servers: { fs: { command: 'npx', args: ['-y', 'pkg', 3] } } },
      flags: [true, null, { deep: ['agent-x'] }],
      n: 42,
      when: date,
    });
    expect((out as { when: unknown }).when).toBe(date);
    expect(substituted).toEqual([
      { path: ['name'], variables: ['NAME'] },
      { path: ['mcp', 'servers', 'fs', 'args', 1], variables: ['PKG'] },
      { path: ['flags', 2, 'deep', 0], variables: ['NAME'] },
    ]);
  });

  test('does not modify its input and returns new containers', () => {
    const input = { a: { b: ['${X}', { c: '${X}' }] }, d: '${X}' };
    const before = structuredClone(input);
    const { out } = collect(input, env({ X: 'x' }));
    expect(input).toEqual(before);
    expect(out).not.toBe(input);
    expect((out as typeof input).a).not.toBe(input.a);
    expect((out as typeof input).a.b).not.toBe(input.a.b);
  });

  test('does not substitute keys', () => {
    const { out } = collect({ '${X}': '${X}' }, env({ X: 'x' }));
    expect(out).toEqual({ '${X}': 'x' });
  });

  test('reports each problem with the path of its string and keeps the string unchanged', () => {
    const input = { ok: '${SET}', list: ['fine', '${A} and ${}'], nested: { bad: '${B' } };
    const { out, problems } = collect(input, env({ SET: 's' }));
    expect(out).toEqual({ ok: 's', list: ['fine', '${A} and ${}'], nested: { bad: '${B' } });
    expect(problems.map(({ path, problem }) => [path, problem.kind, problem.variable])).toEqual([
      [['list', 1], 'unset', 'A'],
      [['list', 1], 'syntax', undefined],
      [['nested', 'bad'], 'syntax', undefined],
    ]);
  });

  test('does not report strings without references (including "$$") as substituted', () => {
    const { out, substituted } = collect({ a: 'plain', b: 'cost $$5', c: '$x' }, noLookup);
    expect(out).toEqual({ a: 'plain', b: 'cost $5', c: '$x' });
    expect(substituted).toEqual([]);
  });

  test('handles scalars at the top level, with an empty path by default', () => {
    const problems: Path[] = [];
    expect(substituteTree('${A}', env({ A: 'a' }), () => {})).toBe('a');
    expect(substituteTree('${B}', env(), (path) => problems.push(path))).toBe('${B}');
    expect(problems).toEqual([[]]);
    expect(substituteTree(7, noLookup, () => {})).toBe(7);
    expect(substituteTree(null, noLookup, () => {})).toBeNull();
  });

  test('prefixes reported paths with the given path', () => {
    const problems: Path[] = [];
    substituteTree({ k: ['${B}'] }, env(), (path) => problems.push(path), undefined, ['root', 0]);
    expect(problems).toEqual([['root', 0, 'k', 0]]);
  });

  test('handles mappings without a prototype', () => {
    const input = Object.assign(Object.create(null) as Record<string, unknown>, { a: '${A}' });
    expect(substituteTree(input, env({ A: 'a' }), () => {})).toEqual({ a: 'a' });
  });

  // The yaml package returns "__proto__" as an ordinary own key (`__proto__: {x: 1}` parses to an
  // object whose own keys are ['__proto__']); copying it with `out[key] = …` would call the
  // prototype setter instead, dropping the key and installing its value as the prototype.
  test('a "__proto__" key is kept as an own key, not turned into the prototype', () => {
    const input = JSON.parse('{"__proto__": {"polluted": "${A}"}, "a": 1}') as unknown;
    const out = substituteTree(input, env({ A: 'x' }), () => {}) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'a']);
    expect(Object.hasOwn(out, 'polluted')).toBe(false);
    expect(out.polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ polluted: 'x' });
  });

  test('a nested "__proto__" key is kept too', () => {
    const input = JSON.parse('{"m": {"__proto__": "${A}"}, "l": [{"__proto__": {"k": 1}}]}');
    const out = substituteTree(input, env({ A: 'x' }), () => {}) as {
      m: Record<string, unknown>;
      l: Record<string, unknown>[];
    };
    expect(Object.getPrototypeOf(out.m)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out.m, '__proto__')?.value).toBe('x');
    const [item] = out.l;
    expect(item && Object.getPrototypeOf(item)).toBe(Object.prototype);
    expect(item && Object.keys(item)).toEqual(['__proto__']);
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

describe('substitute: properties', () => {
  test('a string without "$" is returned unchanged and the lookup is not consulted', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }).map((s) => s.replaceAll('$', '')),
        (input) => {
          expect(substitute(input, noLookup)).toEqual({ ok: true, value: input, variables: [] });
        },
      ),
    );
  });

  // Inputs over "$ { } : -" and letters, biased towards (mostly well-formed, possibly nested)
  // references so that a good share of them substitute successfully. Excluded: "$$" (the
  // brief's condition) and "$}" (a lone "$" ending a default is literal, and the text after the
  // reference may start with "{": `${A:-$}{` is legitimately "${", see the unit test above).
  const rawPiece = fc.constantFrom('$', '{', '}', ':', '-', 'A', 'B', 'c', 'x');
  const templateText = (depth: number): fc.Arbitrary<string> => {
    const ref = fc
      .tuple(
        fc.oneof(
          { arbitrary: fc.constantFrom('A', 'B', 'c', 'x', 'AB'), weight: 9 },
          { arbitrary: fc.constantFrom('', '1'), weight: 1 },
        ),
        fc.oneof(
          { arbitrary: fc.constantFrom('', ':-', '-'), weight: 9 },
          { arbitrary: fc.constant(':'), weight: 1 },
        ),
        depth > 0 ? templateText(depth - 1) : fc.constant(''),
        fc.oneof(
          { arbitrary: fc.constant('}'), weight: 9 },
          { arbitrary: fc.constant(''), weight: 1 },
        ),
      )
      .map(([name, op, fallback, close]) => `\${${name}${op}${op === '' ? '' : fallback}${close}`);
    return fc.array(fc.oneof(rawPiece, ref), { maxLength: 6 }).map((parts) => parts.join(''));
  };
  const valueWithoutDollar = fc.string({
    unit: fc.constantFrom('{', '}', ':', '-', 'a', 'Z', ' '),
  });
  const smallEnv = fc.dictionary(fc.constantFrom('A', 'B', 'c', 'x', 'AB'), valueWithoutDollar);

  test('a successful substitution never leaves "${" in the output', () => {
    fc.assert(
      fc.property(
        templateText(2).filter((s) => !s.includes('$$') && !s.includes('$}')),
        smallEnv,
        (input, vars) => {
          const result = substitute(input, env(vars));
          if (result.ok) expect(result.value).not.toContain('${');
        },
      ),
      { numRuns: 500 },
    );
  });

  const dollarHeavy = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.string({ unit: fc.constantFrom('$', '{', '}', ':', '-', 'A', '1', ' ') }),
  );

  test('escaping round trip: doubling every "$" yields the original string', () => {
    fc.assert(
      fc.property(dollarHeavy, (s) => {
        // Note: s.replaceAll('$', '$$') would be a no-op ("$$" is a replacement pattern).
        const escaped = s.split('$').join('$$');
        const result = substitute(escaped, noLookup);
        expect(okValue(result)).toBe(s);
        expect(variablesOf(result)).toEqual([]);
      }),
    );
  });

  // Names as a config file might spell them, valid or not ("1A", "A-B", "", "A B", "A.b").
  const anyName = fc.string({ unit: fc.constantFrom('A', 'b', '_', '1', '-', '.', ' ', '$', ':') });
  const reference = fc
    .tuple(anyName, fc.constantFrom('', ':-', '-'), dollarHeavy)
    .map(([name, op, fallback]) => `\${${name}${op === '' ? '' : op + fallback}}`);

  test('the lookup is only ever asked for valid variable names (and is asked on every run)', () => {
    fc.assert(
      fc.property(
        // A valid reference first, so that every run reaches the lookup; then dollar-heavy text
        // and references with any name, in any order.
        fc.constantFrom('A', '_b', 'C_1'),
        fc.array(fc.oneof(dollarHeavy, reference), { maxLength: 6 }),
        smallEnv,
        (first, rest, vars) => {
          const asked: string[] = [];
          substitute(`\${${first}}${rest.join('')}`, (name) => {
            asked.push(name);
            return vars[name];
          });
          expect(asked[0]).toBe(first);
          for (const name of asked) expect(name).toMatch(VALID_NAME);
        },
      ),
      { numRuns: 500 },
    );
  });

  // --- Reference model -----------------------------------------------------------------------
  // Templates are generated as token trees, rendered to text, and evaluated directly from the
  // tree, so the model shares no parsing with the implementation.

  type Token =
    | { readonly kind: 'text'; readonly text: string }
    | { readonly kind: 'dollar' }
    | { readonly kind: 'lone'; readonly next: string }
    | {
        readonly kind: 'ref';
        readonly name: string;
        readonly op: '' | ':-' | '-';
        readonly fallback: readonly Token[];
      };

  const NAMES = ['A', 'B', 'C_1', '_d', 'lower'] as const;
  const nameArb = fc.constantFrom(...NAMES);

  // Defaults may not contain "}" (it would end them).
  const textArb = (inDefault: boolean): fc.Arbitrary<Token> =>
    fc
      .string({
        unit: fc.constantFrom(
          ...(inDefault ? ['a', ' ', ':', '-', '{', '/'] : ['a', ' ', ':', '-', '{', '}', '/']),
        ),
        minLength: 1,
        maxLength: 4,
      })
      .map((text) => ({ kind: 'text', text }));

  const tokenArb = (depth: number, inDefault: boolean): fc.Arbitrary<Token> => {
    const leaves: fc.Arbitrary<Token>[] = [
      textArb(inDefault),
      fc.constant({ kind: 'dollar' }),
      // A lone "$" followed by a character that cannot start "$$", "${" or end a default.
      fc.constantFrom('a', ' ', '(', '5').map((next) => ({ kind: 'lone', next })),
    ];
    const ops = ['', '-', ':-'] as const;
    const ref: fc.Arbitrary<Token> = fc
      .record({
        name: nameArb,
        op: fc.constantFrom(...ops),
        fallback:
          depth > 0
            ? fc.array(tokenArb(depth - 1, true), { maxLength: 3 })
            : fc.array(textArb(true), { maxLength: 1 }),
      })
      .map(({ name, op, fallback }) => ({
        kind: 'ref',
        name,
        op,
        fallback: op === '' ? [] : fallback,
      }));
    return fc.oneof(...leaves, ref, ref);
  };

  function renderToken(token: Token): string {
    switch (token.kind) {
      case 'text':
        return token.text;
      case 'dollar':
        return '$$';
      case 'lone':
        return `$${token.next}`;
      case 'ref':
        return `\${${token.name}${token.op}${render(token.fallback)}}`;
    }
  }

  function render(tokens: readonly Token[]): string {
    return tokens.map(renderToken).join('');
  }

  type ModelResult = { ok: true; value: string } | { ok: false; unset: string[] };

  function model(tokens: readonly Token[], vars: ReadonlyMap<string, string>): ModelResult {
    let value = '';
    const unset: string[] = [];
    for (const token of tokens) {
      switch (token.kind) {
        case 'text':
          value += token.text;
          break;
        case 'dollar':
          value += '$';
          break;
        case 'lone':
          value += `$${token.next}`;
          break;
        case 'ref': {
          const current = vars.get(token.name);
          const useValue =
            current !== undefined && !(token.op === ':-' && current === '') ? current : undefined;
          if (useValue !== undefined) {
            value += useValue;
          } else if (token.op === '') {
            unset.push(token.name);
          } else {
            const inner = model(token.fallback, vars);
            if (inner.ok) value += inner.value;
            else unset.push(...inner.unset);
          }
        }
      }
    }
    return unset.length > 0 ? { ok: false, unset } : { ok: true, value };
  }

  // Values may contain anything, including "$", "${…}" and "}": they are never re-scanned.
  const envArb = fc
    .dictionary(
      nameArb,
      fc.oneof(
        fc.constant(''),
        fc.string({ maxLength: 5 }),
        fc.constantFrom('${A}', '$$', '}', '$'),
      ),
    )
    .map((vars) => new Map(Object.entries(vars)));

  test('agrees with a reference model on well-formed templates', () => {
    fc.assert(
      fc.property(fc.array(tokenArb(2, false), { maxLength: 8 }), envArb, (tokens, vars) => {
        const input = render(tokens);
        const expected = model(tokens, vars);
        const actual = substitute(input, (name) => vars.get(name));
        if (expected.ok) {
          expect(actual).toEqual({ ok: true, value: expected.value, variables: expect.anything() });
          const topLevel = tokens.flatMap((t) => (t.kind === 'ref' ? [t.name] : []));
          for (const name of topLevel) expect(variablesOf(actual)).toContain(name);
        } else {
          const problems = problemsOf(actual);
          expect(problems.map((p) => p.kind)).toEqual(expected.unset.map(() => 'unset'));
          expect(problems.map((p) => p.variable)).toEqual(expected.unset);
          for (const problem of problems) expect(problem.message).toContain(problem.variable);
        }
      }),
      { numRuns: 300 },
    );
  });

  // --- Problems never contain values ---------------------------------------------------------

  const CANARIES = ['c4n4ry§one', 'p@ss w0rd §two', '{§three}', '§', '${§}', '}§:-'];
  const messyPiece = fc.oneof(
    fc.constantFrom('$', '$$', '{', '}', ':', '-', ':?', '=', ' ', '1', 'A', 'B', 'SECRET', 'X'),
    fc.constantFrom('${', '${SECRET', '${SECRET}', '${SECRET:-', '${SECRET-', '${A:?', '${1', '}'),
  );
  const messyInput = fc.array(messyPiece, { maxLength: 14 }).map((p) => p.join(''));
  const canaryEnv = fc.dictionary(
    fc.constantFrom('A', 'B', 'SECRET', 'X', 'AB', 'SECRETX', 'XA'),
    fc.constantFrom(...CANARIES),
  );

  test('problems never contain any variable value', () => {
    fc.assert(
      fc.property(messyInput, canaryEnv, (input, vars) => {
        const result = substitute(input, env(vars));
        if (!result.ok) {
          const serialized = JSON.stringify(result.problems);
          expect(serialized).not.toContain('§');
          for (const canary of CANARIES) expect(serialized).not.toContain(canary);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('problems reported by substituteTree never contain any variable value', () => {
    fc.assert(
      fc.property(fc.array(messyInput, { maxLength: 4 }), canaryEnv, (strings, vars) => {
        const seen: SubstitutionProblem[] = [];
        const tree = { list: strings, nested: { first: strings[0] ?? '' } };
        substituteTree(tree, env(vars), (_path, problem) => seen.push(problem));
        expect(JSON.stringify(seen)).not.toContain('§');
      }),
    );
  });

  test('every unset problem names a variable that the lookup reported unset', () => {
    fc.assert(
      fc.property(messyInput, canaryEnv, (input, vars) => {
        const result = substitute(input, env(vars));
        if (result.ok) return;
        for (const problem of result.problems) {
          if (problem.kind === 'unset') {
            expect(problem.variable).toMatch(VALID_NAME);
            expect(Object.hasOwn(vars, problem.variable ?? '')).toBe(false);
            expect(problem.message).toContain(problem.variable);
          } else {
            expect(problem.variable).toBeUndefined();
          }
        }
      }),
    );
  });
});
