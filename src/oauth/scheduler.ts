/**
 * Background refresh: tokens in use are refreshed before they expire, without waiting for a
 * request to find them due. Each server's next refresh is scheduled inside its leeway window (with
 * jitter, so replicas do not all fire at once); a transient failure (network, 5xx, 429) is retried
 * with exponential backoff or after the server's `Retry-After`; a terminal one (the grant was
 * refused: `invalid_grant`, `invalid_client`) stops the schedule and reports that a login is
 * needed. Timers are unref'd: the scheduler never keeps a process alive by itself.
 *
 * @module
 */
import { McpAgentError } from '../errors.js';
import { OAuthServerError } from './protocol/failures.js';

/** What background refresh reports. */
export type RefreshEvent =
  | { readonly type: 'refreshed'; readonly server: string }
  | {
      readonly type: 'failed';
      readonly server: string;
      readonly error: McpAgentError;
      /** When the next attempt is due, in milliseconds from now. */
      readonly retryInMs: number;
    }
  | { readonly type: 'needs-login'; readonly server: string; readonly error: McpAgentError };

/** A server whose token the scheduler keeps fresh. */
export interface RefreshTarget {
  readonly name: string;
  /** Whose token it is (a scheduler shared by several identities keeps one entry per pair). */
  readonly identity?: string;
  /**
   * True once its owner was closed (an end user's scope pushed out, say): it is not scheduled
   * again, though a request still in flight may use it.
   */
  readonly closed?: boolean;
  /** Refresh now if the token is due. */
  refreshIfDue(): Promise<'none' | 'not-needed' | 'refreshed'>;
  /** When to refresh next (epoch ms), or `undefined` when nothing can be refreshed. */
  nextRefreshAt(): Promise<number | undefined>;
}

/** The entry of `target`: its identity and server (a name alone would mix identities). */
function keyOf(target: Pick<RefreshTarget, 'name' | 'identity'>): string {
  return `${target.identity ?? 'app'}\u0000${target.name}`;
}

/**
 * The longest delay a Node timer keeps (2^31 - 1 ms, about 24.8 days): a longer one fires after
 * 1 ms. A refresh due later is looked at again after this long, then rescheduled.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** Timer functions (injected in tests). */
export interface SchedulerTimers {
  set(run: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: SchedulerTimers = {
  set(run, ms) {
    const handle = setTimeout(run, ms);
    handle.unref();
    return handle;
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** First retry after a transient failure, in milliseconds; doubled on each further failure. */
export const RETRY_BASE_MS = 1_000;
/** Longest wait between retries. */
export const RETRY_MAX_MS = 60_000;

/** Options of {@link RefreshScheduler}. */
export interface RefreshSchedulerOptions {
  readonly now?: () => number;
  /** In [0, 1); default `Math.random`. */
  readonly random?: () => number;
  readonly timers?: SchedulerTimers;
}

/** Keeps the tokens of the servers it watches fresh in the background. */
export class RefreshScheduler {
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #timers: SchedulerTimers;
  readonly #scheduled = new Map<string, { handle: unknown; at: number; target: RefreshTarget }>();
  readonly #failures = new Map<string, number>();
  readonly #listeners = new Set<(event: RefreshEvent) => void>();
  #stopped = false;

  constructor(options: RefreshSchedulerOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#timers = options.timers ?? realTimers;
  }

  /** Listen to refresh events; returns the function that stops listening. */
  on(listener: (event: RefreshEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Watch `target`: schedule its next refresh (an earlier time replaces a later one). */
  async watch(target: RefreshTarget): Promise<void> {
    if (this.#stopped || target.closed) return;
    const at = await target.nextRefreshAt().catch(() => undefined);
    if (at === undefined) return;
    this.#schedule(target, at);
  }

  /** Whether `server` (of `identity`, default the app's) has a refresh scheduled. */
  isWatching(server: string, identity?: string): boolean {
    return this.#scheduled.has(keyOf({ name: server, ...(identity ? { identity } : {}) }));
  }

  /**
   * Cancel the scheduled refreshes of `identity`'s servers (its token manager was closed; the
   * scheduler goes on for the others). A refresh already running may schedule its next one.
   */
  unwatch(identity: string): void {
    const prefix = keyOf({ name: '', identity });
    for (const [key, { handle }] of this.#scheduled) {
      if (!key.startsWith(prefix)) continue;
      this.#timers.clear(handle);
      this.#scheduled.delete(key);
      this.#failures.delete(key);
    }
  }

  /** Cancel every scheduled refresh; later `watch` calls do nothing. */
  stop(): void {
    this.#stopped = true;
    for (const { handle } of this.#scheduled.values()) this.#timers.clear(handle);
    this.#scheduled.clear();
  }

  #schedule(target: RefreshTarget, at: number): void {
    // Closed while its next refresh time was being read, or while a refresh ran.
    if (target.closed) return;
    const current = this.#scheduled.get(keyOf(target));
    if (current && current.at <= at) return;
    if (current) this.#timers.clear(current.handle);
    const handle = this.#timers.set(
      () => {
        this.#scheduled.delete(keyOf(target));
        void this.#fire(target);
      },
      Math.min(MAX_TIMER_DELAY_MS, Math.max(0, at - this.#now())),
    );
    this.#scheduled.set(keyOf(target), { handle, at, target });
  }

  async #fire(target: RefreshTarget): Promise<void> {
    if (this.#stopped) return;
    try {
      const outcome = await target.refreshIfDue();
      this.#failures.delete(keyOf(target));
      if (outcome === 'refreshed') this.#emit({ type: 'refreshed', server: target.name });
      await this.watch(target);
    } catch (caught) {
      const error =
        caught instanceof McpAgentError
          ? caught
          : new McpAgentError('OAUTH_TOKEN', 'The background refresh failed.', { cause: caught });
      if (error.code === 'OAUTH_LOGIN_REQUIRED') {
        this.#failures.delete(keyOf(target));
        this.#emit({ type: 'needs-login', server: target.name, error });
        return;
      }
      const attempt = (this.#failures.get(keyOf(target)) ?? 0) + 1;
      this.#failures.set(keyOf(target), attempt);
      const backoff = Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_MAX_MS);
      const retryInMs =
        error instanceof OAuthServerError && error.retryAfterMs !== undefined
          ? Math.min(error.retryAfterMs, RETRY_MAX_MS * 5)
          : Math.round(backoff * (0.5 + this.#random() / 2));
      this.#emit({ type: 'failed', server: target.name, error, retryInMs });
      if (!this.#stopped) this.#schedule(target, this.#now() + retryInMs);
    }
  }

  #emit(event: RefreshEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
