/**
 * The logger the library writes to. The library never prints; whoever embeds it (the CLI, an app)
 * passes a logger, or gets the silent default.
 *
 * @module
 */

/** A structured logger. `fields` never hold secret values. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
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
