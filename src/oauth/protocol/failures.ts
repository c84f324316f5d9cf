/**
 * Turning what `oauth4webapi` throws into {@link McpAgentError}s that say what failed, keep the
 * OAuth `error` code and HTTP status (RFC 6749 §5.2), and never carry a secret.
 *
 * `oauth4webapi` attaches the parameters or body it rejected to its errors (`cause`), and those
 * hold codes and tokens; they are never passed on. Server-provided text (`error_description`) is
 * kept only after every secret of the request has been scrubbed from it.
 *
 * @module
 */
import {
  AuthorizationResponseError,
  OperationProcessingError,
  ResponseBodyError,
  WWWAuthenticateChallengeError,
} from 'oauth4webapi';
import { McpAgentError, type McpAgentErrorCode } from '../../errors.js';

/** An OAuth error answered by an authorization server (RFC 6749 §4.1.2.1, §5.2). */
export class OAuthServerError extends McpAgentError {
  /** The OAuth `error` code, for example `invalid_grant`. */
  readonly error: string;
  /** The server's `error_description`, with the request's secrets scrubbed. */
  readonly errorDescription: string | undefined;
  /** The HTTP status, when the error came in a response. */
  readonly status: number | undefined;
  /** The response's `Retry-After` (RFC 9110 §10.2.3), in milliseconds, when it had one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: McpAgentErrorCode,
    message: string,
    details: {
      error: string;
      errorDescription?: string | undefined;
      status?: number | undefined;
      retryAfterMs?: number | undefined;
    },
  ) {
    super(code, message);
    this.error = details.error;
    this.errorDescription = details.errorDescription;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** An RFC 6749 `error` code is a short printable token; anything else is not shown. */
export const ERROR_CODE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

/** `text` with every secret replaced, control characters dropped, at most 300 characters. */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  out = out.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

/** A stand-in for a library error: its name, code and message only (no attached values). */
function bareCause(error: unknown): Error | undefined {
  if (!(error instanceof Error)) return undefined;
  const bare = new Error(error.message);
  bare.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(bare, { code });
  return bare;
}

/**
 * The error to throw for a failed OAuth step. `what` completes "… failed" style sentences, for
 * example `The token request to https://as.example`; `hint` says what to do. `secrets` are
 * scrubbed from any server text.
 */
export function oauthFailure(
  code: McpAgentErrorCode,
  error: unknown,
  what: string,
  options: { secrets?: readonly string[]; hint?: string } = {},
): McpAgentError {
  if (error instanceof McpAgentError) return error;
  const secrets = options.secrets ?? [];
  const hint = options.hint ? ` ${options.hint}` : '';
  const details = serverError(error);
  if (details) {
    // A code that is not a short token, or that echoes a secret, is not shown (nor kept).
    const echoes = secrets.some((secret) => secret.length >= 4 && details.error.includes(secret));
    const shown = ERROR_CODE.test(details.error) && !echoes ? details.error : 'an unreadable error';
    const description =
      details.errorDescription !== undefined
        ? scrubText(details.errorDescription, secrets)
        : undefined;
    return new OAuthServerError(
      code,
      `${what} was refused: ${shown}${description ? ` (${description})` : ''}${details.status ? `, HTTP ${details.status}` : ''}.${hint}`,
      {
        error: shown === details.error ? details.error : 'unreadable_error',
        errorDescription: description,
        status: details.status,
        retryAfterMs: details.retryAfterMs,
      },
    );
  }
  const cause = bareCause(error);
  const network = networkCode(error);
  if (network) {
    return new McpAgentError(
      code,
      `${what} failed: the server is not reachable (${network}); check the network and try again.${hint}`,
      { ...(cause ? { cause } : {}) },
    );
  }
  const reason =
    error instanceof OperationProcessingError || (error as { code?: unknown })?.code
      ? scrubText((error as Error).message, secrets)
      : 'it could not be completed';
  return new McpAgentError(code, `${what} failed: ${reason}.${hint}`, {
    ...(cause ? { cause } : {}),
  });
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A system or undici error code (ECONNREFUSED, UND_ERR_…) down the cause chain, if any. */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
    if (current.name === 'TimeoutError') return 'timeout';
    current = current.cause;
  }
  return undefined;
}

function serverError(
  error: unknown,
):
  | { error: string; errorDescription?: string; status?: number; retryAfterMs?: number }
  | undefined {
  if (error instanceof ResponseBodyError) {
    const retry = retryAfterMs(error.response.headers.get('retry-after'));
    return {
      error: error.error,
      ...(error.error_description !== undefined
        ? { errorDescription: error.error_description }
        : {}),
      status: error.status,
      ...(retry !== undefined ? { retryAfterMs: retry } : {}),
    };
  }
  if (error instanceof AuthorizationResponseError) {
    return {
      error: error.error,
      ...(error.error_description !== undefined
        ? { errorDescription: error.error_description }
        : {}),
    };
  }
  if (error instanceof WWWAuthenticateChallengeError) {
    const challenge = error.cause[0];
    const code = challenge?.parameters.error;
    if (code) return { error: code, status: error.status };
  }
  return undefined;
}
