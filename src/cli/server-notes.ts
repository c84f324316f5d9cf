/**
 * What a server tells the CLI while one of its requests runs, besides the answer: progress
 * notifications and log messages (`notifications/message`). Each becomes one line on stderr
 * through {@link Output.note}, tagged with the server's name, its text without control characters
 * and with the server's configured secrets scrubbed from it. Log messages at `debug` level are
 * shown with `--verbose` only, like the CLI's own debug lines; a request to a 2026-07-28 server
 * names that level in its envelope, since such a server logs nothing otherwise.
 *
 * @module
 */
import type {
  LoggingLevel,
  LoggingMessageNotification,
  Progress,
} from '@modelcontextprotocol/client';
import { printable } from '../logger.js';
import { logSeverity } from '../server/session-log.js';
import { scrub, secretValues } from '../servers/credentials.js';
import type { DownstreamLogSink, ServerConnection } from '../servers/registry.js';
import type { Output } from './io.js';

/** The lowest level of a server's log message shown: `debug` with `--verbose`, else `info`. */
export function shownLogLevel(verbose: boolean): LoggingLevel {
  return verbose ? 'debug' : 'info';
}

/** Text of a server for one stderr line: its lines joined, control characters removed. */
function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((part) => printable(part).trim())
    .filter(Boolean)
    .join(' ');
}

/** A progress notification as one line: `SERVER: PROGRESS/TOTAL MESSAGE` (as far as given). */
export function progressLine(server: string, progress: Progress): string {
  const amount =
    progress.total === undefined
      ? `${progress.progress}`
      : `${progress.progress}/${progress.total}`;
  const message = progress.message === undefined ? '' : ` ${oneLine(progress.message)}`;
  return `${server}: ${amount}${message}`;
}

/**
 * A log message as one line: `SERVER [LEVEL]: DATA`, or `SERVER/LOGGER [LEVEL]: DATA` when the
 * server names its logger; data that is not a string is shown as JSON.
 */
export function logLine(server: string, params: LoggingMessageNotification['params']): string {
  const logger = typeof params.logger === 'string' ? `/${oneLine(params.logger)}` : '';
  let data: string;
  if (typeof params.data === 'string') data = params.data;
  else {
    try {
      data = JSON.stringify(params.data) ?? '';
    } catch {
      data = '';
    }
  }
  return `${server}${logger} [${params.level}]: ${oneLine(data)}`;
}

/** What {@link ServerConnection.callTool} and {@link ServerConnection.request} are given. */
export interface ServerNotes {
  /** Receives the server's progress notifications (asks the server for them). */
  readonly onprogress: (progress: Progress) => void;
  /** Receives the server's log messages while the request is in flight. */
  readonly log: DownstreamLogSink;
}

/**
 * Progress and log lines of `connection`'s server on stderr (see the module), its secrets
 * scrubbed; log messages below {@link shownLogLevel} are not shown.
 */
export function serverNotes(
  out: Output,
  connection: ServerConnection,
  verbose: boolean,
): ServerNotes {
  const secrets = secretValues(connection.settings);
  const level = shownLogLevel(verbose);
  const lowest = logSeverity(level);
  const note = (line: string) => out.note(scrub(line, secrets));
  return {
    onprogress: (progress) => note(progressLine(connection.name, progress)),
    log: {
      // A 2026-07-28 server sends log messages only at the level a request names.
      level,
      message: (server, params) => {
        if (logSeverity(params.level) >= lowest) note(logLine(server, params));
      },
    },
  };
}
