/**
 * The calls in flight on one downstream connection, with the peer-side request each relates to,
 * and their deadlines (`read_timeout_seconds`). While the server's request to the peer (an
 * elicitation, a sampling request) waits for an answer, which may take a person minutes, the
 * deadlines of the connection's calls stand still; once no request waits, each gets its full time
 * again. A call still ends at its time plus {@link ASK_ALLOWANCE_MS} at the latest.
 *
 * @module
 */
import { type RequestId, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { PeerAskContext } from './peer.js';

/** Timer functions (injected in tests). */
export interface CallTimers {
  set(run: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** The process's timers. */
export const realCallTimers: CallTimers = {
  set: (run, ms) => setTimeout(run, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** How long a call may wait in total for its server's requests to be answered, beyond its time. */
export const ASK_ALLOWANCE_MS = 10 * 60_000;

/** One call in flight. */
interface Call {
  readonly related: RequestId | undefined;
  /** Stop its deadline (a request waits for the peer). */
  pause(): void;
  /** Start its deadline again, with its full time. */
  resume(): void;
}

/** A call's deadline (see {@link CallsInFlight.track}). */
export interface CallDeadline {
  /** Aborted with a "request timed out" error when the call's time runs out, or with `signal`. */
  readonly signal: AbortSignal;
  /** The call ended: its timers stop. */
  done(): void;
}

/** See the module. */
export class CallsInFlight implements PeerAskContext {
  readonly #timers: CallTimers;
  /** Latest last. */
  readonly #calls: Call[] = [];
  #asks = 0;

  constructor(timers: CallTimers = realCallTimers) {
    this.#timers = timers;
  }

  related(): RequestId | undefined {
    return this.#calls.findLast((call) => call.related !== undefined)?.related;
  }

  asking(): () => void {
    this.#asks += 1;
    if (this.#asks === 1) for (const call of this.#calls) call.pause();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#asks -= 1;
      if (this.#asks === 0) for (const call of this.#calls) call.resume();
    };
  }

  /**
   * A call without a deadline of this connection's (a served agent's, whose requests have their
   * own), relating the server's requests to `related`; returns the function that ends it.
   */
  add(related: RequestId): () => void {
    const call: Call = { related, pause() {}, resume() {} };
    this.#calls.push(call);
    return () => this.#remove(call);
  }

  /**
   * A call of `timeoutMs`, relating the server's requests to `related`, cancelled by `signal` too.
   */
  track(timeoutMs: number, related: RequestId | undefined, signal?: AbortSignal): CallDeadline {
    const timedOut = new AbortController();
    const timeout = () =>
      timedOut.abort(
        new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: timeoutMs }),
      );
    let timer: unknown;
    const stop = () => {
      if (timer !== undefined) this.#timers.clear(timer);
      timer = undefined;
    };
    const call: Call = {
      related,
      pause: stop,
      resume: () => {
        stop();
        timer = this.#timers.set(timeout, timeoutMs);
      },
    };
    const latest = this.#timers.set(timeout, timeoutMs + ASK_ALLOWANCE_MS);
    this.#calls.push(call);
    if (this.#asks === 0) call.resume();
    return {
      signal: signal ? AbortSignal.any([signal, timedOut.signal]) : timedOut.signal,
      done: () => {
        stop();
        this.#timers.clear(latest);
        this.#remove(call);
      },
    };
  }

  #remove(call: Call): void {
    const index = this.#calls.indexOf(call);
    if (index !== -1) this.#calls.splice(index, 1);
  }
}
