/**
 * A model provider's errors as we show them: `mcp-agent chat` and served agents (`app.agent`)
 * say "The PROVIDER model failed: " and the provider's own text (the AI SDK's `APICallError`:
 * the API's message and HTTP status), with every secret of the settings scrubbed from it. Read
 * by the error's name, so this module loads no part of the AI SDK.
 *
 * @module
 */
import type { Settings } from '../config/schema/settings.js';
import { isMcpAgentError, McpAgentError } from '../errors.js';
import { providerErrorText } from './provider-error.js';

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
