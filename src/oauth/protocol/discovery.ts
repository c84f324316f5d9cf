/**
 * Discovery of a downstream MCP server's authorization server, in the order the MCP
 * authorization spec (2025-11-25, 2026-07-28) gives:
 *
 * 1. protected-resource metadata (RFC 9728): the `resource_metadata` of a 401 challenge, then the
 *    path-inserted well-known URL, then the root one, until one names the server's resource
 *    identifier (RFC 9728 §3.3; the root document may name a same-origin parent);
 * 2. the authorization server: the configured `authorization_server` when the metadata lists it
 *    (or when there is no metadata), else the first one listed; without metadata or a configured
 *    one, the MCP server's origin (the 2025-03-26 rule, for servers of that revision);
 * 3. its metadata: RFC 8414 path-inserted, OIDC path-inserted, OIDC path-appended; its `issuer`
 *    must equal the issuer the URL was built from (RFC 8414 §3.3).
 *
 * Results are cached for a TTL. Every URL fetched passes the network policy.
 *
 * @module
 */

import {
  type AuthorizationServer,
  processDiscoveryResponse,
  processResourceDiscoveryResponse,
  type ResourceServer,
} from 'oauth4webapi';
import { McpAgentError } from '../../errors.js';
import { boundedFetch, type FetchLike, ResponseLimitError } from '../../fetch.js';
import { assertFetchable, isLoopbackHost, METADATA_LIMITS, type NetworkPolicy } from './network.js';
import { type BearerChallenge, bearerChallenge } from './www-authenticate.js';

/** A `fetch` (injected; the shared HTTP stack in production). */
export type DiscoveryFetch = FetchLike;

/** What discovery found for one server. */
export interface DiscoveryResult {
  /** The resource identifier (RFC 8707) the tokens are for. */
  readonly resource: URL;
  /**
   * The resource identifier as written: the protected-resource metadata's `resource` verbatim,
   * else the configured or server URL. Sent as the RFC 8707 `resource` parameter.
   */
  readonly resourceId: string;
  /** The protected-resource metadata, when the server has it. */
  readonly resourceMetadata?: ResourceServer;
  /** The chosen authorization server's metadata; `issuer` is the verified issuer. */
  readonly authorizationServer: AuthorizationServer;
}

/** Options of {@link discover}. */
export interface DiscoveryOptions {
  readonly fetch: DiscoveryFetch;
  readonly policy: NetworkPolicy;
  /** `resource_metadata` from a 401 challenge, tried first. */
  readonly challengeMetadataUrl?: string;
  /** The server's configured `auth.oauth.authorization_server`. */
  readonly authorizationServer?: string;
  /** The server's configured `auth.oauth.resource` (default: the server URL). */
  readonly resource?: string;
  /**
   * Accept a `resource` that is a parent of the server URL on the same origin (a server that
   * protects its whole origin, as FastMCP and mcp-handler do), from the root document
   * `/.well-known/oauth-protected-resource` of the server's origin only, whether probed or named
   * by the challenge. Default: `true` when no `resource` is given. Elsewhere the `resource` must
   * be the resource identifier itself (RFC 9728 §3.3). Never set it for a configured `resource`.
   */
  readonly acceptParentResource?: boolean;
  readonly cache?: DiscoveryCache;
  /** Do not read the cache (a challenge suggests the metadata changed); the result is cached. */
  readonly fresh?: boolean;
  /** Milliseconds per request, body included. Default {@link METADATA_LIMITS} (10 s). */
  readonly timeoutMs?: number;
}

/**
 * The resource identifier of an MCP server URL: without fragment or query, scheme and host in
 * lower case. The path is kept as written: the metadata's `resource` must be identical to it.
 */
export function canonicalResource(url: string | URL): URL {
  const out = new URL(url);
  out.hash = '';
  out.search = '';
  return out;
}

/** RFC 9728 §3.1: path-inserted well-known URL, then the root one. */
export function resourceMetadataUrls(resource: URL): URL[] {
  const path = resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '');
  const urls = [new URL(`/.well-known/oauth-protected-resource${path}`, resource.origin)];
  if (path) urls.push(new URL('/.well-known/oauth-protected-resource', resource.origin));
  return urls;
}

/** The MCP order for authorization-server metadata URLs of `issuer`. */
export function authorizationServerMetadataUrls(issuer: URL): URL[] {
  const path = issuer.pathname === '/' ? '' : issuer.pathname.replace(/\/$/, '');
  if (!path) {
    return [
      new URL('/.well-known/oauth-authorization-server', issuer.origin),
      new URL('/.well-known/openid-configuration', issuer.origin),
    ];
  }
  return [
    new URL(`/.well-known/oauth-authorization-server${path}`, issuer.origin),
    new URL(`/.well-known/openid-configuration${path}`, issuer.origin),
    new URL(`${path}/.well-known/openid-configuration`, issuer.origin),
  ];
}

