/**
 * DNS-rebinding protection for a server bound to a loopback address (CVE-2025-66414): a web page
 * on another origin whose name resolves to 127.0.0.1 must not reach it. Requests must name a
 * loopback host (or one of the configured public names, for a reverse proxy on the same machine)
 * in `Host`, and a browser's `Origin`, when present, must be one of those too.
 *
 * @module
 */

/** Decides whether a request's `Host` and `Origin` are acceptable. */
export type HostCheck = (host: string | undefined, origin: string | undefined) => boolean;

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** Whether `host` is a loopback address or `localhost`. */
export function isLoopbackBind(host: string): boolean {
  return (
    host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)
  );
}

/**
 * The check for a server listening on loopback `port`: `Host` must be a loopback name with that
 * port, or one of `publicHosts` (`host[:port]` as clients send it, e.g. from
 * `resource_server_url`); `Origin`, when sent, must name one of the same hosts.
 */
export function loopbackHostCheck(port: number, publicHosts: readonly string[] = []): HostCheck {
  const allowed = new Set<string>(publicHosts.map((host) => host.toLowerCase()));
  for (const name of LOOPBACK_NAMES) {
    allowed.add(`${name}:${port}`);
    if (port === 80) allowed.add(name);
  }
  return (host, origin) => {
    if (host === undefined || !allowed.has(host.toLowerCase())) return false;
    if (origin === undefined) return true;
    if (!URL.canParse(origin)) return false;
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && allowed.has(url.host);
  };
}
