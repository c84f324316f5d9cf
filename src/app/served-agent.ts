/**
 * The agents an app serves (`app.agent`), run on behalf of their caller: each call makes an
 * {@link Agent} on the caller's own downstream connections (the scope `downstreamRoute` gives the
 * proxied tools too: the caller's tokens, or the app's for a server every caller shares), so every
 * token, refresh and step-up rule applies and no caller's token serves another. The model is
 * offered only the tools the caller may call directly (`mayCall`: `authorization.tool_scopes`).
 * A login the loop needs reaches the caller as the proxied tools' do (`signInFor`: a URL
 * elicitation, or the URL-elicitation-required error). One a tool call needs, with a client that
 * opens URLs, happens inside that call, which is then made again: the loop goes on, nothing before
 * it runs twice. Otherwise (a login before the first model call, or a client that cannot open
 * URLs) the answer is asked for again once it is done. Progress is reported per model call and per
 * tool call; the request's signal stops the loop (the AI SDK's `abortSignal`: no further model
 * call, the running tool call cancelled).
 *
 * The agent layer (and the AI SDK) is imported when the app has agents, not by `createApp` alone.
 *
 * @module
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Agent, AgentConnections, AgentSpec, AgentTool } from '../agent/agent.js';
import type { CallerScopes } from '../client/caller-scopes.js';
import type { Settings } from '../config/schema/settings.js';
import type { CredentialProfiles } from '../credentials/profiles.js';
import { isMcpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import type { Logger } from '../logger.js';
import type { CallerIdentity } from '../server/identity.js';
import type { ToolCallContext } from '../server/mcp-server.js';
import { isProtocolError, requiredElicitationUrl } from '../server/protocol-errors.js';
import { downstreamRoute, text } from './catalog.js';
import type { AgentRunner, AppAgent, AppDefinition, WorkflowContext } from './define.js';
import { handedOver, signInFor, withDelegatedLogin } from './delegated-login.js';

/** What {@link ServedAgents} runs agents with. */
export interface ServedAgentsOptions {
  /** The app's settings: `mcp.servers` and the provider sections. */
  readonly settings: Settings;
  /** The downstream scopes of the app and of each caller. */
  readonly scopes: CallerScopes;
  /** The sign-in check's URL for a caller's flow (authorization on), else `undefined`. */
  readonly connectUrl: (flowId: string) => string | undefined;
  /** The `fetch` of model requests (the app's HTTP stack: its proxy settings). */
  readonly fetch: FetchLike;
  /**
   * The app's named credentials (`credentials:`): a `credentials.azure` or `credentials.google`
   * profile's token is obtained once and renewed by them, for every call of every agent.
   */
  readonly credentials?: CredentialProfiles | undefined;
  /**
   * Whether `caller` may call the served downstream tool `tool` directly (the rule of the proxied
   * tools: `authorization.tool_scopes`); an agent offers its model only those. Default: all.
   */
  readonly mayCall?: ((caller: CallerIdentity | undefined, tool: string) => boolean) | undefined;
  /** Where a failed answer (scrubbed of the settings' secrets) and a cancelled one are told. */
  readonly logger: Logger;
}

/** What an answer is asked with: the caller, the request's signal, progress if asked for. */
/** A tool call's result as the agent layer types it. */
type AgentToolResult = Awaited<ReturnType<AgentTool['call']>>;

/** An agent tool's result as served: the same wire shape. */
function fromAgent(result: AgentToolResult): CallToolResult {
  return result as CallToolResult;
}

type AnswerContext = Pick<
  ToolCallContext,
  'caller' | 'signal' | 'elicitUrl' | 'elicitationComplete' | 'progress' | 'peer' | 'requestId'
>;

/** Runs an app's agents for their callers (see the module). */
export class ServedAgents implements AgentRunner {
  readonly #options: ServedAgentsOptions;

  constructor(options: ServedAgentsOptions) {
    this.#options = options;
  }

  /**
   * Check `agents` against the settings now, not at their first call: each server configured
   * (`SERVER_UNKNOWN`), a model of each provider section can be made (`MODEL_CONFIG`).
   */
  async check(agents: Iterable<AppAgent>): Promise<void> {
    const list = [...agents];
    if (list.length === 0) return;
    const [{ knownServer }, { modelFor }] = await Promise.all([
      import('../agent/agent.js'),
      import('../agent/models.js'),
    ]);
    const { settings, credentials } = this.#options;
    for (const { spec } of list) {
      for (const server of spec.serverNames) knownServer(settings, server);
      await modelFor(settings, spec.provider, spec.model, credentials ? { credentials } : {});
    }
  }

