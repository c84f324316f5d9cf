/**
 * The open `subscriptions/listen` streams of one HTTP front (protocol 2026-07-28, SEP-2575),
 * bounded as the 2025-11-25 sessions are ({@link SessionTable}): each belongs to the principal
 * that opened it, one principal holds at most `perPrincipal` of them (opening one more ends its
 * oldest), all of them at most `total` (then a new one is refused), and a stream ends when the
 * token that opened it expires, since the token is checked only when the stream opens. Without
 * these bounds one caller could hold every stream the SDK's handler allows (its
 * `maxSubscriptions`, shared by all callers) and keep them past its token; and a stream naming
 * resources, which gets a handler of its own (listen-resources.ts), has no SDK cap at all.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { ANONYMOUS } from './http-sessions.js';

/** The longest delay `setTimeout` takes (about 24.8 days); a later expiry is checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Options of {@link ListenStreams}. */
export interface ListenStreamLimits {
  /** Streams one principal may hold open; one more ends its oldest. */
  readonly perPrincipal: number;
  /** Streams open in all; beyond, a new one is refused. */
  readonly total: number;
  /** The clock, in epoch milliseconds. */
  readonly now: () => number;
}

/** The open listen streams of one HTTP front, by principal. */
export class ListenStreams {
  readonly #limits: ListenStreamLimits;
  /** Each principal's open streams, oldest first (a set: a close costs the same for 10,000). */
  readonly #byPrincipal = new Map<string, Set<ServerResponse>>();
  #open = 0;

  constructor(limits: ListenStreamLimits) {
    this.#limits = limits;
  }

  /** Streams open in all at most (the SDK's handlers are given the same cap). */
  get total(): number {
    return this.#limits.total;
  }

  /** Open streams of `principal`. */
  countOf(principal: string): number {
    return this.#byPrincipal.get(principal)?.size ?? 0;
  }

  /**
   * Track `res`, the response of a `subscriptions/listen` request of `principal` whose token
   * expires at `expiresAt` (epoch ms; `undefined`: never): the principal's oldest streams end
   * first when it holds too many (not when authorization is off: every caller is
   * {@link ANONYMOUS} then, and only the overall cap applies), and `res` ends at the expiry.
   * `false`: `total` streams are open (after the principal's own oldest would end); refuse it.
   */
  admit(principal: string, res: ServerResponse, expiresAt: number | undefined): boolean {
    const mine = this.#byPrincipal.get(principal) ?? new Set<ServerResponse>();
    const { perPrincipal, total } = this.#limits;
    const ending = principal === ANONYMOUS ? 0 : Math.max(0, mine.size - perPrincipal + 1);
    if (this.#open - ending >= total) return false;
    this.#byPrincipal.set(principal, mine);
    let left = ending;
    for (const oldest of mine) {
      if (left-- <= 0) break;
      mine.delete(oldest);
      this.#open -= 1;
      oldest.destroy();
    }
    mine.add(res);
    this.#open += 1;
    const expiry = expiresAt === undefined ? undefined : this.#endAt(res, expiresAt);
    res.once('close', () => {
      expiry?.cancel();
      if (mine.delete(res)) this.#open -= 1;
      if (mine.size === 0 && this.#byPrincipal.get(principal) === mine) {
        this.#byPrincipal.delete(principal);
      }
    });
    return true;
  }

  /** End `res` at `expiresAt` (at once when it is past); `cancel` stops waiting. */
  #endAt(res: ServerResponse, expiresAt: number): { cancel(): void } {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      const delay = Math.max(0, Math.min(expiresAt - this.#limits.now(), MAX_TIMER_MS));
      timer = setTimeout(() => {
        if (expiresAt <= this.#limits.now()) res.destroy();
        else arm();
      }, delay);
      timer.unref();
    };
    arm();
    return { cancel: () => clearTimeout(timer) };
  }
}
