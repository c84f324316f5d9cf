/**
 * `createApp()`: the whole agent served as an MCP server. It wires the configuration to the token
 * store and token manager (downstream OAuth), the downstream servers and their aggregated tools,
 * the app module's tools and workflows, and — with `authorization.enabled` — the inbound
 * protection: protected-resource metadata (RFC 9728), the configured verifier (JWKS and/or
 * introspection) behind a verification cache (shared through Redis when the token store is
 * Redis), and the bearer guard. `listen()` serves it over node:http.
 *
 * Its body is the list of steps, each in a module of its own: the options resolved to their
 * defaults (`context.ts`), the HTTP stacks, token store and caller scopes (`downstream.ts`), the
 * tool catalog, the inbound protection (`inbound.ts`), the app's own routes (`routes.ts`), and the
 * handlers and servers it serves with (`serving.ts`).
 *
 * With authorization on, each caller's downstream OAuth servers are reached with that caller's
 * own tokens (`callers.ts`); other servers, and those with `shared_preconfigured_token`, with the
 * app's. The inbound token is never sent downstream (token exchange swaps it at the token
 * endpoint only).
 *
 * @module
 */

import type { Server as HttpServer } from 'node:http';
import type { CallerScopes } from '../client/caller-scopes.js';
import type { Settings } from '../config/schema/settings.js';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import type { RequestTimeouts } from '../http-server.js';
import type { Logger } from '../logger.js';
import { APP_IDENTITY } from '../oauth/server-auth.js';
import type { TokenManager } from '../oauth/token-manager.js';
import type { BearerGuard } from '../server/guard.js';
import type { HostCheck } from '../server/host-check.js';
import type { McpHttpHandler } from '../server/http.js';
import type { ServerInfo } from '../server/mcp-server.js';
import type { ProtectedResourceMetadata } from '../server/metadata.js';
import type { ConfiguredVerifier } from '../server/verifiers/configured.js';
import { unchangedNaming } from '../servers/content-names.js';
import type { PeerConnectionLimits } from '../servers/peer-connections.js';
import type { ServerRegistry } from '../servers/registry.js';
import type { SessionRecordStore } from '../stores/sessions.js';
import type { StreamEventStore } from '../stores/stream-events.js';
import { AppCatalog } from './catalog.js';
import { CONNECT_PATH } from './connect-route.js';
import { type AppContext, nowOf, resolveContext } from './context.js';
import type { AppDefinition, AppSetup } from './define.js';
import { attachCredentials, type Downstream, openDownstream } from './downstream.js';
import { type FrontSettings, frontSettings, refuseAppModule, warnFront } from './front.js';
import { type InboundProtection, protectInbound } from './inbound.js';
import { CallbackAddress, internalRoutes } from './routes.js';
import { attachAgents } from './served-agent.js';
import { AppServing, type AppServingOptions } from './serving.js';
import { WorkflowRuns, type WorkflowRunsOptions } from './workflows.js';

/** Options of {@link createApp}. */
export interface CreateAppOptions {
  readonly settings: Settings;
  /**
   * Front mode: serve this configured server as it is and nothing else (see `front.ts`).
   * Default: `settings.front`.
   */
  readonly front?: string | undefined;
  /** The app module's setup function (see `defineApp`). */
  readonly setup?: AppSetup | undefined;
  /** Or the tools and workflows already defined (a setup that already ran). */
  readonly definition?: AppDefinition | undefined;
  /** The environment for stdio servers and proxy settings. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
  /** Where relative token-store paths resolve. */
  readonly cwd?: string;
  readonly info?: ServerInfo;
  /** The `fetch` of verification requests (JWKS, introspection, issuer metadata). */
  readonly fetch?: FetchLike;
  readonly now?: () => number;
  /** How workflow runs are leased and swept on a shared store (see `workflows.ts`). */
  readonly workflowRuns?: WorkflowRunTuning;
  /**
   * The limits of the connections of their own that callers' sessions open to a server (so that
   * it may ask them: elicitation, sampling). Default 64 per server, 8 per server per principal.
   */
  readonly peerConnections?: PeerConnectionLimits;
  /**
   * Resumable Streamable HTTP streams: their events are kept (in this process's memory, with the
   * sessions they belong to) so that a client whose stream dropped resumes it with
   * `Last-Event-ID`. `false` turns this off. Default on, with a `retry` field of
   * 1,000 ms (see {@link ResumableStreamOptions.retryMs}).
   */
  readonly resumableStreams?: false | ResumableStreamOptions;
  /**
   * Share the MCP sessions (2025-11-25 Streamable HTTP) with the other replicas, so that any
   * request of a session may land on any replica: on by default when the token store is Redis
   * (its session records, `TokenStore.sessions`), off otherwise. `false` turns it off; a store
   * is used instead of the token store's (tests). With it, resumable streams keep their events
   * in the token store's shared event store unless `resumableStreams.store` says otherwise.
   */
  readonly sharedSessions?: boolean | SessionRecordStore;
}