/** A TTL cache of discovery results, keyed by resource (and configured AS). */
export class DiscoveryCache {
  readonly #entries = new Map<string, { result: DiscoveryResult; expiresAt: number }>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  /** @param ttlMs Default 300 000 (5 minutes, as mcp-agent). */
  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 300_000;
    this.#now = options.now ?? Date.now;
  }

  get(key: string): DiscoveryResult | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.result;
  }

  set(key: string, result: DiscoveryResult): void {
    this.#entries.set(key, { result, expiresAt: this.#now() + this.#ttlMs });
  }

  /** Forget `key` (after a failure that suggests the metadata changed). */
  delete(key: string): void {
    this.#entries.delete(key);
  }
}

/**
 * Ask the MCP server at `serverUrl` for its challenge: one request without credentials, whose 401
 * names the protected-resource metadata (RFC 9728 §5.1) where the well-known URLs have none.
 * `undefined` when it answers anything else.
 */
export async function probeChallenge(
  serverUrl: URL,
  fetch: DiscoveryFetch,
  timeoutMs = 10_000,
): Promise<BearerChallenge | undefined> {
  try {
    const response = await fetch(serverUrl, {
      method: 'GET',
      headers: { accept: 'application/json, text/event-stream' },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    return response.status === 401 ? bearerChallenge(response.headers) : undefined;
  } catch {
    return undefined;
  }
}

/** Discover the authorization server of the MCP server at `serverUrl`. */
export async function discover(
  serverUrl: string | URL,
  options: DiscoveryOptions,
): Promise<DiscoveryResult> {
  const server = canonicalResource(serverUrl);
  const resource = canonicalResource(options.resource ?? serverUrl);
  const cacheKey = [resource.href, options.authorizationServer, options.challengeMetadataUrl].join(
    ' ',
  );
  const cached = options.fresh ? undefined : options.cache?.get(cacheKey);
  if (cached) return cached;

  const resourceMetadata = await fetchResourceMetadata(server, resource, options);
  let issuer: URL;
  let notFound: (() => McpAgentError) | undefined;
  if (resourceMetadata) {
    issuer = chooseAuthorizationServer(resource, resourceMetadata, options.authorizationServer);
  } else if (options.authorizationServer) {
    issuer = writtenUrl(options.authorizationServer);
  } else if (isNearOriginRoot(server)) {
    // MCP 2025-03-26 ("Authorization Base URL"): a server without protected-resource metadata
    // is its own authorization server, at its origin (the path discarded). Its metadata must
    // name that origin as issuer; without metadata there, nothing is guessed.
    issuer = writtenUrl(server.origin);
    notFound = () => noMetadata(server, resource);
  } else {
    // Deeper under an origin (a gateway, a hosting platform), the origin's authorization server
    // may belong to someone else than the server: it is not assumed.
    throw noMetadata(server, resource, false);
  }
  const authorizationServer = await fetchAuthorizationServerMetadata(issuer, options, notFound);
  await checkEndpoints(authorizationServer, options);
  const resourceId = resourceMetadata?.resource ?? resource.href;
  const result: DiscoveryResult = {
    resource: new URL(resourceId),
    resourceId,
    ...(resourceMetadata ? { resourceMetadata } : {}),
    authorizationServer,
  };
  options.cache?.set(cacheKey, result);
  return result;
}

/** Neither protected-resource metadata nor authorization server metadata at the origin. */
function noMetadata(server: URL, resource: URL, triedOrigin = true): McpAgentError {
  const tried = (urls: URL[]) => urls.map((url) => url.pathname).join(', ');
  const origin = triedOrigin
    ? ` and no authorization server metadata at ${server.origin} (tried ${tried(authorizationServerMetadataUrls(new URL(server.origin)))})`
    : ` (the origin's own authorization server is assumed only for a server at most one path segment below it, as MCP 2025-03-26 servers are)`;
  return new McpAgentError(
    'OAUTH_DISCOVERY',
    `No protected-resource metadata for ${resource.href} (tried ${tried(resourceMetadataUrls(server))})${origin}; set auth.oauth.authorization_server to name its authorization server.`,
  );
}

/**
 * Whether `server` is at its origin's root or one path segment below it (`/mcp`, `/sse`): where
 * the MCP 2025-03-26 fallback takes the origin as the server's authorization server.
 */
function isNearOriginRoot(server: URL): boolean {
  return server.pathname.split('/').filter(Boolean).length <= 1;
}

async function get(url: URL, options: DiscoveryOptions, what: string): Promise<Response> {
  await assertFetchable(url, options.policy, what);
  const bounded = boundedFetch(options.fetch, {
    ...METADATA_LIMITS,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    what,
  });
  try {
    return await bounded(url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      redirect: 'manual',
    });
  } catch (error) {
    if (error instanceof ResponseLimitError) {
      // Discovery failed (a stored token may still be used): the limit is the reason.
      throw new McpAgentError('OAUTH_DISCOVERY', error.message, { cause: error });
    }
    if (error instanceof McpAgentError) throw error;
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      `Cannot fetch ${what} at ${url.origin}${url.pathname}.`,
      {
        cause: error,
      },
    );
  }
}

