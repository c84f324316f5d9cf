/**
 * A value that must never be printed: client secrets, tokens, API keys, header and environment
 * values of servers, and everything read from the secrets file.
 *
 * @module
 */
import { inspect } from 'node:util';

/** What a {@link Secret} shows instead of its value. */
export const REDACTED = '[redacted]';

/**
 * Wraps a secret string. Its string, JSON and `util.inspect` forms are {@link REDACTED}; the value
 * is only reachable through {@link Secret.reveal}, which makes every use of it easy to find.
 */
export class Secret {
  readonly #value: string;
  readonly #shown: string;

  /**
   * @param value The secret.
   * @param shown What `config show` may display instead, with the secret parts masked (a URL with
   *   its password replaced by {@link REDACTED}). Default {@link REDACTED}.
   */
  constructor(value: string, shown: string = REDACTED) {
    this.#value = value;
    this.#shown = shown;
  }

  /** The form `config show` displays: {@link REDACTED}, or a masked form given at construction. */
  get shown(): string {
    return this.#shown;
  }

  /** The secret value. Call it only where the value is sent to the party it is meant for. */
  reveal(): string {
    return this.#value;
  }

  /** Whether the wrapped value is the empty string. */
  get isEmpty(): boolean {
    return this.#value.length === 0;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}

/** Wrap a string in a {@link Secret}; pass a `Secret` through unchanged. */
export function toSecret(value: string | Secret): Secret {
  return value instanceof Secret ? value : new Secret(value);
}

/** The revealed value of a secret, or the string itself. */
export function revealSecret(value: string | Secret): string {
  return value instanceof Secret ? value.reveal() : value;
}
