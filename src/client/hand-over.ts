/**
 * {@link handOverConsent}, for agents where nobody can be asked in the process (a server, a job):
 * a needed login is an `AuthorizationRequiredError` carrying the authorization URL; the address
 * the browser is redirected to completes it later, in this process or another one that shares the
 * token store. And {@link authorizationRequiredIn}, which finds that error where a framework
 * wrapped it.
 *
 * @module
 */
import { AuthorizationRequiredError } from '../errors.js';
import type { Consent } from '../oauth/consent.js';

/**
 * The consent of an agent nobody can be asked in (see {@link handOverConsent}): a marker, not a
 * {@link Consent}; the token manager then keeps the prepared authorization as a pending flow.
 */
export interface HandOverConsent {
  /** Tells it apart from a {@link Consent} (whose `mode` is `code` or `device`). */
  readonly mode: 'hand-over';
  /** See {@link HandOverOptions.onAuthorizationRequired}. */
  readonly onAuthorizationRequired?: HandOverOptions['onAuthorizationRequired'];
}

/** Options of {@link handOverConsent}. */
export interface HandOverOptions {
  /**
   * Called with every login handed over (the `AuthorizationRequiredError` about to be thrown, and
   * whose login it is: `app` or the end user's identity), before the request that needed it
   * fails: the way to reach the URL when a framework turns the error into one of its own that
   * keeps only its text. Its own failures are ignored.
   */
  readonly onAuthorizationRequired?:
    | ((login: AuthorizationRequiredError, identity: string) => void)
    | undefined;
}

/** How logins reach a person: a {@link Consent}, or {@link handOverConsent}. */
export type LoginConsent = Consent | HandOverConsent;

const HAND_OVER: HandOverConsent = Object.freeze({ mode: 'hand-over' as const });

/**
 * Hand a needed login over instead of running it: the request that needs it fails at once with
 * an `AuthorizationRequiredError` carrying the authorization URL (PKCE: it carries no secret),
 * and `completeLogin(server, callbackUrl)` completes it with the address the browser was
 * redirected to, before the error's `expiresAt`, in this process or another one sharing the
 * token store (`state` and RFC 9207 `iss` are checked, the flow is taken once).
 * `options.onAuthorizationRequired` is told of each one as well.
 */
export function handOverConsent(options: HandOverOptions = {}): HandOverConsent {
  return options.onAuthorizationRequired
    ? Object.freeze({ mode: 'hand-over', onAuthorizationRequired: options.onAuthorizationRequired })
    : HAND_OVER;
}

/** Whether `consent` is {@link handOverConsent}. */
export function isHandOver(consent: LoginConsent | undefined): consent is HandOverConsent {
  return consent?.mode === 'hand-over';
}

/**
 * The handed-over login behind `error`, if there is one: the error itself, or one in its `cause`
 * chain (a framework may wrap what our `fetch` threw). A copy of the library loaded twice is
 * recognised by its code and fields.
 */
export function authorizationRequiredIn(error: unknown): AuthorizationRequiredError | undefined {
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); ) {
    seen.add(current);
    if (current instanceof AuthorizationRequiredError) return current;
    const fields = current as Partial<AuthorizationRequiredError>;
    if (fields.code === 'OAUTH_LOGIN_REQUIRED' && typeof fields.authorizationUrl === 'string') {
      return current as AuthorizationRequiredError;
    }
    current = current.cause;
  }
  return undefined;
}
