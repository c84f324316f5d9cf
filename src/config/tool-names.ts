/**
 * The names under which downstream tools are offered: mcp-agent's `{server}_{tool}`, kept inside
 * the name rule LLM function-calling APIs impose (`^[A-Za-z0-9_-]{1,64}$`, which also satisfies
 * the MCP tool-name rule of SEP-986, `[A-Za-z0-9._-]{1,128}`).
 *
 * The rule depends only on the pair (server, tool) and on the names of the configured servers,
 * never on which tools are listed or in what order, so every process with the same configuration
 * (a restart, a replica, the CLI) gives every tool the same name:
 *
 * - Each configured server has a **stem**: its own name when that is 1–40 characters from
 *   `[A-Za-z0-9_-]` not starting with `-`; otherwise the name with every other character (and a
 *   leading `-`) replaced by `_`, cut to 40, and, when that meets another server's stem (or is
 *   empty), cut to 29 with `-` and 10 hex digits of SHA-256 of the name after it.
 * - A name belongs to the server with the **longest** stem `s` such that the name starts with
 *   `s_` (servers `a` and `a_b`: `a_b_x` is `a_b`'s).
 * - The **plain** name of (server, tool) is `{stem}_{tool}`. It is used when the tool name is made
 *   of `[A-Za-z0-9_-]` and does not end with `-`, the result has at most 64 characters, it belongs
 *   to that server by the rule above, and it does not end like a hashed name (`_` and 10 hex
 *   digits).
 * - Otherwise the **hashed** name is `{stem}_{part}_{hash}`: `part` is the tool name with other
 *   characters replaced by `_`, cut so the whole fits in 64; `hash` is 10 hex digits of SHA-256 of
 *   the pair. When `{stem}_{part}` would belong to a longer stem, `part` is left out.
 *
 * Different servers' names never meet (each name belongs to exactly one server), a plain name never
 * meets a hashed one (plain names never end like one), and two tools of one server meet only if
 * their 40-bit hashes do ({@link ToolNames} users drop both then). Dispatch goes the other way with
 * an exact map: {@link ToolNames.ownerOf} says whose listing to look in.
 *
 * No name starts or ends with `-` (the MCP SDK warns about those).
 *
 * This module sits in `config/` because `config check` warns in its terms.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Settings } from './schema/settings.js';

/** What a served tool name must match (the LLM function-calling rule). */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Longest tool name served. */
export const MAX_TOOL_NAME_LENGTH = 64;

const ALLOWED = /^[A-Za-z0-9_-]+$/;
const DISALLOWED_CHAR = /[^A-Za-z0-9_-]/gu;
const MAX_STEM_LENGTH = 40;
const HASH_LENGTH = 10;
/** How a hashed name ends; no plain name ends like this. */
const HASHED_ENDING = /_[0-9a-f]{10}$/;

/** A downstream tool: the server's configured name and the tool's name on that server. */
export interface ToolIdentity {
  readonly server: string;
  readonly tool: string;
}

function hex(...parts: readonly string[]): string {
  const hash = createHash('sha256');
  // Length-prefixed, so no two different part lists hash the same input.
  for (const part of parts) hash.update(`${part.length}:${part}`);
  return hash.digest('hex').slice(0, HASH_LENGTH);
}

/** Every character outside `[A-Za-z0-9_-]` replaced by `_` (a surrogate pair counts as one). */
function sanitize(text: string): string {
  return text.replace(DISALLOWED_CHAR, '_');
}

/** A server name as the start of a tool name: {@link sanitize}d, a leading `-` made `_`. */
function sanitizeServer(server: string): string {
  return sanitize(server).replace(/^-/, '_');
}

/** Whether `name` has the form of a hashed name (`…_` and 10 hex digits). */
export function isHashedToolName(name: string): boolean {
  return HASHED_ENDING.test(name);
}

/** The stems of a set of server names (see the module's description). */
function stemsOf(servers: readonly string[]): Map<string, string> {
  const valid = (server: string) =>
    server.length <= MAX_STEM_LENGTH && ALLOWED.test(server) && !server.startsWith('-');
  const candidate = (server: string) =>
    valid(server) ? server : sanitizeServer(server).slice(0, MAX_STEM_LENGTH);
  const counts = new Map<string, number>();
  for (const server of servers) {
    const stem = candidate(server);
    counts.set(stem, (counts.get(stem) ?? 0) + 1);
  }
  const stems = new Map<string, string>();
  for (const server of servers) {
    const stem = candidate(server);
    // A lossy stem that meets another server's gets the hash of the full name; a valid name is
    // unique already (configured names are), so it keeps itself.
    const unique = valid(server) || (counts.get(stem) === 1 && stem !== '');
    stems.set(
      server,
      unique
        ? stem
        : `${sanitizeServer(server).slice(0, MAX_STEM_LENGTH - HASH_LENGTH - 1) || 'server'}-${hex('server', server)}`,
    );
  }
  return stems;
}

