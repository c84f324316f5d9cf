/**
 * The one `fetch` shape every network function of the library accepts (injected, so tests need no
 * network): the global `fetch`, undici's, or a wrapper around either. And the one way a body from
 * a server we do not control is read: whole, but bounded in bytes and in time, the request
 * stopped (its connection closed) as soon as either limit is passed, so an endpoint that streams
 * without end, or a byte now and then, can neither fill memory nor hold a request.
 *
 * @module
 */
import { McpAgentError } from './errors.js';

/** A `fetch`. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * Whether a request `body` can be sent a second time (after a 401, or a redirect): absent, a
 * string, form parameters or bytes; a stream is read once.
 */
export function isReplayableBody(body: RequestInit['body']): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}

/** Limits on one response from a server we do not control. */
export interface ResponseLimits {
  /** The most bytes of body read; one byte more stops the request. */
  readonly maxBytes: number;
  /** Milliseconds for the whole response, headers and body; longer stops the request. */
  readonly timeoutMs: number;
  /** What is read, for the error: "the token response" (default "the response"). */
  readonly what?: string;
  /** What to do about it, appended to the error: "raise X if this size is expected". */
  readonly hint?: string;
}

/** Statuses whose response has no body (RFC 9110 §6.4.1). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A response passed a {@link ResponseLimits} limit: `limit` says which. Code `RESPONSE_LIMIT`.
 * Nothing of the body is kept.
 */
export class ResponseLimitError extends McpAgentError {
  /** `size`: more than `maxBytes`; `time`: not complete within `timeoutMs`. */
  readonly limit: 'size' | 'time';

  constructor(limit: 'size' | 'time', url: string, limits: ResponseLimits, cause?: unknown) {
    const what = limits.what ?? 'the response';
    const where = describeUrl(url);
    const sentence =
      limit === 'size'
        ? `${capitalise(what)} from ${where} is larger than ${formatBytes(limits.maxBytes)}; the request was stopped and nothing of it was kept.`
        : `${capitalise(what)} from ${where} did not arrive within ${formatSeconds(limits.timeoutMs)}; the request was stopped.`;
    super('RESPONSE_LIMIT', limits.hint ? `${sentence} ${limits.hint}` : sentence, {
      ...(cause === undefined ? {} : { cause }),
    });
    this.limit = limit;
  }
}

/**
 * `fetch` whose responses come back with their body already read, at most `limits.maxBytes`
 * bytes, the whole exchange within `limits.timeoutMs` (the caller's own `signal` still applies):
 * what the caller then reads (`text()`, `json()`, a library's parser) is bounded. Past a limit the
 * request is aborted and a {@link ResponseLimitError} thrown.
 */
export function boundedFetch(fetch: FetchLike, limits: ResponseLimits): FetchLike {
  return async (input, init) => {
    const url = String(input);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DeadlinePassed()), limits.timeoutMs);
    const outer = init?.signal;
    const signal = outer ? AbortSignal.any([outer, deadline.signal]) : deadline.signal;
    try {
      let response: Response;
      try {
        response = await fetch(input, { ...init, signal });
      } catch (error) {
        if (deadline.signal.reason instanceof DeadlinePassed) {
          throw new ResponseLimitError('time', url, limits, error);
        }
        throw error;
      }
      const body = await readBounded(response, limits, deadline.signal, url).catch(
        (error: unknown) => {
          // Whatever went wrong, the connection goes: no more of this body is wanted.
          if (!deadline.signal.aborted) deadline.abort(error);
          throw error;
        },
      );
      return new Response(NULL_BODY.has(response.status) ? null : body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * The body of `response`, read whole within `limits`: refused at once when its `content-length`
 * says it is too large, else counted as it arrives, and given up (the body cancelled, which closes
 * the connection) at byte `maxBytes + 1` or when `deadline` fires (default: `limits.timeoutMs`
 * from now).
 */
export async function readBounded(
  response: Response,
  limits: ResponseLimits,
  deadline?: AbortSignal,
  url: string = response.url,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limits.maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new ResponseLimitError('size', url, limits);
  }
  if (!response.body) return new Uint8Array(0);
  const signal = deadline ?? AbortSignal.timeout(limits.timeoutMs);
  const reader = response.body.getReader();
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(new ResponseLimitError('time', url, limits, signal.reason));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  stopped.catch(() => {});
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), stopped]);
      if (done) break;
      size += value.byteLength;
      if (size > limits.maxBytes) throw new ResponseLimitError('size', url, limits);
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    if (error instanceof ResponseLimitError) throw error;
    if (signal.aborted && isOwnDeadline(signal.reason)) {
      throw new ResponseLimitError('time', url, limits, error);
    }
    throw error;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}

/** The reason {@link boundedFetch} aborts a request whose time is up. */
class DeadlinePassed extends Error {
  constructor() {
    super('the response deadline passed');
    this.name = 'DeadlinePassed';
  }
}

/** Whether an abort reason is a deadline (ours, or `AbortSignal.timeout`'s), not a caller's abort. */
function isOwnDeadline(reason: unknown): boolean {
  return (
    reason instanceof DeadlinePassed ||
    (reason instanceof Error && reason.name === 'TimeoutError') ||
    reason instanceof ResponseLimitError
  );
}

/** `origin` + `pathname`: never the query, which may carry a secret. */
function describeUrl(url: string): string {
  if (!URL.canParse(url)) return 'a server';
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `bytes` as KiB or MiB ("256 KiB"). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
