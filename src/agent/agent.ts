/**
 * `Agent`, in mcp-agent's shape: a name, an instruction and the names of its MCP servers, whose
 * tools it offers a language model under LLM-safe names (`{server}_{tool}`, see
 * {@link ToolNames}). Every tool call goes through the connections of `createAgentAuth`, so its
 * token, refresh, step-up and login rules apply; with `user`, the end user's own tokens. Or through
 * {@link AgentConnections} of one's own: `createApp` gives a served agent its caller's.
 *
 * @module
 */
import type { CallToolResult, Client, Tool as McpTool } from '@modelcontextprotocol/client';
import type { AgentAuth } from '../client/agent-auth.js';
import type { Settings } from '../config/schema/settings.js';
import { allowedToolNames, ToolNames } from '../config/tool-names.js';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import { connectionOf } from '../servers/connections-by-transport.js';
import { secretValues } from '../servers/credentials.js';
import type { ServerConnection } from '../servers/registry.js';
import { AugmentedLlm, type LlmOptions } from './llm.js';
import { type ModelOptions, modelFor } from './models.js';

/** What an agent is: mcp-agent's `Agent(name, instruction, server_names)`. */
export interface AgentSpec {
  /** The agent's name (mcp-agent's `name`). */
  readonly name: string;
  /** The system instruction its model gets (mcp-agent's `instruction`). */
  readonly instruction?: string | undefined;
  /** The configured servers (`mcp.servers`) whose tools it offers (mcp-agent's `server_names`). */
  readonly serverNames: readonly string[];
}

/**
 * Connections to the configured servers, as an {@link Agent} uses them: `createAgentAuth` (or one
 * of its `forUser` scopes, with the settings) is one; `createApp` gives a served agent its
 * caller's.
 */
export interface AgentConnections {
  /** The settings: `mcp.servers` (names, `allowed_tools`) and the provider sections. */
  readonly settings: Settings;
  /** The connected SDK `Client` of configured server `server`. */
  connect(server: string): Promise<Client>;
  /** The app's named credentials, for a provider's token (see `ModelOptions.credentials`). */
  readonly credentials?: ModelOptions['credentials'];
  /** The `fetch` model requests go with (the app's HTTP stack); default the global `fetch`. */
  readonly fetch?: FetchLike | undefined;
}

/**
 * What an {@link Agent} reaches its servers with: a `createAgentAuth` (with `user`, the servers
 * with that end user's tokens: `auth.forUser(user)`), or {@link AgentConnections}.
 */
export type AgentContext =
  | { readonly auth: AgentAuth; readonly user?: string | undefined }
  | { readonly connections: AgentConnections };

/** One tool an agent offers: its LLM-safe name, its server, and the MCP tool. */
export interface AgentTool {
  /** `{server}_{tool}` (or its hashed form; see {@link ToolNames}). */
  readonly name: string;
  /** The configured server. */
  readonly server: string;
  /** The tool as the server lists it (its own `name`, `description`, `inputSchema`). */
  readonly tool: McpTool;
  /** Call the tool on its server; a tool's error is a result with `isError`, not a throw. */
  call(args: Record<string, unknown>, signal?: AbortSignal): Promise<CallToolResult>;
}

