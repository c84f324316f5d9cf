/**
 * Checks on a parsed YAML document before it is turned into data: how far its aliases expand,
 * how deep it nests, aliases without an anchor, `<<` merge keys that do not merge a mapping, and
 * key names that could reach an object's prototype.
 *
 * @module
 */
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type Node, visit } from 'yaml';

/** Most nodes aliases may add to a document beyond what is written out ("billion laughs"). */
export const MAX_ALIAS_ADDED_NODES = 100_000;

/** Deepest nesting accepted; real configurations nest about eight levels. */
export const MAX_DEPTH = 64;

/** Key names refused anywhere, so no value can reach an object's prototype. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);

/** A problem found by {@link checkDocument}, at an offset in the source text. */
export interface StructureProblem {
  readonly offset: number;
  readonly message: string;
}

/** A mapping key as a string; `<<` for a merge key (which the parser turns into a symbol). */
export function keyOf(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  return typeof key.value === 'symbol' ? '<<' : String(key.value);
}

/** Every structural problem of `doc`; an empty list means it is safe to convert. */
export function checkDocument(doc: Document.Parsed): StructureProblem[] {
  const problems: StructureProblem[] = [];
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) === undefined) {
        // The alias's name is not repeated: an unquoted value starting with "*" (a password,
        // say) is read as an alias.
        problems.push({
          offset: alias.range?.[0] ?? 0,
          message:
            'invalid YAML: an alias (*name) refers to no anchor (&name) before it; to write a value that starts with "*", put it in quotes',
        });
      }
    },
    Pair(_, pair) {
      const key = keyOf(pair.key);
      const offset = (pair.key as Node | null)?.range?.[0] ?? 0;
      if (key === '<<' && !mergesMappings(doc, pair.value)) {
        problems.push({
          offset,
          message:
            'invalid YAML: a merge key (<<) must refer to a mapping (<<: *name) or a list of them',
        });
      } else if (key !== undefined && FORBIDDEN_KEYS.has(key)) {
        problems.push({ offset, message: `the key name "${key}" is not allowed` });
      }
    },
  });
  if (problems.length > 0) return problems;

  const size = measure(doc);
  if (size.depth > MAX_DEPTH) {
    problems.push({
      offset: 0,
      message: `the document nests more than ${MAX_DEPTH} levels deep; is it the right file?`,
    });
  } else if (size.expanded - size.written > MAX_ALIAS_ADDED_NODES) {
    problems.push({
      offset: 0,
      message: `YAML aliases expand too far or refer to themselves (a "billion laughs" document?); aliases may add at most ${MAX_ALIAS_ADDED_NODES.toLocaleString('en-US')} values`,
    });
  }
  return problems;
}

function mergesMappings(doc: Document.Parsed, value: unknown): boolean {
  const isMapping = (node: unknown): boolean =>
    isMap(node) || (isAlias(node) && isMap(node.resolve(doc)));
  return isMapping(value) || (isSeq(value) && value.items.every(isMapping));
}

/**
 * How many values the document holds as written and once aliases are expanded, and how deep it
 * nests once expanded. Linear in the written size: each node is measured once. An alias that
 * refers to one of its own ancestors counts as infinitely large.
 */
function measure(doc: Document.Parsed): { written: number; expanded: number; depth: number } {
  const measured = new Map<unknown, { size: number; height: number }>();
  const inProgress = new Set<unknown>();
  let written = 0;
  const infinite = { size: Number.POSITIVE_INFINITY, height: Number.POSITIVE_INFINITY };
  const visitNode = (node: unknown, level: number): { size: number; height: number } => {
    if (level > MAX_DEPTH) return infinite;
    if (isAlias(node)) {
      written++;
      const target = node.resolve(doc);
      if (target === undefined) return { size: 1, height: 1 };
      if (inProgress.has(target)) return infinite;
      return measured.get(target) ?? visitNode(target, level);
    }
    const known = measured.get(node);
    if (known) return known;
    written++;
    let size = 1;
    let height = 0;
    inProgress.add(node);
    const children = isMap(node)
      ? node.items.map((pair) => (isPair(pair) ? pair.value : undefined))
      : isSeq(node)
        ? node.items
        : [];
    for (const child of children) {
      const result = visitNode(child, level + 1);
      size += result.size;
      height = Math.max(height, result.height);
    }
    inProgress.delete(node);
    const result = { size, height: height + 1 };
    measured.set(node, result);
    return result;
  };
  const root = visitNode(doc.contents, 1);
  return { written, expanded: root.size, depth: root.height };
}
