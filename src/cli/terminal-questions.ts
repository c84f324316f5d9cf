/**
 * Questions a downstream server puts to the person at the terminal (an elicitation's form, a URL
 * to open, a sampling request to approve), asked on stderr and answered by lines of standard
 * input. One dialogue runs at a time (a second server's waits for the first to end), so two
 * forms never interleave. A dialogue is cancelled by Ctrl-C, by the end of input, or by the
 * server withdrawing its request: every question still open or asked after that gets no answer.
 *
 * @module
 */
import { createInterface } from 'node:readline';
import { printable } from '../logger.js';
import type { TextSink } from './io.js';

/** Where the answers come from: the lines of standard input. */
export interface LineSource {
  /** The next line; `undefined` at the end of input or once `signal` aborted. */
  readLine(signal: AbortSignal): Promise<string | undefined>;
}

/** One dialogue's way of asking (see {@link TerminalQuestions.dialogue}). */
export interface Ask {
  /** Write `question` (no newline) and read the answer; `undefined`: the dialogue is cancelled. */
  ask(question: string): Promise<string | undefined>;
  /** Write a line. */
  tell(line: string): void;
}

/** Calls `listener` at each Ctrl-C until the returned function is called. */
export type Interrupts = (listener: () => void) => () => void;

/**
 * The lines of `stdin`, each read by a reader of its own that is closed once the line is read, so
 * that another reader (a login's paste prompt) can read the next lines.
 */
export function stdinLines(stdin: NodeJS.ReadableStream): LineSource {
  return {
    readLine: (signal) =>
      new Promise((resolve) => {
        if (signal.aborted || (stdin as { readableEnded?: boolean }).readableEnded) {
          return resolve(undefined);
        }
        const lines = createInterface({
          input: stdin,
          terminal: false,
          crlfDelay: Number.POSITIVE_INFINITY,
        });
        let settled = false;
        const settle = (line: string | undefined) => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          lines.close();
          resolve(line);
        };
        const onAbort = () => settle(undefined);
        signal.addEventListener('abort', onAbort, { once: true });
        lines.once('line', (line) => settle(line));
        lines.once('close', () => settle(undefined));
      }),
  };
}

/** Text of a server (a message, a title) for the terminal: each line without control characters. */
export function shown(text: string): string[] {
  return text.split(/\r?\n/).map(printable);
}

/** The person at the terminal, asked one dialogue at a time. */
export class TerminalQuestions {
  readonly #sink: TextSink;
  readonly #lines: LineSource;
  readonly #interrupts: Interrupts;
  #queue: Promise<unknown> = Promise.resolve();

  /** Questions on `stderr`, answers from `lines`; `interrupts` cancel the running dialogue. */
  constructor(stderr: TextSink, lines: LineSource, interrupts: Interrupts) {
    this.#sink = stderr;
    this.#lines = lines;
    this.#interrupts = interrupts;
  }

  /** Write a line outside any dialogue (a server's notice). */
  note(line: string): void {
    this.#sink.write(`${line}\n`);
  }

  /**
   * Run `body` once the dialogues before it ended; its questions are answered until Ctrl-C, the
   * end of input or `signal` (the server's request withdrawn) cancels it.
   */
  dialogue<T>(signal: AbortSignal, body: (ask: Ask) => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => this.#run(signal, body));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #run<T>(signal: AbortSignal, body: (ask: Ask) => Promise<T>): Promise<T> {
    const cancelled = new AbortController();
    const cancel = () => cancelled.abort();
    const stop = this.#interrupts(() => {
      this.#sink.write('\n');
      cancel();
    });
    signal.addEventListener('abort', cancel, { once: true });
    if (signal.aborted) cancel();
    try {
      return await body({
        ask: async (question) => {
          if (cancelled.signal.aborted) return undefined;
          this.#sink.write(question);
          const line = await this.#lines.readLine(cancelled.signal);
          if (line === undefined) cancel();
          return cancelled.signal.aborted ? undefined : line;
        },
        tell: (line) => this.#sink.write(`${line}\n`),
      });
    } finally {
      stop();
      signal.removeEventListener('abort', cancel);
    }
  }
}
