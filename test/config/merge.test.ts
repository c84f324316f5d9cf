import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  deepEqual,
  deepMerge,
  isPlainObject,
  type Layer,
  mergeLayers,
} from '../../src/config/merge.js';
import { type ConfigPath, OriginMap, type ValueOrigin } from '../../src/config/paths.js';

// ---------------------------------------------------------------------------------------------
// Helpers (independent of the module under test)
// ---------------------------------------------------------------------------------------------

type Tree = Record<string, unknown>;

/** A YAML mapping: a non-null, non-array object that is not a Date. */
function isMap(value: unknown): value is Tree {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)
  );
}

const SPECIAL_PATHS: readonly ConfigPath[] = [['otel', 'exporters'], ['workflow_task_modules']];

function isSpecialPath(path: ConfigPath): boolean {
  return SPECIAL_PATHS.some(
    (special) => special.length === path.length && special.every((s, i) => s === path[i]),
  );
}

/** The value at `path`, descending through mappings and lists. */
function getAt(value: unknown, path: ConfigPath): { found: boolean; value?: unknown } {
  let current = value;
  for (const segment of path) {
    if (typeof segment === 'number' && Array.isArray(current) && segment < current.length) {
      current = current[segment];
    } else if (typeof segment === 'string' && isMap(current) && Object.hasOwn(current, segment)) {
      current = current[segment];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: current };
}

/** Every path in a tree, the root included, descending through mappings and lists. */
function allPaths(value: unknown, path: ConfigPath = []): ConfigPath[] {
  const out: ConfigPath[] = [path];
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push(...allPaths(item, [...path, i]));
    });
  } else if (isMap(value)) {
    for (const [key, item] of Object.entries(value)) out.push(...allPaths(item, [...path, key]));
  }
  return out;
}

/** Paths of the non-mapping values reached through mappings only (lists count as leaves). */
function leafPaths(value: unknown, path: ConfigPath = []): ConfigPath[] {
  if (!isMap(value)) return path.length === 0 ? [] : [path];
  return Object.entries(value).flatMap(([key, item]) => leafPaths(item, [...path, key]));
}

/**
 * How `over` covers `path` when walking down through mappings: 'absent' if some mapping on the
 * way lacks the key, 'replaced' if a non-mapping sits above `path`, 'present' otherwise.
 */
function coverage(over: unknown, path: ConfigPath): 'absent' | 'replaced' | 'present' {
  let current = over;
  for (const segment of path) {
    if (!isMap(current)) return 'replaced';
    if (!Object.hasOwn(current, segment)) return 'absent';
    current = current[segment as string];
  }
  return 'present';
}

function fileOrigin(file: string, line: number): ValueOrigin {
  return {
    kind: 'file',
    role: file.includes('secrets') ? 'secrets' : 'config',
    file,
    position: { line, column: 1 },
  };
}

const BASE_FILE = 'mcp_agent.config.yaml';
const OVER_FILE = 'mcp_agent.secrets.yaml';

/** A layer whose every path (root included) has its own origin, with a distinct line number. */
function layerOf(value: Tree, file: string): Layer {
  const origins = new OriginMap();
  allPaths(value).forEach((path, i) => {
    origins.set(path, fileOrigin(file, i + 1));
  });
  return { value, origins };
}

function layer(value: Tree, entries: [ConfigPath, ValueOrigin][]): Layer {
  const origins = new OriginMap();
  for (const [path, origin] of entries) origins.set(path, origin);
  return { value, origins };
}

function snapshot(origins: OriginMap): { path: ConfigPath; origin: ValueOrigin }[] {
  return [...origins.entries()].map((entry) => structuredClone(entry));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const scalarArb = fc.constantFrom<unknown>(0, 1, 'a', 'b', '', true, false, null);
const listItemArb = fc.oneof(
  { arbitrary: scalarArb, weight: 3 },
  { arbitrary: fc.record({ type: fc.constantFrom('otlp', 'file') }), weight: 1 },
);
const listArb = fc.array(listItemArb, { maxLength: 4 });
const leafArb = fc.oneof({ arbitrary: scalarArb, weight: 3 }, { arbitrary: listArb, weight: 1 });
const exporterArb = fc.oneof(
  fc.constantFrom('console', 'file', 'otlp'),
  fc.record({ otlp: fc.record({ endpoint: fc.constantFrom('http://a', 'http://b') }) }),
);
const specialListArb = fc.array(exporterArb, { maxLength: 4 });

/**
 * Small key alphabet so that keys collide often; includes the special keys in odd places, and
 * sometimes "__proto__" (an ordinary key in YAML).
 */
const keyArb = fc.oneof(
  {
    arbitrary: fc.constantFrom('a', 'b', 'x', 'otel', 'exporters', 'workflow_task_modules'),
    weight: 12,
  },
  { arbitrary: fc.constant('__proto__'), weight: 1 },
);

/** Any YAML-like tree (mappings may hold anything at any key; shapes are not consistent). */
const { tree: anyTreeArb } = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: leafArb, weight: 2 },
    { arbitrary: tie('tree'), weight: 1 },
  ),
  tree: fc.dictionary(keyArb, tie('node'), { maxKeys: 4 }),
}));

