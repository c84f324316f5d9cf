/**
 * The typed API an app module uses to add its own tools and workflows:
 *
 * ```ts
 * import { defineApp } from 'mcp-agent-ts';
 * import * as z from 'zod';
 *
 * export default defineApp((app) => {
 *   app.tool('greet', { name: z.string() }, async ({ name }, { caller }) =>
 *     `Hello ${name}, you are ${caller?.subject ?? 'anonymous'}`, { scopes: ['greet'] });
 *   app.workflow('report', async (input, { signal }) => ({ pages: 3 }));
 *   app.agent('finder', { serverNames: ['fetch'], provider: 'openai' }, { as: 'tool' });
 * });
 * ```
 *
 * Workflows are served as mcp-agent names them: `workflows-<name>-run`, `workflows-get_status`
 * and `workflows-cancel`. An agent (`app.agent`) is served as a tool or a workflow that runs it on
 * behalf of the caller (see `served-agent.ts`).
 *
 * @module
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { Secret } from '../config/secret.js';
import type { CredentialProfiles } from '../credentials/profiles.js';
import { McpAgentError } from '../errors.js';
import { type CallerIdentity, enableCallerContext } from '../server/identity.js';
import type { ToolCallContext } from '../server/mcp-server.js';

/** Options of a tool or workflow. */
export interface ToolOptions {
  readonly description?: string;
  /** Scopes a caller needs to use it, beyond `authorization.required_scopes`. */
  readonly scopes?: readonly string[];
}

/** What a tool handler may return: a result, text, or any JSON value (sent as text). */
export type ToolReturn =
  | CallToolResult
  | string
  | Record<string, unknown>
  | unknown[]
  | number
  | boolean
  | null;

/** A tool handler. */
export type ToolHandler<A> = (
  args: A,
  context: ToolCallContext,
) => ToolReturn | Promise<ToolReturn>;

/** What a workflow run gets besides its input. */
export interface WorkflowContext {
  readonly caller: CallerIdentity | undefined;
  /** Aborted by `workflows-cancel`. */
  readonly signal: AbortSignal;
  readonly runId: string;
}

/** A workflow: runs in the background; its result is read with `workflows-get_status`. */
export type WorkflowRun = (
  input: Record<string, unknown>,
  context: WorkflowContext,
) => unknown | Promise<unknown>;

/** A tool as the app defined it. */
export interface AppTool {
  readonly name: string;
  readonly description?: string | undefined;
  readonly scopes: readonly string[];
  readonly inputSchema: z.ZodObject;
  readonly handler: ToolHandler<Record<string, unknown>>;
}

/** A workflow as the app defined it. */
export interface AppWorkflow {
  readonly name: string;
  readonly description?: string | undefined;
  readonly scopes: readonly string[];
  readonly run: WorkflowRun;
}

/** An agent an app serves (`app.agent`): mcp-agent's `Agent`, and the model it answers with. */
export interface ServedAgentSpec {
  /** The system instruction its model gets; default the definition's (see `definition`). */
  readonly instruction?: string | undefined;
  /**
   * The configured servers (`mcp.servers`) whose tools it offers, with the caller's tokens;
   * default the definition's (see `definition`).
   */
  readonly serverNames?: readonly string[] | undefined;
  /**
   * The entry of the configuration's `agents.definitions` whose `instruction` and `server_names`
   * fill those this spec omits. Default the agent's own name when `serverNames` is omitted (else
   * none). A name not defined there is a `CONFIG_INVALID` error of `createApp`.
   */
  readonly definition?: string | undefined;
  /** The provider section of the app's settings its model comes from (`openai`, `anthropic`, …). */
  readonly provider: string;
  /** The model id; default the provider section's `default_model`. */
  readonly model?: string | undefined;
  /** The most model calls of one answer (see `RequestParams.maxIterations`). */
  readonly maxIterations?: number | undefined;
}

/** The most characters of a served agent's prompt when `maxPromptChars` is not given. */
export const DEFAULT_MAX_PROMPT_CHARS = 32_000;

/**
 * How an agent is served: as a tool (default) or a workflow, with the options of either. Its
 * `description` is public (every caller who lists tools reads it); default `Ask the NAME agent.`,
 * never the instruction.
 */
export interface ServedAgentOptions extends ToolOptions {
  /**
   * The most characters of a prompt; a longer one is refused before the model is asked. Default
   * {@link DEFAULT_MAX_PROMPT_CHARS}.
   */
  readonly maxPromptChars?: number;
  /**
   * `tool`: a tool `NAME` taking `{ prompt }`, answering with the final text. `workflow`:
   * `workflows-NAME-run` with `run_parameters: { prompt }`, the final text its run's result.
   */
  readonly as?: 'tool' | 'workflow';
}

/** A served agent's spec once complete: its servers known. */
export type AppAgentSpec = Omit<ServedAgentSpec, 'serverNames' | 'definition'> & {
  readonly serverNames: readonly string[];
};

