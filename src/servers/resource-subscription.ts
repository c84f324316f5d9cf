/**
 * A downstream server's resource updates on protocol 2026-07-28 (SEP-2575): the revision has no
 * `resources/subscribe`; a client names the URIs it watches in the `resourceSubscriptions` of a
 * `subscriptions/listen` stream's filter, and `notifications/resources/updated` of those URIs
 * arrive there. The SDK client's `listen()` dispatches them to the handler a 2025-11-25 session's
 * updates reach, so {@link ServerConnection}'s `onChange` serves both eras.
 *
 * @module
 */
import {
  type Client,
  type McpSubscription,
  ProtocolError,
  ProtocolErrorCode,
} from '@modelcontextprotocol/client';
import type { Logger } from '../logger.js';
import { MAX_RELISTENS } from './list-subscription.js';

/** Options of {@link ResourceSubscriptions}. */
export interface ResourceSubscriptionsOptions {
  readonly logger: Logger;
  /** Bounds the wait for the server's acknowledgement of a stream. */
  readonly timeoutMs: number;
  /**
   * The stream was lost (the server ended it, or the connection dropped it): updates of `uris`
   * may have gone unheard, so each counts as updated. It is opened again (at most
   * {@link MAX_RELISTENS} times per connection).
   */
  readonly onLost: (uris: readonly string[]) => void;
}

/**
 * The resource URIs one modern connection watches, on a `subscriptions/listen` stream of their
 * own (beside the list changes' stream, whose filter never changes). A change of the set opens a
 * stream with the new filter, then closes the old one, so no update in between goes unheard (one
 * may come twice). Changes are applied one at a time.
 */
export class ResourceSubscriptions {
  readonly #client: Client;
  readonly #name: string;
  readonly #options: ResourceSubscriptionsOptions;
  readonly #uris = new Set<string>();
  #stream: McpSubscription | undefined;
  #queue: Promise<void> = Promise.resolve();
  #relistens = 0;

  constructor(client: Client, name: string, options: ResourceSubscriptionsOptions) {
    this.#client = client;
    this.#name = name;
    this.#options = options;
  }

  /**
   * Watch `uri`; resolves once the server acknowledged a stream that names it. Fails (and `uri`
   * is not watched) when the stream could not be opened or the server did not take the URI, or
   * once `signal` aborts (its caller left), waiting or opening.
   */
  add(uri: string, signal?: AbortSignal): Promise<void> {
    return this.#serially(async () => {
      signal?.throwIfAborted();
      if (this.#uris.has(uri)) return;
      this.#uris.add(uri);
      try {
        await this.#reopen(signal);
      } catch (error) {
        this.#uris.delete(uri);
        throw error;
      }
    });
  }

  /**
   * Stop watching `uri`: the stream is opened again without it (closed when it was the last).
   * Should that fail, the old stream stays, and its updates of `uri` find no one to tell.
   */
  remove(uri: string): Promise<void> {
    return this.#serially(async () => {
      if (!this.#uris.delete(uri)) return;
      await this.#reopen();
    });
  }

  #serially(change: () => Promise<void>): Promise<void> {
    const done = this.#queue.then(change);
    this.#queue = done.catch(() => {});
    return done;
  }

  /** Open a stream for the URIs watched now (none: no stream), then close the previous one. */
  async #reopen(signal?: AbortSignal): Promise<void> {
    const previous = this.#stream;
    const uris = [...this.#uris];
    let next: McpSubscription | undefined;
    if (uris.length > 0) {
      next = await this.#listen(uris, signal);
      const honored = new Set(next.honoredFilter.resourceSubscriptions ?? []);
      if (!uris.every((uri) => honored.has(uri))) {
        await next.close();
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          'The server did not take the resource subscription',
        );
      }
    }
    this.#stream = next;
    if (next) this.#whenLost(next);
    await previous?.close();
  }

  /**
   * A stream naming `uris`, acknowledged. `signal` ends the wait only: the SDK would close the
   * stream whenever it aborts, later too, while the stream serves every URI watched.
   */
  async #listen(uris: string[], signal: AbortSignal | undefined): Promise<McpSubscription> {
    const waiting = new AbortController();
    const stop = () => waiting.abort(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      return await this.#client.listen(
        { resourceSubscriptions: uris },
        { timeout: this.#options.timeoutMs, signal: waiting.signal },
      );
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  /** What happens when `stream`, still the current one, ends on the server's side. */
  #whenLost(stream: McpSubscription): void {
    void stream.closed.then((how) => {
      if (how === 'local' || this.#stream !== stream || !this.#client.transport) return;
      this.#stream = undefined;
      this.#options.onLost([...this.#uris]);
      if (this.#relistens++ >= MAX_RELISTENS) return;
      this.#serially(() => this.#reopen()).catch((error: unknown) => {
        this.#options.logger.debug(
          `server "${this.#name}" did not open a subscriptions/listen stream for its resources again`,
          { server: this.#name, error: error instanceof Error ? error.name : 'error' },
        );
      });
    });
  }
}