/** A root mapping that often has `otel.exporters` and `workflow_task_modules` lists. */
const anyRootArb: fc.Arbitrary<Tree> = fc
  .tuple(
    anyTreeArb as fc.Arbitrary<Tree>,
    fc.record(
      {
        otel: fc.oneof(
          { arbitrary: fc.record({ exporters: specialListArb }), weight: 3 },
          { arbitrary: leafArb, weight: 1 },
        ),
        workflow_task_modules: fc.oneof(
          { arbitrary: specialListArb, weight: 3 },
          { arbitrary: leafArb, weight: 1 },
        ),
      },
      { requiredKeys: [] },
    ),
  )
  .map(([generic, special]) => ({ ...generic, ...special }));

/**
 * Shape-consistent trees: every key always holds the same kind of value ("a", "b", "otel" are
 * always mappings; "x", "y", "exporters", "workflow_task_modules" are always leaves, and the two
 * special lists are always lists). Deep merge is only associative on such trees: when a key
 * switches between a mapping and a leaf, the order of replacement matters (see the unit test).
 */
function consistentArb(depth: number): fc.Arbitrary<Tree> {
  const leaves = { x: leafArb, y: leafArb, exporters: leafArb, workflow_task_modules: leafArb };
  if (depth === 0) return fc.record(leaves, { requiredKeys: [] });
  const child = consistentArb(depth - 1);
  return fc.record({ ...leaves, a: child, b: child, otel: child }, { requiredKeys: [] });
}

/** Like {@link consistentArb}, but `otel.exporters` and `workflow_task_modules` are always lists. */
const consistentRootArb: fc.Arbitrary<Tree> = fc
  .record({
    tree: consistentArb(2),
    otelRest: fc.option(consistentArb(1), { nil: undefined }),
    exporters: fc.option(specialListArb, { nil: undefined }),
    modules: fc.option(specialListArb, { nil: undefined }),
  })
  .map(({ tree, otelRest, exporters, modules }) => {
    const { otel: _otel, workflow_task_modules: _modules, ...out } = tree;
    if (otelRest !== undefined || exporters !== undefined) {
      const { exporters: _leaf, ...otel } = otelRest ?? {};
      out.otel = exporters === undefined ? otel : { ...otel, exporters };
    }
    if (modules !== undefined) out.workflow_task_modules = modules;
    return out;
  });

/**
 * Structural equality that ignores prototypes (null-prototype mappings equal plain ones), via
 * node:util rather than the module under test.
 */
function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(structuredClone(a), structuredClone(b));
}

function specialListsHaveNoDuplicates(tree: Tree): boolean {
  return SPECIAL_PATHS.every((path) => {
    const { value } = getAt(tree, path);
    return (
      !Array.isArray(value) ||
      value.every((item, i) => value.findIndex((other) => same(other, item)) === i)
    );
  });
}

// ---------------------------------------------------------------------------------------------
// isPlainObject
// ---------------------------------------------------------------------------------------------