/**
 * The names of downstream tools for one configuration's servers. Build it from every configured
 * server (not a subset), so that every part of the app names tools alike.
 */
export class ToolNames {
  readonly #stems: Map<string, string>;
  /** Stems, longest first, with their servers. */
  readonly #byLength: readonly (readonly [stem: string, server: string])[];

  /** @param servers The names of every configured server (`mcp.servers`). */
  constructor(servers: Iterable<string>) {
    this.#stems = stemsOf([...new Set(servers)]);
    this.#byLength = [...this.#stems]
      .map(([server, stem]) => [stem, server] as const)
      .sort((a, b) => b[0].length - a[0].length);
  }

  /** The prefix of `server`'s tool names (without the `_`); `undefined` for an unknown server. */
  stem(server: string): string | undefined {
    return this.#stems.get(server);
  }

  /** The server a served name belongs to: the longest stem `s` it starts `s_` with. */
  ownerOf(name: string): string | undefined {
    for (const [stem, server] of this.#byLength) {
      if (name.startsWith(`${stem}_`)) return server;
    }
    return undefined;
  }

  /** The served name of `tool` on `server` (a configured server). */
  name(server: string, tool: string): string {
    const stem = this.#requireStem(server);
    const plain = `${stem}_${tool}`;
    if (
      ALLOWED.test(tool) &&
      !tool.endsWith('-') &&
      plain.length <= MAX_TOOL_NAME_LENGTH &&
      !isHashedToolName(plain) &&
      this.ownerOf(plain) === server
    ) {
      return plain;
    }
    return this.#hashed(server, stem, hex('tool', server, tool), sanitize(tool));
  }

  /**
   * The stand-in tool that signs a caller in to `server` before its tools are known: a hashed name
   * over a different input than any tool's, so no tool of the server has it.
   */
  signInName(server: string): string {
    return this.#hashed(server, this.#requireStem(server), hex('sign-in', server), 'sign_in');
  }

  /**
   * The tool a name stands for when it is a plain name (checked by naming that tool again), so
   * that no listing is needed; `undefined` for a hashed name or one no tool can have.
   */
  plainIdentity(name: string): ToolIdentity | undefined {
    const server = this.ownerOf(name);
    if (server === undefined || isHashedToolName(name)) return undefined;
    const tool = name.slice((this.#stems.get(server) as string).length + 1);
    return this.name(server, tool) === name ? { server, tool } : undefined;
  }

  #requireStem(server: string): string {
    const stem = this.#stems.get(server);
    if (stem === undefined) throw new TypeError(`"${server}" is not a configured server`);
    return stem;
  }

  /** `{stem}_{part}_{hash}`, `part` cut to fit; `{stem}_{hash}` when that would not be `server`'s. */
  #hashed(server: string, stem: string, hash: string, part: string): string {
    const cut = part.slice(0, Math.max(0, MAX_TOOL_NAME_LENGTH - stem.length - hash.length - 2));
    const named = cut === '' ? `${stem}_${hash}` : `${stem}_${cut}_${hash}`;
    return this.ownerOf(named) === server ? named : `${stem}_${hash}`;
  }
}

/**
 * The tool an old `SERVER/TOOL` spelling (each part escaped as in JSON Pointer, RFC 6901 §4:
 * `~1` for `/`, `~0` for `~`) stands for, or `undefined` when `spelling` has no `/`. An unescaped
 * `/` after the first stays in the tool name, as it did.
 */
export function legacyToolIdentity(spelling: string): ToolIdentity | undefined {
  const at = spelling.indexOf('/');
  if (at === -1) return undefined;
  const unescaped = (part: string) => part.replaceAll('~1', '/').replaceAll('~0', '~');
  return { server: unescaped(spelling.slice(0, at)), tool: unescaped(spelling.slice(at + 1)) };
}

/**
 * The tool names `mcp.servers.<server>.allowed_tools` lets through. As in mcp-agent, an entry is
 * the tool's own name on its server (not a served name); an entry in the old `SERVER/TOOL`
 * spelling naming this server is also read as its TOOL (`config check` warns about it).
 */
export function allowedToolNames(server: string, entries: readonly string[]): ReadonlySet<string> {
  const allowed = new Set(entries);
  for (const entry of entries) {
    const legacy = legacyToolIdentity(entry);
    if (legacy?.server === server) allowed.add(legacy.tool);
  }
  return allowed;
}

/** A tool name in the configuration that is read differently from how it is written. */
export interface ToolNameProblem {
  /** Where it is, from the top of the settings. */
  readonly path: readonly string[];
  readonly message: string;
}

const SEE_LIST = 'tool names are SERVER_TOOL, as `mcp-agent tools list` shows them';

/**
 * Old `SERVER/TOOL` spellings in `authorization.tool_scopes` and `allowed_tools` (accepted, with
 * the spelling to write instead), and `tool_scopes` and `prompt_scopes` keys no tool or prompt can
 * have (those two not in front mode, where keys are the fronted server's own names).
 */