  /**
   * The answer of `agent` to `prompt` for the caller of a tool call, as a tool result: an error
   * result when it failed; a login the client must open is thrown (a protocol error).
   */
  async answer(agent: AppAgent, prompt: string, context: ToolCallContext): Promise<CallToolResult> {
    return this.#answer(agent, prompt, context);
  }

  /**
   * The answer of `agent` to `prompt` for the caller who started a workflow run, as text; a
   * failure (a login needed included: nobody is there to sign in) is thrown.
   */
  async run(agent: AppAgent, prompt: string, context: WorkflowContext): Promise<string> {
    // A background run has nobody to ask: a login it needs ends it, with the URL to sign in at.
    const result = await this.#answer(agent, prompt, context).catch((error: unknown) => {
      const url = requiredElicitationUrl(error);
      throw url
        ? new Error(`${(error as Error).message} Open ${url}, then run the workflow again.`)
        : error;
    });
    const [first] = result.content;
    const answer = first?.type === 'text' ? first.text : '';
    if (result.isError) throw new Error(answer);
    return answer;
  }

  /** The answer as a tool result; a protocol error (a login the client must open) is thrown. */
  async #answer(agent: AppAgent, prompt: string, context: AnswerContext): Promise<CallToolResult> {
    try {
      return await this.#withLogins(agent, context, async () =>
        text(await this.#generate(agent, prompt, context)),
      );
    } catch (error) {
      if (isProtocolError(error)) throw error;
      const { logger } = this.#options;
      if (context.signal.aborted) {
        logger.info(`agent "${agent.name}" was cancelled`, { agent: agent.name });
        return text(`The agent ${agent.name} was cancelled.`, true);
      }
      const { scrubSecrets, settingsSecrets } = await import('../agent/provider-error.js');
      const secrets = settingsSecrets(this.#options.settings);
      const message = error instanceof Error ? error.message : 'unknown error';
      logger.warn(`agent "${agent.name}" failed: ${scrubSecrets(message, secrets)}`, {
        agent: agent.name,
      });
      return text(scrubSecrets(await this.#callerText(agent, error), secrets), true);
    }
  }

  /**
   * What the caller is told of `error` (before the settings' secrets are scrubbed from it): the
   * provider API's own text, or that too many model calls were needed. Other errors name servers,
   * URLs and provider settings: for the log, not callers.
   */
  async #callerText(agent: AppAgent, error: unknown): Promise<string> {
    if (isMcpAgentError(error) && error.code === 'AGENT_MAX_ITERATIONS') return error.message;
    const { modelError, providerApiError } = await import('../agent/provider-error.js');
    if (!providerApiError(error)) return `The agent ${agent.name} could not answer right now.`;
    return (modelError(agent.spec.provider, error, this.#options.settings) as Error).message;
  }

  /**
   * Run `answer`; each time it stops for a login of the caller's (one per server at most), let
   * the caller sign in (`signInFor`) and run it again. Logins land here before the first model
   * call (listing the tools), or from a client that cannot open URLs (`signInFor` throws the
   * URL-elicitation-required error): a login a tool call needs is made within it otherwise.
   */
  async #withLogins(
    agent: AppAgent,
    context: AnswerContext,
    answer: () => Promise<CallToolResult>,
  ): Promise<CallToolResult> {
    for (let logins = 0; ; logins += 1) {
      try {
        return await answer();
      } catch (error) {
        const handed = handedOver(error);
        if (!handed || logins >= agent.spec.serverNames.length) throw error;
        const { scopes, connectUrl } = this.#options;
        const { auth } = downstreamRoute(scopes, handed.server, context.caller);
        if (!auth) throw error;
        const refused = await signInFor(handed.server, handed, auth, context, connectUrl);
        if (refused) return refused;
      }
    }
  }

  /** One answer of `agent`, on the caller's connections, reporting each step as progress. */
  async #generate(agent: AppAgent, prompt: string, context: AnswerContext): Promise<string> {
    const { spec } = agent;
    const report = async (message: string) => {
      await context.progress?.(`${agent.name}: ${message}`).catch(() => {});
    };
    const released: (() => void)[] = [];
    try {
      const served = await viewedAgent(
        { name: agent.name, instruction: spec.instruction, serverNames: spec.serverNames },
        this.#connections(context, released),
        (tools) => this.#callersTools(tools, context),
      );
      const llm = await served.attachLlm(spec.provider, {
        model: spec.model,
        fetch: modelFetch(this.#options.fetch, () => report('asking the model')),
        onToolCall: (tool) => report(`calling ${tool.name}`),
      });
      return await llm.generateStr(prompt, {
        signal: context.signal,
        useHistory: false,
        ...(spec.maxIterations !== undefined ? { maxIterations: spec.maxIterations } : {}),
      });
    } finally {
      for (const release of released) release();
    }
  }

  /**
   * The tools of `tools` the caller may call directly (`mayCall`; a call the model makes of
   * another is of an unknown tool: a tool error, nothing run), each letting the caller sign in
   * within its call when the client can open URLs (see {@link ServedAgents.#signingIn}).
   */
  #callersTools(tools: readonly AgentTool[], context: AnswerContext): AgentTool[] {
    const { mayCall } = this.#options;
    const allowed = mayCall ? tools.filter((tool) => mayCall(context.caller, tool.name)) : tools;
    return context.elicitUrl ? allowed.map((tool) => this.#signingIn(tool, context)) : [...allowed];
  }

  /**
   * `tool`, whose call that needs a login of the caller's asks them to sign in (a URL
   * elicitation) and is then made again, within the loop: the tool calls before it are not
   * repeated. A sign-in not accepted is the call's error result, for the model to tell.
   */
  #signingIn(tool: AgentTool, context: AnswerContext): AgentTool {
    const { scopes, connectUrl } = this.#options;
    return {
      ...tool,
      call: async (args, signal) => {
        const { auth } = downstreamRoute(scopes, tool.server, context.caller);
        // The same result shape as the agent layer types it (the client side's wire types).
        return (await withDelegatedLogin(tool.server, auth, context, connectUrl, async () =>
          fromAgent(await tool.call(args, signal)),
        )) as AgentToolResult;
      },
    };
  }

  /**
   * The servers as the caller reaches them, as the proxied tools do (see `downstreamRoute`; with
   * `context.peer`, the caller's client, on its own connections, whose servers' requests relate
   * to the caller's call until the functions put in `released` run), and the app's named
   * credentials for the model.
   */
  #connections(context: AnswerContext, released: (() => void)[]): AgentConnections {
    const { settings, scopes, credentials } = this.#options;
    const { caller, peer, requestId } = context;
    return {
      settings,
      // On the caller's own connection when it can answer: a server may ask it during the call.
      connect: async (server) => {
        const connection = await downstreamRoute(scopes, server, caller).scope.registry.connect(
          server,
          { peer },
        );
        if (requestId !== undefined) released.push(connection.relate(requestId));
        return connection.client;
      },
      ...(credentials ? { credentials } : {}),
    };
  }
}

