/**
 * The tools the app serves: its own (from the app module), its workflows' three tools, and the
 * downstream servers' tools as `SERVER/TOOL`. Scopes per tool come from the app module
 * (`{ scopes }`) and from `authorization.tool_scopes`. A downstream server that cannot be listed
 * is left out of `tools/list` with a warning, not the whole list.
 *
 * @module
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import type { Logger } from '../logger.js';
import { principalOf } from '../server/identity.js';
import type { ServedTool, ToolCatalog } from '../server/mcp-server.js';
import { namespacedName, parseNamespacedName, type ToolAggregator } from '../servers/aggregator.js';
import { type AppDefinition, type AppWorkflow, toResult } from './define.js';
import { WorkflowLimitError, type WorkflowRuns } from './workflows.js';

const ANONYMOUS = 'anonymous';

function jsonSchema(schema: z.ZodObject): Tool['inputSchema'] {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as Record<
    string,
    unknown
  >;
  return { ...rest, type: 'object' } as Tool['inputSchema'];
}

function text(value: unknown, isError = false) {
  return {
    ...(isError ? { isError: true } : {}),
    content: [
      { type: 'text' as const, text: typeof value === 'string' ? value : JSON.stringify(value) },
    ],
  };
}

/** The one spelling of a downstream tool name (`SERVER/TOOL`, escaped), or `undefined`. */
export function canonicalToolName(name: string): string | undefined {
  const parsed = parseNamespacedName(name);
  return parsed ? namespacedName(parsed.server, parsed.tool) : undefined;
}

/**
 * `authorization.tool_scopes` by the names tools are called with: a downstream tool's key is
 * brought to its escaped spelling (`down/a/b` → `down/a~1b`), an app tool's kept as written. Own
 * keys only (`constructor` is not a tool).
 */
export function toolScopeMap(
  scopes: Readonly<Record<string, readonly string[]>>,
): Map<string, readonly string[]> {
  const map = new Map<string, readonly string[]>();
  for (const key of Object.keys(scopes)) {
    const value = Object.hasOwn(scopes, key) ? scopes[key] : undefined;
    if (!value) continue;
    const name = key.includes('/') ? (canonicalToolName(key) ?? key) : key;
    map.set(name, [...new Set([...(map.get(name) ?? []), ...value])]);
  }
  return map;
}

/** Options of {@link AppCatalog}. */
export interface AppCatalogOptions {
  readonly app: AppDefinition;
  readonly runs: WorkflowRuns;
  readonly aggregator?: ToolAggregator | undefined;
  /** `authorization.tool_scopes`. */
  readonly toolScopes?: Readonly<Record<string, readonly string[]>>;
  readonly logger?: Logger | undefined;
}

/** The served tools of one app. */
export class AppCatalog implements ToolCatalog {
  readonly #options: AppCatalogOptions;
  readonly #own: ServedTool[];

  readonly #toolScopes: ReadonlyMap<string, readonly string[]>;

  constructor(options: AppCatalogOptions) {
    this.#options = options;
    this.#toolScopes = toolScopeMap(options.toolScopes ?? {});
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
                runs.start(
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
          const state = runs.status(runIdOf(args), principal(context.caller));
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
          const state = runs.cancel(runIdOf(args), principal(context.caller));
          return state ? text(state) : text(`No workflow run ${runIdOf(args)}.`, true);
        },
      },
    ];
  }

  scopesFor(name: string): readonly string[] {
    const configured = this.#toolScopes.get(name) ?? [];
    const own = this.#own.find((tool) => tool.definition.name === name)?.scopes ?? [];
    return own.length === 0 ? configured : [...new Set([...own, ...configured])];
  }

  async list(): Promise<readonly ServedTool[]> {
    const downstream = await this.#downstream();
    return [...this.#own, ...downstream];
  }

  async find(name: string): Promise<ServedTool | undefined> {
    const own = this.#own.find((tool) => tool.definition.name === name);
    if (own) return own;
    const aggregator = this.#options.aggregator;
    // One spelling per tool: the one tools/list shows (escaped), which is also the one its scopes
    // are looked up by. `down/a/b` and `down/a~1b` would otherwise reach the same tool.
    if (!aggregator || canonicalToolName(name) !== name) return undefined;
    return this.#served(name, aggregator);
  }

  #served(name: string, aggregator: ToolAggregator, definition?: Tool): ServedTool {
    return {
      definition: definition ?? { name, inputSchema: { type: 'object' } },
      scopes: this.scopesFor(name),
      call: async (args) => {
        try {
          return await aggregator.callTool(name, args);
        } catch (error) {
          // The library's sentences name servers, URLs and config keys: for the log, not callers.
          this.#options.logger?.warn(
            `tool "${name}" failed: ${error instanceof Error ? error.message : 'unknown error'}`,
            { tool: name },
          );
          return text(`The tool ${name} could not be run right now.`, true);
        }
      },
    };
  }

  async #downstream(): Promise<ServedTool[]> {
    const aggregator = this.#options.aggregator;
    if (!aggregator) return [];
    const servers = aggregator.servers;
    const lists = await Promise.all(
      servers.map((server) =>
        aggregator.listServerTools(server).catch((error: unknown) => {
          this.#options.logger?.warn(
            `the tools of server "${server}" are left out: ${error instanceof Error ? error.message : 'unknown error'}`,
            { server },
          );
          return [];
        }),
      ),
    );
    return lists
      .flat()
      .map((tool) => this.#served(tool.name, aggregator, { ...tool.definition, name: tool.name }));
  }
}