/** The root protected-resource metadata URL of `url`'s origin (RFC 9728 §3.1). */
function rootMetadataUrl(url: URL): URL {
  return new URL('/.well-known/oauth-protected-resource', url.origin);
}

/** The challenge's metadata URL (when there is one), then the well-known ones, each once. */
function metadataCandidates(server: URL, challengeMetadataUrl: string | undefined): URL[] {
  const urls = resourceMetadataUrls(server);
  if (challengeMetadataUrl === undefined) return urls;
  if (!URL.canParse(challengeMetadataUrl)) {
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      `The server ${server.href} named protected-resource metadata that is not an absolute URL.`,
    );
  }
  const named = new URL(challengeMetadataUrl);
  return [named, ...urls.filter((url) => url.href !== named.href)];
}

/**
 * The protected-resource metadata for `resource`: the first candidate URL whose document names
 * it. A document that is missing, not valid or for another resource does not end the search;
 * when none is found, the first refusal is the error (a server whose only document names another
 * resource is refused, never silently passed over).
 */
async function fetchResourceMetadata(
  server: URL,
  resource: URL,
  options: DiscoveryOptions,
): Promise<ResourceServer | undefined> {
  const what = 'the protected-resource metadata';
  const urls = metadataCandidates(server, options.challengeMetadataUrl);
  // A parent resource only from the root document of the server's own origin, which RFC 9728
  // builds from the origin alone: it describes everything on that origin.
  const root = rootMetadataUrl(server).href;
  const acceptParent = options.acceptParentResource ?? options.resource === undefined;
  let refused: McpAgentError | undefined;
  for (const [index, url] of urls.entries()) {
    const response = await get(url, options, what);
    if (response.status === 200) {
      try {
        return await checkResource(resource, response, url, acceptParent && url.href === root);
      } catch (error) {
        refused ??= error as McpAgentError;
        continue;
      }
    }
    await response.body?.cancel();
    const last = index === urls.length - 1;
    if (last && !refused && ![404, 405, 410].includes(response.status)) {
      // A server that wants credentials even for its metadata does not use OAuth (RFC 9728 §3:
      // the document is public): most likely it takes a static key in a header.
      const hint = [401, 403].includes(response.status)
        ? ': the server wants credentials even for its OAuth metadata, which a server using OAuth does not; it probably takes a static key or token in a header (headers) rather than OAuth'
        : '';
      throw new McpAgentError(
        'OAUTH_DISCOVERY',
        `The protected-resource metadata at ${url.origin}${url.pathname} answered HTTP ${response.status}${hint}.`,
      );
    }
  }
  if (refused) throw refused;
  return undefined;
}

/**
 * Whether metadata naming `claimed` describes `resource` (RFC 9728 §3.3): the same URL (scheme,
 * host and port compared as URLs; the path exactly, one trailing "/" aside), or, when
 * `acceptParent`, a path on the same origin that ends at a segment boundary before or at
 * `resource`'s path. Never a query, a fragment or user information.
 */
export function resourceMatches(resource: URL, claimed: string, acceptParent: boolean): boolean {
  if (!URL.canParse(claimed)) return false;
  const named = new URL(claimed);
  if (named.origin === 'null' || named.origin !== resource.origin) return false;
  if (named.search || named.hash || named.username || named.password) return false;
  if (resource.search || resource.hash) return false;
  const path = named.pathname.replace(/\/$/, '');
  if (path === resource.pathname.replace(/\/$/, '')) return true;
  return acceptParent && resource.pathname.startsWith(`${path}/`);
}

async function checkResource(
  resource: URL,
  response: Response,
  url: URL,
  acceptParent: boolean,
): Promise<ResourceServer> {
  try {
    // Read the claimed resource first: oauth4webapi then checks it is identical to itself.
    const text = await response.clone().text();
    let claimed: unknown;
    try {
      claimed = (JSON.parse(text) as { resource?: unknown }).resource;
    } catch {
      claimed = undefined;
    }
    if (typeof claimed !== 'string' || !URL.canParse(claimed)) throw new Error('no resource');
    if (!resourceMatches(resource, claimed, acceptParent)) {
      throw Object.assign(new Error('resource differs'), {
        code: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
      });
    }
    const metadata = await processResourceDiscoveryResponse(new URL(claimed), response);
    if (
      !Array.isArray(metadata.authorization_servers) ||
      metadata.authorization_servers.length === 0
    ) {
      throw new Error('no authorization_servers');
    }
    return metadata;
  } catch (error) {
    const mismatch = (error as { code?: string }).code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED';
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      mismatch
        ? `The protected-resource metadata at ${url.origin}${url.pathname} is for another resource than ${resource.href} (RFC 9728 §3.3); it was not used.`
        : `The protected-resource metadata at ${url.origin}${url.pathname} is not valid (no resource or no authorization_servers).`,
      { cause: error },
    );
  }
}

