/**
 * Parse one YAML document (a config file, a secrets file or the preload variable) into plain data
 * plus the position of every key, with the limits that keep hostile input cheap.
 *
 * YAML 1.1 is used, as by PyYAML (mcp-agent's parser): `yes`/`no` are booleans and `<<` merge keys
 * work.
 *
 * @module
 */
import {
  isAlias,
  isMap,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Tags,
  visit,
} from 'yaml';
import type { ConfigIssue } from './issues.js';
import { type ConfigPath, OriginMap, type SourcePosition, type ValueOrigin } from './paths.js';
import { checkDocument, keyOf } from './yaml-limits.js';

const BOOL_TAG = 'tag:yaml.org,2002:bool';
const PYYAML_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PYYAML_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;

/**
 * YAML 1.1 also reads `y` and `n` as booleans; PyYAML does not (`args: [x, y]` is two strings
 * there), so the boolean tags are narrowed to PyYAML's words.
 */
function pyyamlTags(tags: Tags): Tags {
  return tags.map((tag) => {
    if (typeof tag !== 'object' || tag.tag !== BOOL_TAG || !tag.test) return tag;
    return { ...tag, test: tag.test.test('true') ? PYYAML_TRUE : PYYAML_FALSE };
  });
}

/** The result of parsing a YAML document. */
export type YamlSourceResult =
  | { readonly ok: true; readonly value: unknown; readonly origins: OriginMap }
  | { readonly ok: false; readonly issues: ConfigIssue[] };

/**
 * Parse `text`. `originAt` turns a position into the origin recorded for the value there, so the
 * same function serves files and the preload variable. Error messages never quote the input.
 */
export function parseYamlSource(
  text: string,
  originAt: (position: SourcePosition) => ValueOrigin,
): YamlSourceResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.1',
    customTags: pyyamlTags,
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const positionOf = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  // The parser notices a missing closing quote where the input ends; point at the opening quote.
  const unclosedQuoteStart = (offset: number): number | undefined => {
    let start: number | undefined;
    visit(doc, {
      Scalar(_, scalar) {
        const range = scalar.range;
        const quoted = scalar.type === 'QUOTE_DOUBLE' || scalar.type === 'QUOTE_SINGLE';
        if (quoted && range && range[0] <= offset && offset <= range[2]) start = range[0];
      },
    });
    return start;
  };

  const issues: ConfigIssue[] = [];
  for (const error of doc.errors) {
    const offset =
      error.code === 'MISSING_CHAR'
        ? (unclosedQuoteStart(error.pos[0]) ?? error.pos[0])
        : error.pos[0];
    issues.push({
      severity: 'error',
      origin: originAt(positionOf(offset)),
      message: describeYamlError(error.code),
    });
  }
  for (const warning of doc.warnings) {
    if (warning.code === 'TAG_RESOLVE_FAILED') {
      issues.push({
        severity: 'error',
        origin: originAt(positionOf(warning.pos[0])),
        message:
          'unsupported YAML tag (mcp-agent cloud tags such as !developer_secret are for `mcp-agent deploy`); write the value itself or use ${VAR}',
      });
    }
  }
  if (issues.length > 0) return { ok: false, issues };

  const structure = checkDocument(doc);
  if (structure.length > 0) {
    return {
      ok: false,
      issues: structure.map((problem) => ({
        severity: 'error' as const,
        origin: originAt(positionOf(problem.offset)),
        message: problem.message,
      })),
    };
  }
  // The checks above bound what conversion can cost, so the parser's own alias limit is off.
  const value: unknown = doc.toJS({ maxAliasCount: -1 });

  // Record an origin for every key and item, including those reached through an alias or a `<<`
  // merge key: they are recorded where the alias is written, so a value a secrets file brings in
  // through an alias is still known to come from the secrets file.
  const origins = new OriginMap();
  const active = new Set<unknown>();
  const walk = (
    node: unknown,
    path: ConfigPath,
    position: SourcePosition,
    inAlias: boolean,
  ): void => {
    if (isAlias(node)) {
      const target = node.resolve(doc);
      const at = inAlias ? position : positionOf(node.range?.[0] ?? 0);
      if (target && !active.has(target)) walk(target, path, at, true);
      else origins.set(path, originAt(at));
      return;
    }
    origins.set(path, originAt(position));
    if (active.has(node)) return;
    active.add(node);
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = keyOf(pair.key);
        if (key === undefined) continue;
        const keyPosition = inAlias ? position : positionOf((pair.key as Node).range?.[0] ?? 0);
        if (key === '<<') {
          const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
          for (const source of sources) walkMerged(source, path, keyPosition);
          continue;
        }
        walk(pair.value, [...path, key], keyPosition, inAlias);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const range = (item as Node | null)?.range;
        const itemPosition = inAlias || !range ? position : positionOf(range[0]);
        walk(item, [...path, index], itemPosition, inAlias);
      });
    }
    active.delete(node);
  };
  /** The keys a `<<` merge brings into the mapping at `path`, unless the mapping sets them. */
  const walkMerged = (source: unknown, path: ConfigPath, position: SourcePosition): void => {
    const target = isAlias(source) ? source.resolve(doc) : source;
    if (!isMap(target) || active.has(target)) return;
    active.add(target);
    for (const pair of target.items) {
      const key = keyOf(pair.key);
      if (key === undefined) continue;
      if (key === '<<') {
        // A merged mapping may itself merge others.
        const nested = isSeq(pair.value) ? pair.value.items : [pair.value];
        for (const inner of nested) walkMerged(inner, path, position);
      } else if (origins.own([...path, key]) === undefined) {
        walk(pair.value, [...path, key], position, true);
      }
    }
    active.delete(target);
  };
  const root = doc.contents;
  walk(root, [], root?.range ? positionOf(root.range[0]) : { line: 1, column: 1 }, false);
  return { ok: true, value: value ?? null, origins };
}

