/**
 * What every way of receiving the authorization response has in common: a redirect URI to send,
 * and a wait for the one callback whose `state` is the one this flow sent (RFC 6749 §4.1.2, §10.12).
 * The loopback server (`loopback.ts`) and the paste prompt (`paste.ts`) implement
 * it, plus the errors and checks they share.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { codedTypeError, McpAgentError } from '../../errors.js';

/** Receives the authorization response of one authorization-code flow (RFC 6749 §4.1.2). */
export interface CallbackReceiver {
  /** The redirect_uri to register and send (RFC 6749 §3.1.2). */
  readonly redirectUri: string;
  /**
   * Resolves with the full callback URL (query intact) of the first callback whose `state` equals
   * `expectedState` (RFC 6749 §10.12); a callback with another `state`, or none, is ignored and the
   * wait goes on. The URL may carry `error=` instead of `code=`: validating it is the caller's job.
   * Rejects with `OAUTH_CALLBACK` on timeout (counted from this call), abort, end of input or
   * {@link CallbackReceiver.close}. Call it once; a second call with the same state returns the
   * same promise.
   */
  wait(expectedState: string): Promise<URL>;
  /** Stop receiving and release what the receiver holds (port, input). Safe to call twice. */
  close(): Promise<void>;
}

/** The largest timeout `setTimeout` honours (about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Throw a `TypeError` unless `timeoutMs` is a usable timeout (positive, at most ~24.8 days). */
export function assertTimeout(timeoutMs: number): void {
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw codedTypeError(
      'ERR_INVALID_ARG_VALUE',
      'timeoutMs must be a positive number of milliseconds',
    );
  }
}

/** Throw a `TypeError` unless `state` is a non-empty string (an empty one would match `state=`). */
export function assertExpectedState(state: unknown): asserts state is string {
  if (typeof state !== 'string' || state === '') {
    throw codedTypeError('ERR_INVALID_ARG_VALUE', 'expectedState must be a non-empty string');
  }
}

/**
 * Whether `url` carries exactly one `state` parameter and it equals `expected` (compared in
 * constant time). RFC 6749 §3.1: a parameter must not appear twice.
 */
export function hasState(url: URL, expected: string): boolean {
  const states = url.searchParams.getAll('state');
  if (states.length !== 1) return false;
  const actual = Buffer.from(states[0] ?? '', 'utf8');
  const wanted = Buffer.from(expected, 'utf8');
  return actual.length === wanted.length && timingSafeEqual(actual, wanted);
}

/** `ms` as seconds for a message: `120`, `0.05`. */
function seconds(ms: number): string {
  return String(Number((ms / 1000).toFixed(3)));
}

/** The `OAUTH_CALLBACK` error of a flow whose callback did not arrive within `timeoutMs`. */
export function callbackTimeoutError(timeoutMs: number): McpAgentError {
  return new McpAgentError(
    'OAUTH_CALLBACK',
    `No authorization callback arrived within ${seconds(timeoutMs)} s; run the login again and finish signing in within that time.`,
  );
}

/** The `OAUTH_CALLBACK` error of a flow cancelled through its `AbortSignal`. */
export function callbackAbortedError(signal: AbortSignal): McpAgentError {
  return new McpAgentError(
    'OAUTH_CALLBACK',
    'The login was cancelled before the authorization callback arrived; run it again when ready.',
    { cause: signal.reason },
  );
}

/** The `OAUTH_CALLBACK` error of a wait ended by {@link CallbackReceiver.close}. */
export function callbackClosedError(): McpAgentError {
  return new McpAgentError(
    'OAUTH_CALLBACK',
    'The callback receiver was closed before the authorization callback arrived; run the login again.',
  );
}

/**
 * The `wait` of a receiver: `start` runs once, for the first valid state; a later call with the
 * same state shares its promise, one with another state is refused (a receiver serves one login).
 */
export function waitOnce(
  start: (expectedState: string) => Promise<URL>,
): (expectedState: string) => Promise<URL> {
  let expected: string | undefined;
  let waiting: Promise<URL> | undefined;
  return (expectedState) => {
    try {
      assertExpectedState(expectedState);
    } catch (error) {
      return Promise.reject(error);
    }
    if (waiting) {
      return expected === expectedState
        ? waiting
        : Promise.reject(new TypeError('wait() was already called with another state'));
    }
    expected = expectedState;
    waiting = start(expectedState);
    return waiting;
  };
}
