/**
 * Resource subscriptions of `serve`'s own `subscriptions/listen` streams (protocol 2026-07-28,
 * SEP-2575): a stream whose filter names `resourceSubscriptions` subscribes `serve` to those
 * resources downstream ({@link ContentCatalog.subscribe}, as a 2025-11-25 `resources/subscribe`
 * does) for as long as it stays open, and hears of their `notifications/resources/updated`.
 *
 * The SDK's listen router filters events by URI only, so an update published on its bus would
 * reach every stream naming the URI, whoever opened it. {@link ListenBus} tags each stream's
 * listener with the stream it serves ({@link serveTagged}) and hands a resource update only to the
 * stream whose own subscription it came from: a stream another caller opened, or one whose URI
 * was not subscribed downstream (a per-user server's resource, a failed subscription), gets none.
 *
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import { listenedUris } from './http-body.js';
import type { CallerIdentity } from './identity.js';
import type { ContentCatalog, SessionWatch } from './mcp-content.js';

/** One open listen stream, as {@link ListenBus} tells its listener apart. */
export type StreamTag = object;

/** The stream whose `subscriptions/listen` request is being handed to the SDK. */
const current = new AsyncLocalStorage<StreamTag>();

/**
 * The change-event bus of `serve`'s modern handler: list changes go to every stream (the SDK's
 * router filters them by each stream's filter); a resource update goes to one stream only.
 */
export class ListenBus implements ServerEventBus {
  readonly #listeners = new Map<(event: ServerEvent) => void, StreamTag | undefined>();
  readonly #onerror: (error: unknown) => void;

  constructor(onerror: (error: unknown) => void) {
    this.#onerror = onerror;
  }

  publish(event: ServerEvent): void {
    for (const listener of [...this.#listeners.keys()]) this.#deliver(listener, event);
  }

  subscribe(listener: (event: ServerEvent) => void): () => void {
    this.#listeners.set(listener, current.getStore());
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Tell the stream `tag` (only it; its router checks its filter names `uri`) of an update. */
  resourceUpdated(tag: StreamTag, uri: string): void {
    for (const [listener, of] of [...this.#listeners]) {
      if (of === tag) this.#deliver(listener, { kind: 'resource_updated', uri });
    }
  }

  #deliver(listener: (event: ServerEvent) => void, event: ServerEvent): void {
    try {
      listener(event);
    } catch (error) {
      this.#onerror(error);
    }
  }
}

/** Run `serve` (the SDK's handling of a listen request) with its stream tagged `tag`. */
export function serveTagged<T>(tag: StreamTag, serve: () => T): T {
  return current.run(tag, serve);
}

/** The `resourceSubscriptions` URIs of a `subscriptions/listen` request `body` (none: `[]`). */
export function listedUris(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const { method, params } = body as { method?: unknown; params?: unknown };
  return [...new Set(listenedUris(method, params))];
}

/** What {@link followListedResources} needs of one listen request. */
export interface ListenResourcesRequest {
  /** The caller; `undefined` when authorization is off. */
  readonly caller: CallerIdentity | undefined;
  /** The stream's response: the subscriptions end when it closes. */
  readonly res: ServerResponse;
  /** The URIs the stream's filter names. */
  readonly uris: readonly string[];
  /** Logs a URI that could not be subscribed to. */
  readonly onFailure: (uri: string, error: unknown) => void;
}

/**
 * Subscribe to each of `request.uris` downstream for the stream `tag` until its response closes
 * (the last stream wanting a URI ends its downstream subscription), its updates going to
 * `bus` for that stream alone; resolves once every subscription is in place, so that the
 * acknowledgement the SDK sends next is followed by every update. A URI that cannot be subscribed
 * to (unknown, or its server cannot) is left out, as the SDK accepts any URI in the filter: the
 * stream gets no update for it.
 */
export async function followListedResources(
  content: ContentCatalog,
  bus: ListenBus,
  tag: StreamTag,
  request: ListenResourcesRequest,
): Promise<void> {
  const aborter = new AbortController();
  const session = streamWatch(bus, tag, request.res, aborter);
  await Promise.all(
    request.uris.map((uri) =>
      content
        .subscribe(uri, { caller: request.caller, signal: aborter.signal, session })
        .catch((error: unknown) => request.onFailure(uri, error)),
    ),
  );
}

/** The {@link SessionWatch} of one listen stream: it ends when `res` closes. */
function streamWatch(
  bus: ListenBus,
  tag: StreamTag,
  res: ServerResponse,
  aborter: AbortController,
): SessionWatch {
  const cleanups = new Set<() => void>();
  let ended = false;
  res.once('close', () => {
    ended = true;
    aborter.abort();
    for (const cleanup of cleanups) cleanup();
    cleanups.clear();
  });
  return {
    updated: (uri) => {
      if (!ended) bus.resourceUpdated(tag, uri);
    },
    // List changes reach the streams through the handler's own notifier.
    listChanged: () => {},
    onEnd: (cleanup) => {
      if (ended) cleanup();
      else cleanups.add(cleanup);
    },
  };
}
