/**
 * The HTTP requests of verification (the JWKS, introspection, issuer metadata): a total timeout,
 * no redirects followed, and a cap on the body size, so a slow or hostile endpoint cannot hold or
 * exhaust the server.
 *
 * @module
 */
import { type FetchLike, ResponseLimitError, readBounded } from '../../fetch.js';

/** Limits of one request. */
export interface RequestLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** Why a request gave nothing usable (the text names no secret). */
export class VerificationRequestError extends Error {
  /** The HTTP status, when there was a response. */
  readonly status: number | undefined;

  constructor(message: string, status?: number) {
    super(message);
    this.name = 'VerificationRequestError';
    this.status = status;
  }
}

/** Send `init` to `url` and parse the JSON answer, within `limits`; only 200 is an answer. */
export async function requestJson(
  fetch: FetchLike,
  url: string,
  init: RequestInit,
  limits: RequestLimits,
): Promise<unknown> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: 'manual', signal });
  } catch (error) {
    const timedOut = signal.aborted;
    throw new VerificationRequestError(
      timedOut
        ? `${url} did not answer within ${limits.timeoutMs} ms`
        : `${url} is unreachable (${error instanceof Error && 'cause' in error && error.cause instanceof Error ? ((error.cause as NodeJS.ErrnoException).code ?? 'network error') : 'network error'})`,
    );
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    throw new VerificationRequestError(`${url} answered HTTP ${response.status}`, response.status);
  }
  const type =
    (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]*\+json$/.test(type)) {
    await response.body?.cancel().catch(() => {});
    throw new VerificationRequestError(
      `${url} answered ${type || 'no content type'}, not JSON`,
      200,
    );
  }
  let text: string;
  try {
    const body = await readBounded(response, { ...limits, what: 'the answer' }, signal, url);
    text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  } catch (error) {
    if (error instanceof ResponseLimitError) {
      throw new VerificationRequestError(
        error.limit === 'size'
          ? `${url} answered more than ${limits.maxBytes} bytes`
          : `${url} did not answer in time`,
        200,
      );
    }
    throw new VerificationRequestError(`${url} broke off its answer`, 200);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new VerificationRequestError(`${url} answered something that is not JSON`, 200);
  }
}
