/**
 * `createApp()`: the whole agent served as an MCP server. It wires the configuration to the token
 * store and token manager (downstream OAuth), the downstream servers and their aggregated tools,
 * the app module's tools and workflows, and — with `authorization.enabled` — the inbound
 * protection: protected-resource metadata (RFC 9728), the configured verifier (JWKS and/or
 * introspection) behind a verification cache (shared through Redis when the token store is
 * Redis), and the bearer guard. `listen()` serves it over node:http.
 *
 * Downstream servers are reached with the app's own identity here: per-caller downstream tokens
 * are the delegated-access work. The inbound token is never sent downstream.
 *
 * @module
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { providerProfiles } from '../config/providers.js';
import type { AuthorizationSettings } from '../config/schema/authorization.js';
import type { Settings } from '../config/schema/settings.js';
import { CredentialProfiles } from '../credentials/profiles.js';
import type { FetchLike } from '../fetch.js';
import { createHttpServer, type RequestTimeouts } from '../http-server.js';
import { type Logger, silentLogger } from '../logger.js';
import type { TokenManager } from '../oauth/token-manager.js';
import { BearerGuard } from '../server/guard.js';
import { type HostCheck, isLoopbackBind, loopbackHostCheck } from '../server/host-check.js';
import { createMcpHttpHandler, type McpHttpHandler } from '../server/http.js';
import type { ServerInfo } from '../server/mcp-server.js';
import {
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
  resourceMetadataUrl,
  sseResourceOf,
} from '../server/metadata.js';
import { VerificationCache } from '../server/verification-cache.js';
import { ConfiguredVerifier } from '../server/verifiers/configured.js';
import { createHttpStack, proxySettingsFrom } from '../servers/http.js';
import type { ServerRegistry } from '../servers/registry.js';
import type { KeyValueStore } from '../stores/kv.js';
import { RedisKeyValueStore } from '../stores/redis.js';
import { createTokenStore } from '../stores/token-store.js';
import { CALLBACK_PATH, internalCallback } from './callback-route.js';
import { CallerScopes } from './callers.js';
import { AppCatalog } from './catalog.js';
import { CONNECT_PATH, connectRoute } from './connect-route.js';
import { AppDefinition, type AppSetup } from './define.js';
import { guardedHttpStack } from './guarded-http.js';
import { WorkflowRuns } from './workflows.js';

/** Options of {@link createApp}. */
export interface CreateAppOptions {
  readonly settings: Settings;
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
}

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
  /** A request listener to mount in a server of one's own. */
  createHandler(options?: { hostCheck?: HostCheck | undefined }): McpHttpHandler;
  listen(options?: ListenOptions): Promise<RunningApp>;
  close(): Promise<void>;
}

const MCP_PATH = '/mcp';

/** The path of the internal callback: under `oauth.callback_base_url`'s path, if it has one. */
function callbackPathOf(settings: Settings, path: string = CALLBACK_PATH): string {
  const base = settings.oauth.callback_base_url;
  const prefix = base ? new URL(base).pathname.replace(/\/+$/, '') : '';
  return `${prefix}${path}`;
}

