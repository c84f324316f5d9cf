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

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret value. Call it only where the value is sent to the party it is meant for. */
  reveal(): string {
    return this.#value;
  }

  /** Whether the wrapped value is the empty string. */
  get isEmpty(): boolean {
    return this.#value.length === 0;
  }

  /** Constant-shape comparison with another secret or string (no early exit on length). */
  equals(other: Secret | string): boolean {
    const a = Buffer.from(this.#value);
    const b = Buffer.from(other instanceof Secret ? other.reveal() : other);
    let diff = a.length ^ b.length;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
    }
    return diff === 0;
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
