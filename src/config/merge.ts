/**
 * Deep merge of configuration layers, keeping track of where every value came from.
 *
 * Mappings merge key by key; scalars and lists replace, except the two lists mcp-agent
 * concatenates (without duplicates): `otel.exporters` and `workflow_task_modules`.
 *
 * @module
 */
import { type ConfigPath, OriginMap, pathKey } from './paths.js';

/** A configuration layer: its data and the origin of each value. */
export interface Layer {
  readonly value: Record<string, unknown>;
  readonly origins: OriginMap;
}

const CONCATENATED_LISTS = new Set([
  pathKey(['otel', 'exporters']),
  pathKey(['workflow_task_modules']),
]);

/** Whether `value` is a mapping (not a list, not null, not a Date or other class instance). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Set an own, enumerable key. Unlike assignment, a key named `__proto__` stays an ordinary key
 * instead of replacing the object's prototype.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Merge `over` onto `base`; neither input is modified. */
export function mergeLayers(base: Layer, over: Layer): Layer {
  const origins = new OriginMap();
  origins.copySubtree(base.origins, []);
  const value = mergeValue(base.value, over.value, [], over.origins, origins);
  return { value: value as Record<string, unknown>, origins };
}

/** Plain deep merge without origins (the same rules as {@link mergeLayers}). */
export function deepMerge(base: unknown, over: unknown): unknown {
  return mergeValue(base, over, [], new OriginMap(), new OriginMap());
}

function mergeValue(
  base: unknown,
  over: unknown,
  path: ConfigPath,
  overOrigins: OriginMap,
  out: OriginMap,
): unknown {
  if (isPlainObject(base) && isPlainObject(over)) {
    const merged: Record<string, unknown> = { ...base };
    const own = overOrigins.own(path);
    if (own && !out.own(path)) out.set(path, own);
    for (const [key, item] of Object.entries(over)) {
      const childPath = [...path, key];
      const value = Object.hasOwn(base, key)
        ? mergeValue(base[key], item, childPath, overOrigins, out)
        : replace(item, childPath, overOrigins, out);
      setOwn(merged, key, value);
    }
    return merged;
  }
  if (Array.isArray(base) && Array.isArray(over) && CONCATENATED_LISTS.has(pathKey(path))) {
    // As mcp-agent: the concatenation without duplicates, keeping first occurrences. Each kept
    // item keeps the origin it had in its own layer, under its new index.
    const baseOrigins = new OriginMap();
    baseOrigins.copySubtree(out, path);
    out.deleteSubtree(path);
    const merged: unknown[] = [];
    const sources = [
      ...base.map((item, index) => ({ item, origins: baseOrigins, index })),
      ...over.map((item, index) => ({ item, origins: overOrigins, index })),
    ];
    for (const { item, origins, index } of sources) {
      if (merged.some((existing) => deepEqual(existing, item))) continue;
      out.copySubtreeTo(origins, [...path, index], [...path, merged.length]);
      merged.push(item);
    }
    const own = overOrigins.own(path) ?? baseOrigins.own(path);
    if (own) out.set(path, own);
    return merged;
  }
  return replace(over, path, overOrigins, out);
}

function replace(
  value: unknown,
  path: ConfigPath,
  overOrigins: OriginMap,
  out: OriginMap,
): unknown {
  out.deleteSubtree(path);
  out.copySubtree(overOrigins, path);
  return value;
}

/** Structural equality of YAML values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]))
    );
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return false;
}