/** Build the app from `settings` (and the app module's setup). */
export async function createApp(options: CreateAppOptions): Promise<App> {
  const { settings } = options;
  const logger = options.logger ?? silentLogger;
  const env = options.env ?? process.env;
  const definition = options.definition ?? new AppDefinition();
  if (!options.definition) await options.setup?.(definition);

  const proxy = proxySettingsFrom(env);
  const http = createHttpStack(proxy);
  // OAuth requests of public servers connect only to public addresses (checked at connect time).
  const guarded = guardedHttpStack(proxy);
  const store = createTokenStore(settings.oauth.token_store, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  // The callback of handed-over logins: oauth.callback_base_url, else the address listened on.
  let callbackBase = settings.oauth.callback_base_url?.replace(/\/+$/, '');
  const scopes = new CallerScopes({
    settings,
    store,
    http,
    guardedFetch: guarded?.fetch,
    env,
    logger,
    clientName: settings.name ?? 'mcp-agent-ts',
    callbackUrl: () => (callbackBase ? `${callbackBase}${CALLBACK_PATH}` : undefined),
    backgroundRefresh: settings.oauth.background_refresh,
    cwd: options.cwd,
    ...(options.now ? { now: options.now } : {}),
  });
  const tokens = scopes.app.tokens;
  const registry = scopes.app.registry;
  definition.attach(
    // The model providers' sections are profiles too (openai, anthropic, …); credentials: wins.
    new CredentialProfiles(
      { ...providerProfiles(settings), ...settings.credentials },
      {
        fetch: http.fetch,
        store,
        tokens: scopes.app.tokens,
        tokensFor: (caller) => scopes.scopeFor(caller).tokens,
        maxTokenBytes: settings.oauth.max_token_bytes,
        ...(options.cwd ? { cwd: options.cwd } : {}),
        ...(options.now ? { now: options.now } : {}),
      },
    ),
  );
  const auth = settings.authorization?.enabled === true ? settings.authorization : undefined;
  const runs = new WorkflowRuns(options.now);
  const catalog = new AppCatalog({
    app: definition,
    runs,
    scopes: registry.names().length > 0 ? scopes : undefined,
    toolScopes: auth?.tool_scopes ?? {},
    logger,
    // A caller's sign-in goes through the check of who is at the browser (see connect-route.ts).
    connectUrl: (flowId) =>
      guard && callbackBase ? `${callbackBase}${CONNECT_PATH}?flow=${flowId}` : undefined,
  });
  const callbackRoute = internalCallback({ scopes, store, settings, logger });

  let verifier: ConfiguredVerifier | undefined;
  let guard: BearerGuard | undefined;
  let metadata: ProtectedResourceMetadata | undefined;
  let shared: KeyValueStore | undefined;
  if (auth) {
    const resource = auth.resource_server_url as string;
    verifier = new ConfiguredVerifier(withSseAudience(auth, resource), {
      fetch: options.fetch ?? http.fetch,
      logger,
      ...(options.now ? { now: options.now } : {}),
    });
    await verifier.prepare();
    const tokenStore = settings.oauth.token_store;
    if (tokenStore.backend === 'redis' && tokenStore.redis_url) {
      // Replicas share verifications: keys are token hashes, values the verified claims.
      shared = new RedisKeyValueStore({
        url: tokenStore.redis_url.reveal(),
        prefix: `${tokenStore.redis_prefix}:verify`,
      });
    }
    const cache = new VerificationCache({
      ttlSeconds: auth.token_cache_ttl_seconds,
      // Every rule of acceptance is in the namespace: replicas with other rules (a rolling
      // change) never take each other's verdicts.
      namespace: JSON.stringify([
        auth.issuer_url,
        auth.expected_audiences,
        resource,
        auth.jwks_uri ?? null,
        auth.introspection_endpoint ?? null,
        auth.algorithms ?? null,
        auth.clock_tolerance_seconds,
        auth.max_token_age_seconds,
        auth.require_at_jwt_type,
      ]),
      shared,
      ...(options.now ? { now: options.now } : {}),
    });
    guard = new BearerGuard({
      verifier,
      cache,
      resourceMetadataUrl: resourceMetadataUrl(resource),
      requiredScopes: auth.required_scopes,
    });
    const toolScopes = [
      ...[...definition.tools.values()].flatMap((tool) => tool.scopes),
      ...[...definition.workflows.values()].flatMap((workflow) => workflow.scopes),
      ...Object.values(auth.tool_scopes).flat(),
    ];
    metadata = protectedResourceMetadata({
      resource,
      authorizationServers: [auth.issuer_url as string],
      scopes: [...auth.required_scopes, ...toolScopes],
      resourceName: auth.resource_name ?? settings.name,
      documentation: auth.service_documentation_url,
    });
  }

  const connect =
    auth && guard
      ? connectRoute({
          authorization: auth,
          guard,
          store,
          fetch: options.fetch ?? http.fetch,
          logger,
          clientName: `${settings.name ?? 'mcp-agent-ts'} (sign-in check)`,
          connectUrl: () => (callbackBase ? `${callbackBase}${CONNECT_PATH}` : undefined),
          cookiePath: callbackPathOf(settings, '/internal/oauth'),
          ...(options.now ? { now: options.now } : {}),
        })
      : undefined;

  const info = options.info ?? { name: settings.name ?? 'mcp-agent-ts', version: '0.1.0' };
  const handlers = new Set<McpHttpHandler>();
  const createHandler = (handlerOptions: { hostCheck?: HostCheck | undefined } = {}) => {
    const handler = createMcpHttpHandler({
      catalog,
      info,
      guard,
      metadata,
      mcpPath: MCP_PATH,
      hostCheck: handlerOptions.hostCheck,
      routes: {
        [callbackPathOf(settings)]: callbackRoute,
        ...(connect ? { [callbackPathOf(settings, CONNECT_PATH)]: connect } : {}),
      },
      logger,
    });
    handlers.add(handler);
    return handler;
  };
  const servers = new Set<HttpServer>();

  return {
    settings,
    catalog,
    guard,
    verifier,
    metadata,
    tokens,
    registry,
    scopes,
    createHandler,
    async listen(listenOptions = {}) {
      const host = listenOptions.host ?? '127.0.0.1';
      const loopback = isLoopbackBind(host);
      let port = listenOptions.port ?? 8000;
      // The check needs the port, which 0 only reveals once listening: a late-bound check.
      let check: HostCheck | undefined;
      const handler = createHandler({
        hostCheck: loopback ? (h, o) => (check ? check(h, o) : false) : undefined,
      });
      // Slow senders may not hold a connection: headers within 10 s, the whole request within 30 s
      // (an SSE stream's response may last; its request does not).
      const server = createHttpServer(handler, listenOptions.timeouts);
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(port, host, () => {
          server.off('error', fail);
          done();
        });
      });
      port = (server.address() as AddressInfo).port;
      const publicHosts = auth?.resource_server_url ? [new URL(auth.resource_server_url).host] : [];
      check = loopbackHostCheck(port, publicHosts);
      servers.add(server);
      const shown = host.includes(':') ? `[${host}]` : host;
      const url = `http://${shown}:${port}${MCP_PATH}`;
      if (auth?.resource_server_url) selfCheck(auth.resource_server_url, url, logger);
      if (!callbackBase && (host === '0.0.0.0' || host === '::')) {
        logger.warn(
          `listening on ${host} without oauth.callback_base_url: logins of callers would come back to http://${shown}:${port}, which browsers cannot reach; set oauth.callback_base_url to the public address`,
          {},
        );
      }
      callbackBase ??= `http://${shown}:${port}`;
      return {
        url,
        host,
        port,
        server,
        close: async () => {
          servers.delete(server);
          handlers.delete(handler);
          await handler.close();
          server.closeAllConnections();
          await new Promise<void>((done) => server.close(() => done()));
        },
      };
    },
    async close() {
      for (const server of servers) {
        server.closeAllConnections();
        server.close();
      }
      servers.clear();
      await Promise.all([...handlers].map((handler) => handler.close()));
      runs.cancelAll();
      await scopes.close();
      await store.close().catch(() => {});
      await shared?.close().catch(() => {});
      await http.close();
      await guarded?.close();
    },
  };
}

