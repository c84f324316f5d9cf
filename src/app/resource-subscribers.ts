/**
 * Who is subscribed to which resource on which downstream connection, and the one downstream
 * subscription per connection and URI that serves them all.
 *
 * The downstream subscription follows the set of subscribers, one request to the server at a
 * time: the first subscriber subscribes, the last one to leave unsubscribes, and a change made
 * while a request is in flight is settled once it returns. So a session that ends while its
 * subscription is still being made leaves nothing subscribed downstream (its unsubscribe goes out
 * after the subscribe, never before it), and a subscriber that joins while the first one's
 * subscribe is in flight is answered only once the subscription is in place.
 *
 * @module
 */
import type { SessionWatch } from '../server/mcp-content.js';

/** The subscribers of one URI on one connection, and what the server holds for them. */
interface Entry {
  readonly sessions: Set<SessionWatch>;
  /**
   * Whether the server holds our subscription: `maybe` after a subscribe that failed (it may have
   * been made before the failure, or the abort, reached us), which the last subscriber's leaving
   * ends like a `yes`.
   */
  held: 'no' | 'yes' | 'maybe';
  /** The requests to the server still to finish, last first; each waits for those before. */
  tail: Promise<void>;
  /** How many calls wait on {@link tail}: the entry is forgotten only when none do. */
  waiting: number;
}

/**
 * The subscribers of resources, per connection (`K`: what tells connections apart) and URI.
 * `unsubscribe` ends a downstream subscription; its failure is taken as "nothing left to end".
 */
export class ResourceSubscribers<K extends object> {
  readonly #entries = new Map<K, Map<string, Entry>>();
  readonly #unsubscribe: (connection: K, uri: string) => Promise<unknown>;

  constructor(unsubscribe: (connection: K, uri: string) => Promise<unknown>) {
    this.#unsubscribe = unsubscribe;
  }

  /** The sessions subscribed to `uri` on `connection`. */
  sessionsOf(connection: K, uri: string): ReadonlySet<SessionWatch> {
    return this.#entries.get(connection)?.get(uri)?.sessions ?? new Set();
  }

  /** The connection on which `session` is subscribed to `uri`, if it is. */
  connectionOf(session: SessionWatch, uri: string): K | undefined {
    for (const [connection, byUri] of this.#entries) {
      if (byUri.get(uri)?.sessions.has(session)) return connection;
    }
    return undefined;
  }

  /**
   * Subscribe `session` to `uri` on `connection`: resolves once the server holds the subscription,
   * made with `subscribe` unless it already was. When `subscribe` fails, `session` is not
   * subscribed and the error is thrown.
   */
  async add(
    connection: K,
    uri: string,
    session: SessionWatch,
    subscribe: () => Promise<void>,
  ): Promise<void> {
    const entry = this.#entry(connection, uri);
    entry.sessions.add(session);
    try {
      await this.#settle(connection, uri, entry, subscribe);
    } catch (error) {
      entry.sessions.delete(session);
      // Nobody else may want it now: a subscribe that went through meanwhile is undone.
      await this.#settle(connection, uri, entry, undefined).catch(() => {});
      throw error;
    } finally {
      this.#forgetIfIdle(connection, uri, entry);
    }
  }

  /**
   * End `session`'s subscription to `uri` on `connection`; the last subscriber's ends the
   * downstream one (after any request in flight). `false`: `session` was not subscribed.
   */
  async remove(connection: K, uri: string, session: SessionWatch): Promise<boolean> {
    const entry = this.#entries.get(connection)?.get(uri);
    if (!entry?.sessions.delete(session)) return false;
    try {
      await this.#settle(connection, uri, entry, undefined);
    } finally {
      this.#forgetIfIdle(connection, uri, entry);
    }
    return true;
  }

  #entry(connection: K, uri: string): Entry {
    const byUri = this.#entries.get(connection) ?? new Map<string, Entry>();
    this.#entries.set(connection, byUri);
    const entry = byUri.get(uri) ?? {
      sessions: new Set<SessionWatch>(),
      held: 'no',
      tail: Promise.resolve(),
      waiting: 0,
    };
    byUri.set(uri, entry);
    return entry;
  }

  /**
   * Once the requests before it are done, bring the server in line with `entry`'s subscribers:
   * subscribe (with `subscribe`; without it, leave that to the caller that has one) or
   * unsubscribe, until nothing changed during the last request.
   */
  #settle(
    connection: K,
    uri: string,
    entry: Entry,
    subscribe: (() => Promise<void>) | undefined,
  ): Promise<void> {
    const run = async () => {
      for (;;) {
        if (entry.sessions.size === 0) {
          if (entry.held === 'no') return;
          entry.held = 'no';
          await this.#unsubscribe(connection, uri).catch(() => {});
        } else {
          if (entry.held === 'yes' || !subscribe) return;
          entry.held = 'maybe';
          await subscribe();
          entry.held = 'yes';
        }
      }
    };
    const next = entry.tail.catch(() => {}).then(run);
    entry.tail = next;
    entry.waiting += 1;
    return next.finally(() => {
      entry.waiting -= 1;
    });
  }

  /** Forget `entry` when it has no subscriber, holds nothing and nobody waits on it. */
  #forgetIfIdle(connection: K, uri: string, entry: Entry): void {
    if (entry.sessions.size > 0 || entry.held !== 'no' || entry.waiting > 0) return;
    const byUri = this.#entries.get(connection);
    if (byUri?.get(uri) !== entry) return;
    byUri.delete(uri);
    if (byUri.size === 0) this.#entries.delete(connection);
  }
}