/**
 * Our own description of a YAML error. The parser's messages can quote the input (a secret, in
 * a secrets file), so only the error code is used.
 */
function describeYamlError(code: string): string {
  const reason = YAML_ERRORS[code];
  if (code === 'DUPLICATE_KEY') return 'duplicate key: each key may appear only once in a mapping';
  return `invalid YAML: ${reason ?? `the parser reports ${code.toLowerCase().replaceAll('_', ' ')}`}`;
}

const YAML_ERRORS: Record<string, string> = {
  ALIAS_PROPS: 'an alias cannot have a tag or an anchor',
  BAD_ALIAS: 'an alias is malformed',
  BAD_DIRECTIVE: 'a % directive is malformed',
  BAD_DQ_ESCAPE:
    'a double-quoted string has an invalid \\ escape (use single quotes for backslashes)',
  BAD_INDENT: 'the indentation is wrong here',
  BAD_PROP_ORDER: 'an anchor or tag is in the wrong place',
  BAD_SCALAR_START: 'a plain value cannot start with this character; put the value in quotes',
  BLOCK_AS_IMPLICIT_KEY:
    'a nested mapping cannot start on the same line as its key (is a ": " inside an unquoted value? quote it)',
  BLOCK_IN_FLOW: 'a block value cannot appear inside [ ] or { }',
  IMPOSSIBLE: 'the document cannot be read',
  KEY_OVER_1024_CHARS: 'a key is longer than 1024 characters',
  MISSING_CHAR: 'a quote or bracket is not closed',
  MULTILINE_IMPLICIT_KEY: 'a key spans several lines (is a quote not closed?)',
  MULTIPLE_ANCHORS: 'a value has more than one anchor',
  MULTIPLE_DOCS: 'the file holds more than one YAML document (---); keep one',
  MULTIPLE_TAGS: 'a value has more than one tag',
  NON_STRING_KEY: 'a key is not a plain value',
  TAB_AS_INDENT: 'a tab is used for indentation; use spaces',
  TAG_RESOLVE_FAILED: 'a tag cannot be resolved',
  UNEXPECTED_TOKEN: 'unexpected characters here',
  BAD_COLLECTION_TYPE: 'a collection has the wrong type for its tag',
};
