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
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Tags,
} from 'yaml';
import type { ConfigIssue } from './issues.js';
import { type ConfigPath, OriginMap, type SourcePosition, type ValueOrigin } from './paths.js';

/** Largest alias expansion accepted, counted in nodes (stops "billion laughs" documents). */
export const MAX_ALIAS_EXPANSION = 1_000;

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

  const issues: ConfigIssue[] = [];
  for (const error of doc.errors) {
    issues.push({
      severity: 'error',
      origin: originAt(positionOf(error.pos[0])),
      message: describeYamlError(error.code, error.message),
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

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
  } catch (error) {
    if (error instanceof ReferenceError || error instanceof RangeError) {
      return {
        ok: false,
        issues: [
          {
            severity: 'error',
            origin: originAt({ line: 1, column: 1 }),
            message:
              'YAML aliases expand too far (a "billion laughs" document?); write the repeated values out or use fewer aliases',
          },
        ],
      };
    }
    throw error;
  }

  const origins = new OriginMap();
  const forbidden: ConfigIssue[] = [];
  const walk = (node: unknown, path: ConfigPath, position: SourcePosition): void => {
    origins.set(path, originAt(position));
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key === undefined || key === '<<') continue;
        const keyPosition = positionOf((pair.key as Node).range?.[0] ?? 0);
        if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
          forbidden.push({
            severity: 'error',
            path: [...path, key],
            origin: originAt(keyPosition),
            message: 'is not an allowed key name',
          });
          continue;
        }
        walk(pair.value, [...path, key], keyPosition);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const range = (item as Node | null)?.range;
        walk(item, [...path, index], range ? positionOf(range[0]) : position);
      });
    } else if (isAlias(node)) {
      // The aliased node was recorded where its anchor is; nothing below it here.
    }
  };
  const root = doc.contents;
  walk(root, [], root?.range ? positionOf(root.range[0]) : { line: 1, column: 1 });
  if (forbidden.length > 0) return { ok: false, issues: forbidden };
  return { ok: true, value: value ?? null, origins };
}

function describeYamlError(code: string, message: string): string {
  const reason = message.replace(/\s+at line \d+, column \d+.*$/s, '').replace(/\.$/, '');
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'duplicate key: each key may appear only once in a mapping';
    default:
      return `invalid YAML: ${lowerFirst(reason)}`;
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