/** How {@link CreateAppOptions.resumableStreams} are served. */
export interface ResumableStreamOptions {
  /**
   * The `retry` field (ms) of the priming event: how long a client waits before resuming.
   * A positive integer (else `createApp` fails with a `USAGE` error). Default 1,000.
   */
  readonly retryMs?: number;
  /** Where the events are kept. Default: in memory (`TokenStore.streams`). */
  readonly store?: StreamEventStore;
}

/** The lease settings of workflow runs (defaults: a random replica id, 30 s leases). */
export type WorkflowRunTuning = Pick<
  WorkflowRunsOptions,
  'replica' | 'leaseMs' | 'tickMs' | 'maxAttempts' | 'timers' | 'limits'
>;

/** Where {@link App.listen} listens. */
export interface ListenOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 8000; 0 picks a free port. */
  readonly port?: number;
  /** How long a client may take to send a request. Default: headers 10 s, whole request 30 s. */
  readonly timeouts?: RequestTimeouts;
}

/** A listening app. */
export interface RunningApp {
  /** The MCP endpoint, e.g. `http://127.0.0.1:8000/mcp`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly server: HttpServer;
  close(): Promise<void>;
}

/** The agent as an MCP server. */
export interface App {
  readonly settings: Settings;
  readonly catalog: AppCatalog;
  /** The inbound protection; `undefined` when `authorization.enabled` is false. */
  readonly guard: BearerGuard | undefined;
  readonly verifier: ConfiguredVerifier | undefined;
  readonly metadata: ProtectedResourceMetadata | undefined;
  /** The app's own token manager (callers have theirs: {@link App.scopes}). */
  readonly tokens: TokenManager;
  /** The app's own connections. */
  readonly registry: ServerRegistry;
  /** The downstream scopes of the app and of each caller. */
  readonly scopes: CallerScopes;
  /** The workflow runs (shared with the other replicas when the token store is Redis). */
  readonly runs: WorkflowRuns;
  /** A request listener to mount in a server of one's own. */
  createHandler(options?: { hostCheck?: HostCheck | undefined }): McpHttpHandler;
  listen(options?: ListenOptions): Promise<RunningApp>;
  close(): Promise<void>;
}

/** Build the app from `settings` (and the app module's setup). */
export async function createApp(options: CreateAppOptions): Promise<App> {
  checkStreamRetry(options.resumableStreams);
  const front = frontOf(options);
  const context = await resolveContext(front ? { ...options, settings: front.settings } : options);
  if (front) {
    refuseAppModule(context.definition, front.server);
    warnFront(front, context.logger);
  }
  const address = new CallbackAddress(context.settings);
  const downstream = openDownstream(context, address);
  try {
    const credentials = attachCredentials(context, downstream);
    const connectUrl = connectUrlOf(context, address);
    await attachAgents(context.definition, {
      settings: context.settings,
      scopes: downstream.scopes,
      connectUrl,
      fetch: downstream.http.fetch,
      credentials,
      // The scope rule of the proxied tools (see `toolCallRejection`), once both exist: an agent
      // is first called after `createApp` returns.
      mayCall: (caller, tool) =>
        !inbound ||
        (caller !== undefined && !inbound.guard.authorize(caller, catalog.scopesFor(tool))),
      logger: context.logger,
    });
    const runs = workflowRuns(context, downstream);
    const catalog = appCatalog(context, downstream.scopes, runs, connectUrl);
    // The verification requests (JWKS, introspection, issuer metadata) and the sign-in check's.
    const fetch = context.fetch ?? downstream.http.fetch;
    const inbound = context.auth ? await protectInbound(context, context.auth, fetch) : undefined;
    const routes = internalRoutes(context, {
      ...downstream,
      guard: inbound?.guard,
      fetch,
      address,
    });
    const serving = new AppServing({
      context,
      catalog,
      inbound,
      routes,
      address,
      ...streamEvents(options.resumableStreams, downstream),
      markers: downstream.store.markers,
      sessionRecords: sessionRecordsOf(options.sharedSessions, downstream),
      listChanges: (listener) =>
        downstream.scopes.onListChanged((identity, _server, kind) =>
          // A caller's own connection (a server kept per caller) concerns that caller only.
          listener(kind, identity === APP_IDENTITY ? undefined : identity),
        ),
    });
    runs.startTicking();
    return assembleApp({ context, downstream, runs, catalog, inbound, serving });
  } catch (error) {
    // A later step failed (the verifier's configuration, say): what was opened is closed.
    await closeDownstream(downstream);
    throw error;
  }
}

/** How long a client whose stream dropped waits before resuming it (the `retry` field), in ms. */
const DEFAULT_STREAM_RETRY_MS = 1_000;

/** Refuse a `retryMs` that is not a positive integer (clients ignore such a `retry` field). */
function checkStreamRetry(resumable: CreateAppOptions['resumableStreams']): void {
  const retryMs = resumable === false ? undefined : resumable?.retryMs;
  if (retryMs === undefined || (Number.isSafeInteger(retryMs) && retryMs > 0)) return;
  throw new McpAgentError(
    'USAGE',
    `resumableStreams.retryMs must be a positive integer of milliseconds, not ${String(retryMs)}.`,
  );
}

/** The event store and `retry` of resumable streams, unless `resumable` is `false`. */
function streamEvents(
  resumable: CreateAppOptions['resumableStreams'],
  downstream: Downstream,
): Pick<AppServingOptions, 'events' | 'streamRetryMs'> {
  if (resumable === false) return {};
  return {
    events: resumable?.store ?? downstream.store.streams,
    streamRetryMs: resumable?.retryMs ?? DEFAULT_STREAM_RETRY_MS,
  };
}

/** The session records `shared` asks for (default: the token store's, when it has them). */
function sessionRecordsOf(
  shared: CreateAppOptions['sharedSessions'],
  downstream: Downstream,
): SessionRecordStore | undefined {
  if (shared === false) return undefined;
  if (shared === undefined || shared === true) return downstream.store.sessions;
  return shared;
}

/** The workflow runs, on the token store's run store (Redis when replicas share it). */
function workflowRuns(context: AppContext, downstream: Downstream): WorkflowRuns {
  return new WorkflowRuns({
    ...context.workflowRuns,
    store: downstream.store.runs,
    workflows: context.definition.workflows,
    logger: context.logger,
    ...nowOf(context),
  });
}

/** Front mode's settings when `options` (or their settings) name a server to front. */
function frontOf(options: CreateAppOptions): FrontSettings | undefined {
  const server = options.front ?? options.settings.front;
  return server === undefined ? undefined : frontSettings(options.settings, server);
}

/**
 * The served tools: the app module's tools and workflows, and the downstream servers' tools of
 * the app and of each caller (when servers are configured); in front mode the one server's tools
 * under their own names.
 */
function appCatalog(
  context: AppContext,
  scopes: CallerScopes,
  runs: WorkflowRuns,
  connectUrl: (flowId: string) => string | undefined,
): AppCatalog {
  return new AppCatalog({
    app: context.definition,
    runs,
    scopes: scopes.app.registry.names().length > 0 ? scopes : undefined,
    toolScopes: context.auth?.tool_scopes ?? {},
    promptScopes: context.auth?.prompt_scopes ?? {},
    resourceScopes: context.auth?.resource_scopes ?? {},
    logger: context.logger,
    connectUrl,
    naming: context.settings.front === undefined ? 'namespaced' : 'transparent',
    // Front mode renames nothing: the fronted server's prompts and resources keep their names.
    ...(context.settings.front === undefined
      ? {}
      : { contentNaming: unchangedNaming(context.settings.front) }),
  });
}

/**
 * The URL a caller signs in to a downstream server at: the check of who is at the browser (see
 * connect-route.ts), served with the inbound protection only.
 */
function connectUrlOf(
  context: AppContext,
  address: CallbackAddress,
): (flowId: string) => string | undefined {
  return (flowId) => (context.auth ? address.url(`${CONNECT_PATH}?flow=${flowId}`) : undefined);
}

/** What an app is made of (the steps' results). */
interface AppParts {
  readonly context: AppContext;
  readonly downstream: Downstream;
  readonly runs: WorkflowRuns;
  readonly catalog: AppCatalog;
  readonly inbound: InboundProtection | undefined;
  readonly serving: AppServing;
}

/** The {@link App} object of `parts`. */
function assembleApp(parts: AppParts): App {
  const { downstream, inbound, serving } = parts;
  return {
    settings: parts.context.settings,
    catalog: parts.catalog,
    guard: inbound?.guard,
    verifier: inbound?.verifier,
    metadata: inbound?.metadata,
    tokens: downstream.scopes.app.tokens,
    registry: downstream.scopes.app.registry,
    scopes: downstream.scopes,
    runs: parts.runs,
    createHandler: (options) => serving.createHandler(options),
    listen: (options) => serving.listen(options),
    close: () => closeApp(parts),
  };
}

/**
 * Close the app: its servers and handlers, the workflow runs (handed over to the other replicas
 * on a shared store, else cancelled), every caller's and the app's
 * connections, the token store, the shared verification store, then the HTTP stacks.
 */
async function closeApp(parts: AppParts): Promise<void> {
  await parts.serving.close();
  await parts.runs.close();
  await closeDownstream(parts.downstream, parts.inbound?.shared);
}

/** Close the scopes, the token store, the shared verification cache, then the HTTP stacks. */
async function closeDownstream(
  downstream: Downstream,
  sharedCache?: { close(): Promise<void> },
): Promise<void> {
  await downstream.scopes.close();
  await downstream.store.close().catch(() => {});
  await sharedCache?.close().catch(() => {});
  await downstream.http.close();
  await downstream.guarded?.close();
}
