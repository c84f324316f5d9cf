/**
 * The downstream servers' resources, resource templates, prompts and completions, served by
 * `serve` like their tools (issue 15, item 4), each caller reaching each server the way its tools
 * are reached ({@link downstreamRoute}: the caller's own tokens for a server that uses OAuth).
 *
 * Naming, as mcp-agent's aggregator does it and in one place (`ContentNaming`, which a mode
 * fronting one server unchanged swaps for `unchangedNaming`):
 *
 * - a prompt is served as `SERVER_PROMPT` (the rule of tool names, {@link ToolNames}), and a
 *   `prompts/get` goes to the server the name belongs to, to the prompt of its listing with
 *   exactly that served name;
 * - a resource and a template keep their URI; their `name` becomes `SERVER_NAME`. A URI is never
 *   taken apart to find its server: a read (or a subscription) goes to the one server that lists
 *   the URI for this caller, else to the one server with a template matching it. A URI no server
 *   lists for the caller, or that two servers could serve, is refused (`-32002`, resource not
 *   found) without asking any server. The map from URI to server is built from the caller's own
 *   listings (kept per caller, rebuilt on a miss and on a server's list change).
 *
 * Subscriptions are per session: a downstream subscription is made once per connection and URI
 * (`resources/subscribe` on 2025-11-25, the URI in a `subscriptions/listen` filter on 2026-07-28,
 * see {@link ServerConnection.subscribeResource}), and the server's
 * `notifications/resources/updated` reaches the sessions that subscribed to that URI on that
 * connection, no other. A session's subscriptions end with it.
 *
 * @module
 */
import {
  type CompleteRequest,
  type CompleteResult,
  type GetPromptResult,
  type Prompt,
  ProtocolError,
  ProtocolErrorCode,
  type ReadResourceResult,
  type Resource,
  ResourceNotFoundError,
  type ResourceTemplateType as ResourceTemplate,
  UriTemplate,
} from '@modelcontextprotocol/server';
import type { CallerScopes } from '../client/caller-scopes.js';
import type { Logger } from '../logger.js';
import { type CallerIdentity, principalOf } from '../server/identity.js';
import type { ContentCatalog, ContentContext, SessionWatch } from '../server/mcp-content.js';
import { isProtocolError } from '../server/protocol-errors.js';
import { type ContentNaming, namespacedNaming } from '../servers/content-names.js';
import type { ServerChange, ServerConnection } from '../servers/registry.js';
import { downstreamRoute } from './catalog.js';
import { handedOver, signInDeclined, signInFor } from './delegated-login.js';
import { relayed } from './input-relay.js';
import { type ListChangeThrottle, throttleListChanges } from './list-change-throttle.js';
import { ResourceSubscribers } from './resource-subscribers.js';

export {
  type ContentNaming,
  namespacedNaming,
  unchangedNaming,
} from '../servers/content-names.js';

/** Pages of one listing read at most (a server that never stops paging is cut there). */
const MAX_PAGES = 100;

/** A server's listing, as one caller gets it. */
interface Listing<T> {
  readonly server: string;
  readonly connection: ServerConnection;
  readonly items: T[];
}

/** Where a caller's URIs go: listed URIs and templates, by server. */
interface UriMap {
  listed: Map<string, string[]>;
  templates: {
    readonly server: string;
    readonly template: string;
    readonly parsed: UriTemplate | undefined;
  }[];
}

/** Options of {@link DownstreamContent}. */
export interface DownstreamContentOptions {
  /** The downstream servers, per caller. */
  readonly scopes: CallerScopes;
  /** How prompts and resources are named. Default {@link namespacedNaming} of `scopes.names`. */
  readonly naming?: ContentNaming | undefined;
  /** The sign-in check's URL for a caller's flow (authorization on), else `undefined`. */
  readonly connectUrl?: ((flowId: string) => string | undefined) | undefined;
  readonly logger?: Logger | undefined;
  /** Callers whose URI maps are kept. Default 1,000. */
  readonly maxCallers?: number;
}

