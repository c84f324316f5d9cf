/**
 * The resources, resource templates, prompts and completions `serve` offers beside its tools
 * (issue 15, item 4): the MCP handlers of one session over a {@link ContentCatalog}. Each request
 * runs with the caller's identity and the session's log; a session's resource subscriptions are
 * its own ({@link SessionWatch}) and end with it.
 *
 * @module
 */
import type {
  CompleteRequest,
  CompleteResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplateType as ResourceTemplate,
  Server,
  ServerContext,
  ServerNotification,
} from '@modelcontextprotocol/server';
import { type CallerIdentity, callerFromAuthInfo } from './identity.js';
import { InputRequiredSignal, type ModernInput, modernInputOf } from './modern-input.js';
import type { RequestStates } from './request-state.js';
import type { CallerLog, LogSender, SessionLog } from './session-log.js';

/** What one content request gets besides its parameters. */
export interface ContentContext {
  /** The verified caller; `undefined` when authorization is off. */
  readonly caller: CallerIdentity | undefined;
  /** Aborted when the client cancels the request or the session ends. */
  readonly signal: AbortSignal;
  /** The caller's session log. */
  readonly log?: CallerLog;
  /** The session asking (its subscriptions and the list changes it is told about). */
  readonly session: SessionWatch;
  /**
   * On a 2026-07-28 `prompts/get` or `resources/read` (with a `requestState` service): the request
   * it resumes, how to end it asking for a sign-in or relaying a downstream server's input (throw
   * {@link InputRequiredSignal}), as `ToolCallContext.modern` for a tool call.
   */
  readonly modern?: ModernInput;
}

/**
 * One session as the content catalog sees it: where its notifications go, and what to undo when
 * it ends. Its identity tells sessions apart.
 */
export interface SessionWatch {
  /** Tell the session a subscribed resource was updated. */
  updated(uri: string): void;
  /** Tell the session a list changed. */
  listChanged(kind: 'resources' | 'prompts'): void;
  /** Run `cleanup` when the session ends (at once when it has ended). */
  onEnd(cleanup: () => void): void;
}

/** Where the served resources, templates, prompts and completions come from. */
export interface ContentCatalog {
  listPrompts(context: ContentContext): Promise<Prompt[]>;
  getPrompt(
    name: string,
    args: Record<string, string>,
    context: ContentContext,
  ): Promise<GetPromptResult>;
  listResources(context: ContentContext): Promise<Resource[]>;
  listResourceTemplates(context: ContentContext): Promise<ResourceTemplate[]>;
  readResource(uri: string, context: ContentContext): Promise<ReadResourceResult>;
  complete(params: CompleteRequest['params'], context: ContentContext): Promise<CompleteResult>;
  subscribe(uri: string, context: ContentContext): Promise<void>;
  unsubscribe(uri: string, context: ContentContext): Promise<void>;
}

/** The {@link SessionWatch} of `server`'s session. */
function watchOf(server: Server): SessionWatch {
  const cleanups = new Set<() => void>();
  let ended = false;
  const previous = server.onclose;
  server.onclose = () => {
    previous?.();
    ended = true;
    for (const cleanup of cleanups) cleanup();
    cleanups.clear();
  };
  const notify = (notification: ServerNotification) => {
    if (ended) return;
    server.notification(notification).catch(() => {
      // A session that went away gets no more notifications.
    });
  };
  return {
    updated: (uri) => notify({ method: 'notifications/resources/updated', params: { uri } }),
    listChanged: (kind) => notify({ method: `notifications/${kind}/list_changed` }),
    onEnd: (cleanup) => {
      if (ended) cleanup();
      else cleanups.add(cleanup);
    },
  };
}

/** Options of {@link registerContentHandlers}. */
export interface ContentHandlerOptions {
  /** Runs first on each request: a 2026-07-28 request sets the log's level. */
  readonly prepare?: ((ctx: ServerContext) => void) | undefined;
  /**
   * On a 2026-07-28 server: the `requestState` service, so that `prompts/get` and
   * `resources/read` may end with an input-required result ({@link ContentContext.modern}).
   */
  readonly requestStates?: RequestStates | undefined;
}

/** `work`'s result, or the input-required result it ended with. */
async function orInputRequired<T>(work: () => Promise<T>) {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InputRequiredSignal) return error.result;
    throw error;
  }
}

/**
 * Declare resources (with subscriptions and list changes), prompts and completions on `server`
 * and answer them from `content`, each request with its caller and the session's `log`.
 */
export function registerContentHandlers(
  server: Server,
  content: ContentCatalog,
  log: SessionLog,
  options: ContentHandlerOptions = {},
): void {
  const { prepare, requestStates } = options;
  server.registerCapabilities({
    resources: { subscribe: true, listChanged: true },
    prompts: { listChanged: true },
    completions: {},
  });
  const session = watchOf(server);
  const sender =
    (ctx: ServerContext): LogSender =>
    (notification) =>
      ctx.mcpReq.notify(notification);
  const run = <T>(
    ctx: ServerContext,
    work: (context: ContentContext) => Promise<T>,
    input: { modern?: ModernInput } = {},
  ) => {
    prepare?.(ctx);
    return log.during(sender(ctx), () =>
      work({
        caller: callerFromAuthInfo(ctx.http?.authInfo),
        signal: ctx.mcpReq.signal,
        log,
        session,
        ...input,
      }),
    );
  };
  server.setRequestHandler('prompts/list', (_request, ctx) =>
    run(ctx, async (context) => ({ prompts: await content.listPrompts(context) })),
  );
  server.setRequestHandler('prompts/get', async (request, ctx) => {
    const { name, arguments: args = {} } = request.params;
    const input = await modernInputOf(requestStates, ctx, name, args);
    return orInputRequired(() =>
      run(ctx, (context) => content.getPrompt(name, args, context), input),
    );
  });
  server.setRequestHandler('resources/list', (_request, ctx) =>
    run(ctx, async (context) => ({ resources: await content.listResources(context) })),
  );
  server.setRequestHandler('resources/templates/list', (_request, ctx) =>
    run(ctx, async (context) => ({
      resourceTemplates: await content.listResourceTemplates(context),
    })),
  );
  server.setRequestHandler('resources/read', async (request, ctx) => {
    const { uri } = request.params;
    const input = await modernInputOf(requestStates, ctx, uri, {});
    return orInputRequired(() => run(ctx, (context) => content.readResource(uri, context), input));
  });
  server.setRequestHandler('completion/complete', (request, ctx) =>
    run(ctx, (context) => content.complete(request.params, context)),
  );
  server.setRequestHandler('resources/subscribe', (request, ctx) =>
    run(ctx, async (context) => {
      await content.subscribe(request.params.uri, context);
      return {};
    }),
  );
  server.setRequestHandler('resources/unsubscribe', (request, ctx) =>
    run(ctx, async (context) => {
      await content.unsubscribe(request.params.uri, context);
      return {};
    }),
  );
}
