/**
 * Reading the configuration schema itself: which keys an object has (for "did you mean"
 * suggestions) and what type a key expects (to convert environment variables).
 *
 * @module
 */
import type * as z from 'zod';
import type { ConfigPath } from '../paths.js';
import { settingsSchema } from './settings.js';

/** The JSON-like kind of value the schema expects at a path. */
export type ValueKind = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'unknown';

interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly shape?: Record<string, z.ZodType>;
  readonly valueType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly options?: readonly z.ZodType[];
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { def: Def }).def;
}

/** Strip wrappers (optional, nullable, default, transforms) down to the underlying type. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

/** The schema at `path`, or `undefined` when the path leaves the schema. */
export function schemaAt(
  path: ConfigPath,
  root: z.ZodType = settingsSchema,
): z.ZodType | undefined {
  let current: z.ZodType | undefined = unwrap(root);
  for (const segment of path) {
    if (!current) return undefined;
    const def = defOf(current);
    if (def.type === 'object' && def.shape) current = def.shape[String(segment)];
    else if (def.type === 'record' && def.valueType) current = def.valueType;
    else if (def.type === 'array' && def.element) current = def.element;
    else return undefined;
    current = current ? unwrap(current) : undefined;
  }
  return current;
}

/** The keys of the object schema at `path` (empty when it is not an object). */
export function knownKeysAt(path: ConfigPath): readonly string[] {
  const schema = schemaAt(path);
  const def = schema ? defOf(schema) : undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

/** What kind of value the schema expects at `path`. */
export function valueKindAt(path: ConfigPath): ValueKind {
  const schema = schemaAt(path);
  if (!schema) return 'unknown';
  const type = defOf(schema).type;
  switch (type) {
    case 'string':
    case 'enum':
      return 'string';
    case 'number':
    case 'int':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array':
      return 'array';
    case 'object':
    case 'record':
      return 'object';
    default:
      return 'unknown';
  }
}

/** Whether the schema has a map (`record`) at `path`, whose keys are names the user chose. */
export function isMapAt(path: ConfigPath): boolean {
  const schema = schemaAt(path);
  return schema !== undefined && defOf(schema).type === 'record';
}

/** Whether the schema at `path` is a fixed set of words (such values are never secrets). */
export function isEnumAt(path: ConfigPath): boolean {
  const schema = schemaAt(path);
  return schema !== undefined && defOf(schema).type === 'enum';
}
