/**
 * What the `fetch` of {@link createAgentAuth} accepts from a framework, brought to the one shape
 * the auth-aware `fetch` works on: an absolute URL and a `RequestInit` whose headers are a
 * `Headers` (a plain object, a `Headers` instance, an array of pairs, or a `Request`'s own).
 * A `Request` object becomes its URL and parts, its body read once (so that a 401 or a step-up
 * can send it again). What cannot be sent gets one clear error that quotes none of the request
 * (its URL's query or its headers may carry a secret).
 *
 * @module
 */
import { McpAgentError } from '../errors.js';

/** A `fetch` call's arguments, checked: an absolute URL and the request's parts. */
export interface FetchCall {
  /** The absolute URL to send to. */
  readonly url: string;
  /** The method, headers (a `Headers`), body, signal and redirect mode. */
  readonly init: RequestInit;
}

/** The arguments of a `fetch` call as {@link FetchCall}; throws `USAGE` for what cannot be sent. */
export async function fetchCall(input: unknown, init: RequestInit | undefined): Promise<FetchCall> {
  if (typeof input === 'string' || input instanceof URL) {
    const url = String(input);
    if (!URL.canParse(url)) {
      throw usage(
        'fetch needs an absolute URL (http: or https:); a relative one has no server to go to. Build it from the server handle, e.g. new URL(path, server.url).',
      );
    }
    return { url, init: { ...init, headers: headersOf(init?.headers) } };
  }
  if (isRequest(input)) return fromRequest(input, init);
  throw usage('fetch takes a URL (a string or a URL object) or a Request as its first argument.');
}

/** Whether `value` is a `Request` (this realm's, or another fetch implementation's). */
function isRequest(value: unknown): value is Request {
  if (value instanceof Request) return true;
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Partial<Request>;
  return (
    typeof candidate.url === 'string' &&
    typeof candidate.method === 'string' &&
    typeof candidate.arrayBuffer === 'function' &&
    candidate.headers !== undefined
  );
}

/** A `Request`'s parts, `init` overriding them as `fetch(request, init)` does. */
async function fromRequest(request: Request, init: RequestInit | undefined): Promise<FetchCall> {
  if (request.bodyUsed) {
    throw usage("The Request's body was already read; a request can be sent only with its body.");
  }
  const headers = headersOf(request.headers);
  for (const [name, value] of headersOf(init?.headers)) headers.set(name, value);
  const body =
    init?.body !== undefined
      ? init.body
      : request.body === null
        ? undefined
        : await request.arrayBuffer();
  const merged: RequestInit = {
    method: init?.method ?? request.method,
    headers,
    signal: init?.signal ?? request.signal,
    redirect: init?.redirect ?? request.redirect,
    ...(body !== undefined ? { body } : {}),
  };
  return { url: request.url, init: merged };
}

/**
 * `headers` (a plain object, a `Headers`, an array of name/value pairs, or nothing) as a new
 * `Headers`; anything else, or a name or value HTTP does not allow, is one `USAGE` error that
 * quotes neither.
 */
function headersOf(headers: unknown): Headers {
  if (headers === undefined || headers === null) return new Headers();
  try {
    return new Headers(headers as ConstructorParameters<typeof Headers>[0]);
  } catch {
    // The platform's error quotes the offending header: it is not kept as the cause.
    throw usage(
      'The request headers are not valid: give a plain object, a Headers, or an array of [name, value] pairs, with names and values HTTP allows (no line breaks).',
    );
  }
}

function usage(message: string): McpAgentError {
  return new McpAgentError('USAGE', message);
}
