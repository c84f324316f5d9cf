/**
 * MCP logging for one session of `serve`: the level the caller set (`logging/setLevel`), the app's
 * own log lines written while one of the session's requests runs (secrets scrubbed), and the log
 * messages of downstream servers that a request of the session caused, tagged with the server's
 * name. Messages below the level are not sent; past a rate limit they are dropped, with one warning
 * in the app's log per burst.
 *
 * @module
 */
import type { LoggingLevel, LoggingMessageNotification } from '@modelcontextprotocol/server';
import { type Logger, printable, silentLogger } from '../logger.js';
import type { DownstreamLogSink } from '../servers/registry.js';

type LogParams = LoggingMessageNotification['params'];

/** Sends one `notifications/message` to the session (on a request's stream when one is open). */
export type LogSender = (notification: LoggingMessageNotification) => Promise<void>;

/** The level of a session whose caller set none. */
export const DEFAULT_LOG_LEVEL: LoggingLevel = 'info';

/** The levels of MCP logging (RFC 5424's severities), least severe first. */
const LEVELS_IN_ORDER: readonly LoggingLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

const SEVERITY = new Map(LEVELS_IN_ORDER.map((level, index) => [level, index]));

/** How severe `level` is: 0 for `debug` up to 7 for `emergency` (RFC 5424's order, reversed). */
export function logSeverity(level: LoggingLevel): number {
  return SEVERITY.get(level) ?? 0;
}

/** Whether `value` is one of MCP logging's levels. */
export function isLoggingLevel(value: string): value is LoggingLevel {
  return SEVERITY.has(value as LoggingLevel);
}

/** Options of {@link SessionLog}. */
export interface SessionLogOptions {
  /** Sends a message when no request of the session is running. */
  readonly send: LogSender;
  /** The name the app's own messages carry (`logger`). */
  readonly name: string;
  /** Where the one warning about dropped messages goes (never to the session). */
  readonly logger?: Logger | undefined;
  /** Messages sent at most per window. Default 100. */
  readonly maxMessages?: number;
  /** The window of the rate limit, in milliseconds. Default 10,000. */
  readonly windowMs?: number;
  /** The clock, epoch milliseconds. Default `Date.now`. */
  readonly now?: () => number;
}

/** What a tool call (or a listing) may write to its caller's session log. */
export interface CallerLog extends DownstreamLogSink {
  /** Whether a message at `level` reaches the session. */
  enabled(level: LoggingLevel): boolean;
  /** One of the app's own log lines (already scrubbed). */
  own(level: LoggingLevel, data: unknown): void;
}

/**
 * The log of one session: its level, its rate limit, and where its messages go. It is passed to
 * each request's work explicitly (no `AsyncLocalStorage`, whose cost every promise of the process
 * would pay on Node 22).
 */
export class SessionLog implements CallerLog {
  readonly #options: SessionLogOptions;
  #level: LoggingLevel | 'off' = DEFAULT_LOG_LEVEL;
  /** The senders of the session's requests running now, latest last. */
  readonly #senders: LogSender[] = [];
  #windowStart = Number.NEGATIVE_INFINITY;
  #sent = 0;
  #warned = false;

  constructor(options: SessionLogOptions) {
    this.#options = options;
  }

  /**
   * The level the caller set (`logging/setLevel`, or a 2026-07-28 request's envelope), or the
   * default; `off`: nothing is sent (a 2026-07-28 request that names no level).
   */
  get level(): LoggingLevel | 'off' {
    return this.#level;
  }

  set level(level: LoggingLevel | 'off') {
    this.#level = level;
  }

  /** Whether a message at `level` reaches the session. */
  enabled(level: LoggingLevel): boolean {
    if (this.#level === 'off') return false;
    return logSeverity(level) >= logSeverity(this.#level);
  }

  /** Run `work` (one of the session's requests) with its messages sent on `send`. */
  async during<T>(send: LogSender, work: () => Promise<T>): Promise<T> {
    this.#senders.push(send);
    try {
      return await work();
    } finally {
      this.#senders.splice(this.#senders.lastIndexOf(send), 1);
    }
  }

  /** A downstream server's message, tagged with the server's name. */
  message(server: string, params: LogParams): void {
    const own = typeof params.logger === 'string' ? `/${printable(params.logger)}` : '';
    this.#send({ level: params.level, logger: `${server}${own}`, data: params.data });
  }

  /** One of the app's own log lines (already scrubbed). */
  own(level: LoggingLevel, data: unknown): void {
    this.#send({ level, logger: this.#options.name, data });
  }

  #send(params: LogParams): void {
    if (!this.enabled(params.level) || !this.#admit()) return;
    const send = this.#senders.at(-1) ?? this.#options.send;
    send({ method: 'notifications/message', params }).catch(() => {
      // A session that went away gets no more messages; nothing to tell.
    });
  }

  /** Whether the rate limit lets one more message through (warns once per burst when not). */
  #admit(): boolean {
    const now = (this.#options.now ?? Date.now)();
    if (now - this.#windowStart >= (this.#options.windowMs ?? 10_000)) {
      this.#windowStart = now;
      this.#sent = 0;
      this.#warned = false;
    }
    if (this.#sent < (this.#options.maxMessages ?? 100)) {
      this.#sent += 1;
      return true;
    }
    if (!this.#warned) {
      this.#warned = true;
      (this.#options.logger ?? silentLogger).warn(
        `log messages to a session are dropped: more than ${this.#options.maxMessages ?? 100} in ${(this.#options.windowMs ?? 10_000) / 1000} s`,
      );
    }
    return false;
  }
}

const LEVELS: Record<keyof Logger, LoggingLevel> = {
  debug: 'debug',
  info: 'info',
  warn: 'warning',
  error: 'error',
};

/**
 * `logger`, whose lines also go to `session` (the log of the caller whose request writes them),
 * at the session's level: the message as `shown` gives it (default: whole) and the fields, each
 * string passed through `scrub`. Without a session, `logger` itself.
 */
export function teeToSession(
  logger: Logger,
  session: CallerLog | undefined,
  scrub: (text: string) => string,
  shown: (message: string) => string = (message) => message,
): Logger {
  if (!session) return logger;
  const line =
    (method: keyof Logger) =>
    (message: string, fields?: Record<string, unknown>): void => {
      logger[method](message, fields);
      if (!session.enabled(LEVELS[method])) return;
      const data: Record<string, unknown> = { message: scrub(printable(shown(message))) };
      for (const [key, value] of Object.entries(fields ?? {})) {
        data[key] = typeof value === 'string' ? scrub(printable(value)) : scrubbed(value, scrub);
      }
      session.own(LEVELS[method], data);
    };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/** A field value as JSON with `scrub` applied to its text, or `undefined` when it has none. */
function scrubbed(value: unknown, scrub: (text: string) => string): unknown {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : scrub(printable(text));
  } catch {
    return undefined;
  }
}
