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
