/**
 * How `createApp()` serves: the MCP HTTP handlers it creates (Streamable HTTP at `/mcp`, legacy
 * SSE at `/sse`, the app's own routes) and the node:http servers `listen()` starts, which the app
 * closes with itself.
 *
 * @module
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpServer } from '../http-server.js';
import type { Logger } from '../logger.js';
import { type HostCheck, isLoopbackBind, loopbackHostCheck } from '../server/host-check.js';
import { createMcpHttpHandler, type McpHttpHandler, type RouteHandler } from '../server/http.js';
import {
  createRequestStates,
  type RequestStates,
  randomRequestStateKey,
} from '../server/request-state.js';
import type { ListKind } from '../servers/registry.js';
import type { KeyValueStore } from '../stores/kv.js';
import { MemoryKeyValueStore } from '../stores/memory.js';
import type { SessionRecordStore } from '../stores/sessions.js';
import type { StreamEventStore } from '../stores/stream-events.js';
import type { AppCatalog } from './catalog.js';
import type { AppContext } from './context.js';
import type { ListenOptions, RunningApp } from './create-app.js';
import type { InboundProtection } from './inbound.js';
import { throttleListChanges } from './list-change-throttle.js';
import type { CallbackAddress } from './routes.js';

/** The path of the Streamable HTTP endpoint. */
export const MCP_PATH = '/mcp';

/** The origin of an app listening at `host` and `port` (`[…]` around an IPv6 address). */
export function originOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** What the handlers serve. */
export interface AppServingOptions {
  readonly context: AppContext;
  readonly catalog: AppCatalog;
  /** The inbound protection; `undefined` serves everyone (authorization off). */
  readonly inbound: InboundProtection | undefined;
  /** The app's own routes by path (see `internalRoutes`). */
  readonly routes: Readonly<Record<string, RouteHandler>>;
  /** Learns the address of the first `listen()` when `oauth.callback_base_url` is not set. */
  readonly address: CallbackAddress;
  /** Where the events of resumable streams are kept; `undefined`: streams are not resumable. */
  readonly events?: StreamEventStore | undefined;
  /** The `retry` field, in milliseconds, of the priming event of a resumable stream. */
  readonly streamRetryMs?: number | undefined;
  /** Where the single-use markers of 2026-07-28 `requestState`s go (the token store's backend). */
  readonly markers?: KeyValueStore | undefined;
  /** The records of sessions shared with other replicas; `undefined`: sessions stay here. */
  readonly sessionRecords?: SessionRecordStore | undefined;
  /**
   * Follows the downstream servers' list changes (the registries' `onListChanged`): every handler
   * passes them on to its sessions and `subscriptions/listen` streams, those of `principal` only
   * when one is given (a change of that caller's own connection). Returns an unsubscribe.
   */
  readonly listChanges?:
    | ((listener: (kind: ListKind, principal?: string) => void) => () => void)
    | undefined;
}

/** The handlers and servers of one app: what `createHandler()` and `listen()` opened. */
export class AppServing {
  readonly #options: AppServingOptions;
  readonly #handlers = new Set<McpHttpHandler>();
  readonly #servers = new Set<HttpServer>();
  /** One for every handler of the app, so a state minted by one verifies on another. */
  readonly #requestStates: RequestStates;

  /** Stops following the downstream servers' list changes. */
  readonly #unfollow: () => void;
  /** Paces them: at most one announcement per list and principal a second. */
  readonly #listChanges = throttleListChanges((kind, principal) => {
    for (const handler of this.#handlers) handler.notifyListChanged(kind, principal);
  });

  constructor(options: AppServingOptions) {
    this.#options = options;
    this.#requestStates = requestStatesOf(options);
    this.#unfollow =
      options.listChanges?.((kind, principal) => this.#listChanges.announce(kind, principal)) ??
      (() => {});
  }

  /** A request listener to mount in a server of one's own; the app closes it with itself. */
  createHandler(options: { hostCheck?: HostCheck | undefined } = {}): McpHttpHandler {
    const { context, catalog, inbound, routes, events, streamRetryMs, sessionRecords } =
      this.#options;
    const handler = createMcpHttpHandler({
      catalog,
      info: context.info,
      guard: inbound?.guard,
      metadata: inbound?.metadata,
      mcpPath: MCP_PATH,
      hostCheck: options.hostCheck,
      routes,
      logger: context.logger,
      eventStore: events,
      streamRetryMs,
      requestStates: this.#requestStates,
      sessionRecords,
    });
    this.#handlers.add(handler);
    return handler;
  }

  /** Serve a new handler over node:http at `options`' address (see {@link ListenOptions}). */
  async listen(options: ListenOptions = {}): Promise<RunningApp> {
    const host = options.host ?? '127.0.0.1';
    // The check needs the port, which 0 only reveals once listening: a late-bound check.
    let check: HostCheck | undefined;
    const handler = this.createHandler({
      hostCheck: isLoopbackBind(host) ? (h, o) => (check ? check(h, o) : false) : undefined,
    });
    // Slow senders may not hold a connection: headers within 10 s, the whole request within 30 s
    // (an SSE stream's response may last; its request does not).
    const server = createHttpServer(handler, options.timeouts);
    await bind(server, options.port ?? 8000, host);
    const port = (server.address() as AddressInfo).port;
    const resource = this.#options.context.auth?.resource_server_url;
    check = loopbackHostCheck(port, resource ? [new URL(resource).host] : []);
    this.#servers.add(server);
    const origin = originOf(host, port);
    const url = `${origin}${MCP_PATH}`;
    this.#announce(host, origin, url);
    return { url, host, port, server, close: () => this.#stop(server, handler) };
  }

  /** Warn about an address clients or browsers cannot use, and learn the callback address. */
  #announce(host: string, origin: string, url: string): void {
    const { context, address } = this.#options;
    const resource = context.auth?.resource_server_url;
    if (resource) selfCheck(resource, url, context.logger);
    if (!address.base && (host === '0.0.0.0' || host === '::')) {
      context.logger.warn(
        `listening on ${host} without oauth.callback_base_url: logins of callers would come back to ${origin}, which browsers cannot reach; set oauth.callback_base_url to the public address`,
        {},
      );
    }
    address.learn(origin);
  }

  /** Close one `listen()`'s handler and server (its `RunningApp.close`). */
  async #stop(server: HttpServer, handler: McpHttpHandler): Promise<void> {
    this.#servers.delete(server);
    this.#handlers.delete(handler);
    await handler.close();
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }

  /** Close every server (without waiting), then every handler. */
  async close(): Promise<void> {
    this.#unfollow();
    this.#listChanges.close();
    for (const server of this.#servers) {
      server.closeAllConnections();
      server.close();
    }
    this.#servers.clear();
    await Promise.all([...this.#handlers].map((handler) => handler.close()));
  }
}

/** Listen on `port` at `host`; rejects with the server's error (say `EADDRINUSE`). */
function bind(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done();
    });
  });
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

/**
 * The `requestState` service: signed with `authorization.request_state_key` (the same on every
 * replica), else a random key drawn now; its markers on the token store's backend.
 */
function requestStatesOf(options: AppServingOptions): RequestStates {
  const { context, markers } = options;
  return createRequestStates({
    key: context.auth?.request_state_key?.reveal() ?? randomRequestStateKey(),
    store: markers ?? new MemoryKeyValueStore(context.now ? { now: context.now } : {}),
    // Bound to this deployment: another one sharing the key and the store cannot use its states.
    audience: context.auth?.resource_server_url,
    ...(context.now ? { clock: context.now } : {}),
  });
}
