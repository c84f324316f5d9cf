/**
 * The agents an app serves (`app.agent`), run on behalf of their caller: each call makes an
 * {@link Agent} on the caller's own downstream connections (the scope `downstreamRoute` gives the
 * proxied tools too: the caller's tokens, or the app's for a server every caller shares), so every
 * token, refresh and step-up rule applies and no caller's token serves another. A login the loop
 * needs reaches the caller as the proxied tools' do (`signInFor`: a URL elicitation, or the
 * URL-elicitation-required error); once it is done the answer is asked for again. Progress is
 * reported per model call and per tool call; the request's signal stops the loop (the AI SDK's
 * `abortSignal`: no further model call, the running tool call cancelled).
 *
 * The agent layer (and the AI SDK) is imported when the app has agents, not by `createApp` alone.
 *
 * @module
 */
import {
  type CallToolResult,
  McpError,
  UrlElicitationRequiredError,
} from '@modelcontextprotocol/sdk/types.js';
import type { AgentConnections, AgentTool } from '../agent/agent.js';
import type { CallerScopes } from '../client/caller-scopes.js';
import type { Settings } from '../config/schema/settings.js';
import type { CredentialProfiles } from '../credentials/profiles.js';
import { isMcpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import type { Logger } from '../logger.js';
import type { CallerIdentity } from '../server/identity.js';
import type { ToolCallContext } from '../server/mcp-server.js';
import { downstreamRoute } from './catalog.js';
import type { AgentRunner, AppAgent, AppDefinition, WorkflowContext } from './define.js';
import { handedOver, signInFor } from './delegated-login.js';

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
  readonly logger: Logger;
}

/** What an answer is asked with: the caller, the request's signal, progress if asked for. */
type AnswerContext = Pick<
  ToolCallContext,
  'caller' | 'signal' | 'elicitUrl' | 'elicitationComplete' | 'progress'
>;

function text(value: string, isError = false): CallToolResult {
  return { ...(isError ? { isError: true } : {}), content: [{ type: 'text', text: value }] };
}

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
    const [{ Agent }, { modelFor }] = await Promise.all([
      import('../agent/agent.js'),
      import('../agent/models.js'),
    ]);
    for (const { name, spec } of list) {
      new Agent({ name, serverNames: spec.serverNames }, { connections: this.#connections() });
      await modelFor(this.#options.settings, spec.provider, spec.model, this.#modelOptions());
    }
  }

  async answer(agent: AppAgent, prompt: string, context: ToolCallContext): Promise<CallToolResult> {
    return this.#answer(agent, prompt, context);
  }

  async run(agent: AppAgent, prompt: string, context: WorkflowContext): Promise<string> {
    // A background run has nobody to ask: a login it needs ends it, with the URL to sign in at.
    const result = await this.#answer(agent, prompt, context).catch((error: unknown) => {
      const url = error instanceof UrlElicitationRequiredError && error.elicitations[0]?.url;
      throw url ? new Error(`${error.message} Open ${url}, then run the workflow again.`) : error;
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
      if (error instanceof McpError) throw error;
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
    const { modelError, providerApiError } = await import('../agent/model-error.js');
    if (!providerApiError(error)) return `The agent ${agent.name} could not answer right now.`;
    return (modelError(agent.spec.provider, error, this.#options.settings) as Error).message;
  }

  /**
   * Run `answer`; each time it stops for a login of the caller's (one per server at most), let
   * the caller sign in (`signInFor`) and run it again.
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
    const [{ Agent }, { AugmentedLlm }, { modelFor }] = await Promise.all([
      import('../agent/agent.js'),
      import('../agent/llm.js'),
      import('../agent/models.js'),
    ]);
    const { spec } = agent;
    const report = async (message: string) => {
      await context.progress?.(`${agent.name}: ${message}`).catch(() => {});
    };
    const served = new Agent(
      { name: agent.name, instruction: spec.instruction, serverNames: spec.serverNames },
      { connections: this.#connections(context.caller) },
    );
    const fetch = this.#modelFetch(() => report('asking the model'));
    const model = (id?: string) =>
      modelFor(this.#options.settings, spec.provider, id, { ...this.#modelOptions(), fetch });
    const llm = new AugmentedLlm({
      provider: spec.provider,
      model: await model(spec.model),
      modelFor: model,
      instruction: spec.instruction,
      tools: async () => (await served.listTools()).map((tool) => reported(tool, report)),
    });
    return llm.generateStr(prompt, {
      signal: context.signal,
      useHistory: false,
      ...(spec.maxIterations !== undefined ? { maxIterations: spec.maxIterations } : {}),
    });
  }

  /**
   * The servers as `caller` reaches them, as the proxied tools do (see `downstreamRoute`); the
   * app's own without a caller (authorization off).
   */
  #connections(caller?: CallerIdentity): AgentConnections {
    const { settings, scopes } = this.#options;
    return {
      settings,
      connect: async (server) =>
        (await downstreamRoute(scopes, server, caller).scope.registry.connect(server)).client,
    };
  }

  /** What models are made with besides the settings: the app's named credentials. */
  #modelOptions(): { credentials?: CredentialProfiles } {
    const { credentials } = this.#options;
    return credentials ? { credentials } : {};
  }

  /** The app's `fetch` for the model's requests, telling `before` of each (a model call). */
  #modelFetch(before: () => Promise<void>): typeof fetch {
    const appFetch = this.#options.fetch;
    return async (input, init) => {
      await before();
      return input instanceof Request ? fetch(input, init) : appFetch(input, init);
    };
  }
}

/** `tool`, reporting each call of it before it runs. */
function reported(tool: AgentTool, report: (message: string) => Promise<void>): AgentTool {
  return {
    ...tool,
    call: async (args, signal) => {
      await report(`calling ${tool.name}`);
      return tool.call(args, signal);
    },
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