export function toolNameProblems(
  settings: Pick<Settings, 'mcp' | 'authorization' | 'front'>,
): ToolNameProblem[] {
  const servers = Object.keys(settings.mcp.servers);
  const names = new ToolNames(servers);
  const problems: ToolNameProblem[] = [];
  // Front mode reads these keys by their own names ({@link frontProblems}).
  const namespaced = settings.front === undefined;
  for (const key of namespaced ? Object.keys(settings.authorization?.tool_scopes ?? {}) : []) {
    const path = ['authorization', 'tool_scopes', key];
    const legacy = legacyToolIdentity(key);
    if (legacy && names.stem(legacy.server) !== undefined) {
      const name = names.name(legacy.server, legacy.tool);
      problems.push({
        path,
        message: `is the old SERVER/TOOL spelling of "${name}", and read as that; write "${name}" (${SEE_LIST})`,
      });
    } else if (legacy) {
      problems.push({
        path,
        message: `names no configured server ("${legacy.server}"), so it protects nothing; ${SEE_LIST}`,
      });
    } else if (!TOOL_NAME_PATTERN.test(key)) {
      problems.push({
        path,
        message: `is not a tool name, so it protects nothing; ${SEE_LIST} (1-64 of A-Z, a-z, 0-9, "_" and "-")`,
      });
    }
  }
  for (const key of namespaced ? Object.keys(settings.authorization?.prompt_scopes ?? {}) : []) {
    if (names.ownerOf(key) !== undefined) continue;
    problems.push({
      path: ['authorization', 'prompt_scopes', key],
      message:
        "names no configured server's prompt, so it protects nothing; prompt names are SERVER_PROMPT, as `mcp-agent prompts list` shows them",
    });
  }
  for (const [server, settingsOf] of Object.entries(settings.mcp.servers)) {
    for (const entry of settingsOf.allowed_tools ?? []) {
      const legacy = legacyToolIdentity(entry);
      if (legacy?.server !== server) continue;
      problems.push({
        path: ['mcp', 'servers', server, 'allowed_tools'],
        message: `lists "${entry}", the old SERVER/TOOL spelling of "${legacy.tool}", and reads it as that; write "${legacy.tool}" (allowed_tools lists the server's own tool names, as in mcp-agent)`,
      });
    }
  }
  return problems;
}

/** Names quoted and joined for a message (`"a", "b"`), `none` when there are none. */
export function quotedNames(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.map((name) => `"${name}"`).join(', ');
}

/**
 * Why front mode cannot serve `server` (`"x" is not a configured server; mcp.servers has "a",
 * "b"`), or `undefined` when `server` is one of `servers`.
 */
export function unconfiguredFront(server: string, servers: readonly string[]): string | undefined {
  if (servers.includes(server)) return undefined;
  return `"${server}" is not a configured server; mcp.servers has ${quotedNames(servers)}`;
}

/**
 * What an `authorization.tool_scopes` key means in front mode besides itself: a namespaced
 * spelling (`SERVER_TOOL`, old `SERVER/TOOL`) of the fronted `server` is also read as its TOOL, so
 * a rule written for the namespaced mode still protects its tool. `undefined` for other keys.
 */
export function frontToolName(key: string, server: string): string | undefined {
  const legacy = legacyToolIdentity(key);
  if (legacy) return legacy.server === server ? legacy.tool : undefined;
  const stem = new ToolNames([server]).stem(server) as string;
  return key.startsWith(`${stem}_`) && key.length > stem.length + 1
    ? key.slice(stem.length + 1)
    : undefined;
}

/** The warning about a namespaced `tool_scopes` key read as `tool` in front mode (after the key). */
export function frontToolScopeMessage(tool: string): string {
  return `is read as "${tool}" too: in front mode tools keep their own names; write "${tool}"`;
}

/** A problem of front mode in the configuration. */
export interface FrontProblem extends ToolNameProblem {
  /** `error`: `front` names no configured server; `warning`: a namespaced `tool_scopes` key. */
  readonly severity: 'error' | 'warning';
}

/**
 * The problems of `front` in `settings` (none without it): an error when it names no configured
 * server, else a warning per namespaced `tool_scopes` key, naming the key to write.
 */
export function frontProblems(
  settings: Pick<Settings, 'mcp' | 'authorization' | 'front'>,
): FrontProblem[] {
  const server = settings.front;
  if (server === undefined) return [];
  const unknown = unconfiguredFront(server, Object.keys(settings.mcp.servers));
  if (unknown !== undefined) return [{ severity: 'error', path: ['front'], message: unknown }];
  return Object.keys(settings.authorization?.tool_scopes ?? {}).flatMap((key) => {
    const tool = frontToolName(key, server);
    if (tool === undefined) return [];
    const path = ['authorization', 'tool_scopes', key];
    return [{ severity: 'warning' as const, path, message: frontToolScopeMessage(tool) }];
  });
}
