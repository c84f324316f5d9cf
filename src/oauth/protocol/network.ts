/**
 * Which URLs the OAuth client may fetch: `https:` (plain `http:` only on loopback hosts), and no
 * metadata or endpoint on a private, link-local or loopback address unless the MCP server itself
 * is on one, or the server sets `allow_private_network: true` (SSRF, MCP security best practices).
 *
 * @module
 */
import { lookup as dnsLookupCallback, type LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { McpAgentError } from '../../errors.js';

/**
 * Limits of a metadata document (RFC 9728, RFC 8414, OpenID Discovery): real ones are a few KiB;
 * 256 KiB leaves room for long scope and algorithm lists, and 10 s for a slow server.
 */
export const METADATA_LIMITS = { maxBytes: 256 * 1024, timeoutMs: 10_000 } as const;

/**
 * Largest body read from a token, registration, revocation or device authorization endpoint:
 * a response holds a few tokens of at most `oauth.max_token_bytes` (16 KiB at most) and a few
 * short fields, so 64 KiB is four times the largest legitimate one. The time is the request's own.
 */
export const TOKEN_RESPONSE_MAX_BYTES = 64 * 1024;

/** Resolves a host name to addresses (injected in tests). */
export type Lookup = (host: string) => Promise<readonly string[]>;

/** The system resolver. */
export const systemLookup: Lookup = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const NON_PUBLIC = new BlockList();
// Special-purpose ranges (IANA registries): private, shared, loopback, link-local, benchmarking,
// protocol assignments, multicast and reserved.
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
// IPv6 (IPv4-mapped addresses are checked as IPv4 above): unspecified, loopback,
// IPv4-compatible and -translated forms, NAT64 (which reaches IPv4
// behind a gateway), discard, Teredo, 6to4, unique local, link- and site-local, multicast.
for (const [network, prefix] of [
  ['::', 96],
  ['::ffff:0:0:0', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

/** The host of a URL without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/** Whether `host` is `localhost` or a loopback address. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether `address` is not a public address (private, link-local, loopback, unspecified). */
export function isNonPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const bare = mapped ?? address;
  const family = isIP(bare);
  return family !== 0 && NON_PUBLIC.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** The network rules for one MCP server's OAuth requests. */
export interface NetworkPolicy {
  /** Whether private, link-local and loopback addresses may be used. */
  readonly allowPrivate: boolean;
  readonly lookup: Lookup;
}

/**
 * The policy for a server at `serverUrl`: private addresses are allowed when the server itself
 * resolves to one (an internal deployment), or when `allowPrivateNetwork` says so.
 */
export async function policyFor(
  serverUrl: URL,
  options: { allowPrivateNetwork?: boolean; lookup?: Lookup } = {},
): Promise<NetworkPolicy> {
  const lookup = options.lookup ?? systemLookup;
  if (options.allowPrivateNetwork) return { allowPrivate: true, lookup };
  // Every address must be non-public: one private record of a public host (or a rebinding
  // answer) must not switch the guard off.
  const addresses = await resolve(hostOf(serverUrl), lookup).catch(() => []);
  return {
    allowPrivate: addresses.length > 0 && addresses.every(isNonPublicAddress),
    lookup,
  };
}

async function resolve(host: string, lookup: Lookup): Promise<readonly string[]> {
  return isIP(host) ? [host] : lookup(host);
}

/**
 * Throw unless `url` may be fetched under `policy`; `what` names it in the message (for example
 * "the authorization server metadata").
 */
export async function assertFetchable(
  url: URL,
  policy: NetworkPolicy,
  what: string,
): Promise<void> {
  const host = hostOf(url);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(host))) {
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      `Refusing ${what} at ${url.origin}: only https is allowed (http only on localhost).`,
    );
  }
  if (policy.allowPrivate) return;
  const addresses = await resolve(host, policy.lookup).catch((error: unknown) => {
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      `Cannot resolve the host of ${what} (${url.origin}).`,
      {
        cause: error,
      },
    );
  });
  if (addresses.some(isNonPublicAddress)) {
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      `Refusing ${what} at ${url.origin}: it is on a private or local address while the MCP server is not; set allow_private_network: true on the server if this is intended.`,
    );
  }
}

/** The `lookup` of `net.connect` (callback form; one address, or all of them). */
export type ConnectLookup = LookupFunction;

/**
 * A connection-time resolver that refuses private, link-local and loopback addresses: given to
 * the HTTP stack of OAuth requests, it checks the address a connection really uses, so a DNS
 * answer that changes after discovery (rebinding) cannot reach an internal service.
 */
export function publicOnlyLookup(
  resolve: ConnectLookup = dnsLookupCallback as ConnectLookup,
): ConnectLookup {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, options.all ? [] : '', 0);
      const list = Array.isArray(addresses) ? addresses : [{ address: addresses, family: 4 }];
      const refused = list.find((entry) => isNonPublicAddress(entry.address));
      if (refused || list.length === 0) {
        const denied: NodeJS.ErrnoException = new Error(
          `${hostname} resolves to a private or local address; OAuth requests to it are refused`,
        );
        denied.code = 'ENOTPUBLIC';
        return callback(denied, options.all ? [] : '', 0);
      }
      if (options.all) return callback(null, list);
      const first = list[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}
