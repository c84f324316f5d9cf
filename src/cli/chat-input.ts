/**
 * The one reader of `mcp-agent chat`'s standard input. Its lines are the session's prompts,
 * except while a login of a turn waits for the address the browser ended on: then they are lent
 * to that login's paste prompt ({@link borrowingConsent}), and while a server's question of a turn
 * waits for an answer (an elicitation, a sampling approval) each line goes to that question
 * ({@link ChatInput.borrowLine}): a pasted address (which carries an authorization code) or a typed
 * answer is never taken for a prompt and sent to the model, and no second reader competes for the
 * terminal.
 *
 * @module
 */
import { createInterface, type Interface } from 'node:readline';
import { PassThrough } from 'node:stream';
import type { Consent } from '../oauth/consent.js';
import { callbackAbortedError } from '../oauth/flows/receiver.js';

/** The lines of standard input: prompts, or (while lent) a login's paste input. */
export class ChatInput {
  readonly #lines: Interface;
  readonly #queue: string[] = [];
  readonly #loan = new PassThrough();
  #waiting: ((line: string | undefined) => void) | undefined;
  /** The questions waiting for a line, first asked first. */
  readonly #borrowers: ((line: string | undefined) => void)[] = [];
  #ended = false;
  #lent = 0;

  constructor(input: NodeJS.ReadableStream) {
    this.#lines = createInterface({ input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
    this.#lines.on('line', (line: string) => this.#take(line));
    this.#lines.on('close', () => this.#end());
  }

  /** What a login reads while the input is lent to it (the lines of standard input, then). */
  get loan(): NodeJS.ReadableStream {
    return this.#loan;
  }

  /** The next prompt line; `undefined` once the input ended or was closed. */
  next(): Promise<string | undefined> {
    const line = this.#queue.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  /** Stop reading (Ctrl-C at the prompt): the lines not yet taken are dropped. */
  close(): void {
    this.#queue.length = 0;
    this.#lines.close();
  }

  /**
   * The next line typed from now, for a question of the running turn (never a prompt);
   * `undefined` once the input ended or `signal` aborted (the question is then withdrawn).
   */
  borrowLine(signal?: AbortSignal): Promise<string | undefined> {
    if (this.#ended || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = () => {
        const at = this.#borrowers.indexOf(take);
        if (at >= 0) this.#borrowers.splice(at, 1);
        resolve(undefined);
      };
      const take = (line: string | undefined) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(line);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#borrowers.push(take);
    });
  }

  /** Lend the lines to a login until {@link ChatInput.reclaim} (logins may nest: counted). */
  lend(): void {
    this.#lent += 1;
  }

  /** Take the lines back from a login; what it left unread is dropped. */
  reclaim(): void {
    this.#lent = Math.max(0, this.#lent - 1);
    while (this.#loan.read() !== null) {
      // A line typed for the login and not read by it is no prompt.
    }
  }

  #take(line: string): void {
    const borrower = this.#borrowers.shift();
    if (borrower) {
      borrower(line);
      return;
    }
    if (this.#lent > 0) {
      this.#loan.write(`${line}\n`);
      return;
    }
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) waiting(line);
    else this.#queue.push(line);
  }

  #end(): void {
    this.#ended = true;
    for (const borrower of this.#borrowers.splice(0)) borrower(undefined);
    this.#loan.end();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(undefined);
  }
}

/**
 * `consent` (an `interactiveConsent` reading {@link ChatInput.loan}) with the input lent to each
 * login from its receiver's opening to its end, and the wait for the callback cancelled when the
 * turn's signal (`signal()`, read as the wait starts) aborts: Ctrl-C stops a login with its turn.
 */
export function borrowingConsent(
  consent: Consent,
  input: ChatInput,
  signal: () => AbortSignal | undefined,
): Consent {
  return {
    mode: consent.mode,
    async openReceiver(request) {
      input.lend();
      let receiver: Awaited<ReturnType<Consent['openReceiver']>>;
      try {
        receiver = await consent.openReceiver(request);
      } catch (error) {
        input.reclaim();
        throw error;
      }
      return {
        redirectUri: receiver.redirectUri,
        wait: (state) => untilAborted(receiver.wait(state), signal(), callbackAbortedError),
        close: () => receiver.close(),
      };
    },
    showAuthorizationUrl: (url, info) => consent.showAuthorizationUrl(url, info),
    showDeviceCode: (prompt) => consent.showDeviceCode(prompt),
    finished(outcome) {
      consent.finished?.(outcome);
      if (consent.mode === 'code') input.reclaim();
    },
  };
}

/**
 * `work`, or a rejection with `error(signal)` (default its reason) as soon as `signal` aborts;
 * `work` itself goes on, its outcome then ignored.
 */
export function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  error: (signal: AbortSignal) => unknown = (aborted) => aborted.reason,
): Promise<T> {
  if (!signal) return work;
  work.catch(() => {});
  if (signal.aborted) return Promise.reject(error(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(error(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
