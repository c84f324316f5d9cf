/**
 * A model provider's error as it may be shown: its text only (never its `cause`, response body or
 * request), with every secret of the settings scrubbed from it. A gateway that echoes the key it
 * refused ("Incorrect API key provided: sk-…") thus shows `[redacted]` in its place.
 *
 * @module
 */
import { maskUrlCredentials } from '../config/mask.js';
import type { Settings } from '../config/schema/settings.js';
import { Secret } from '../config/secret.js';
import { scrub } from '../servers/credentials.js';

/** Shorter values are not scrubbed (they would blank ordinary words), as for servers' secrets. */
const MIN_SECRET_LENGTH = 4;

/**
 * Every secret value of `settings` (provider keys and tokens, AWS secrets, `default_headers`
 * values, `credentials:` profiles' secrets, servers' env and header values), each also in its
 * URL-encoded form, longest first.
 */
export function settingsSecrets(settings: Settings): string[] {
  const found = new Set<string>();
  const seen = new Set<object>();
  const walk = (value: unknown): void => {
    if (value instanceof Secret) {
      const revealed = value.reveal();
      if (revealed.length >= MIN_SECRET_LENGTH)
        found.add(revealed).add(encodeURIComponent(revealed));
      return;
    }
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    for (const each of Object.values(value)) walk(each);
  };
  walk(settings);
  return [...found].sort((a, b) => b.length - a.length);
}

/**
 * The text of a provider's `error` (its `message`; `String(error)` for a non-`Error`) with every
 * secret of `settings` ({@link settingsSecrets}) and the `extra` ones (a token obtained at run
 * time) replaced by `[redacted]`.
 */
export function providerErrorText(
  error: unknown,
  settings: Settings,
  extra: readonly string[] = [],
): string {
  const text = error instanceof Error ? error.message : String(error);
  return scrubSecrets(text, [...settingsSecrets(settings), ...extra]);
}

/** `text` with each of `secrets` and the credentials of its URLs replaced by `[redacted]`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return maskUrlCredentials(scrub(text, secrets));
}
