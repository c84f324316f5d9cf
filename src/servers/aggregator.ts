/**
 * The tools of several servers as one list, under the names {@link ToolNames} gives them:
 * mcp-agent's `{server}_{tool}`, kept inside `^[A-Za-z0-9_-]{1,64}$` (a hashed suffix when a name
 * has other characters, is too long or could be read as another server's).
 *
 * A call by name is looked up in the listing of the server the name belongs to: an exact map from
 * served names to (server, tool), so a name is never taken apart to find the tool.
 *
 * @module
 */
import type { CallToolResult, InputRequiredResult, Tool } from '@modelcontextprotocol/client';
import { suggest } from '../config/issues.js';
import { legacyToolIdentity, ToolNames } from '../config/tool-names.js';
import { McpAgentError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { DownstreamPeer } from './peer.js';
import type { CallToolOptions, RelayOptions, ServerRegistry } from './registry.js';

/** A tool of one server, as the aggregate offers it. */
export interface AggregatedTool {
  /** The served name (see {@link ToolNames}). */
  readonly name: string;
  readonly server: string;
  /** The tool's own name on its server. */
  readonly tool: string;
  readonly definition: Tool;
}

/** Options of {@link ToolAggregator}. */
export interface ToolAggregatorOptions {
  /**
   * How tools are named. Default: from the registry's servers. A registry that holds only some of
   * the configured servers needs the names of all of them, so that names match everywhere.
   */
  readonly names?: ToolNames;
  /** Told about tools left out because two of them would have one name. */
  readonly logger?: Logger;
}

/** The tools of a set of servers under their served names, following their list changes. */
export class ToolAggregator {
  readonly #registry: ServerRegistry;
  readonly #servers: readonly string[];
  readonly #names: ToolNames;
  readonly #logger: Logger;

  /** @param servers Server names to aggregate; default: every server of the registry. */
  constructor(
    registry: ServerRegistry,
    servers?: readonly string[],
    options: ToolAggregatorOptions = {},
  ) {
    this.#registry = registry;
    this.#servers = servers ?? registry.names();
    this.#names = options.names ?? new ToolNames(registry.names());
    this.#logger = options.logger ?? silentLogger;
    for (const name of this.#servers) {
      registry.settings(name);
      if (this.#names.stem(name) === undefined) {
        throw new TypeError(`the tool names given do not cover server "${name}"`);
      }
    }
  }

  /** The names of the aggregated servers. */
  get servers(): readonly string[] {
    return this.#servers;
  }

  /** How tools are named. */
  get names(): ToolNames {
    return this.#names;
  }

  /** Every allowed tool of every server (servers are asked in parallel). */
  async listTools(): Promise<AggregatedTool[]> {
    const lists = await Promise.all(this.#servers.map((server) => this.listServerTools(server)));
    return lists.flat();
  }

  /**
   * The allowed tools of one server. Tools that would share a name (a server listing one name
   * twice with different definitions is kept once; two tool names whose hashes meet) are left out,
   * both of them, whatever the order the server lists them in.
   *
   * With a `peer`, the listing is the one of a connection declaring the peer's capabilities (its
   * own once open, else the listing connection of its capability set, see
   * {@link ServerRegistry.connect}): a server may offer a client that can answer its requests
   * (elicitation, sampling) tools it offers no other.
   */
  async listServerTools(server: string, peer?: DownstreamPeer): Promise<AggregatedTool[]> {
    const connection = await this.#registry.connect(server, { peer, listing: true });
    const byName = new Map<string, AggregatedTool[]>();
    for (const definition of await connection.listTools()) {
      const name = this.#names.name(server, definition.name);
      const same = byName.get(name) ?? [];
      if (!same.some((other) => other.tool === definition.name)) {
        same.push({ name, server, tool: definition.name, definition });
      }
      byName.set(name, same);
    }
    const tools: AggregatedTool[] = [];
    for (const [name, same] of byName) {
      if (same.length === 1) tools.push(same[0] as AggregatedTool);
      else {
        this.#logger.warn(
          `${same.length} tools of server "${server}" would be named "${name}"; none of them is offered`,
          { server },
        );
      }
    }
    return tools;
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

  /**
   * The tool a served name stands for, from the listing of the server the name belongs to;
   * throws `TOOL_UNKNOWN` when no offered tool has that name. `peer`: as for
   * {@link ToolAggregator.listServerTools}.
   */
  async resolve(name: string, peer?: DownstreamPeer): Promise<AggregatedTool> {
    const server = this.#names.ownerOf(name);
    if (server === undefined || !this.#servers.includes(server)) {
      const legacy = legacyToolIdentity(name);
      const hint =
        legacy && this.#servers.includes(legacy.server)
          ? `; the name of "${legacy.tool}" of server "${legacy.server}" is "${this.#names.name(legacy.server, legacy.tool)}"`
          : '';
      throw new McpAgentError(
        'TOOL_UNKNOWN',
        `"${name}" is not a tool of ${this.#servers.map((s) => `"${s}"`).join(', ') || 'any server'}${hint}; tool names are SERVER_TOOL, as "tools list" shows them.`,
      );
    }
    const tools = await this.listServerTools(server, peer);
    const found = tools.find((tool) => tool.name === name);
    if (found) return found;
    const plain = this.#names.plainIdentity(name);
    if (plain && !(await this.#registry.connect(server)).isAllowed(plain.tool)) {
      throw new McpAgentError(
        'TOOL_UNKNOWN',
        `Tool "${plain.tool}" of server "${server}" is not in mcp.servers.${server}.allowed_tools.`,
      );
    }
    const hint = suggest(
      name,
      tools.map((tool) => tool.name),
    );
    throw new McpAgentError(
      'TOOL_UNKNOWN',
      `Server "${server}" offers no tool named "${name}"${hint ? `; did you mean "${hint}"?` : ''}.`,
    );
  }

  /**
   * Call a tool by its served name (`options`: cancellation, progress, log messages; with
   * `relay`, the server's input-required result is returned too, see {@link RelayOptions}).
   */
  callTool(
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions & { readonly relay: RelayOptions },
  ): Promise<CallToolResult | InputRequiredResult>;
  callTool(
    name: string,
    args: Record<string, unknown>,
    options?: CallToolOptions & { readonly relay?: undefined },
  ): Promise<CallToolResult>;
  async callTool(
    name: string,
    args: Record<string, unknown>,
    options: CallToolOptions = {},
  ): Promise<CallToolResult | InputRequiredResult> {
    const found = await this.resolve(name, options.peer);
    const connection = await this.#registry.connect(found.server, { peer: options.peer });
    const { relay, ...rest } = options;
    return relay
      ? connection.callTool(found.tool, args, { ...rest, relay })
      : connection.callTool(found.tool, args, rest);
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