/** An agent as the app defined it. */
export interface AppAgent {
  readonly name: string;
  readonly spec: AppAgentSpec;
  readonly as: 'tool' | 'workflow';
}

/** An entry of `agents.definitions` (mcp-agent's `AgentSpec`), as {@link AppDefinition} reads it. */
export interface AgentDefinition {
  readonly name: string;
  readonly instruction?: string | undefined;
  readonly serverNames: readonly string[];
}

/** What `app.agent` was given, kept until the definitions are known (`createApp`). */
interface RequestedAgent {
  readonly spec: ServedAgentSpec;
}

/** What runs an app's agents for their callers (`createApp` attaches it; see `served-agent.ts`). */
export interface AgentRunner {
  /** The answer of `agent` to `prompt`, for the caller of a tool call. */
  answer(agent: AppAgent, prompt: string, context: ToolCallContext): Promise<CallToolResult>;
  /** The answer of `agent` to `prompt`, for the caller who started a workflow run. */
  run(agent: AppAgent, prompt: string, context: WorkflowContext): Promise<string>;
}

/** The builder an app module's setup function receives. */
export interface AppBuilder {
  /** Add a tool; `schema` is a zod object or the shape of one. */
  tool<S extends z.ZodRawShape>(
    name: string,
    schema: S | z.ZodObject<S>,
    handler: ToolHandler<z.output<z.ZodObject<S>>>,
    options?: ToolOptions,
  ): AppBuilder;
  /** Add a workflow (served as `workflows-<name>-run`). */
  workflow(name: string, run: WorkflowRun, options?: ToolOptions): AppBuilder;
  /**
   * Serve an agent as a tool `name` taking `{ prompt }` (or, with `as: 'workflow'`, as the
   * workflow `name`): it answers with its model's final text, calling the tools of its servers
   * with the caller's own tokens.
   */
  agent(name: string, spec: ServedAgentSpec, options?: ServedAgentOptions): AppBuilder;
  /**
   * `fetch` with the named credential of `credentials:` (an API key, a bearer token, Basic, or
   * OAuth 2.0 client credentials), to the hosts that profile lists only.
   */
  fetch(profile: string, url: string | URL, init?: RequestInit): Promise<Response>;
  /** The credentials of `credentials:`: `token(profile)` is a bearer or OAuth 2.0 profile's token. */
  readonly credentials: { token(profile: string): Promise<Secret> };
  /**
   * Make `currentCaller()` work anywhere in a tool's async work (an `AsyncLocalStorage`; it
   * costs 10 to 20 % of a trivial tool call's throughput on Node.js 20). Handlers always get
   * `context.caller` without it.
   */
  useCallerContext(): AppBuilder;
}

/** An app module's setup. */
export type AppSetup = (app: AppBuilder) => void | Promise<void>;

/** Mark `setup` as an app module's default export (typed help for the module's author). */
export function defineApp(setup: AppSetup): AppSetup {
  return setup;
}

/** A served tool name (the rule LLM function-calling APIs impose; see `config/tool-names.ts`). */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** `workflows-` + name + `-run` within 64 characters. */
const MAX_WORKFLOW_NAME = 64 - 'workflows--run'.length;

/** The tools and workflows a setup function defines. */
export class AppDefinition implements AppBuilder {
  readonly tools = new Map<string, AppTool>();
  readonly workflows = new Map<string, AppWorkflow>();
  readonly agents = new Map<string, AppAgent>();
  readonly #requested = new Map<string, RequestedAgent>();
  #credentials: CredentialProfiles | undefined;
  #runner: AgentRunner | undefined;

  /** Give the app's code its credentials (`createApp` does). */
  attach(credentials: CredentialProfiles): void {
    this.#credentials = credentials;
  }

  /** Give the app's agents what runs them (`createApp` does). */
  attachAgents(runner: AgentRunner): void {
    this.#runner = runner;
  }

  #agentRunner(): AgentRunner {
    if (!this.#runner) throw new Error('agents run once the app runs (createApp)');
    return this.#runner;
  }

