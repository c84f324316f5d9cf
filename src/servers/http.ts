/**
 * The one HTTP stack of every downstream connection: undici with the proxy settings of the
 * environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`; Node adds `NODE_EXTRA_CA_CERTS` to the
 * trusted roots itself), plus the wrappers each connection puts around it.
 *
 * @module
 */
import { type Dispatcher, EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import type { ConnectLookup } from '../oauth/protocol/network.js';

export type { FetchLike };

/** Proxy settings, as read from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`). */
export interface ProxySettings {
  readonly httpProxy?: string;
  readonly httpsProxy?: string;
  readonly noProxy?: string;
}

/** Proxy settings from environment variables (upper or lower case, as curl reads them). */
export function proxySettingsFrom(
  env: Readonly<Record<string, string | undefined>>,
): ProxySettings {
  const pick = (name: string) => env[name] ?? env[name.toLowerCase()];
  const httpProxy = pick('HTTP_PROXY');
  const httpsProxy = pick('HTTPS_PROXY');
  const noProxy = pick('NO_PROXY');
  return {
    ...(httpProxy ? { httpProxy } : {}),
    ...(httpsProxy ? { httpsProxy } : {}),
    ...(noProxy ? { noProxy } : {}),
  };
}

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

/** Whether proxy settings name a proxy. */
export function hasProxy(proxy: ProxySettings): boolean {
  return Boolean(proxy.httpProxy || proxy.httpsProxy);
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
