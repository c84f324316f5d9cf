/**
 * The tools of several servers as one list, under namespaced names `server/tool`.
 *
 * A name that contains the separator or the escape character is escaped the way JSON Pointer
 * (RFC 6901) does it: `~` becomes `~0` and `/` becomes `~1`. So `a/b` on server `x` is
 * `x/a~1b`, and every namespaced name has exactly one unescaped `/`.
 *
 * @module
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { suggest } from '../config/issues.js';
import { McpAgentError } from '../errors.js';
import type { ServerRegistry } from './registry.js';

/** The separator between server and tool names. */
export const TOOL_SEPARATOR = '/';

/** A tool of one server, as the aggregate offers it. */
export interface AggregatedTool {
  /** `server/tool`, escaped. */
  readonly name: string;
  readonly server: string;
  /** The tool's own name on its server. */
  readonly tool: string;
  readonly definition: Tool;
}

/** Escape one part of a namespaced name. */
export function escapeNamePart(part: string): string {
  return part.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Undo {@link escapeNamePart}. */
export function unescapeNamePart(part: string): string {
  return part.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** `server/tool`, each part escaped. */
export function namespacedName(server: string, tool: string): string {
  return `${escapeNamePart(server)}${TOOL_SEPARATOR}${escapeNamePart(tool)}`;
}

/** Split a namespaced name; `undefined` when it has no separator. */
export function parseNamespacedName(name: string): { server: string; tool: string } | undefined {
  const at = name.indexOf(TOOL_SEPARATOR);
  if (at === -1) return undefined;
  return {
    server: unescapeNamePart(name.slice(0, at)),
    tool: unescapeNamePart(name.slice(at + 1)),
  };
}

/** The tools of a set of servers under namespaced names, following their list changes. */
export class ToolAggregator {
  readonly #registry: ServerRegistry;
  readonly #servers: readonly string[];

  /** @param servers Server names to aggregate; default: every configured server. */
  constructor(registry: ServerRegistry, servers?: readonly string[]) {
    this.#registry = registry;
    this.#servers = servers ?? registry.names();
    for (const name of this.#servers) registry.settings(name);
  }

  /** The names of the aggregated servers. */
  get servers(): readonly string[] {
    return this.#servers;
  }

  /** Every allowed tool of every server (servers are asked in parallel). */
  async listTools(): Promise<AggregatedTool[]> {
    const lists = await Promise.all(this.#servers.map((server) => this.listServerTools(server)));
    return lists.flat();
  }

  /** The allowed tools of one server. */
  async listServerTools(server: string): Promise<AggregatedTool[]> {
    const connection = await this.#registry.connect(server);
    const tools = await connection.listTools();
    return tools.map((tool) => ({
      name: namespacedName(server, tool.name),
      server,
      tool: tool.name,
      definition: tool,
    }));
  }

  /** The definition of `tool` on `server`; throws `TOOL_UNKNOWN` when it is not offered. */
  async findTool(server: string, tool: string): Promise<AggregatedTool> {
    const connection = await this.#registry.connect(server);
    if (!connection.isAllowed(tool)) {
      throw new McpAgentError(
        'TOOL_UNKNOWN',
        `Tool "${tool}" of server "${server}" is not in mcp.servers.${server}.allowed_tools.`,
      );
    }
    const tools = await this.listServerTools(server);
    const found = tools.find((candidate) => candidate.tool === tool);
    if (found) return found;
    const hint = suggest(
      tool,
      tools.map((candidate) => candidate.tool),
    );
    throw new McpAgentError(
      'TOOL_UNKNOWN',
      `Server "${server}" has no tool "${tool}"${hint ? `; did you mean "${hint}"?` : ''}.`,
    );
  }

  /** Call a tool by its namespaced name. */
  async callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    const parsed = parseNamespacedName(name);
    if (!parsed || !this.#servers.includes(parsed.server)) {
      throw new McpAgentError(
        'TOOL_UNKNOWN',
        `"${name}" is not a tool of ${this.#servers.map((s) => `"${s}"`).join(', ') || 'any server'}; tool names are SERVER${TOOL_SEPARATOR}TOOL.`,
      );
    }
    await this.findTool(parsed.server, parsed.tool);
    const connection = await this.#registry.connect(parsed.server);
    return connection.callTool(parsed.tool, args);
  }

  /**
   * Call `listener` when any aggregated server announces a tool-list change. Connects to every
   * aggregated server; returns an unsubscribe function.
   */
  async onToolsChanged(listener: (server: string) => void): Promise<() => void> {
    const connections = await Promise.all(
      this.#servers.map((name) => this.#registry.connect(name)),
    );
    const unsubscribes = connections.map((connection) =>
      connection.onToolsChanged(() => listener(connection.name)),
    );
    return () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
  }
}
