/**
 * What the CLI reads from and writes to, injected so tests run it in process.
 *
 * @module
 */

/** Something text can be written to (`process.stdout`, or a buffer in tests). */
export interface TextSink {
  write(text: string): unknown;
}

/** The process surroundings of one CLI run. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** The user's home directory; default `os.homedir()`. */
  readonly homeDir?: string;
  /** Standard input, where a redirect URL can be pasted during a login. */
  readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Whether stderr is a terminal (a spinner instead of plain progress lines). */
  readonly stderrIsTTY?: boolean;
  /**
   * Whether stdout is a terminal: result text then goes without the control characters a
   * server's text may carry (escape sequences), and stays as it is when piped or redirected.
   */
  readonly stdoutIsTTY?: boolean;
  /** The platform, for the browser launcher; default `process.platform`. */
  readonly platform?: NodeJS.Platform;
  /**
   * Opens an authorization URL in a browser; default: the system's browser, never through a
   * shell. Tests pass a headless browser.
   */
  readonly openBrowser?: (url: URL) => Promise<boolean>;
  /** Settles when a long-running command (`serve`, `dev`) should stop; default SIGINT/SIGTERM. */
  readonly stop?: Promise<void>;
  /**
   * Calls `listener` at each Ctrl-C until the returned function is called (`chat` stops a turn
   * with it); default: the process's SIGINT.
   */
  readonly onInterrupt?: (listener: () => void) => () => void;
}

/** Global options every command accepts. */
export interface GlobalOptions {
  readonly config?: string;
  readonly json: boolean;
  readonly verbose: boolean;
}

/**
 * Where every line a command writes goes, named by what it is (DESIGN.md, "The CLI contract"):
 *
 * - the command's **result** goes to stdout, so it can be piped and redirected: text for people
 *   ({@link Output.result}), or with `--json` one JSON document ({@link Output.resultJson});
 * - everything else goes to stderr, `--json` or not: progress, prompts, status and hints
 *   ({@link Output.note}), warnings ({@link Output.warn}) and errors ({@link Output.error}).
 *
 * Commands write only through this class, never to `io.stdout` or `io.stderr` directly.
 */
export class Output {
  readonly #io: CliIo;
  readonly #json: boolean;
  #wroteJson = false;

  constructor(io: CliIo, json: boolean) {
    this.#io = io;
    this.#json = json;
  }

  /** Whether `--json` was given: the result is then one JSON document and no result text. */
  get json(): boolean {
    return this.#json;
  }

  /** Whether the JSON document has been written (a failure after it adds no second one). */
  get wroteJson(): boolean {
    return this.#wroteJson;
  }

  /** Result text for people, on stdout; not written with `--json` (the document is the result). */
  result(text: string): void {
    if (!this.#json) this.#io.stdout.write(line(this.#onStdout(text)));
  }

  /** Result text as it arrives (a streamed answer), on stdout; not with `--json`. */
  stream(text: string): void {
    if (!this.#json) this.#io.stdout.write(this.#onStdout(text));
  }

  /** `text` as a terminal on stdout gets it (see {@link CliIo.stdoutIsTTY}). */
  #onStdout(text: string): string {
    return this.#io.stdoutIsTTY === true ? withoutControls(text) : text;
  }

  /**
   * The command's result as one JSON document on stdout; written only with `--json`, and at most
   * once per run (a second call is a bug in the command).
   */
  resultJson(value: unknown): void {
    if (!this.#json) return;
    if (this.#wroteJson) throw new Error('A command wrote a second JSON document on stdout.');
    this.#wroteJson = true;
    this.#io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Help text the user asked for (`--help`, `--version`), on stdout. */
  help(text: string): void {
    this.#io.stdout.write(line(text));
  }

  /** Progress, prompts, status and hints for people, on stderr (also with `--json`). */
  note(text: string): void {
    this.#io.stderr.write(line(text));
  }

  /** A warning line, on stderr. */
  warn(text: string): void {
    this.note(`warning: ${text}`);
  }

  /** An error line, on stderr. */
  error(text: string): void {
    this.note(`error: ${text}`);
  }

  /** A stream on stderr for a progress indicator (a spinner when stderr is a terminal). */
  progressStream(): NodeJS.WritableStream & { isTTY?: boolean } {
    const stderr = this.#io.stderr;
    return Object.assign(
      { write: (text: string) => stderr.write(text) },
      { isTTY: this.#io.stderrIsTTY === true },
    ) as unknown as NodeJS.WritableStream & { isTTY?: boolean };
  }
}

function line(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * A {@link TextSink} over a process stream that survives the reader going away: after `EPIPE`
 * (`mcp-agent tools list | head -1`) further output is dropped and the command ends normally,
 * without a stack trace. Any other write error is passed to `onError` once.
 */
export function processSink(
  stream: NodeJS.WritableStream,
  onError: (error: NodeJS.ErrnoException) => void = () => {},
): TextSink {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = true;
    if (error.code !== 'EPIPE') onError(error);
  });
  return {
    write: (text: string) => {
      if (!closed) stream.write(text);
    },
  };
}

/**
 * C0 controls but line breaks and tabs, DEL, C1 controls and the bidirectional overrides and
 * isolates: what lets text move the cursor, restyle or hide the screen, or reorder what it shows.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` without {@link CONTROLS} (a result shown at a terminal; emoji sequences kept). */
export function withoutControls(text: string): string {
  return text.replace(CONTROLS, '');
}
