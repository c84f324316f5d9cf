/**
 * Key paths into the configuration tree and where each value came from.
 *
 * @module
 */

/** A key path such as `['mcp', 'servers', 'github', 'url']`; numbers index lists. */
export type ConfigPath = readonly (string | number)[];

/** A position in a file or document, 1-based. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** Where a configuration value came from. */
export type ValueOrigin =
  | {
      readonly kind: 'file';
      /** `config` for the config file, `secrets` for the secrets file. */
      readonly role: 'config' | 'secrets';
      readonly file: string;
      readonly position: SourcePosition;
      /** The string as written, when `${VAR}` references in it were substituted. */
      readonly template?: string;
    }
  | {
      readonly kind: 'preload';
      readonly position: SourcePosition;
      /** The string as written, when `${VAR}` references in it were substituted. */
      readonly template?: string;
    }
  | {
      readonly kind: 'env';
      readonly variable: string;
      /** Set when the variable was read from this `.env` file rather than the environment. */
      readonly dotenvFile?: string;
    }
  | { readonly kind: 'default' };

/** A stable map key for a path. */
export function pathKey(path: ConfigPath): string {
  return JSON.stringify(path);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** A path as people read it: `mcp.servers.github.headers["X-Org.Id"]`, `oauth.loopback_ports[0]`. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === '' ? '(top level)' : out;
}

/** A short description of an origin, for messages: `mcp_agent.config.yaml:12:5`. */
export function formatOrigin(origin: ValueOrigin, displayFile: (file: string) => string): string {
  switch (origin.kind) {
    case 'file':
      return `${displayFile(origin.file)}:${origin.position.line}:${origin.position.column}`;
    case 'preload':
      return `MCP_APP_SETTINGS_PRELOAD:${origin.position.line}:${origin.position.column}`;
    case 'env':
      return origin.dotenvFile
        ? `${origin.variable} in ${displayFile(origin.dotenvFile)}`
        : `environment variable ${origin.variable}`;
    case 'default':
      return 'default';
  }
}

/**
 * The origins of the values in a configuration tree, by path. Looking up a path without its own
 * entry returns the origin of its nearest ancestor that has one.
 */
export class OriginMap {
  readonly #entries = new Map<string, { path: ConfigPath; origin: ValueOrigin }>();

  set(path: ConfigPath, origin: ValueOrigin): void {
    this.#entries.set(pathKey(path), { path, origin });
  }

  /** The origin recorded for `path` itself. */
  own(path: ConfigPath): ValueOrigin | undefined {
    return this.#entries.get(pathKey(path))?.origin;
  }

  /** The origin of `path` or of its nearest ancestor. */
  lookup(path: ConfigPath): ValueOrigin | undefined {
    for (let length = path.length; length >= 0; length--) {
      const found = this.#entries.get(pathKey(path.slice(0, length)));
      if (found) return found.origin;
    }
    return undefined;
  }

  /** Forget `path` and everything below it. */
  deleteSubtree(path: ConfigPath): void {
    for (const [key, entry] of this.#entries) {
      if (isPrefix(path, entry.path)) this.#entries.delete(key);
    }
  }

  /** Copy the entries of `other` at or below `path` into this map. */
  copySubtree(other: OriginMap, path: ConfigPath): void {
    for (const [key, entry] of other.#entries) {
      if (isPrefix(path, entry.path)) this.#entries.set(key, entry);
    }
  }

  /** Copy the entries of `other` at or below `from` into this map, re-rooted at `to`. */
  copySubtreeTo(other: OriginMap, from: ConfigPath, to: ConfigPath): void {
    for (const entry of other.#entries.values()) {
      if (!isPrefix(from, entry.path)) continue;
      const path = [...to, ...entry.path.slice(from.length)];
      this.#entries.set(pathKey(path), { path, origin: entry.origin });
    }
  }

  /** Every entry, in insertion order. */
  entries(): IterableIterator<{ path: ConfigPath; origin: ValueOrigin }> {
    return this.#entries.values();
  }
}

/** Whether `prefix` is `path` or one of its ancestors. */
export function isPrefix(prefix: ConfigPath, path: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}
