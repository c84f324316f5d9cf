/**
 * Resource subscriptions of `serve`'s own `subscriptions/listen` streams (protocol 2026-07-28,
 * SEP-2575): a stream whose filter names `resourceSubscriptions` subscribes `serve` to those
 * resources downstream ({@link ContentCatalog.subscribe}, as a 2025-11-25 `resources/subscribe`
 * does) for as long as it stays open, and hears of their `notifications/resources/updated`.
 *
 * The SDK's listen router filters events by URI only, so an update published on a shared bus
 * would reach every stream naming the URI, whoever opened it. Such a stream is therefore served
 * by a handler of its own whose bus ({@link streamBus}) carries the shared bus's list changes and
 * this stream's resource updates alone: a stream another caller opened, or one whose URI was not
 * subscribed downstream (a per-user server's resource, a failed subscription), gets none.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { InMemoryServerEventBus, type ServerEventBus } from '@modelcontextprotocol/server';
import { resourceSubscriptionsOf } from './http-body.js';
import type { CallerIdentity } from './identity.js';
import type { ContentCatalog, SessionWatch } from './mcp-content.js';

/**
 * The bus of one stream's own handler: every event of `shared` (list changes) until `res`
 * closes. Publish the stream's resource updates on it.
 */
export function streamBus(
  shared: ServerEventBus,
  res: ServerResponse,
  onerror: (error: Error) => void,
): InMemoryServerEventBus {
  const bus = new InMemoryServerEventBus(onerror);
  const unfollow = shared.subscribe((event) => bus.publish(event));
  res.once('close', unfollow);
  return bus;
}

/** The `resourceSubscriptions` URIs of a `subscriptions/listen` request `body` (none: `[]`). */
export function listedUris(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const { method, params } = body as { method?: unknown; params?: unknown };
  return [...new Set(resourceSubscriptionsOf(method, params))];
}

/** What {@link followListedResources} needs of one listen request. */
export interface ListenResourcesRequest {
  /** The caller; `undefined` when authorization is off. */
  readonly caller: CallerIdentity | undefined;
  /** The stream's response: the subscriptions end when it closes. */
  readonly res: ServerResponse;
  /** The URIs the stream's filter names. */
  readonly uris: readonly string[];
  /** Tells the stream (and it alone) of an update of `uri`, while it is open. */
  readonly onUpdate: (uri: string) => void;
  /** Logs a URI that could not be subscribed to. */
  readonly onFailure: (uri: string, error: unknown) => void;
}

/**
 * Subscribe to each of `request.uris` downstream for one stream until its response closes (the
 * last stream wanting a URI ends its downstream subscription), its updates going to
 * `request.onUpdate`; resolves once every subscription is in place, so that the
 * acknowledgement the SDK sends next is followed by every update. A URI that cannot be subscribed
 * to (unknown, or its server cannot) is left out, as the SDK accepts any URI in the filter: the
 * stream gets no update for it.
 */
export async function followListedResources(
  content: ContentCatalog,
  request: ListenResourcesRequest,
): Promise<void> {
  const aborter = new AbortController();
  const session = streamWatch(request.res, request.onUpdate, aborter);
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
  res: ServerResponse,
  onUpdate: (uri: string) => void,
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
      if (!ended) onUpdate(uri);
    },
    // List changes reach the streams through the handler's own notifier.
    listChanged: () => {},
    onEnd: (cleanup) => {
      if (ended) cleanup();
      else cleanups.add(cleanup);
    },
  };
}
