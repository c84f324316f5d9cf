/**
 * The CLI's logger: warnings and errors always, the rest (a server's stderr, connection steps)
 * with `--verbose`; everything on stderr.
 *
 * @module
 */
import type { Logger } from '../logger.js';
import type { Output } from './io.js';

/** A logger that writes through `out`. */
export function cliLogger(out: Output, verbose: boolean): Logger {
  return {
    debug: (message) => {
      if (verbose) out.note(`debug: ${message}`);
    },
    info: (message) => {
      if (verbose) out.note(message);
    },
    warn: (message) => out.warn(message),
    error: (message) => out.error(message),
  };
}