function chooseAuthorizationServer(
  resource: URL,
  metadata: ResourceServer,
  configured: string | undefined,
): URL {
  const listed = (metadata.authorization_servers ?? []).filter((value) => URL.canParse(value));
  if (configured) {
    const wanted = new URL(configured).href.replace(/\/$/, '');
    const match = listed.find((value) => new URL(value).href.replace(/\/$/, '') === wanted);
    if (!match) {
      throw new McpAgentError(
        'OAUTH_DISCOVERY',
        `The configured authorization_server ${configured} is not one the server ${resource.href} lists (${listed.join(', ')}); use one of those.`,
      );
    }
    return writtenUrl(match);
  }
  const first = listed[0];
  if (!first) {
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      `The server ${resource.href} lists no usable authorization server.`,
    );
  }
  return writtenUrl(first);
}

/** The issuer as it was written (listed or configured), without a trailing "/". */
function issuerText(issuer: URL): string {
  return (ISSUER_TEXT.get(issuer) ?? issuer.href).replace(/\/$/, '');
}

const ISSUER_TEXT = new WeakMap<URL, string>();

/** A URL that remembers how it was written (for the exact issuer comparison). */
function writtenUrl(text: string): URL {
  const url = new URL(text);
  ISSUER_TEXT.set(url, text);
  return url;
}

async function fetchAuthorizationServerMetadata(
  issuer: URL,
  options: DiscoveryOptions,
  notFound?: () => McpAgentError,
): Promise<AuthorizationServer> {
  const what = 'the authorization server metadata';
  for (const url of authorizationServerMetadataUrls(issuer)) {
    const response = await get(url, options, what);
    if (response.status !== 200) {
      await response.body?.cancel();
      continue;
    }
    try {
      const metadata = await processDiscoveryResponse(issuer, response);
      // RFC 8414 §3.3 / MCP 2026-07-28: identical, not merely equal once normalised (one
      // trailing "/" aside, which real servers and configs disagree on).
      if (metadata.issuer.replace(/\/$/, '') !== issuerText(issuer)) {
        throw Object.assign(new Error('issuer differs'), {
          code: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
        });
      }
      return metadata;
    } catch (error) {
      const mismatch =
        (error as { code?: string }).code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED';
      throw new McpAgentError(
        'OAUTH_DISCOVERY',
        mismatch
          ? `The authorization server metadata at ${url.origin}${url.pathname} names another issuer than ${issuerText(issuer)} (RFC 8414 §3.3); it was not used.`
          : `The authorization server metadata at ${url.origin}${url.pathname} is not valid.`,
        { cause: error },
      );
    }
  }
  if (notFound) throw notFound();
  throw new McpAgentError(
    'OAUTH_DISCOVERY',
    `No authorization server metadata for ${issuer.href} (tried ${authorizationServerMetadataUrls(
      issuer,
    )
      .map((url) => url.pathname)
      .join(', ')}).`,
  );
}

/** The endpoints a client will call: https (or loopback http), and the network policy. */
async function checkEndpoints(
  metadata: AuthorizationServer,
  options: DiscoveryOptions,
): Promise<void> {
  const browser = metadata.authorization_endpoint;
  if (browser !== undefined) {
    const url = URL.canParse(browser) ? new URL(browser) : undefined;
    if (
      !url ||
      !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    ) {
      throw new McpAgentError(
        'OAUTH_DISCOVERY',
        `The authorization server ${metadata.issuer} has an authorization_endpoint that is not https; it was not used.`,
      );
    }
  }
  for (const name of [
    'token_endpoint',
    'registration_endpoint',
    'revocation_endpoint',
    'introspection_endpoint',
    'device_authorization_endpoint',
    'jwks_uri',
  ] as const) {
    const value = metadata[name];
    if (value === undefined) continue;
    if (!URL.canParse(value)) {
      throw new McpAgentError(
        'OAUTH_DISCOVERY',
        `The authorization server ${metadata.issuer} has a ${name} that is not a URL.`,
      );
    }
    await assertFetchable(new URL(value), options.policy, `the ${name} of ${metadata.issuer}`);
  }
}