/** The downstream servers' prompts, resources and completions, per caller. */
export class DownstreamContent implements ContentCatalog {
  readonly #options: DownstreamContentOptions;
  readonly #naming: ContentNaming;
  /** Each caller's URI map (least recently used first). */
  readonly #uris = new Map<string, UriMap>();
  /** The sessions subscribed to each URI, per downstream connection. */
  readonly #subscribers = new ResourceSubscribers<ServerConnection>((connection, uri) =>
    connection.unsubscribeResource(uri),
  );
  /** URIs listed by two servers that the log has been told about. */
  readonly #sharedWarned = new Set<string>();
  /** The connections whose changes are being followed. */
  readonly #followed = new WeakSet<ServerConnection>();
  /** The sessions told about each connection's list changes. */
  readonly #watchers = new WeakMap<ServerConnection, Set<SessionWatch>>();

  constructor(options: DownstreamContentOptions) {
    this.#options = options;
    this.#naming = options.naming ?? namespacedNaming(options.scopes.names);
  }

  /** Every downstream server, in the order tools are listed. */
  #servers(): string[] {
    const { scopes } = this.#options;
    return [...scopes.sharedServers, ...scopes.perCallerServers];
  }

  /** The open connection to `server` for the caller (a login handed over asks the caller). */
  async #connect(server: string, context: ContentContext): Promise<ServerConnection> {
    const { scope, auth } = downstreamRoute(this.#options.scopes, server, context.caller);
    // A 2026-07-28 retry whose sign-in page was declined or dismissed: nothing is done.
    if (signInDeclined(server, context)) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidRequest,
        `The sign-in to ${server} was not accepted; nothing was done.`,
      );
    }
    try {
      return await scope.registry.connect(server);
    } catch (error) {
      const handed = handedOver(error);
      if (!handed || !auth) throw error;
      // No client waits for a sign-in during a read: the URL-elicitation-required error tells it
      // (on 2026-07-28, an input-required result asking to open the page).
      await signInFor(server, handed, auth, context, (id) => this.#options.connectUrl?.(id));
      return scope.registry.connect(server);
    }
  }

  /** Each server's listing for the caller; a server that fails is left out, with a warning. */
  async #list<T>(
    context: ContentContext,
    kind: 'prompts' | 'resources',
    fetch: (connection: ServerConnection) => Promise<T[]>,
  ): Promise<Listing<T>[]> {
    const lists = await Promise.all(
      this.#servers().map(async (server): Promise<Listing<T> | undefined> => {
        try {
          const connection = await this.#connectQuietly(server, context);
          if (!connection) return undefined;
          this.#watch(connection, context.session);
          const capabilities = connection.client.getServerCapabilities();
          if (!capabilities?.[kind]) return { server, connection, items: [] };
          return { server, connection, items: await fetch(connection) };
        } catch (error) {
          this.#warn(context, `the ${kind} of server "${server}" are left out`, server, error);
          return undefined;
        }
      }),
    );
    return lists.filter((list): list is Listing<T> => list !== undefined);
  }

  /** The connection to `server` for the caller, or `undefined` while the caller must sign in. */
  async #connectQuietly(
    server: string,
    context: ContentContext,
  ): Promise<ServerConnection | undefined> {
    const { scope } = downstreamRoute(this.#options.scopes, server, context.caller);
    try {
      return await scope.registry.connect(server);
    } catch (error) {
      if (handedOver(error)) return undefined;
      throw error;
    }
  }

  #warn(context: ContentContext, sentence: string, server: string, error: unknown): void {
    const detail = error instanceof Error ? error.message : 'unknown error';
    this.#options.logger?.warn(`${sentence}: ${detail}`, { server });
    // The caller's log gets the sentence only (details name URLs and configuration keys).
    if (context.log?.enabled('warning')) context.log.own('warning', { message: sentence });
  }

  /** Every page of a paginated listing. */
  async #pages<T>(
    connection: ServerConnection,
    context: ContentContext,
    page: (
      cursor: string | undefined,
      options: { timeout: number; signal?: AbortSignal },
    ) => Promise<{ items: T[]; nextCursor?: string | undefined }>,
  ): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const result = await connection.request((options) => page(cursor, options), {
        signal: context.signal,
        log: context.log,
      });
      items.push(...result.items);
      cursor = result.nextCursor;
    } while (cursor && ++pages < MAX_PAGES);
    return items;
  }

  async #prompts(context: ContentContext): Promise<Listing<Prompt>[]> {
    return this.#list(context, 'prompts', (connection) =>
      this.#pages(connection, context, async (cursor, options) => {
        const result = await connection.client.listPrompts(cursor ? { cursor } : {}, options);
        return { items: result.prompts, nextCursor: result.nextCursor };
      }),
    );
  }

  async listPrompts(context: ContentContext): Promise<Prompt[]> {
    return (await this.#prompts(context)).flatMap(({ server, items }) =>
      this.#uniquePrompts(server, items).map(([name, prompt]) => ({ ...prompt, name })),
    );
  }

  /** The prompts of `server` by served name; names two prompts would share are left out. */
  #uniquePrompts(server: string, prompts: readonly Prompt[]): [string, Prompt][] {
    const byName = new Map<string, Prompt[]>();
    for (const prompt of prompts) {
      const name = this.#naming.prompt(server, prompt.name);
      const same = byName.get(name) ?? [];
      if (!same.some((other) => other.name === prompt.name)) same.push(prompt);
      byName.set(name, same);
    }
    return [...byName].flatMap(([name, same]) =>
      same.length === 1 ? [[name, same[0] as Prompt] as [string, Prompt]] : [],
    );
  }

  /** The server and own name of served prompt `name` for the caller; refused when none. */
  async #findPrompt(name: string, context: ContentContext) {
    const server = this.#naming.promptOwner(name);
    if (server !== undefined && this.#servers().includes(server)) {
      const connection = await this.#connect(server, context);
      if (connection.client.getServerCapabilities()?.prompts) {
        const prompts = await this.#pages(connection, context, async (cursor, options) => {
          const result = await connection.client.listPrompts(cursor ? { cursor } : {}, options);
          return { items: result.prompts, nextCursor: result.nextCursor };
        });
        const found = this.#uniquePrompts(server, prompts).find(([served]) => served === name);
        if (found) return { server, connection, prompt: found[1].name };
      }
    }
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  }

  async getPrompt(
    name: string,
    args: Record<string, string>,
    context: ContentContext,
  ): Promise<GetPromptResult> {
    const { server, connection, prompt } = await this.#findPrompt(name, context);
    // On 2026-07-28 the server's input requests go to the caller (input-relay.ts).
    return relayed(server, context.modern, (relay) =>
      this.#forward(server, context, `the prompt ${name}`, () =>
        connection.request(
          (options) =>
            connection.client.getPrompt(
              { name: prompt, arguments: args, ...connection.relayParams(relay, context.log) },
              options,
            ),
          { signal: context.signal, log: context.log, relay },
        ),
      ),
    );
  }

  /**
   * Run a downstream request; a server's protocol error keeps its code (its message stays in
   * the app's log), any other failure becomes "could not be … right now". The server's "resource
   * not found" for `uri` (-32002, or -32602 naming a URI) is ours, with `uri` as its data.
   */
  async #forward<T>(
    server: string,
    context: ContentContext,
    what: string,
    send: () => Promise<T>,
    uri?: string,
  ): Promise<T> {
    try {
      return await send();
    } catch (error) {
      this.#warn(context, `${what} of server "${server}" failed`, server, error);
      if (uri !== undefined && isResourceNotFound(error)) {
        throw new ResourceNotFoundError(uri, `${what} failed on its server`);
      }
      if (isProtocolError(error)) {
        throw new ProtocolError(error.code, `${what} failed on its server`);
      }
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        `${what} could not be reached right now`,
      );
    }
  }

  async #resources(context: ContentContext): Promise<Listing<Resource>[]> {
    return this.#list(context, 'resources', (connection) =>
      this.#pages(connection, context, async (cursor, options) => {
        const result = await connection.client.listResources(cursor ? { cursor } : {}, options);
        return { items: result.resources, nextCursor: result.nextCursor };
      }),
    );
  }

  async #templates(context: ContentContext): Promise<Listing<ResourceTemplate>[]> {
    return this.#list(context, 'resources', (connection) =>
      this.#pages(connection, context, async (cursor, options) => {
        const result = await connection.client.listResourceTemplates(
          cursor ? { cursor } : {},
          options,
        );
        return { items: result.resourceTemplates, nextCursor: result.nextCursor };
      }),
    );
  }

  async listResources(context: ContentContext): Promise<Resource[]> {
    const listings = await this.#resources(context);
    const map = this.#mapOf(context.caller);
    // Replaced whole, so a concurrent request of the caller never sees half a map.
    const listed = new Map<string, string[]>();
    for (const { server, items } of listings) {
      for (const { uri } of items) {
        const servers = listed.get(uri) ?? [];
        if (!servers.includes(server)) servers.push(server);
        listed.set(uri, servers);
      }
    }
    map.listed = listed;
    const served: Resource[] = [];
    for (const { server, items } of listings) {
      for (const resource of items) {
        if ((map.listed.get(resource.uri) ?? []).length > 1) continue;
        served.push({ ...resource, name: this.#naming.resourceName(server, resource.name) });
      }
    }
    this.#warnShared(map, context);
    return served;
  }

  /** A warning per URI two servers list (it is offered by neither), once per URI. */
  #warnShared(map: UriMap, context: ContentContext): void {
    for (const [uri, servers] of map.listed) {
      if (servers.length < 2 || this.#sharedWarned.has(uri)) continue;
      if (this.#sharedWarned.size < 1000) this.#sharedWarned.add(uri);
      this.#options.logger?.warn(
        `the resource "${uri}" is listed by servers ${servers.map((s) => `"${s}"`).join(', ')}; it is offered by none`,
      );
      if (context.log?.enabled('warning')) {
        context.log.own('warning', { message: 'a resource listed by two servers is left out' });
      }
    }
  }

  async listResourceTemplates(context: ContentContext): Promise<ResourceTemplate[]> {
    const listings = await this.#templates(context);
    const templates: UriMap['templates'] = [];
    for (const { server, items } of listings) {
      for (const template of items) {
        templates.push({
          server,
          template: template.uriTemplate,
          parsed: parse(template.uriTemplate),
        });
      }
    }
    this.#mapOf(context.caller).templates = templates;
    return listings.flatMap(({ server, items }) =>
      items.map((template) => ({
        ...template,
        name: this.#naming.resourceName(server, template.name),
      })),
    );
  }

  /** The caller's URI map (made empty when new). */
  #mapOf(caller: CallerIdentity | undefined): UriMap {
    const key = caller ? principalOf(caller) : '';
    let map = this.#uris.get(key);
    if (map) this.#uris.delete(key);
    map ??= { listed: new Map(), templates: [] };
    this.#uris.set(key, map);
    while (this.#uris.size > (this.#options.maxCallers ?? 1000)) {
      const [oldest] = this.#uris.keys();
      if (oldest === undefined) break;
      this.#uris.delete(oldest);
    }
    return map;
  }

  /** The one server `uri` goes to for the caller, from its map (`undefined`: none, or two). */
  #serverIn(map: UriMap, uri: string): string | undefined {
    const listed = map.listed.get(uri);
    if (listed) return listed.length === 1 ? listed[0] : undefined;
    const matching = new Set(
      map.templates
        .filter(({ parsed }) => parsed !== undefined && parsed.match(uri) !== null)
        .map(({ server }) => server),
    );
    return matching.size === 1 ? [...matching][0] : undefined;
  }

  /**
   * The server `uri` goes to for the caller: from the caller's map, else from its listings made
   * again; refused (resource not found) when no server, or more than one, could serve it.
   */
  async #owner(uri: string, context: ContentContext): Promise<string> {
    const known = this.#serverIn(this.#mapOf(context.caller), uri);
    if (known !== undefined) return known;
    await Promise.all([this.listResources(context), this.listResourceTemplates(context)]);
    const server = this.#serverIn(this.#mapOf(context.caller), uri);
    if (server === undefined) {
      throw new ResourceNotFoundError(uri, 'Resource not found');
    }
    return server;
  }

  async readResource(uri: string, context: ContentContext): Promise<ReadResourceResult> {
    const server = await this.#owner(uri, context);
    const connection = await this.#connect(server, context);
    return relayed(server, context.modern, (relay) =>
      this.#forward(
        server,
        context,
        'reading the resource',
        () =>
          connection.request(
            (options) =>
              connection.client.readResource(
                { uri, ...connection.relayParams(relay, context.log) },
                options,
              ),
            { signal: context.signal, log: context.log, relay },
          ),
        uri,
      ),
    );
  }

  async complete(
    params: CompleteRequest['params'],
    context: ContentContext,
  ): Promise<CompleteResult> {
    const empty: CompleteResult = { completion: { values: [] } };
    const { ref } = params;
    let server: string;
    let connection: ServerConnection;
    let downstreamRef: CompleteRequest['params']['ref'];
    if (ref.type === 'ref/prompt') {
      const found = await this.#findPrompt(ref.name, context);
      ({ server, connection } = found);
      downstreamRef = { type: 'ref/prompt', name: found.prompt };
    } else {
      // A template as the caller's listing shows it, of exactly one server.
      const map = this.#mapOf(context.caller);
      let owners = map.templates.filter(({ template }) => template === ref.uri);
      if (owners.length === 0) {
        await this.listResourceTemplates(context);
        owners = this.#mapOf(context.caller).templates.filter(
          ({ template }) => template === ref.uri,
        );
      }
      const servers = [...new Set(owners.map((owner) => owner.server))];
      if (servers.length !== 1) {
        throw new ResourceNotFoundError(ref.uri, 'Resource template not found');
      }
      server = servers[0] as string;
      connection = await this.#connect(server, context);
      downstreamRef = ref;
    }
    if (!connection.client.getServerCapabilities()?.completions) return empty;
    return this.#forward(server, context, 'the completion', () =>
      connection.request(
        (options) => connection.client.complete({ ...params, ref: downstreamRef }, options),
        { signal: context.signal, log: context.log },
      ),
    );
  }

  async subscribe(uri: string, context: ContentContext): Promise<void> {
    const server = await this.#owner(uri, context);
    const connection = await this.#connect(server, context);
    // Both eras declare it the same way (2026-07-28: in the server/discover result).
    if (!connection.client.getServerCapabilities()?.resources?.subscribe) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        'This resource cannot be subscribed to',
      );
    }
    this.#follow(connection);
    const { session } = context;
    if (this.#subscribers.sessionsOf(connection, uri).has(session)) return;
    // Subscribed (synchronously) before the end is watched: a session already ended is removed.
    const added = this.#subscribers.add(connection, uri, session, {
      send: () =>
        this.#forward(server, context, 'subscribing to the resource', () =>
          connection.subscribeResource(uri, { signal: context.signal, log: context.log }),
        ),
      signal: context.signal,
    });
    session.onEnd(() => {
      void this.#subscribers.remove(connection, uri, session);
    });
    await added;
  }

  async unsubscribe(uri: string, context: ContentContext): Promise<void> {
    // Only this session's own subscriptions: another session's (another caller's) are not seen.
    const connection = this.#subscribers.connectionOf(context.session, uri);
    if (connection && (await this.#subscribers.remove(connection, uri, context.session))) return;
    throw new ProtocolError(
      ProtocolErrorCode.InvalidParams,
      'This session has no subscription to this resource',
    );
  }

  /** Tell `session` about the list changes of `connection` until the session ends. */
  #watch(connection: ServerConnection, session: SessionWatch): void {
    this.#follow(connection);
    const sessions = this.#watchers.get(connection) ?? new Set<SessionWatch>();
    this.#watchers.set(connection, sessions);
    if (sessions.has(session)) return;
    sessions.add(session);
    session.onEnd(() => sessions.delete(session));
  }

  /** Follow `connection`'s announcements (once per connection). */
  #follow(connection: ServerConnection): void {
    if (this.#followed.has(connection)) return;
    this.#followed.add(connection);
    // Its sessions hear of its list changes at most once a second (a server may flood them).
    const announce = throttleListChanges((kind) => {
      if (kind === 'tools') return;
      for (const session of this.#watchers.get(connection) ?? []) session.listChanged(kind);
    });
    connection.onChange((change) => this.#changed(connection, change, announce));
  }

  #changed(connection: ServerConnection, change: ServerChange, announce: ListChangeThrottle): void {
    if (change.kind === 'resource') {
      for (const session of this.#subscribers.sessionsOf(connection, change.uri)) {
        session.updated(change.uri);
      }
      return;
    }
    // Whose URIs this connection served may have changed: every map is built again on its next miss.
    if (change.kind === 'resources') this.#uris.clear();
    announce.announce(change.kind);
  }
}

/** A server's "resource not found": -32002 (the SDK v1's), or -32602 with a `uri` as data. */
function isResourceNotFound(error: unknown): boolean {
  if (!isProtocolError(error)) return false;
  const data = (error as { data?: { uri?: unknown } }).data;
  return error.code === -32002 || (error.code === -32602 && typeof data?.uri === 'string');
}

function parse(template: string): UriTemplate | undefined {
  try {
    return new UriTemplate(template);
  } catch {
    return undefined;
  }
}
