/**
 * Which thrown errors are JSON-RPC errors for the client to see as such (a tool's other failures
 * become its `isError` result). The SDK's v2 `ProtocolError` is matched by its brand; v1's
 * `McpError`, which an app tool written for the v1 SDK may still throw, is matched by its name and
 * numeric code, since v2's `instanceof` does not match it. The SDK answers both with their code,
 * message and data, as before.
 *
 * @module
 */
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';

/** Whether `error` is a v2 `ProtocolError`, or a v1 `McpError` (its name and integer `code`). */
export function isProtocolError(error: unknown): error is Error & { readonly code: number } {
  if (ProtocolError.isInstance(error)) return true;
  return (
    error instanceof Error &&
    error.name === 'McpError' &&
    Number.isSafeInteger((error as { code?: unknown }).code)
  );
}

/**
 * The URL of the first elicitation a URL-elicitation-required error (-32042) asks the client to
 * open, from either SDK's error; `undefined` for any other error.
 */
export function requiredElicitationUrl(error: unknown): string | undefined {
  if (!isProtocolError(error) || error.code !== ProtocolErrorCode.UrlElicitationRequired) {
    return undefined;
  }
  const data = (error as { data?: { elicitations?: readonly { url?: unknown }[] } }).data;
  const url = data?.elicitations?.[0]?.url;
  return typeof url === 'string' ? url : undefined;
}
