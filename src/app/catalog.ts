/**
 * The tools the app serves: its own (from the app module), its workflows' tools, and the
 * downstream servers' tools under their served names (`SERVER_TOOL`, see {@link ToolNames}).
 * Scopes per tool come from the app module (`{ scopes }`) and from `authorization.tool_scopes`. A
 * downstream server that cannot be listed is left out of `tools/list` with a warning, not the
 * whole list.
 *
 * @module
 */
import type { Tool } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { CallerScopes } from '../client/caller-scopes.js';
import { maskUrlCredentials } from '../config/mask.js';
import {
  frontToolName,
  isHashedToolName,
  legacyToolIdentity,
  ToolNames,
} from '../config/tool-names.js';
import type { Logger } from '../logger.js';
import { contentScopes } from '../server/content-scopes.js';
import { type CallerIdentity, principalOf } from '../server/identity.js';
import type { ContentCatalog } from '../server/mcp-content.js';
import type { ServedTool, ToolCallContext, ToolCatalog } from '../server/mcp-server.js';
import { endsRequest } from '../server/protocol-errors.js';
import { type CallerLog, teeToSession } from '../server/session-log.js';
import type { AggregatedTool } from '../servers/aggregator.js';
import { scrub, secretValues } from '../servers/credentials.js';
import { capabilitySetOf, type DownstreamPeer } from '../servers/peer.js';
import { type AppDefinition, type AppWorkflow, toResult } from './define.js';
import { handedOver, withDelegatedLogin } from './delegated-login.js';
import { relayed } from './input-relay.js';
import { type ContentNaming, DownstreamContent } from './resources.js';
import { storeCredentialsTool } from './store-credentials.js';
import { WorkflowLimitError, type WorkflowRuns } from './workflows.js';

const ANONYMOUS = 'anonymous';

function jsonSchema(schema: z.ZodObject): Tool['inputSchema'] {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as Record<
    string,
    unknown
  >;
  return { ...rest, type: 'object' } as Tool['inputSchema'];
}

/** `value` as a tool result: its text (JSON unless a string), an error result with `isError`. */
export function text(value: unknown, isError = false) {
  return {
    ...(isError ? { isError: true } : {}),
    content: [
      { type: 'text' as const, text: typeof value === 'string' ? value : JSON.stringify(value) },
    ],
  };
}

/**
 * `authorization.tool_scopes` by served name. A key is an app tool's name, a served name (as
 * `tools/list` shows it), or the old `SERVER/TOOL` spelling of a configured server's tool, which
 * is taken as that tool's served name (`config check` warns about it). Every tool has exactly one
 * served name and calls are looked up by exact name, so a rule binds to the (server, tool), not to
 * a spelling. Own keys only (`constructor` is not a tool).
 */
export function toolScopeMap(
  scopes: Readonly<Record<string, readonly string[]>>,
  names: ToolNames,
): Map<string, readonly string[]> {
  const map = new Map<string, readonly string[]>();
  for (const key of Object.keys(scopes)) {
    const value = Object.hasOwn(scopes, key) ? scopes[key] : undefined;
    if (!value) continue;
    // App tool names have no "/": a key with one is a downstream tool's.
    const legacy = legacyToolIdentity(key);
    const name =
      legacy && names.stem(legacy.server) !== undefined
        ? names.name(legacy.server, legacy.tool)
        : key;
    map.set(name, [...new Set([...(map.get(name) ?? []), ...value])]);
  }
  return map;
}

/**
 * The scope that reaches `server` for `caller` (the caller's own, or the app's for a server every
 * caller shares), its aggregator, and the authorization a login of the caller's would go to. A
 * shared server (its configured token serves everyone) never asks a caller to log in: the account
 * they would sign in with would become everybody's.
 */
export function downstreamRoute(
  scopes: CallerScopes,
  server: string,
  caller: CallerIdentity | undefined,
) {
  const own = scopes.perCallerServers.includes(server);
  const scope = own ? scopes.scopeFor(caller) : scopes.app;
  const settings = scope.registry.settings(server);
  const auth = own ? scope.tokens.forServer(server, settings) : undefined;
  return { scope, aggregator: scope.aggregator, auth };
}

/**
 * What a log line sent to a caller is passed through: every configured server's secrets (env and
 * header values, keys, tokens) and the credentials of URLs replaced by `[redacted]`.
 */
function scrubberOf(scopes: CallerScopes | undefined): (text: string) => string {
  const registry = scopes?.app.registry;
  const secrets = registry?.names().flatMap((name) => secretValues(registry.settings(name))) ?? [];
  return (text) => maskUrlCredentials(scrub(text, secrets));
}

