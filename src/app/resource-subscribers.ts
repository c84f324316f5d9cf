/**
 * Who is subscribed to which resource on which downstream connection, and the one downstream
 * subscription per connection and URI that serves them all.
 *
 * The downstream subscription follows the set of subscribers, one request to the server at a
 * time: the first subscriber subscribes, the last one to leave unsubscribes, and a change made
 * while a request is in flight is settled once it returns. So a session that ends while its
 * subscription is still being made leaves nothing subscribed downstream (its unsubscribe goes out
 * after the subscribe, never before it), and a subscriber that joins while a subscribe is in
 * flight is answered with that subscribe's outcome: one request, one wait, however many join
 * (unless the subscribe was given up because its own caller left, when the next one tries again).
 *
 * @module
 */
import type { SessionWatch } from '../server/mcp-content.js';

/** One subscribe request: how to send it, and whether its caller has left (a retry is due). */
export interface SubscribeAttempt {
  readonly send: () => Promise<void>;
  readonly signal?: AbortSignal | undefined;
}

/** The subscribers of one URI on one connection, and what the server holds for them. */
interface Entry {
  /** Each subscriber with the token of the `add` that made it one. */
  readonly sessions: Map<SessionWatch, symbol>;
  /**
   * Whether the server holds our subscription: `maybe` after a subscribe that failed (it may have
   * been made before the failure, or the abort, reached us), which the last subscriber's leaving
   * ends like a `yes`.
   */
  held: 'no' | 'yes' | 'maybe';
  /** The requests to the server being made, while they are. */
  running: Promise<void> | undefined;
  /** The subscribe the running requests make, while they do. */
  attempt: SubscribeAttempt | undefined;
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
    return new Set(this.#entries.get(connection)?.get(uri)?.sessions.keys());
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
   * made with `attempt` unless it already was (or a subscribe in flight made it). When the
   * subscribe fails, `session` is not subscribed and the error is thrown.
   */
  async add(
    connection: K,
    uri: string,
    session: SessionWatch,
    attempt: SubscribeAttempt,
  ): Promise<void> {
    const entry = this.#entry(connection, uri);
    const token = Symbol('subscription');
    entry.sessions.set(session, token);
    const mine = () => entry.sessions.get(session) === token;
    try {
      while (mine() && entry.held !== 'yes') {
        if (!entry.running) this.#start(connection, uri, entry, attempt);
        const joined = entry.attempt;
        try {
          await entry.running;
        } catch (error) {
          // Its outcome is ours, unless it was given up because its own caller left.
          if (joined === attempt || !joined?.signal?.aborted) throw error;
        }
      }
    } catch (error) {
      if (mine()) entry.sessions.delete(session);
      await this.#settleEmpty(connection, uri, entry);
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
      await this.#settleEmpty(connection, uri, entry);
    } finally {
      this.#forgetIfIdle(connection, uri, entry);
    }
    return true;
  }

  #entry(connection: K, uri: string): Entry {
    const byUri = this.#entries.get(connection) ?? new Map<string, Entry>();
    this.#entries.set(connection, byUri);
    const entry = byUri.get(uri) ?? {
      sessions: new Map<SessionWatch, symbol>(),
      held: 'no',
      running: undefined,
      attempt: undefined,
    };
    byUri.set(uri, entry);
    return entry;
  }

  /** Once nobody wants `uri` any more and no request is in flight, end what the server holds. */
  async #settleEmpty(connection: K, uri: string, entry: Entry): Promise<void> {
    while (entry.sessions.size === 0 && entry.held !== 'no') {
      if (!entry.running) this.#start(connection, uri, entry, undefined);
      await entry.running?.catch(() => {});
    }
  }

  /**
   * Bring the server in line with `entry`'s subscribers, one request at a time, until nothing
   * changed during the last one: subscribe with `attempt` (without one, leave that to a caller
   * that has one) or unsubscribe. A failed subscribe ends the run with its error.
   */
  #start(connection: K, uri: string, entry: Entry, attempt: SubscribeAttempt | undefined): void {
    const run = async () => {
      for (;;) {
        if (entry.sessions.size === 0) {
          if (entry.held === 'no') return;
          entry.held = 'no';
          await this.#unsubscribe(connection, uri).catch(() => {});
        } else {
          if (entry.held === 'yes' || !attempt) return;
          entry.held = 'maybe';
          await attempt.send();
          entry.held = 'yes';
        }
      }
    };
    entry.attempt = attempt;
    // From the next microtask: a session that leaves and comes back at once sends nothing.
    entry.running = Promise.resolve()
      .then(run)
      .finally(() => {
        entry.running = undefined;
        entry.attempt = undefined;
      });
    // Awaited by whoever started or joined it; this keeps an unawaited failure from surfacing.
    entry.running.catch(() => {});
  }

  /** Forget `entry` when it has no subscriber, holds nothing and no request is in flight. */
  #forgetIfIdle(connection: K, uri: string, entry: Entry): void {
    if (entry.sessions.size > 0 || entry.held !== 'no' || entry.running) return;
    const byUri = this.#entries.get(connection);
    if (byUri?.get(uri) !== entry) return;
    byUri.delete(uri);
    if (byUri.size === 0) this.#entries.delete(connection);
  }
}
