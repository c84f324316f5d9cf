/**
 * The one HTTP stack of every downstream connection: undici with the proxy settings of the
 * environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`; Node adds `NODE_EXTRA_CA_CERTS` to the
 * trusted roots itself), plus the wrappers each connection puts around it.
 *
 * @module
 */
import { type Dispatcher, EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';
import type { ProxySettings } from '../config/proxy.js';
import { McpAgentError } from '../errors.js';
import {
  type FetchLike,
  isReplayableBody,
  ResponseLimitError,
  type ResponseLimits,
} from '../fetch.js';
import type { ConnectLookup } from '../oauth/protocol/network.js';

export type { ProxySettings } from '../config/proxy.js';
export { hasProxy, proxySettingsFrom } from '../config/proxy.js';
export type { FetchLike };

/** One dispatcher, and a `fetch` on it, shared by every connection. */
export interface HttpStack {
  readonly fetch: FetchLike;
  readonly dispatcher: Dispatcher;
  /** Close the dispatcher's connections. */
  close(): Promise<void>;
}

/** Options of {@link createHttpStack}. */
export interface HttpStackOptions {
  /**
   * The resolver of every connection (`net.connect`'s `lookup`), for example one that refuses
   * private addresses. With a proxy it resolves the proxy's host, not the target's.
   */
  readonly lookup?: ConnectLookup;
}

/** An HTTP stack that honours the proxy settings. Call `close()` when done. */
export function createHttpStack(
  proxy: ProxySettings = {},
  options: HttpStackOptions = {},
): HttpStack {
  // Empty strings, not absent keys: undici would otherwise read process.env itself, and the
  // settings passed in are the whole truth.
  const dispatcher: Dispatcher = new EnvHttpProxyAgent({
    httpProxy: proxy.httpProxy ?? '',
    httpsProxy: proxy.httpsProxy ?? '',
    noProxy: proxy.noProxy ?? '',
    ...(options.lookup ? { connect: { lookup: options.lookup } } : {}),
  });
  const fetch: FetchLike = (input, init) =>
    undiciFetch(input, { ...(init as object), dispatcher }) as unknown as Promise<Response>;
  let closed: Promise<void> | undefined;
  return { fetch, dispatcher, close: () => (closed ??= dispatcher.close()) };
}

/**
 * Add `headers` to requests for `endpoint`'s origin only. A request to any other origin (after a
 * redirect, say) goes out without them.
 */
export function withOriginHeaders(
  fetch: FetchLike,
  endpoint: URL,
  headers: () => Readonly<Record<string, string>>,
): FetchLike {
  return (input, init) => {
    const url = new URL(input instanceof URL ? input.href : input);
    if (url.origin !== endpoint.origin) return fetch(input, init);
    const merged = new Headers(init?.headers);
    // A header the request already has wins (the OAuth wrapper's Authorization, say).
    for (const [name, value] of Object.entries(headers())) {
      if (!merged.has(name)) merged.set(name, value);
    }
    return fetch(input, { ...init, headers: merged });
  };
}

/** Redirects within the server's origin that one request follows at most. */
export const MAX_SAME_ORIGIN_REDIRECTS = 5;

/**
 * Requests to `endpoint`'s origin, which carry its headers and token, follow redirects within that
 * origin only, each hop sent with the same headers: a 307 or 308 with the same method and body
 * (when the body can be sent again), a 301, 302 or 303 of a GET or HEAD. Any other redirect (to
 * another origin, adding userinfo, or one that would turn a request with a body into a GET,
 * RFC 9110 §15.4) comes back unfollowed, as the 3xx response (the MCP SDK's transports then say
 * "Redirect to … not followed"). A caller's own `redirect: 'manual'` or `'error'` is kept; requests
 * to other origins are left to `fetch`.
 */
export function withinOriginRedirects(fetch: FetchLike, endpoint: URL): FetchLike {
  return async (input, init) => {
    let url = new URL(input instanceof URL ? input.href : input);
    const own = init?.redirect !== 'manual' && init?.redirect !== 'error';
    if (url.origin !== endpoint.origin || !own) return fetch(input, init);
    const manual: RequestInit = { ...init, redirect: 'manual' };
    let response = await fetch(input, manual);
    for (let hop = 0; hop < MAX_SAME_ORIGIN_REDIRECTS; hop += 1) {
      const next = sameOriginRedirect(response, url, manual);
      if (!next) return response;
      await response.body?.cancel().catch(() => {});
      url = next;
      response = await fetch(url.href, manual);
    }
    return response;
  };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Where `response` redirects a request to `from` sent with `init`, if it may follow there. */
function sameOriginRedirect(response: Response, from: URL, init: RequestInit): URL | undefined {
  const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null;
  if (location === null || !URL.canParse(location, from.href)) return undefined;
  const target = new URL(location, from);
  if (target.origin !== from.origin || target.username !== '' || target.password !== '') {
    return undefined;
  }
  const method = (init.method ?? 'GET').toUpperCase();
  const keepsMethod = response.status === 307 || response.status === 308;
  if (!keepsMethod && method !== 'GET' && method !== 'HEAD') return undefined;
  return isReplayableBody(init.body) ? target : undefined;
}

/**
 * Fail a request whose response headers have not arrived after `ms` milliseconds. The body (an
 * event stream, say) may then take as long as it needs.
 */
export function withResponseTimeout(fetch: FetchLike, ms: number, server: string): FetchLike {
  return async (input, init) => {
    const controller = new AbortController();
    const outer = init?.signal;
    // AbortSignal.any keeps the caller's signal linked for as long as the response body is read
    // (so a close ends an event stream) without piling listeners onto a long-lived signal.
    const signal = outer ? AbortSignal.any([outer, controller.signal]) : controller.signal;
    const timer = setTimeout(() => controller.abort(new TimeoutAbort()), ms);
    try {
      return await fetch(input, { ...init, signal });
    } catch (error) {
      if (controller.signal.reason instanceof TimeoutAbort) {
        throw new McpAgentError(
          'SERVER_TIMEOUT',
          `Server "${server}" did not answer within ${ms / 1000} s (http_timeout_seconds); check that it is up, or raise the timeout.`,
          { cause: error },
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };
}

class TimeoutAbort extends Error {
  constructor() {
    super('response timeout');
  }
}

/** Default `max_response_bytes` of a server: the largest JSON body, or event of a stream. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** Options of {@link withResponseLimits}. */
export interface ServerResponseLimits {
  /** The largest body, or event of an event stream, in bytes. */
  readonly maxBytes: number;
  /** Milliseconds a body that is not an event stream may take after its headers. */
  readonly bodyTimeoutMs: number;
  /** The `mcp.servers` name, for the error. */
  readonly server: string;
}

/**
 * Bound what a downstream server's responses can make us hold. A body (JSON, say) is at most
 * `maxBytes` and complete within `bodyTimeoutMs` of its headers; an event stream may last as long
 * as it likes, but each event is at most `maxBytes` (the SDK's parser keeps an event whole until
 * its blank line). Past a limit the body errors with a {@link ResponseLimitError} and the
 * connection is closed.
 */
export function withResponseLimits(fetch: FetchLike, options: ServerResponseLimits): FetchLike {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!response.body || [101, 103, 204, 205, 304].includes(response.status)) return response;
    const stream = (response.headers.get('content-type') ?? '')
      .toLowerCase()
      .startsWith('text/event-stream');
    const url = String(input);
    const limits = (what: string): ResponseLimits => ({
      maxBytes: options.maxBytes,
      timeoutMs: options.bodyTimeoutMs,
      what,
      hint: `Raise mcp.servers.${options.server}.max_response_bytes if ${stream ? 'events' : 'responses'} this large are expected.`,
    });
    const limited = response.body.pipeThrough(
      stream
        ? eventSizeLimit(options.maxBytes, url, () =>
            limits(`an event of server "${options.server}"`),
          )
        : bodyLimit(options, () => limits(`the response of server "${options.server}"`), url),
    );
    return new Response(limited, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/** A body of at most `maxBytes`, complete within `bodyTimeoutMs`. */
function bodyLimit(
  options: ServerResponseLimits,
  limits: () => ResponseLimits,
  url: string,
): TransformStream<Uint8Array, Uint8Array> {
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  return new TransformStream({
    start(controller) {
      timer = setTimeout(
        () => controller.error(new ResponseLimitError('time', url, limits())),
        options.bodyTimeoutMs,
      );
      // A body the caller gave up on must not keep the process alive.
      timer.unref();
    },
    transform(chunk, controller) {
      size += chunk.byteLength;
      if (size > options.maxBytes) {
        clearTimeout(timer);
        controller.error(new ResponseLimitError('size', url, limits()));
        return;
      }
      controller.enqueue(chunk);
    },
    flush() {
      clearTimeout(timer);
    },
  });
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * An event stream whose events (the bytes between blank lines, line ends not counted) are at most
 * `maxBytes` each (text/event-stream: a line ends with CRLF, LF or CR).
 */
function eventSizeLimit(
  maxBytes: number,
  url: string,
  limits: () => ResponseLimits,
): TransformStream<Uint8Array, Uint8Array> {
  let pending = 0;
  let lineEnded = false;
  let afterCr = false;
  return new TransformStream({
    transform(chunk, controller) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        if (byte === LF || byte === CR) {
          if (byte === LF && afterCr) {
            afterCr = false;
            continue;
          }
          afterCr = byte === CR;
          // A line end right after another: a blank line, the end of an event.
          if (lineEnded) pending = 0;
          lineEnded = !lineEnded;
          continue;
        }
        lineEnded = false;
        afterCr = false;
        pending += 1;
        if (pending > maxBytes) {
          controller.error(new ResponseLimitError('size', url, limits()));
          return;
        }
      }
      controller.enqueue(chunk);
    },
  });
}