/** Every tool of `client`, page after page. */
async function listedTools(client: Client): Promise<McpTool[]> {
  if (!client.getServerCapabilities()?.tools) return [];
  const tools: McpTool[] = [];
  let cursor: string | undefined;
  do {
    // Without a cursor the SDK walks every page itself; `refresh`: never its response cache.
    const page = await client.listTools(cursor ? { cursor } : {}, { cacheMode: 'refresh' });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

/** Throw `SERVER_UNKNOWN` unless `server` is configured in `settings`. */
export function knownServer(settings: Settings, server: string): void {
  const servers = settings.mcp.servers;
  if (Object.hasOwn(servers, server)) return;
  const known = Object.keys(servers);
  throw new McpAgentError(
    'SERVER_UNKNOWN',
    `No server named ${JSON.stringify(server)} in mcp.servers; ${known.length > 0 ? `configured: ${known.join(', ')}` : 'none is configured'}.`,
  );
}

/** Each open connection's tool list, shared by every agent until the server announces a change. */
const listings = new WeakMap<ServerConnection, Promise<McpTool[]>>();
/** The connections whose `notifications/tools/list_changed` drops their entry of `listings`. */
const watched = new WeakSet<ServerConnection>();

/**
 * The tools of `client`, listed once per connection and listed again only after the server sends
 * `notifications/tools/list_changed` (a reconnect is a new connection, so a new listing). A
 * failed listing is not kept. A `client` not of our registry is listed every time.
 */
function toolsOfConnection(client: Client): Promise<McpTool[]> {
  const connection = connectionOf(client);
  if (!connection) return listedTools(client);
  if (!watched.has(connection)) {
    watched.add(connection);
    connection.onToolsChanged(() => listings.delete(connection));
  }
  let listing = listings.get(connection);
  if (!listing) {
    const fresh = listedTools(client);
    fresh.catch(() => {
      if (listings.get(connection) === fresh) listings.delete(connection);
    });
    listings.set(connection, fresh);
    listing = fresh;
  }
  return listing;
}

/** A server's tools as an {@link Agent} offers them, and the listing and client they came from. */
interface Offered {
  readonly listed: readonly McpTool[];
  readonly client: Client;
  readonly tools: readonly AgentTool[];
}

/**
 * An agent: {@link Agent.listTools} gives the union of its servers' tools (as `allowed_tools`
 * lets them through), {@link Agent.attachLlm} a model of a provider section that calls them.
 */
export class Agent {
  readonly name: string;
  readonly instruction: string | undefined;
  readonly serverNames: readonly string[];
  readonly #auth: Pick<AgentConnections, 'settings' | 'credentials' | 'fetch'>;
  readonly #scope: Pick<AgentConnections, 'connect'>;
  readonly #names: ToolNames;
  /** Per server, its tools as last offered: rebuilt only when the listing or connection changes. */
  readonly #offered = new Map<string, Offered>();

  constructor(spec: AgentSpec, context: AgentContext) {
    this.name = spec.name;
    this.instruction = spec.instruction;
    this.serverNames = [...spec.serverNames];
    if ('connections' in context) {
      this.#auth = context.connections;
      this.#scope = context.connections;
      for (const server of this.serverNames) knownServer(context.connections.settings, server);
    } else {
      const scope = context.user === undefined ? context.auth : context.auth.forUser(context.user);
      this.#auth = context.auth;
      this.#scope = scope;
      // An unknown server is a SERVER_UNKNOWN error now, not at the first call.
      for (const server of this.serverNames) scope.server(server);
    }
    this.#names = new ToolNames(Object.keys(this.#auth.settings.mcp.servers));
  }

  /** The tools of every server of the agent, in server order, under their LLM-safe names. */
  async listTools(): Promise<AgentTool[]> {
    const lists = await Promise.all(this.serverNames.map((server) => this.#toolsOf(server)));
    return lists.flat();
  }

  /**
   * A model of the provider section `provider` (see `modelFor`), with this agent's instruction
   * and tools, keeping its conversation across calls (mcp-agent's `attach_llm`). Its requests go
   * with `options.fetch`, else `auth.fetch` (the HTTP stack when a proxy is set, else the global
   * `fetch`) or the connections' `fetch`. A tool's result reaches the model without its server's own secrets; each
   * tool call is told to `options.onToolCall` first, if given.
   */
  async attachLlm(provider: string, options: LlmOptions = {}): Promise<AugmentedLlm> {
    const settings = options.settings ?? this.#auth.settings;
    const fetch = options.fetch ?? this.#auth.fetch;
    const servers = this.#auth.settings.mcp.servers;
    // The app's credentials: an Entra ID or Google token is obtained once and renewed when due.
    const credentials = this.#auth.credentials;
    const model = (id?: string) =>
      modelFor(settings, provider, id, { credentials, ...(fetch ? { fetch } : {}) });
    return new AugmentedLlm({
      provider,
      model: await model(options.model),
      modelFor: model,
      instruction: this.instruction,
      tools: observedTools(() => this.listTools(), options.onToolCall),
      secretsOf: (server) => {
        const configured = servers[server];
        return configured ? secretValues(configured) : [];
      },
    });
  }

  async #toolsOf(server: string): Promise<readonly AgentTool[]> {
    const client = await this.#scope.connect(server);
    const listed = await toolsOfConnection(client);
    const kept = this.#offered.get(server);
    if (kept?.listed === listed && kept.client === client) return kept.tools;
    const entries = this.#auth.settings.mcp.servers[server]?.allowed_tools;
    const allowed = entries && allowedToolNames(server, entries);
    const tools = listed
      .filter((tool) => !allowed || allowed.has(tool.name))
      .map((tool) => this.#agentTool(server, client, tool));
    this.#offered.set(server, { listed, client, tools });
    return tools;
  }

  #agentTool(server: string, client: Client, tool: McpTool): AgentTool {
    return {
      name: this.#names.name(server, tool.name),
      server,
      tool,
      call: (args, signal) =>
        client.callTool({ name: tool.name, arguments: args }, signal ? { signal } : {}),
    };
  }
}

/**
 * `list`, its tools telling `onToolCall` of each call before it runs. One wrapper per tool, so the
 * model's tools stay the same objects while the agent's do (see `AugmentedLlm`'s tool set).
 */
function observedTools(
  list: () => Promise<AgentTool[]>,
  onToolCall: LlmOptions['onToolCall'],
): () => Promise<AgentTool[]> {
  if (!onToolCall) return list;
  const observed = new WeakMap<AgentTool, AgentTool>();
  const wrap = (tool: AgentTool): AgentTool => ({
    ...tool,
    call: async (args, signal) => {
      await onToolCall(tool, args);
      return tool.call(args, signal);
    },
  });
  return async () =>
    (await list()).map((tool) => {
      const kept = observed.get(tool) ?? wrap(tool);
      observed.set(tool, kept);
      return kept;
    });
}
