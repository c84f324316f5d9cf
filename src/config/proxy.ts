/**
 * The proxy settings of the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, upper or lower
 * case, as curl reads them), read without loading an HTTP client: whoever needs a proxy-aware
 * stack (`servers/http.ts`) builds it from these, and only when they name a proxy.
 *
 * @module
 */

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

/** Whether proxy settings name a proxy. */
export function hasProxy(proxy: ProxySettings): boolean {
  return Boolean(proxy.httpProxy || proxy.httpsProxy);
}