/** How a downstream call carries the caller's cancellation, progress and log. */
/**
 * A log line as a caller sees it: its sentence without the details after the first ": " (the
 * library's text, which names URLs and configuration keys, stays in the app's log).
 */
function summary(message: string): string {
  const end = message.indexOf(': ');
  return end === -1 ? message : message.slice(0, end);
}

function callOptions(context: ToolCallContext) {
  return {
    signal: context.signal,
    onprogress: context.onprogress,
    log: context.log,
    peer: context.peer,
    relatedRequest: context.requestId,
  };
}

/**
 * The key of a server's known tool listing: a listing on a peer's own connection may hold tools
 * the server offers only to clients that can answer, so listings are kept per capability set.
 */
function knownKey(server: string, peer: DownstreamPeer | undefined): string {
  return `${server}\u0000${JSON.stringify(capabilitySetOf(peer?.capabilities ?? {}))}`;
}

function signInDefinition(name: string, server: string) {
  return {
    name,
    description: `Sign in to ${server} so that the agent can use its tools on your behalf.`,
    inputSchema: { type: 'object' as const },
  };
}

/** A downstream tool's definition as the client side types it, served as is (the same shape). */
function servedDefinition(definition: AggregatedTool['definition']): Tool {
  return definition as Tool;
}

/**
 * How downstream tools are named: `namespaced` (mcp-agent's `SERVER_TOOL`, see {@link ToolNames})
 * or `transparent` (front mode: the one server's tools under their own names, no app tools).
 */
export type CatalogNaming = 'namespaced' | 'transparent';

/**
 * `authorization.tool_scopes` of front mode, by the fronted server's own tool names: each key as
 * written, and a namespaced key (`SERVER_TOOL`, `SERVER/TOOL`) also as its TOOL (see
 * {@link frontToolName}), so a rule never protects less than it did.
 */
export function transparentToolScopeMap(
  scopes: Readonly<Record<string, readonly string[]>>,
  server: string,
): Map<string, readonly string[]> {
  const map = new Map<string, readonly string[]>();
  const add = (name: string, value: readonly string[]) =>
    map.set(name, [...new Set([...(map.get(name) ?? []), ...value])]);
  for (const key of Object.keys(scopes)) {
    const value = Object.hasOwn(scopes, key) ? scopes[key] : undefined;
    if (!value) continue;
    add(key, value);
    const tool = frontToolName(key, server);
    if (tool !== undefined) add(tool, value);
  }
  return map;
}

/** Options of {@link AppCatalog}. */
export interface AppCatalogOptions {
  readonly app: AppDefinition;
  readonly runs: WorkflowRuns;
  /** The downstream servers, per caller (see {@link CallerScopes}). */
  readonly scopes?: CallerScopes | undefined;
  /** The sign-in check's URL for a caller's flow (authorization on), else `undefined`. */
  readonly connectUrl?: ((flowId: string) => string | undefined) | undefined;
  /** `authorization.tool_scopes`. */
  readonly toolScopes?: Readonly<Record<string, readonly string[]>>;
  /** `authorization.prompt_scopes` (see {@link contentScopes}). */
  readonly promptScopes?: Readonly<Record<string, readonly string[]>>;
  /** `authorization.resource_scopes` (see {@link contentScopes}). */
  readonly resourceScopes?: Readonly<Record<string, readonly string[]>>;
  /** How downstream prompts and resources are named (default: mcp-agent's, `SERVER_NAME`). */
  readonly contentNaming?: ContentNaming | undefined;
  readonly logger?: Logger | undefined;
  /**
   * Default `namespaced`. `transparent` needs exactly one configured server and an app without
   * tools or workflows (front mode, see `front.ts`): it serves that server's tools only.
   */
  readonly naming?: CatalogNaming | undefined;
}

/** The served tools of one app. */
export class AppCatalog implements ToolCatalog {
  readonly #options: AppCatalogOptions;
  readonly #own: ServedTool[];
  /** What a line sent to a caller is passed through (see {@link scrubberOf}). */
  readonly #scrub: (text: string) => string;

  readonly #toolScopes: ReadonlyMap<string, readonly string[]>;
  readonly #names: ToolNames;
  readonly #connect = (flowId: string): string | undefined => this.#options.connectUrl?.(flowId);
  /** The last tool list of each downstream server (shown to callers not logged in yet). */
  readonly #known = new Map<string, AggregatedTool[]>();
  /** Downstream names an app tool shadows that the log has been told about. */
  readonly #shadowWarned = new Set<string>();
  /** The downstream servers' resources, prompts and completions (none without servers). */
  readonly content: ContentCatalog | undefined;
  /** Scopes of a prompt, resource or completion request (see {@link contentScopes}). */
  readonly scopesForRequest: (method: string, params: unknown) => readonly string[];

