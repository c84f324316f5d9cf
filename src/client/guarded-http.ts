/**
 * The HTTP stack of the OAuth requests of servers that may not reach private addresses: its
 * connections resolve names through `publicOnlyLookup`, so the address a connection really uses
 * is checked (a DNS answer that changes after discovery cannot reach an internal service). The
 * CLI and `createApp` give it to every token manager they build (`guardedFetch`).
 *
 * @module
 */
import { publicOnlyLookup } from '../oauth/protocol/network.js';
import { createHttpStack, type HttpStack, hasProxy, type ProxySettings } from '../servers/http.js';

/**
 * The guarded stack for `proxy` settings, or `undefined` through a proxy: the proxy resolves the
 * names then, and the check at discovery is what remains.
 */
export function guardedHttpStack(proxy: ProxySettings): HttpStack | undefined {
  return hasProxy(proxy) ? undefined : createHttpStack(proxy, { lookup: publicOnlyLookup() });
}
