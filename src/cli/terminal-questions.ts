/**
 * Questions a downstream server puts to the person at the terminal (an elicitation's form, a URL
 * to open, a sampling request to approve), asked on stderr and answered by lines of standard
 * input. One dialogue runs at a time (a second server's waits for the first to end), so two
 * forms never interleave. A dialogue is cancelled by Ctrl-C, by the end of input, or by the
 * server withdrawing its request: every question still open or asked after that gets no answer.
 * Everything a dialogue writes goes through {@link forTerminal}: a server's text (a field's name,
 * its default, a title, an address) can hold no escape sequence, control or format character.
 *
 * @module
 */
import { createInterface } from 'node:readline';
import type { TextSink } from './io.js';

/** Where the answers come from: the lines of standard input. */
export interface LineSource {
  /** The next line; `undefined` at the end of input or once `signal` aborted. */
  readLine(signal: AbortSignal): Promise<string | undefined>;
}

/** One dialogue's way of asking (see {@link TerminalQuestions.dialogue}). */
export interface Ask {
  /**
   * Write `question` (no newline) and read the answer; `undefined`: the dialogue is cancelled.
   * What is written, here and by `tell`, is {@link forTerminal}.
   */
  ask(question: string): Promise<string | undefined>;
  /** Write a line. */
  tell(line: string): void;
}

/** Calls `listener` at each Ctrl-C until the returned function is called. */
export type Interrupts = (listener: () => void) => () => void;

/**
 * The lines of `stdin`, read by one reader made at the first question and kept for the command's
 * run: lines typed ahead or pasted together wait in its queue for the next questions. The input
 * is paused while no question waits (so the command can end, and a login's paste prompt before
 * the first question reads it alone).
 */
export function stdinLines(stdin: NodeJS.ReadableStream): LineSource {
  const queue: string[] = [];
  const waiting: ((line: string | undefined) => void)[] = [];
  let lines: ReturnType<typeof createInterface> | undefined;
  let ended = (stdin as { readableEnded?: boolean }).readableEnded === true;
  const open = () => {
    const reader = createInterface({
      input: stdin,
      terminal: false,
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    reader.on('line', (line: string) => {
      const next = waiting.shift();
      if (next) next(line);
      else queue.push(line);
      if (waiting.length === 0) reader.pause();
    });
    reader.on('close', () => {
      ended = true;
      for (const next of waiting.splice(0)) next(undefined);
    });
    return reader;
  };
  return {
    readLine: (signal) => {
      if (signal.aborted) return Promise.resolve(undefined);
      const queued = queue.shift();
      if (queued !== undefined || ended) return Promise.resolve(queued);
      return new Promise((resolve) => {
        const onAbort = () => {
          const at = waiting.indexOf(take);
          if (at >= 0) waiting.splice(at, 1);
          if (waiting.length === 0) lines?.pause();
          resolve(undefined);
        };
        const take = (line: string | undefined) => {
          signal.removeEventListener('abort', onAbort);
          resolve(line);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiting.push(take);
        lines ??= open();
        lines.resume();
      });
    },
  };
}

/**
 * Characters that never reach the terminal: C0 and C1 controls (escape sequences, bells,
 * carriage returns), DEL, Unicode format characters (bidi overrides and isolates, zero-width
 * characters) and the line and paragraph separators.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const UNSHOWN = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu;

/** One line of text for the terminal: a tab as a space, every {@link UNSHOWN} character removed. */
export function printableLine(text: string): string {
  return text.replace(/\t/g, ' ').replace(UNSHOWN, '');
}

/** Text for the terminal: the line breaks kept, each line {@link printableLine}. */
export function forTerminal(text: string): string {
  return text.split('\n').map(printableLine).join('\n');
}

/** Text of a server (a message, a title) for the terminal: its lines, each {@link printableLine}. */
export function shown(text: string): string[] {
  return text.split(/\r?\n/).map(printableLine);
}

/** `text` on one line of the terminal (its line breaks as spaces). */
export function oneLine(text: string): string {
  return shown(text).join(' ');
}

/** The person at the terminal, asked one dialogue at a time. */
export class TerminalQuestions {
  readonly #sink: TextSink;
  readonly #lines: LineSource;
  readonly #interrupts: Interrupts;
  readonly #cancelHint: string;
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Questions on `stderr`, answers from `lines`; `interrupts` cancel the running dialogue;
   * `cancelHint` says how the person cancels one (`chat`'s differs from the other commands').
   */
  constructor(
    stderr: TextSink,
    lines: LineSource,
    interrupts: Interrupts,
    cancelHint = 'Ctrl-D cancels',
  ) {
    this.#sink = stderr;
    this.#lines = lines;
    this.#interrupts = interrupts;
    this.#cancelHint = cancelHint;
  }

  /** How the person cancels a dialogue, for its heading (`Ctrl-D cancels`). */
  get cancelHint(): string {
    return this.#cancelHint;
  }

  /** Write a line outside any dialogue (a server's notice). */
  note(line: string): void {
    this.#sink.write(`${forTerminal(line)}\n`);
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
          this.#sink.write(forTerminal(question));
          const line = await this.#lines.readLine(cancelled.signal);
          if (line === undefined) cancel();
          return cancelled.signal.aborted ? undefined : line;
        },
        tell: (line) => this.#sink.write(`${forTerminal(line)}\n`),
      });
    } finally {
      stop();
      signal.removeEventListener('abort', cancel);
    }
  }
}