/** An {@link Agent} of `spec` on `connections` that offers its model `view(tools)` of its tools. */
async function viewedAgent(
  spec: AgentSpec,
  connections: AgentConnections,
  view: (tools: readonly AgentTool[]) => AgentTool[],
): Promise<Agent> {
  const { Agent } = await import('../agent/agent.js');
  const Viewed = class extends Agent {
    override async listTools(): Promise<AgentTool[]> {
      return view(await super.listTools());
    }
  };
  return new Viewed(spec, { connections });
}

/**
 * The model's `fetch`: `appFetch` (the app's HTTP stack, its proxy settings), whatever the
 * provider passes (a `Request` too), telling `before` of each request (a model call).
 */
export function modelFetch(appFetch: FetchLike, before: () => Promise<void>): typeof fetch {
  return async (input, init) => {
    await before();
    if (!(input instanceof Request)) return appFetch(input, init);
    const { url, method, headers, signal, redirect } = input;
    const body = input.body ? await input.arrayBuffer() : undefined;
    return appFetch(url, { method, headers, signal, redirect, ...(body ? { body } : {}), ...init });
  };
}

/** Give `definition`'s agents their runner, once checked against the settings. */
export async function attachAgents(
  definition: AppDefinition,
  options: ServedAgentsOptions,
): Promise<void> {
  if (definition.agents.size > 0) {
    const { agentSpecsOf } = await import('../agent/definitions.js');
    definition.useAgentDefinitions(agentSpecsOf(options.settings));
  }
  const agents = new ServedAgents(options);
  await agents.check(definition.agents.values());
  definition.attachAgents(agents);
}
