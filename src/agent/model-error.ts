/**
 * A model provider's errors as we show them: `mcp-agent chat` and served agents (`app.agent`)
 * say "The PROVIDER model failed: " and the provider's own text (the AI SDK's `APICallError`:
 * the API's message and HTTP status), with every secret of the settings scrubbed from it. Read
 * by the error's name, so this module loads no part of the AI SDK.
 *
 * @module
 */
import { maskUrlCredentials } from '../config/mask.js';
import { REDACTED, Secret } from '../config/secret.js';
import { isMcpAgentError, McpAgentError } from '../errors.js';

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
 * An error of the provider's API (not one of ours) as a `MODEL_REQUEST` error with its text and,
 * for an API call, its HTTP status; ours pass through.
 */
export function modelError(provider: string, error: unknown): unknown {
  if (isMcpAgentError(error) || !(error instanceof Error)) return error;
  const status = providerApiError(error)?.statusCode;
  const suffix = status === undefined ? '' : ` (HTTP ${status})`;
  return new McpAgentError(
    'MODEL_REQUEST',
    `The ${provider} model failed: ${error.message}${suffix}`,
    { cause: error },
  );
}

/** Every secret value in `value` (the settings): each {@link Secret}'s, longest first. */
export function secretsOf(value: unknown, found = new Set<string>()): string[] {
  if (value instanceof Secret) {
    if (!value.isEmpty) found.add(value.reveal());
  } else if (Array.isArray(value)) {
    for (const item of value) secretsOf(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) secretsOf(item, found);
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/** `text` with each of `secrets` and the credentials of its URLs replaced by `[redacted]`. */
export function scrubbed(text: string, secrets: readonly string[]): string {
  const masked = secrets.reduce((shown, secret) => shown.replaceAll(secret, REDACTED), text);
  return maskUrlCredentials(masked);
}
