/**
 * Reading one configuration source (a file or the preload variable) into a {@link Layer}: size
 * limit, YAML parsing, the "must be a mapping" rule and `${VAR}` substitution.
 *
 * @module
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { McpAgentError } from '../errors.js';
import type { ConfigIssue } from './issues.js';
import { isPlainObject, type Layer } from './merge.js';
import type { SourcePosition, ValueOrigin } from './paths.js';
import { substituteTree, type VariableLookup } from './substitute.js';
import { parseYamlSource } from './yaml-source.js';

/** Default largest configuration or secrets file accepted, in bytes (1 MiB). */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

/** The role of a source, which decides its origin records and its messages. */
export type SourceRole = 'config' | 'secrets' | 'preload';

/** A source read into a layer, with the problems found in it. */
export interface SourceResult {
  /** The layer, or `undefined` when the source could not be parsed at all. */
  readonly layer?: Layer;
  readonly issues: ConfigIssue[];
}

function describe(role: SourceRole): string {
  return role === 'config'
    ? 'configuration file'
    : role === 'secrets'
      ? 'secrets file'
      : 'MCP_APP_SETTINGS_PRELOAD value';
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
    : `${Math.ceil(bytes / 1024)} KiB`;
}

/**
 * Read a file's text, refusing what is not a regular file, unreadable files and files over
 * `maxBytes` (also when the file grows while it is read). Throws {@link McpAgentError}
 * `CONFIG_NOT_FOUND` or `CONFIG_UNREADABLE`.
 */
export function readSourceFile(file: string, role: 'config' | 'secrets', maxBytes: number): string {
  const what = `The ${describe(role)} ${file}`;
  const unreadable = (error: unknown): McpAgentError => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return new McpAgentError(
        'CONFIG_NOT_FOUND',
        `${what} does not exist; check the path, or run \`mcp-agent init\` to create one.`,
        { cause: error },
      );
    }
    return new McpAgentError(
      'CONFIG_UNREADABLE',
      `${what} cannot be read (${code ?? 'unknown error'}); check its permissions.`,
      { cause: error },
    );
  };
  const tooLarge = (size: string) =>
    new McpAgentError(
      'CONFIG_UNREADABLE',
      `${what} is ${size}, over the ${formatBytes(maxBytes)} limit for configuration files; is it the right file?`,
    );

  let fd: number;
  try {
    // stat before opening: opening a FIFO for reading would wait for a writer.
    const stats = statSync(file);
    if (stats.isDirectory()) {
      throw new McpAgentError(
        'CONFIG_UNREADABLE',
        `${what} is a directory; name a YAML file instead.`,
      );
    }
    if (!stats.isFile()) {
      throw new McpAgentError(
        'CONFIG_UNREADABLE',
        `${what} is not a regular file; name a YAML file instead.`,
      );
    }
    fd = openSync(file, 'r');
  } catch (error) {
    throw error instanceof McpAgentError ? error : unreadable(error);
  }
  try {
    const { size } = fstatSync(fd);
    if (size > maxBytes) throw tooLarge(formatBytes(size));
    // Read at most one byte more than allowed, so a file that grows cannot make this unbounded.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > maxBytes) throw tooLarge(`over ${formatBytes(maxBytes)}`);
    }
    return buffer.toString('utf8', 0, length);
  } catch (error) {
    throw error instanceof McpAgentError ? error : unreadable(error);
  } finally {
    closeSync(fd);
  }
}

/**
 * Parse `text` as the source `role` and substitute `${VAR}` references in its strings.
 * `file` is the path recorded in origins (absent for the preload value).
 */
export function parseSource(
  text: string,
  role: SourceRole,
  lookup: VariableLookup,
  file?: string,
  maxBytes: number = DEFAULT_MAX_FILE_BYTES,
): SourceResult {
  const originAt = (position: SourcePosition): ValueOrigin =>
    role === 'preload' || file === undefined
      ? { kind: 'preload', position }
      : { kind: 'file', role, file, position };
  const start = originAt({ line: 1, column: 1 });

  if (role === 'preload' && Buffer.byteLength(text) > maxBytes) {
    return {
      issues: [
        {
          severity: 'error',
          origin: start,
          message: `the MCP_APP_SETTINGS_PRELOAD value is over the ${formatBytes(maxBytes)} limit for configuration`,
        },
      ],
    };
  }
  const parsed = parseYamlSource(text, originAt);
  if (!parsed.ok) return { issues: parsed.issues };

  const issues: ConfigIssue[] = [];
  let root = parsed.value;
  if (root === null || root === undefined) {
    if (role === 'secrets') {
      // An empty secrets file (or one with only comments) is a normal starting point.
      root = {};
    } else {
      return {
        issues: [
          {
            severity: 'error',
            origin: start,
            message: `the ${describe(role)} is empty: it needs at least one section such as \`mcp:\` (run \`mcp-agent init\` for a starter file)`,
          },
        ],
      };
    }
  }
  if (!isPlainObject(root)) {
    const kind = Array.isArray(root) ? 'a list' : `a single ${typeof root} value`;
    return {
      issues: [
        {
          severity: 'error',
          origin: start,
          message: `the ${describe(role)} must be a mapping of sections (such as \`mcp:\` and \`oauth:\`), not ${kind}`,
        },
      ],
    };
  }

  const substituted = substituteTree(
    root,
    lookup,
    (path, problem) => {
      issues.push({
        severity: 'error',
        path,
        origin: parsed.origins.lookup(path) ?? start,
        message: problem.message,
      });
    },
    (path, _variables, template) => {
      const origin = parsed.origins.own(path);
      if (origin?.kind === 'file' || origin?.kind === 'preload') {
        parsed.origins.set(path, { ...origin, template });
      }
    },
  );
  return {
    layer: { value: substituted as Record<string, unknown>, origins: parsed.origins },
    issues,
  };
}