  /** The fronted server in `transparent` naming, else `undefined`. */
  readonly #front: string | undefined;

  constructor(options: AppCatalogOptions) {
    this.#options = options;
    this.content =
      options.scopes &&
      new DownstreamContent({
        scopes: options.scopes,
        naming: options.contentNaming,
        connectUrl: options.connectUrl,
        logger: options.logger,
      });
    this.scopesForRequest = contentScopes(options.promptScopes ?? {}, options.resourceScopes ?? {});
    this.#scrub = scrubberOf(options.scopes);
    this.#names = options.scopes?.names ?? new ToolNames([]);
    this.#front = transparentServer(options);
    this.#toolScopes =
      this.#front === undefined
        ? toolScopeMap(options.toolScopes ?? {}, this.#names)
        : transparentToolScopeMap(options.toolScopes ?? {}, this.#front);
    this.#own = [
      ...[...options.app.tools.values()].map(
        (tool): ServedTool => ({
          definition: {
            name: tool.name,
            ...(tool.description ? { description: tool.description } : {}),
            inputSchema: jsonSchema(tool.inputSchema),
          },
          scopes: tool.scopes,
          call: async (args, context) => {
            const parsed = tool.inputSchema.safeParse(args);
            if (!parsed.success) {
              return text(
                `Invalid arguments for ${tool.name}: ${z.prettifyError(parsed.error)}`,
                true,
              );
            }
            return toResult(await tool.handler(parsed.data, context));
          },
        }),
      ),
      ...this.#workflowTools(),
      // Front mode serves the server's tools and nothing of the app's own.
      ...(options.scopes && options.scopes.perCallerServers.length > 0 && this.#front === undefined
        ? [storeCredentialsTool(options.scopes, [...options.app.workflows.keys()])]
        : []),
    ];
  }

  #workflowTools(): ServedTool[] {
    const { app, runs } = this.#options;
    const workflows = [...app.workflows.values()];
    if (workflows.length === 0) return [];
    const principal = (caller: Parameters<typeof principalOf>[0] | undefined) =>
      caller ? principalOf(caller) : ANONYMOUS;
    const byRun = {
      type: 'object' as const,
      properties: { run_id: { type: 'string' }, workflow_id: { type: 'string' } },
      required: ['run_id'],
    };
    const runIdOf = (args: Record<string, unknown>) =>
      typeof args.run_id === 'string' ? args.run_id : '';
    const allScopes = [...new Set(workflows.flatMap((workflow) => workflow.scopes))];
    return [
      ...workflows.map(
        (workflow: AppWorkflow): ServedTool => ({
          definition: {
            name: `workflows-${workflow.name}-run`,
            description: workflow.description ?? `Start the ${workflow.name} workflow.`,
            inputSchema: {
              type: 'object',
              properties: { run_parameters: { type: 'object', additionalProperties: true } },
            },
          },
          scopes: workflow.scopes,
          call: async (args, context) => {
            const input = args.run_parameters;
            if (
              input !== undefined &&
              (input === null || typeof input !== 'object' || Array.isArray(input))
            ) {
              return text('run_parameters must be an object', true);
            }
            try {
              return text(
                await runs.start(
                  workflow,
                  (input ?? {}) as Record<string, unknown>,
                  principal(context.caller),
                  context.caller,
                ),
              );
            } catch (error) {
              if (error instanceof WorkflowLimitError) return text(error.message, true);
              throw error;
            }
          },
        }),
      ),
      {
        definition: {
          name: 'workflows-get_status',
          description: 'The status (and result) of a workflow run.',
          inputSchema: byRun,
        },
        scopes: [],
        call: async (args, context) => {
          const state = await runs.status(runIdOf(args), principal(context.caller));
          return state ? text(state) : text(`No workflow run ${runIdOf(args)}.`, true);
        },
      },
      {
        definition: {
          name: 'workflows-cancel',
          description: 'Cancel a running workflow run.',
          inputSchema: byRun,
        },
        scopes: allScopes.length === 1 ? allScopes : [],
        call: async (args, context) => {
          const state = await runs.cancel(runIdOf(args), principal(context.caller));
          return state ? text(state) : text(`No workflow run ${runIdOf(args)}.`, true);
        },
      },
    ];
  }