/**
 * A client of `/sse` asks for tokens for the SSE endpoint's resource (RFC 8707): when the
 * audiences are resource URLs (they name `resource_server_url`), that one is accepted too, on
 * both endpoints (one server, one set of tools).
 */
function withSseAudience(auth: AuthorizationSettings, resource: string): AuthorizationSettings {
  const audiences = auth.expected_audiences;
  const sse = sseResourceOf(resource);
  // Only for the sibling of the MCP endpoint: a resource_server_url ending elsewhere (a proxy's
  // path) would make `…/sse` a guess at another application's address.
  const endpoint = new URL(resource).pathname.replace(/\/+$/, '').split('/').pop();
  if (endpoint !== 'mcp' || !audiences.includes(resource) || audiences.includes(sse)) return auth;
  return { ...auth, expected_audiences: [...audiences, sse] };
}

/**
 * Warn when the advertised `resource` cannot be the URL clients call: another path (clients
 * look for the metadata under it), or — behind a reverse proxy — say which URL must reach us.
 */
function selfCheck(resource: string, served: string, logger: Logger): void {
  const advertised = new URL(resource);
  const actual = new URL(served);
  if (advertised.pathname.replace(/\/$/, '') !== actual.pathname) {
    logger.warn(
      `authorization.resource_server_url (${resource}) does not end in ${actual.pathname}, where the MCP endpoint is: clients calling ${served} will not accept the protected-resource metadata`,
      { resource, served },
    );
  } else if (advertised.origin !== actual.origin) {
    logger.warn(
      `authorization.resource_server_url is ${resource} but the server listens at ${served}: this is right only behind a reverse proxy that forwards ${resource} here; clients must call ${resource}, which the metadata advertises`,
      { resource, served },
    );
  }
}