describe('isPlainObject', () => {
  test.each([
    ['{}', {}],
    ['an object literal', { a: 1 }],
    ['a null-prototype object', Object.create(null)],
    ['a parsed JSON object', JSON.parse('{"a":{"b":1}}')],
  ])('accepts %s', (_label, value) => {
    expect(isPlainObject(value)).toBe(true);
  });

  class Custom {
    a = 1;
  }

  test.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 1],
    ['a string', 'x'],
    ['a boolean', true],
    ['an array', []],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a Set', new Set()],
    ['a class instance', new Custom()],
    ['an object with a custom prototype', Object.create({ inherited: 1 })],
    ['a function', () => {}],
    ['a RegExp', /x/],
  ])('rejects %s', (_label, value) => {
    expect(isPlainObject(value)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// deepEqual
// ---------------------------------------------------------------------------------------------

describe('deepEqual', () => {
  test('scalars compare by value', () => {
    expect(deepEqual(1, 1)).toBe(true);
    expect(deepEqual('a', 'a')).toBe(true);
    expect(deepEqual(null, null)).toBe(true);
    expect(deepEqual(true, true)).toBe(true);
    expect(deepEqual(Number.NaN, Number.NaN)).toBe(true);
    expect(deepEqual(1, 2)).toBe(false);
    expect(deepEqual(1, '1')).toBe(false);
    expect(deepEqual(0, false)).toBe(false);
    expect(deepEqual(null, undefined)).toBe(false);
    expect(deepEqual('', null)).toBe(false);
  });

  test('lists compare element-wise, in order', () => {
    expect(deepEqual([1, [2, { a: 3 }]], [1, [2, { a: 3 }]])).toBe(true);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
    expect(deepEqual([1], [1, 1])).toBe(false);
    expect(deepEqual([], [])).toBe(true);
  });

  test('mappings compare key by key, ignoring key order', () => {
    expect(deepEqual({ a: 1, b: { c: [1] } }, { b: { c: [1] }, a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(deepEqual({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(deepEqual({ a: 1 }, { b: 1 })).toBe(false);
    expect(deepEqual({ a: undefined }, { b: undefined })).toBe(false);
    expect(deepEqual({ a: undefined }, {})).toBe(false);
  });

  test('mappings with and without a prototype are equal', () => {
    const bare = Object.assign(Object.create(null) as Tree, { a: 1 });
    expect(deepEqual(bare, { a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, bare)).toBe(true);
  });

  test('lists, mappings and scalars never equal each other', () => {
    expect(deepEqual([], {})).toBe(false);
    expect(deepEqual({}, [])).toBe(false);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
    expect(deepEqual({}, null)).toBe(false);
    expect(deepEqual(null, {})).toBe(false);
    expect(deepEqual([], '')).toBe(false);
  });

  test('Dates compare by time', () => {
    expect(deepEqual(new Date(5), new Date(5))).toBe(true);
    expect(deepEqual(new Date(5), new Date(6))).toBe(false);
    expect(deepEqual(new Date(5), 5)).toBe(false);
    expect(deepEqual(new Date(0), {})).toBe(false);
  });

  test('agrees with node:util isDeepStrictEqual on YAML-like values', () => {
    const valueArb = fc.oneof(anyTreeArb, leafArb);
    const pairArb = fc.oneof(
      fc.tuple(valueArb, valueArb),
      valueArb.map((v) => [v, structuredClone(v)] as const),
    );
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const expected = same(a, b);
        expect(deepEqual(a, b)).toBe(expected);
        expect(deepEqual(b, a)).toBe(expected);
      }),
    );
  });

  test('is reflexive on copies', () => {
    fc.assert(
      fc.property(anyRootArb, (a) => {
        expect(deepEqual(a, a)).toBe(true);
        expect(deepEqual(a, structuredClone(a))).toBe(true);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// deepMerge: unit tests
// ---------------------------------------------------------------------------------------------

describe('deepMerge', () => {
  test('merges mappings key by key, recursively', () => {
    const base = { name: 'app', mcp: { servers: { fs: { command: 'npx', args: ['-y'] } } } };
    const over = { mcp: { servers: { fs: { env: { K: 'v' } }, gh: { url: 'https://x' } } } };
    expect(deepMerge(base, over)).toEqual({
      name: 'app',
      mcp: {
        servers: {
          fs: { command: 'npx', args: ['-y'], env: { K: 'v' } },
          gh: { url: 'https://x' },
        },
      },
    });
  });

  test('keeps base keys first, then adds new keys from over', () => {
    const merged = deepMerge({ b: 1, a: 2 }, { c: 3, a: 4 }) as Tree;
    expect(Object.keys(merged)).toEqual(['b', 'a', 'c']);
    expect(merged).toEqual({ b: 1, a: 4, c: 3 });
  });

  test('scalars replace scalars', () => {
    expect(deepMerge({ a: 1, b: 'x', c: true }, { a: 2, b: 'y', c: false })).toEqual({
      a: 2,
      b: 'y',
      c: false,
    });
  });

  test('falsy scalars replace too', () => {
    expect(deepMerge({ a: 1, b: 'x', c: true }, { a: 0, b: '', c: false })).toEqual({
      a: 0,
      b: '',
      c: false,
    });
  });

  test('lists replace lists (no element-wise merge)', () => {
    expect(deepMerge({ args: ['a', 'b', 'c'] }, { args: ['z'] })).toEqual({ args: ['z'] });
    expect(deepMerge({ args: ['a'] }, { args: [] })).toEqual({ args: [] });
    expect(deepMerge({ l: [{ a: 1 }] }, { l: [{ b: 2 }] })).toEqual({ l: [{ b: 2 }] });
  });

  test('null in over replaces anything', () => {
    expect(deepMerge({ a: { deep: 1 }, b: [1], c: 1 }, { a: null, b: null, c: null })).toEqual({
      a: null,
      b: null,
      c: null,
    });
  });

  test('a mapping replaces a scalar, a list or null, and vice versa', () => {
    expect(deepMerge({ a: 1 }, { a: { b: 2 } })).toEqual({ a: { b: 2 } });
    expect(deepMerge({ a: [1] }, { a: { b: 2 } })).toEqual({ a: { b: 2 } });
    expect(deepMerge({ a: null }, { a: { b: 2 } })).toEqual({ a: { b: 2 } });
    expect(deepMerge({ a: { b: 2 } }, { a: 1 })).toEqual({ a: 1 });
    expect(deepMerge({ a: { b: 2 } }, { a: [1] })).toEqual({ a: [1] });
  });

  test('Dates are scalars', () => {
    const later = new Date(2);
    expect(deepMerge({ d: new Date(1) }, { d: later })).toEqual({ d: later });
  });

  test('null-prototype mappings merge like plain ones', () => {
    const base = Object.assign(Object.create(null) as Tree, { a: { b: 1 } });
    const over = Object.assign(Object.create(null) as Tree, { a: { c: 2 } });
    expect(deepMerge(base, over)).toEqual({ a: { b: 1, c: 2 } });
  });

  test('non-mapping roots: over replaces base', () => {
    expect(deepMerge(1, 2)).toBe(2);
    expect(deepMerge({ a: 1 }, null)).toBeNull();
    expect(deepMerge({ a: 1 }, [1])).toEqual([1]);
    expect(deepMerge([1], { a: 1 })).toEqual({ a: 1 });
  });

  test('does not modify its inputs (deeply frozen inputs are fine)', () => {
    const base = deepFreeze({
      a: { b: 1, c: [1, 2] },
      otel: { exporters: ['console'] },
      workflow_task_modules: ['m1'],
    });
    const over = deepFreeze({
      a: { b: 2, d: { e: 3 } },
      otel: { exporters: ['file'] },
      workflow_task_modules: ['m2'],
    });
    const merged = deepMerge(base, over) as Tree;
    expect(merged).toEqual({
      a: { b: 2, c: [1, 2], d: { e: 3 } },
      otel: { exporters: ['console', 'file'] },
      workflow_task_modules: ['m1', 'm2'],
    });
    expect(base.otel.exporters).toEqual(['console']);
    expect(base.workflow_task_modules).toEqual(['m1']);
    expect(merged).not.toBe(base);
    expect(merged.a).not.toBe(base.a);
  });

  // The yaml package returns a YAML key "__proto__" as an ordinary own key; copying it with
  // `merged[key] = …` would call the prototype setter, dropping the key and installing its value
  // as the result's prototype.
  test('a "__proto__" key in over is kept as a key, not installed as the prototype', () => {
    const over = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Tree;
    const merged = deepMerge({}, over) as Tree;
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.keys(merged)).toEqual(['__proto__', 'a']);
    expect(merged.polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(merged, '__proto__')?.value).toEqual({ polluted: true });
  });

  test('"__proto__" keys in both layers merge like any other key', () => {
    const base = JSON.parse('{"m": {"__proto__": {"a": 1, "b": 1}}}') as Tree;
    const over = JSON.parse('{"m": {"__proto__": {"b": 2}}}') as Tree;
    const merged = deepMerge(base, over) as { m: Tree };
    expect(Object.getPrototypeOf(merged.m)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(merged.m, '__proto__')?.value).toEqual({ a: 1, b: 2 });
    expect(JSON.stringify(merged)).toBe('{"m":{"__proto__":{"a":1,"b":2}}}');
  });

  test('a "__proto__" key keeps its origins in mergeLayers', () => {
    const over = JSON.parse('{"__proto__": {"k": 1}}') as Tree;
    const merged = mergeLayers(
      { value: {}, origins: new OriginMap() },
      layer(over, [
        [['__proto__'], fileOrigin(OVER_FILE, 1)],
        [['__proto__', 'k'], fileOrigin(OVER_FILE, 2)],
      ]),
    );
    expect(Object.keys(merged.value)).toEqual(['__proto__']);
    expect(merged.origins.own(['__proto__', 'k'])).toEqual(fileOrigin(OVER_FILE, 2));
  });
});

describe('deepMerge: concatenated lists', () => {
  test('otel.exporters lists are concatenated', () => {
    expect(
      deepMerge(
        { otel: { enabled: true, exporters: ['console'] } },
        { otel: { exporters: ['otlp'] } },
      ),
    ).toEqual({ otel: { enabled: true, exporters: ['console', 'otlp'] } });
  });

  test('workflow_task_modules lists are concatenated', () => {
    expect(
      deepMerge({ workflow_task_modules: ['a.tasks'] }, { workflow_task_modules: ['b.tasks'] }),
    ).toEqual({ workflow_task_modules: ['a.tasks', 'b.tasks'] });
  });

  test('items of over already in base are dropped, keeping the first occurrence', () => {
    expect(
      deepMerge(
        { otel: { exporters: ['console', 'file'] } },
        { otel: { exporters: ['otlp', 'console', 'file', 'otlp'] } },
      ),
    ).toEqual({ otel: { exporters: ['console', 'file', 'otlp'] } });
  });

  test('duplicates are found by deep equality, not identity', () => {
    const base = { otel: { exporters: [{ otlp: { endpoint: 'http://a', headers: { k: 'v' } } }] } };
    const over = {
      otel: {
        exporters: [
          { otlp: { headers: { k: 'v' }, endpoint: 'http://a' } },
          { otlp: { endpoint: 'http://b' } },
          { otlp: { endpoint: 'http://b' } },
        ],
      },
    };
    expect(deepMerge(base, over)).toEqual({
      otel: {
        exporters: [
          { otlp: { endpoint: 'http://a', headers: { k: 'v' } } },
          { otlp: { endpoint: 'http://b' } },
        ],
      },
    });
  });

  test('an empty over list leaves the base list; an empty base list takes over', () => {
    expect(deepMerge({ workflow_task_modules: ['a'] }, { workflow_task_modules: [] })).toEqual({
      workflow_task_modules: ['a'],
    });
    expect(deepMerge({ workflow_task_modules: [] }, { workflow_task_modules: ['a', 'a'] })).toEqual(
      { workflow_task_modules: ['a'] },
    );
  });

  test('over list is taken as is when base has no list there', () => {
    expect(deepMerge({}, { workflow_task_modules: ['a', 'a'] })).toEqual({
      workflow_task_modules: ['a', 'a'],
    });
    expect(deepMerge({ workflow_task_modules: null }, { workflow_task_modules: ['a'] })).toEqual({
      workflow_task_modules: ['a'],
    });
    expect(
      deepMerge({ otel: { exporters: 'console' } }, { otel: { exporters: ['file'] } }),
    ).toEqual({ otel: { exporters: ['file'] } });
  });

  test('a non-list in over replaces the base list', () => {
    expect(deepMerge({ otel: { exporters: ['console'] } }, { otel: { exporters: null } })).toEqual({
      otel: { exporters: null },
    });
    expect(deepMerge({ workflow_task_modules: ['a'] }, { workflow_task_modules: 'b' })).toEqual({
      workflow_task_modules: 'b',
    });
  });

  test('a scalar otel replaced by a mapping takes the mapping as is', () => {
    expect(deepMerge({ otel: null }, { otel: { exporters: ['a', 'a'] } })).toEqual({
      otel: { exporters: ['a', 'a'] },
    });
  });

  test.each([
    ['exporters at the top level', ['exporters']],
    ['otel.exporters below another key', ['x', 'otel', 'exporters']],
    ['exporters under another parent', ['logger', 'exporters']],
    ['otel.exporters.exporters', ['otel', 'exporters', 'exporters']],
    ['workflow_task_modules below another key', ['x', 'workflow_task_modules']],
    ['otel.workflow_task_modules', ['otel', 'workflow_task_modules']],
    ['other lists under otel', ['otel', 'transports']],
  ])('lists elsewhere are replaced: %s', (_label, path) => {
    const nest = (value: unknown): Tree =>
      path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Tree;
    expect(deepMerge(nest(['a']), nest(['b']))).toEqual(nest(['b']));
  });

  // mcp-agent's get_settings() dedupes the whole concatenation (`combined = merged[key] + value`,
  // then keeps the first of each equal item).
  test('duplicates already in the base list are removed as well (as mcp-agent does)', () => {
    expect(
      deepMerge({ workflow_task_modules: ['a', 'a'] }, { workflow_task_modules: ['b'] }),
    ).toEqual({ workflow_task_modules: ['a', 'b'] });
    expect(
      deepMerge({ otel: { exporters: ['console', 'console'] } }, { otel: { exporters: [] } }),
    ).toEqual({ otel: { exporters: ['console'] } });
    expect(
      deepMerge({ workflow_task_modules: ['a', 'b', 'a'] }, { workflow_task_modules: ['b', 'c'] }),
    ).toEqual({ workflow_task_modules: ['a', 'b', 'c'] });
  });

  test('merging a layer with itself dedupes its special lists (and nothing else)', () => {
    const a = { workflow_task_modules: ['m', 'm'], other: ['m', 'm'] };
    expect(deepMerge(a, a)).toEqual({ workflow_task_modules: ['m'], other: ['m', 'm'] });
  });
});

describe('deepMerge: associativity needs consistent shapes', () => {
  // Not a bug: replacement is order-sensitive when a key changes between a mapping and a leaf.
  test('is not associative when a key switches between mapping and scalar', () => {
    const a = { k: { x: 1 } };
    const b = { k: null };
    const c = { k: { y: 2 } };
    expect(deepMerge(deepMerge(a, b), c)).toEqual({ k: { y: 2 } });
    expect(deepMerge(a, deepMerge(b, c))).toEqual({ k: { x: 1, y: 2 } });
  });
});

// ---------------------------------------------------------------------------------------------
// deepMerge: properties
// ---------------------------------------------------------------------------------------------

describe('deepMerge: properties', () => {
  test('is associative on shape-consistent trees', () => {
    fc.assert(
      fc.property(consistentRootArb, consistentRootArb, consistentRootArb, (a, b, c) => {
        const left = deepMerge(deepMerge(a, b), c);
        const right = deepMerge(a, deepMerge(b, c));
        expect(left).toEqual(right);
        expect(deepEqual(left, right)).toBe(true);
      }),
    );
  });

  test('{} is an identity on both sides', () => {
    fc.assert(
      fc.property(anyRootArb, (a) => {
        expect(deepMerge({}, a)).toEqual(a);
        expect(deepMerge(a, {})).toEqual(a);
        expect(deepEqual(deepMerge({}, a), a)).toBe(true);
        expect(deepEqual(deepMerge(a, {}), a)).toBe(true);
      }),
    );
  });

  test('is idempotent: deepMerge(a, a) equals a', () => {
    fc.assert(
      fc.property(anyRootArb, (a) => {
        // Duplicates inside a special list are removed by any merge that concatenates it (see the
        // unit test), so idempotence only holds for duplicate-free special lists.
        fc.pre(specialListsHaveNoDuplicates(a));
        expect(deepMerge(a, a)).toEqual(a);
        expect(deepMerge(a, structuredClone(a))).toEqual(a);
      }),
    );
  });

  test("over's scalars and lists end up in the result (special lists: concatenated)", () => {
    fc.assert(
      fc.property(anyRootArb, anyRootArb, (base, over) => {
        const merged = deepMerge(base, over);
        for (const path of leafPaths(over)) {
          const overValue = getAt(over, path).value;
          const baseAt = coverage(base, path) === 'present' ? getAt(base, path) : { found: false };
          const actual = getAt(merged, path);
          expect(actual.found).toBe(true);
          if (isSpecialPath(path) && Array.isArray(overValue) && Array.isArray(baseAt.value)) {
            // The concatenation without duplicates, keeping first occurrences.
            const expected: unknown[] = [];
            for (const item of [...baseAt.value, ...overValue]) {
              if (!expected.some((existing) => same(existing, item))) expected.push(item);
            }
            expect(actual.value).toEqual(expected);
          } else {
            expect(actual.value).toEqual(overValue);
          }
        }
      }),
    );
  });

  test('base values that over does not touch are kept as they are', () => {
    fc.assert(
      fc.property(anyRootArb, anyRootArb, (base, over) => {
        const merged = deepMerge(base, over);
        for (const path of leafPaths(base)) {
          if (coverage(over, path) !== 'absent') continue;
          expect(getAt(merged, path)).toEqual(getAt(base, path));
        }
        expect(new Set(Object.keys(merged as Tree))).toEqual(
          new Set([...Object.keys(base), ...Object.keys(over)]),
        );
      }),
    );
  });

  test('never modifies its inputs', () => {
    fc.assert(
      fc.property(anyRootArb, anyRootArb, (base, over) => {
        const baseBefore = structuredClone(base);
        const overBefore = structuredClone(over);
        deepMerge(base, over);
        expect(base).toEqual(baseBefore);
        expect(over).toEqual(overBefore);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// mergeLayers: origins
// ---------------------------------------------------------------------------------------------

const B = (line: number) => fileOrigin(BASE_FILE, line);
const O = (line: number) => fileOrigin(OVER_FILE, line);

describe('mergeLayers', () => {
  test('merges values exactly like deepMerge', () => {
    const base = layer({ a: { b: 1 }, otel: { exporters: ['console'] } }, []);
    const over = layer({ a: { c: 2 }, otel: { exporters: ['file'] } }, []);
    expect(mergeLayers(base, over).value).toEqual(deepMerge(base.value, over.value));
  });

  test('a replaced scalar takes the origin from the over layer', () => {
    const merged = mergeLayers(layer({ a: 1 }, [[['a'], B(1)]]), layer({ a: 2 }, [[['a'], O(1)]]));
    expect(merged.origins.own(['a'])).toEqual(O(1));
  });

  test('a key only in base keeps its origin; a key only in over gets its own', () => {
    const merged = mergeLayers(
      layer({ a: 1, m: { k: 1 } }, [
        [['a'], B(1)],
        [['m'], B(2)],
        [['m', 'k'], B(3)],
      ]),
      layer({ b: 2, m: { n: { deep: 1 } } }, [
        [['b'], O(1)],
        [['m'], O(2)],
        [['m', 'n'], O(3)],
        [['m', 'n', 'deep'], O(4)],
      ]),
    );
    expect(merged.origins.own(['a'])).toEqual(B(1));
    expect(merged.origins.own(['m', 'k'])).toEqual(B(3));
    expect(merged.origins.own(['b'])).toEqual(O(1));
    expect(merged.origins.own(['m', 'n'])).toEqual(O(3));
    expect(merged.origins.own(['m', 'n', 'deep'])).toEqual(O(4));
  });

  test('a mapping in both layers keeps where it was first defined', () => {
    const merged = mergeLayers(
      layer({ m: { a: 1 } }, [
        [[], B(1)],
        [['m'], B(2)],
      ]),
      layer({ m: { b: 1 } }, [
        [[], O(1)],
        [['m'], O(2)],
      ]),
    );
    expect(merged.origins.own([])).toEqual(B(1));
    expect(merged.origins.own(['m'])).toEqual(B(2));
  });

  test('a mapping without a base origin takes the over origin', () => {
    const merged = mergeLayers(layer({ m: { a: 1 } }, []), layer({ m: { b: 1 } }, [[['m'], O(2)]]));
    expect(merged.origins.own(['m'])).toEqual(O(2));
  });

  test('replacing a subtree removes the stale origins below it', () => {
    const merged = mergeLayers(
      layer({ s: { x: 1, y: { z: 2 } }, keep: 1 }, [
        [['s'], B(1)],
        [['s', 'x'], B(2)],
        [['s', 'y'], B(3)],
        [['s', 'y', 'z'], B(4)],
        [['keep'], B(5)],
      ]),
      layer({ s: 'flat' }, [[['s'], O(1)]]),
    );
    expect(merged.value).toEqual({ s: 'flat', keep: 1 });
    expect(merged.origins.own(['s'])).toEqual(O(1));
    expect(merged.origins.own(['s', 'x'])).toBeUndefined();
    expect(merged.origins.own(['s', 'y'])).toBeUndefined();
    expect(merged.origins.own(['s', 'y', 'z'])).toBeUndefined();
    expect(merged.origins.lookup(['s', 'y', 'z'])).toEqual(O(1));
    expect(merged.origins.own(['keep'])).toEqual(B(5));
    expect([...merged.origins.entries()].map((e) => e.path)).toEqual([['keep'], ['s']]);
  });

  test('null replacing a mapping removes the origins below it', () => {
    const merged = mergeLayers(
      layer({ s: { x: 1 } }, [
        [['s'], B(1)],
        [['s', 'x'], B(2)],
      ]),
      layer({ s: null }, [[['s'], O(1)]]),
    );
    expect(merged.origins.own(['s'])).toEqual(O(1));
    expect(merged.origins.own(['s', 'x'])).toBeUndefined();
  });

  test('a replaced subtree carries over all of its origins from the over layer', () => {
    const merged = mergeLayers(
      layer({ s: [1, 2, 3] }, [
        [['s'], B(1)],
        [['s', 0], B(2)],
        [['s', 1], B(3)],
        [['s', 2], B(4)],
      ]),
      layer({ s: { k: [9] } }, [
        [['s'], O(1)],
        [['s', 'k'], O(2)],
        [['s', 'k', 0], O(3)],
      ]),
    );
    expect(merged.origins.own(['s'])).toEqual(O(1));
    expect(merged.origins.own(['s', 'k'])).toEqual(O(2));
    expect(merged.origins.own(['s', 'k', 0])).toEqual(O(3));
    for (const i of [0, 1, 2]) expect(merged.origins.own(['s', i])).toBeUndefined();
  });

  test('a list replaced by a shorter list loses the origins of the old items', () => {
    const merged = mergeLayers(
      layer({ l: [1, 2, 3] }, [
        [['l'], B(1)],
        [['l', 0], B(2)],
        [['l', 2], B(4)],
      ]),
      layer({ l: [9] }, [
        [['l'], O(1)],
        [['l', 0], O(2)],
      ]),
    );
    expect(merged.origins.own(['l', 0])).toEqual(O(2));
    expect(merged.origins.own(['l', 2])).toBeUndefined();
  });

  test('a concatenated list takes the over origin; its items keep their own origins', () => {
    const merged = mergeLayers(
      layer({ otel: { exporters: ['console'] } }, [
        [['otel'], B(1)],
        [['otel', 'exporters'], B(2)],
        [['otel', 'exporters', 0], B(3)],
      ]),
      layer({ otel: { exporters: ['file'] } }, [
        [['otel'], O(1)],
        [['otel', 'exporters'], O(2)],
        [['otel', 'exporters', 0], O(3)],
      ]),
    );
    expect(merged.value).toEqual({ otel: { exporters: ['console', 'file'] } });
    expect(merged.origins.own(['otel'])).toEqual(B(1));
    expect(merged.origins.own(['otel', 'exporters'])).toEqual(O(2));
    expect(merged.origins.own(['otel', 'exporters', 0])).toEqual(B(3));
    expect(merged.origins.own(['otel', 'exporters', 1])).toEqual(O(3));
  });

  test('items of a deduplicated list keep their origins under their new index', () => {
    const merged = mergeLayers(
      layer({ workflow_task_modules: ['a', 'a', { m: 'b' }] }, [
        [['workflow_task_modules'], B(1)],
        [['workflow_task_modules', 0], B(2)],
        [['workflow_task_modules', 1], B(3)],
        [['workflow_task_modules', 2], B(4)],
        [['workflow_task_modules', 2, 'm'], B(5)],
      ]),
      layer({ workflow_task_modules: [{ m: 'b' }, 'c'] }, [
        [['workflow_task_modules', 0], O(1)],
        [['workflow_task_modules', 0, 'm'], O(2)],
        [['workflow_task_modules', 1], O(3)],
      ]),
    );
    expect(merged.value).toEqual({ workflow_task_modules: ['a', { m: 'b' }, 'c'] });
    const own = (...rest: (string | number)[]) =>
      merged.origins.own(['workflow_task_modules', ...rest]);
    expect(own()).toEqual(B(1));
    expect(own(0)).toEqual(B(2));
    expect(own(1)).toEqual(B(4));
    expect(own(1, 'm')).toEqual(B(5));
    expect(own(2)).toEqual(O(3));
    expect(own(3)).toBeUndefined();
    expect([...merged.origins.entries()]).toHaveLength(5);
  });

  test('does not modify the input layers', () => {
    const base = layer({ s: { x: 1 }, otel: { exporters: ['a'] } }, [
      [['s'], B(1)],
      [['s', 'x'], B(2)],
      [['otel', 'exporters'], B(3)],
    ]);
    const over = layer({ s: 2, otel: { exporters: ['b'] } }, [
      [['s'], O(1)],
      [['otel', 'exporters'], O(2)],
    ]);
    const before = {
      baseValue: structuredClone(base.value),
      overValue: structuredClone(over.value),
      baseOrigins: snapshot(base.origins),
      overOrigins: snapshot(over.origins),
    };
    const merged = mergeLayers(base, over);
    expect(merged.origins).not.toBe(base.origins);
    expect(merged.origins).not.toBe(over.origins);
    expect({
      baseValue: base.value,
      overValue: over.value,
      baseOrigins: snapshot(base.origins),
      overOrigins: snapshot(over.origins),
    }).toEqual(before);
  });
});

/** The own origin a merged path should have, derived from the merge rules. */
function expectedOrigin(base: Layer, over: Layer, path: ConfigPath): ValueOrigin | undefined {
  let b: unknown = base.value;
  let o: unknown = over.value;
  for (let i = 0; i <= path.length; i++) {
    const here = path.slice(0, i);
    if (isMap(b) && isMap(o)) {
      if (i === path.length) return base.origins.own(here) ?? over.origins.own(here);
      const key = path[i] as string;
      if (!Object.hasOwn(o, key)) return base.origins.own(path);
      if (!Object.hasOwn(b, key)) return over.origins.own(path);
      b = b[key];
      o = o[key];
    } else if (Array.isArray(b) && Array.isArray(o) && isSpecialPath(here)) {
      if (i === path.length) return over.origins.own(here) ?? base.origins.own(here);
      // Each kept item keeps the origins of its first occurrence in base, then over.
      const kept = [...b, ...o];
      const index = path[i] as number;
      const firsts: number[] = [];
      kept.forEach((entry, k) => {
        if (!firsts.some((f) => same(kept[f], entry))) firsts.push(k);
      });
      const source = firsts[index];
      if (source === undefined) return undefined;
      const rest = path.slice(i + 1);
      return source < b.length
        ? base.origins.own([...here, source, ...rest])
        : over.origins.own([...here, source - b.length, ...rest]);
    } else {
      return over.origins.own(path);
    }
  }
  return undefined;
}

describe('mergeLayers: properties', () => {
  test('origins follow the values: replaced subtrees from over, the rest from base', () => {
    fc.assert(
      fc.property(anyRootArb, anyRootArb, (baseValue, overValue) => {
        const base = layerOf(baseValue, BASE_FILE);
        const over = layerOf(overValue, OVER_FILE);
        const merged = mergeLayers(base, over);
        expect(merged.value).toEqual(deepMerge(baseValue, overValue));
        for (const path of allPaths(merged.value)) {
          expect({ path, origin: merged.origins.own(path) }).toEqual({
            path,
            origin: expectedOrigin(base, over, path),
          });
        }
      }),
    );
  });

  test('no stale origins: every origin belongs to a path that exists in the merged value', () => {
    fc.assert(
      fc.property(anyRootArb, anyRootArb, (baseValue, overValue) => {
        const merged = mergeLayers(layerOf(baseValue, BASE_FILE), layerOf(overValue, OVER_FILE));
        for (const { path, origin } of merged.origins.entries()) {
          expect({ path, found: getAt(merged.value, path).found }).toEqual({ path, found: true });
          expect(origin.kind === 'file' ? [BASE_FILE, OVER_FILE] : []).toContain(
            origin.kind === 'file' ? origin.file : undefined,
          );
        }
      }),
    );
  });

  test('every leaf taken from over has the over origin', () => {
    fc.assert(
      fc.property(anyRootArb, anyRootArb, (baseValue, overValue) => {
        const base = layerOf(baseValue, BASE_FILE);
        const over = layerOf(overValue, OVER_FILE);
        const merged = mergeLayers(base, over);
        for (const path of leafPaths(overValue)) {
          if (isSpecialPath(path) && Array.isArray(getAt(baseValue, path).value)) continue;
          expect(merged.origins.own(path)).toEqual(over.origins.own(path));
        }
      }),
    );
  });

  test('never modifies the input layers', () => {
    fc.assert(
      fc.property(anyRootArb, anyRootArb, (baseValue, overValue) => {
        const base = layerOf(baseValue, BASE_FILE);
        const over = layerOf(overValue, OVER_FILE);
        const before = [structuredClone(baseValue), structuredClone(overValue)];
        const originsBefore = [snapshot(base.origins), snapshot(over.origins)];
        mergeLayers(base, over);
        expect([baseValue, overValue]).toEqual(before);
        expect([snapshot(base.origins), snapshot(over.origins)]).toEqual(originsBefore);
      }),
    );
  });
});
