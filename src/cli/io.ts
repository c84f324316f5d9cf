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
  /** The platform, for the browser launcher; default `process.platform`. */
  readonly platform?: NodeJS.Platform;
  /**
   * Opens an authorization URL in a browser; default: the system's browser, never through a
   * shell. Tests pass a headless browser.
   */
  readonly openBrowser?: (url: URL) => Promise<boolean>;
  /** Settles when a long-running command (`serve`, `dev`) should stop; default SIGINT/SIGTERM. */
  readonly stop?: Promise<void>;
}

/** Global options every command accepts. */
export interface GlobalOptions {
  readonly config?: string;
  readonly json: boolean;
  readonly verbose: boolean;
}

/**
 * Output rules: `--json` results go to stdout as one JSON document; everything meant for people
 * (results without `--json`, progress, warnings, errors) goes to stderr.
 */
export class Output {
  readonly #io: CliIo;
  readonly #json: boolean;

  constructor(io: CliIo, json: boolean) {
    this.#io = io;
    this.#json = json;
  }

  get json(): boolean {
    return this.#json;
  }

  /** The command's machine-readable result (only written with `--json`). */
  data(value: unknown): void {
    if (this.#json) this.#io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Text for people, on stderr. */
  human(text: string): void {
    this.#io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A warning line for people, on stderr. */
  warn(text: string): void {
    this.human(`warning: ${text}`);
  }
}