  /** The app's logger, whose lines also go (as summaries) to `session`, the caller's log. */
  #logger(session: CallerLog | undefined): Logger | undefined {
    const logger = this.#options.logger;
    return logger && teeToSession(logger, session, this.#scrub, summary);
  }

  scopesFor(name: string): readonly string[] {
    const configured = this.#toolScopes.get(name) ?? [];
    const own = this.#own.find((tool) => tool.definition.name === name)?.scopes ?? [];
    return own.length === 0 ? configured : [...new Set([...own, ...configured])];
  }

  async list(
    caller?: CallerIdentity,
    log?: CallerLog,
    peer?: DownstreamPeer,
  ): Promise<readonly ServedTool[]> {
    return [...this.#own, ...(await this.#downstream(caller, log, peer))];
  }

  async definition(name: string, caller?: CallerIdentity): Promise<Tool | undefined> {
    const own = this.#own.find((tool) => tool.definition.name === name);
    if (own) return own.definition;
    const scopes = this.#options.scopes;
    const server = this.#front ?? this.#names.ownerOf(name);
    if (!scopes || server === undefined) return undefined;
    if (!scopes.sharedServers.includes(server) && !scopes.perCallerServers.includes(server)) {
      return undefined;
    }
    // Only this server's listing (cached per connection): another server, slow or down, is not
    // asked. A failed listing checks nothing here; the call itself then fails or signs in.
    const listed = this.#front === undefined ? name : this.#names.name(server, name);
    const { aggregator } = this.#route(server, caller);
    const tools = (await aggregator?.listServerTools(server).catch(() => undefined)) ?? [];
    const tool = tools.find((one) => one.name === listed);
    return tool && { ...servedDefinition(tool.definition), name };
  }

  async find(name: string, caller?: CallerIdentity): Promise<ServedTool | undefined> {
    if (this.#front !== undefined) return this.#findOwnName(this.#front, name, caller);
    const own = this.#own.find((tool) => tool.definition.name === name);
    if (own) return own;
    const scopes = this.#options.scopes;
    const server = this.#names.ownerOf(name);
    if (!scopes || server === undefined) return undefined;
    const perCaller = scopes.perCallerServers.includes(server);
    if (!perCaller && !scopes.sharedServers.includes(server)) return undefined;
    if (perCaller && name === this.#names.signInName(server)) return this.#signIn(server, caller);
    // Only a name some tool of the server can have. Which tool it is, the server's listing says
    // when it is called (the scopes were looked up by this exact name, which no other tool has).
    if (!this.#names.plainIdentity(name) && !isHashedToolName(name)) return undefined;
    return this.#served(name, server, caller);
  }

  /** Front mode's `find`: `name` is the tool's own name on `server` (or the sign-in stand-in). */
  #findOwnName(server: string, name: string, caller: CallerIdentity | undefined): ServedTool {
    const scopes = this.#options.scopes as CallerScopes;
    if (scopes.perCallerServers.includes(server) && name === this.#names.signInName(server)) {
      return this.#signIn(server, caller);
    }
    return this.#served(this.#names.name(server, name), server, caller, undefined, name);
  }

  /** The aggregator that reaches `server` for `caller` (see {@link downstreamRoute}). */
  #route(server: string, caller: CallerIdentity | undefined) {
    return downstreamRoute(this.#options.scopes as CallerScopes, server, caller);
  }

  /** The stand-in tool that signs the caller in to `server` and lists its tools. */
  #signIn(server: string, caller: CallerIdentity | undefined): ServedTool {
    return {
      definition: signInDefinition(this.#names.signInName(server), server),
      scopes: [],
      call: async (_args, context) => {
        const { aggregator, auth } = this.#route(server, context.caller ?? caller);
        try {
          return await withDelegatedLogin(server, auth, context, this.#connect, async () => {
            const tools = (await aggregator?.listServerTools(server)) ?? [];
            this.#known.set(knownKey(server, undefined), tools);
            return text(
              `Signed in to ${server}; its tools are available: ${tools.map((tool) => tool.name).join(', ') || '(none)'}. List the tools again to see them.`,
            );
          });
        } catch (error) {
          if (endsRequest(error)) throw error;
          this.#logger(context.log)?.warn(
            `signing in to server "${server}" failed: ${error instanceof Error ? error.message : 'unknown error'}`,
            { server },
          );
          return text(`Signing in to ${server} failed; try again later.`, true);
        }
      },
    };
  }

  /**
   * The served tool the aggregator knows as `name`, offered to callers as `shown` (the same name,
   * or in front mode the tool's own).
   */
  #served(
    name: string,
    server: string,
    caller: CallerIdentity | undefined,
    definition?: Tool,
    shown = name,
  ): ServedTool {
    return {
      definition: definition ?? { name: shown, inputSchema: { type: 'object' } },
      scopes: this.scopesFor(shown),
      call: async (args, context) => {
        const { aggregator, auth } = this.#route(server, context.caller ?? caller);
        try {
          return await withDelegatedLogin(server, auth, context, this.#connect, () => {
            if (!aggregator) throw new Error(`server ${server} is not reachable`);
            // On 2026-07-28 the server's input requests go to the caller (input-relay.ts).
            return relayed(server, context.modern, (relay) =>
              relay
                ? aggregator.callTool(name, args, { ...callOptions(context), relay })
                : aggregator.callTool(name, args, callOptions(context)),
            );
          });
        } catch (error) {
          if (endsRequest(error)) throw error;
          // The library's sentences name servers, URLs and config keys: for the log, not callers.
          this.#logger(context.log)?.warn(
            `tool "${shown}" failed: ${error instanceof Error ? error.message : 'unknown error'}`,
            { tool: shown },
          );
          return text(`The tool ${shown} could not be run right now.`, true);
        }
      },
    };
  }

  async #downstream(
    caller: CallerIdentity | undefined,
    log: CallerLog | undefined,
    peer: DownstreamPeer | undefined,
  ): Promise<ServedTool[]> {
    const scopes = this.#options.scopes;
    if (!scopes) return [];
    const servers = [...scopes.sharedServers, ...scopes.perCallerServers];
    const lists = await Promise.all(
      servers.map(async (server) => {
        const { aggregator } = this.#route(server, caller);
        try {
          const tools = (await aggregator?.listServerTools(server, peer)) ?? [];
          this.#known.set(knownKey(server, peer), tools);
          return tools;
        } catch (error) {
          // A caller not logged in yet still sees the server's tools (as another caller with the
          // same capabilities, else one with none, listed them): calling one starts the login.
          const known =
            this.#known.get(knownKey(server, peer)) ?? this.#known.get(knownKey(server, undefined));
          if (handedOver(error)) {
            if (known) return known;
            // Nobody listed its tools yet: a tool that starts the caller's sign-in stands in.
            const name = this.#names.signInName(server);
            const definition: AggregatedTool['definition'] = signInDefinition(name, server);
            return [{ name, server, tool: '', definition }];
          }
          this.#logger(log)?.warn(
            `the tools of server "${server}" are left out: ${error instanceof Error ? error.message : 'unknown error'}`,
            { server },
          );
          return [];
        }
      }),
    );
    return lists
      .flat()
      .filter((tool) => !this.#shadowed(tool, log))
      .map((tool) =>
        tool.name === this.#names.signInName(tool.server)
          ? this.#signIn(tool.server, caller)
          : this.#servedAs(tool, caller),
      );
  }

  /** A downstream tool under its served name (in front mode, its own). */
  #servedAs(tool: AggregatedTool, caller: CallerIdentity | undefined): ServedTool {
    const shown = this.#front === undefined ? tool.name : tool.tool;
    const definition = { ...servedDefinition(tool.definition), name: shown };
    return this.#served(tool.name, tool.server, caller, definition, shown);
  }

  /** Whether an app tool has the name of downstream `tool` (the app's own wins; logged once). */
  #shadowed(tool: AggregatedTool, log: CallerLog | undefined): boolean {
    if (!this.#own.some((own) => own.definition.name === tool.name)) return false;
    if (this.#shadowWarned.has(tool.name)) return true;
    this.#shadowWarned.add(tool.name);
    this.#logger(log)?.warn(
      `the tool "${tool.tool}" of server "${tool.server}" is not offered: the app has a tool named "${tool.name}"`,
      { server: tool.server },
    );
    return true;
  }
}

/** The fronted server of `transparent` naming (which needs exactly one configured server). */
function transparentServer(options: AppCatalogOptions): string | undefined {
  if (options.naming !== 'transparent') return undefined;
  const servers = options.scopes?.app.registry.names() ?? [];
  const [server] = servers;
  if (servers.length !== 1 || server === undefined) {
    throw new TypeError(`transparent naming serves exactly one server, not ${servers.length}`);
  }
  if (options.app.tools.size > 0 || options.app.workflows.size > 0) {
    throw new TypeError('transparent naming serves no app tools or workflows');
  }
  return server;
}
