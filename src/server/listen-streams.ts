/**
 * The open `subscriptions/listen` streams of one HTTP front (protocol 2026-07-28, SEP-2575),
 * bounded as the 2025-11-25 sessions are ({@link SessionTable}): each belongs to the principal
 * that opened it, one principal holds at most `perPrincipal` of them (opening one more ends its
 * oldest), and a stream ends when the token that opened it expires, since the token is checked
 * only when the stream opens. Without these bounds one caller could hold every stream the SDK's
 * handler allows (its `maxSubscriptions`, shared by all callers) and keep them past its token.
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
  /** The clock, in epoch milliseconds. */
  readonly now: () => number;
}

/** The open listen streams of one HTTP front, by principal. */
export class ListenStreams {
  readonly #limits: ListenStreamLimits;
  readonly #byPrincipal = new Map<string, ServerResponse[]>();

  constructor(limits: ListenStreamLimits) {
    this.#limits = limits;
  }

  /** Open streams of `principal`. */
  countOf(principal: string): number {
    return this.#byPrincipal.get(principal)?.length ?? 0;
  }

  /**
   * Track `res`, the response of a `subscriptions/listen` request of `principal` whose token
   * expires at `expiresAt` (epoch ms; `undefined`: never): the principal's oldest streams end
   * first when it holds too many (not when authorization is off: every caller is
   * {@link ANONYMOUS} then, and only the SDK's overall cap applies), and `res` ends at the expiry.
   */
  admit(principal: string, res: ServerResponse, expiresAt: number | undefined): void {
    const mine = this.#byPrincipal.get(principal) ?? [];
    this.#byPrincipal.set(principal, mine);
    if (principal !== ANONYMOUS) {
      while (mine.length >= this.#limits.perPrincipal) mine.shift()?.destroy();
    }
    mine.push(res);
    const expiry = expiresAt === undefined ? undefined : this.#endAt(res, expiresAt);
    res.once('close', () => {
      expiry?.cancel();
      const index = mine.indexOf(res);
      if (index !== -1) mine.splice(index, 1);
      if (mine.length === 0 && this.#byPrincipal.get(principal) === mine) {
        this.#byPrincipal.delete(principal);
      }
    });
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
