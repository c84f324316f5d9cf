/**
 * The logger the library writes to. The library never prints; whoever embeds it (the CLI, an app)
 * passes a logger, or gets the silent default.
 *
 * @module
 */

/** A structured logger. `fields` never hold secret values. */
export interface Logger {
  /** Detail for whoever debugs (each request, each cache hit). */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** What happened (a login, a server started). */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something is wrong but the work goes on (an issuer not answering, a retry). */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something failed. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});

/**
 * `text` (from a server or a request) for one log or terminal line: its control characters
 * removed, so no escape sequence or line break reaches the reader.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}
