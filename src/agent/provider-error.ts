/**
 * A model provider's error as it may be shown: its text only (never its `cause`, response body or
 * request), with every secret of the settings scrubbed from it. A gateway that echoes the key it
 * refused ("Incorrect API key provided: sk-…") thus shows `[redacted]` in its place. `mcp-agent
 * chat` and served agents (`app.agent`) say "The PROVIDER model failed: " and that text, with the
 * API's HTTP status ({@link modelError}). Errors are read by their name, so this module loads no
 * part of the AI SDK.
 *
 * @module
 */
import { maskUrlCredentials } from '../config/mask.js';
import type { Settings } from '../config/schema/settings.js';
import { Secret } from '../config/secret.js';
import { isMcpAgentError, McpAgentError } from '../errors.js';
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

/** The AI SDK's `APICallError`, as far as it is read here. */
interface ApiCallError extends Error {
  readonly statusCode?: number | undefined;
}

/**
 * The provider API's error in `error`: an `APICallError`, or the last one a `RetryError` gave up
 * after; `undefined` for any other error (ours, a network failure, a bug).
 */
export function providerApiError(error: unknown): ApiCallError | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error.name === 'AI_APICallError') return error;
  const last = (error as { lastError?: unknown }).lastError;
  return error.name === 'AI_RetryError' ? providerApiError(last) : undefined;
}

/**
 * An error of the provider's API (not one of ours) as a `MODEL_REQUEST` error with its text
 * scrubbed of the settings' secrets (see `providerErrorText`: a gateway may echo the key it
 * refused) and, for an API call, its HTTP status; no `cause`, whose response body may hold them.
 * Ours pass through.
 */
export function modelError(provider: string, error: unknown, settings: Settings): unknown {
  if (isMcpAgentError(error) || !(error instanceof Error)) return error;
  const status = providerApiError(error)?.statusCode;
  const suffix = status === undefined ? '' : ` (HTTP ${status})`;
  return new McpAgentError(
    'MODEL_REQUEST',
    `The ${provider} model failed: ${providerErrorText(error, settings)}${suffix}`,
  );
}