  #profiles(): CredentialProfiles {
    if (!this.#credentials) {
      throw new Error(
        'credentials are available once the app runs (createApp), not while it is defined',
      );
    }
    return this.#credentials;
  }

  fetch(profile: string, url: string | URL, init?: RequestInit): Promise<Response> {
    return this.#profiles().fetch(profile, url, init);
  }

  readonly credentials = { token: (profile: string) => this.#profiles().token(profile) };

  tool<S extends z.ZodRawShape>(
    name: string,
    schema: S | z.ZodObject<S>,
    handler: ToolHandler<z.output<z.ZodObject<S>>>,
    options: ToolOptions = {},
  ): AppBuilder {
    this.#checkName(name, 'tool');
    const inputSchema = schema instanceof z.ZodObject ? schema : z.object(schema);
    this.tools.set(name, {
      name,
      description: options.description,
      scopes: [...(options.scopes ?? [])],
      inputSchema,
      handler: handler as ToolHandler<Record<string, unknown>>,
    });
    return this;
  }

  useCallerContext(): AppBuilder {
    enableCallerContext();
    return this;
  }

  workflow(name: string, run: WorkflowRun, options: ToolOptions = {}): AppBuilder {
    this.#checkName(name, 'workflow');
    if (this.workflows.has(name)) throw new Error(`workflow "${name}" is defined twice`);
    this.workflows.set(name, {
      name,
      description: options.description,
      scopes: [...(options.scopes ?? [])],
      run,
    });
    return this;
  }

  agent(name: string, spec: ServedAgentSpec, options: ServedAgentOptions = {}): AppBuilder {
    if (this.agents.has(name)) throw new Error(`agent "${name}" is defined twice`);
    const { as = 'tool', maxPromptChars = DEFAULT_MAX_PROMPT_CHARS, ...toolOptions } = options;
    const { definition: _, ...own } = spec;
    const agent: AppAgent = {
      name,
      spec: { ...own, serverNames: [...(spec.serverNames ?? [])] },
      as,
    };
    const described = { ...toolOptions, description: descriptionOf(name, options.description) };
    // The agent is read when called: `useAgentDefinitions` may have completed it.
    const current = () => this.agents.get(name) ?? agent;
    if (as === 'workflow') {
      this.workflow(
        name,
        (input, context) => {
          const prompt = promptOf(input, maxPromptChars);
          return this.#agentRunner().run(current(), prompt, context);
        },
        described,
      );
    } else {
      this.tool(
        name,
        {
          prompt: z
            .string()
            .max(maxPromptChars, `The prompt is longer than ${maxPromptChars} characters.`)
            .describe('What to ask the agent.'),
        },
        ({ prompt }, context) => this.#agentRunner().answer(current(), prompt, context),
        described,
      );
    }
    this.agents.set(name, agent);
    this.#requested.set(name, { spec });
    return this;
  }

  /**
   * Complete the agents whose spec leaves its instruction or servers to an entry of
   * `agents.definitions` (`createApp` does, with the configuration's). An entry not there is a
   * `CONFIG_INVALID` error.
   */
  useAgentDefinitions(definitions: readonly AgentDefinition[]): void {
    for (const [name, { spec }] of this.#requested) {
      const wanted = spec.definition ?? (spec.serverNames === undefined ? name : undefined);
      const agent = this.agents.get(name);
      if (wanted === undefined || !agent) continue;
      const found = definitions.find((candidate) => candidate.name === wanted);
      if (!found) throw unknownDefinition(name, wanted, definitions);
      const instruction = spec.instruction ?? found.instruction;
      const serverNames = [...(spec.serverNames ?? found.serverNames)];
      this.agents.set(name, { ...agent, spec: { ...agent.spec, instruction, serverNames } });
    }
  }

  #checkName(name: string, what: string): void {
    const max = what === 'workflow' ? MAX_WORKFLOW_NAME : 64;
    if (!NAME.test(name) || name.length > max) {
      throw new Error(
        `${what} name "${name}" must be 1-${max} letters, digits, "_" or "-" (the tool-name rule of LLM APIs)`,
      );
    }
    if (what === 'tool' && (this.tools.has(name) || name.startsWith('workflows-'))) {
      throw new Error(`tool "${name}" is defined twice or uses the reserved "workflows-" prefix`);
    }
  }
}

/**
 * A served agent's (public) description: the given one, else "Ask the NAME agent." (never its
 * instruction, which its author may keep to themselves).
 */
function descriptionOf(name: string, description: string | undefined): string {
  return description ?? `Ask the ${name} agent.`;
}

/** The error of an agent whose `agents.definitions` entry is missing. */
function unknownDefinition(
  agent: string,
  wanted: string,
  definitions: readonly AgentDefinition[],
): McpAgentError {
  const known = definitions.map((definition) => definition.name);
  return new McpAgentError(
    'CONFIG_INVALID',
    `The served agent "${agent}" takes its instruction and servers from agents.definitions, which has no agent "${wanted}"${known.length > 0 ? ` (defined: ${known.join(', ')})` : ''}: add it there, or give the agent its serverNames.`,
  );
}

/** The `prompt` of an agent workflow's `run_parameters`, of at most `max` characters. */
function promptOf(input: Record<string, unknown>, max: number): string {
  if (typeof input.prompt !== 'string') {
    throw new Error('run_parameters.prompt must be a string: what to ask the agent');
  }
  if (input.prompt.length > max) {
    throw new Error(`run_parameters.prompt is longer than ${max} characters.`);
  }
  return input.prompt;
}

/** `value` as a tool result. */
export function toResult(value: ToolReturn): CallToolResult {
  if (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Array.isArray((value as { content?: unknown }).content)
  ) {
    return value as CallToolResult;
  }
  if (typeof value === 'string') return { content: [{ type: 'text', text: value }] };
  return { content: [{ type: 'text', text: JSON.stringify(value ?? null) }] };
}
