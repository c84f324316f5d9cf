/**
 * What the user sees while a flow waits for the browser: on a terminal, one spinner line with the
 * seconds left, rewritten in place; in a log or a pipe, a line at the start and one every 30 s.
 * Pure output: it is given a label and a deadline, never a URL, code or token.
 *
 * @module
 */

/** Options of {@link startProgress}. */
export interface ProgressOptions {
  /** Where to write (standard error, usually). A TTY gets the spinner. */
  readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  /** What is being waited for: `Waiting for the browser sign-in`. */
  readonly label: string;
  /** When the wait gives up, epoch milliseconds (on the `now` clock). */
  readonly deadline: number;
  /** The clock, epoch milliseconds. Default is `Date.now`. */
  readonly now?: () => number;
  /** How often the output changes. Default is 100 ms on a TTY, 30 000 ms otherwise. */
  readonly intervalMs?: number;
}

/** A running progress indicator. */
export interface Progress {
  /** Stop, erase the spinner line, and write `finalLine` (if any) on a line of its own. */
  stop(finalLine?: string): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

/** Carriage return, then erase to the end of the line. */
const CLEAR_LINE = '\r\u001b[K';

/** `text` without control characters (no escape sequence can reach the terminal). */
function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, ' ');
}

/**
 * Show that a flow is waiting until `deadline`, until `stop()` is called. The timer is unref'd: it
 * never keeps the process alive.
 */
export function startProgress(options: ProgressOptions): Progress {
  const { stream, deadline } = options;
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const label = printable(options.label);
  const intervalMs = options.intervalMs ?? (tty ? 100 : 30_000);
  const left = () => Math.max(0, Math.ceil((deadline - now()) / 1000));

  let frame = 0;
  const draw = () => {
    const spinner = FRAMES[frame % FRAMES.length] ?? '-';
    frame++;
    stream.write(`${CLEAR_LINE}${spinner} ${label} (${left()} s left)`);
  };

  if (tty) draw();
  else stream.write(`${label} (${left()} s left)\n`);
  const timer = setInterval(
    tty ? draw : () => stream.write(`still waiting, ${left()} s left\n`),
    intervalMs,
  );
  timer.unref();

  let stopped = false;
  return {
    stop(finalLine?: string): void {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (tty) stream.write(CLEAR_LINE);
      if (finalLine !== undefined) stream.write(`${printable(finalLine)}\n`);
    },
  };
}
