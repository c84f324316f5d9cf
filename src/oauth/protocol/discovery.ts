/**
 * Discovery of a downstream MCP server's authorization server, in the order the MCP
 * authorization spec (2025-11-25, 2026-07-28) gives:
 *
 * 1. protected-resource metadata (RFC 9728): the `resource_metadata` of a 401 challenge, else the
 *    path-inserted well-known URL, else the root one; its `resource` must equal the server's
 *    resource identifier (RFC 9728 §3.3);
 * 2. the authorization server: the configured `authorization_server` when the metadata lists it
 *    (or when there is no metadata), else the first one listed;
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
import { assertFetchable, type NetworkPolicy } from './network.js';

/** A `fetch` (injected; the shared HTTP stack in production). */
export type DiscoveryFetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** What discovery found for one server. */
export interface DiscoveryResult {
  /** The resource identifier (RFC 8707) the tokens are for. */
  readonly resource: URL;
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
  readonly cache?: DiscoveryCache;
  /** Milliseconds per request. Default 10 000. */
  readonly timeoutMs?: number;
}

/**
 * The canonical resource identifier of an MCP server URL: no fragment or query, lower-case scheme
 * and host, no trailing `/` (except the root).
 */
export function canonicalResource(url: string | URL): URL {
  const out = new URL(url);
  out.hash = '';
  out.search = '';
  if (out.pathname.length > 1 && out.pathname.endsWith('/'))
    out.pathname = out.pathname.slice(0, -1);
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

/** Discover the authorization server of the MCP server at `serverUrl`. */
export async function discover(
  serverUrl: string | URL,
  options: DiscoveryOptions,
): Promise<DiscoveryResult> {
  const resource = canonicalResource(options.resource ?? serverUrl);
  const cacheKey = `${resource.href} ${options.authorizationServer ?? ''}`;
  const cached = options.cache?.get(cacheKey);
  if (cached) return cached;

  const resourceMetadata = await fetchResourceMetadata(resource, options);
  let issuer: URL;
  if (resourceMetadata) {
    issuer = chooseAuthorizationServer(resource, resourceMetadata, options.authorizationServer);
  } else if (options.authorizationServer) {
    issuer = new URL(options.authorizationServer);
  } else {
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      `No protected-resource metadata for ${resource.href} (tried ${resourceMetadataUrls(resource)
        .map((url) => url.pathname)
        .join(', ')}); set auth.oauth.authorization_server to name its authorization server.`,
    );
  }
  const authorizationServer = await fetchAuthorizationServerMetadata(issuer, options);
  const result: DiscoveryResult = {
    resource,
    ...(resourceMetadata ? { resourceMetadata } : {}),
    authorizationServer,
  };
  options.cache?.set(cacheKey, result);
  return result;
}

async function get(url: URL, options: DiscoveryOptions, what: string): Promise<Response> {
  await assertFetchable(url, options.policy, what);
  try {
    return await options.fetch(url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      `Cannot fetch ${what} at ${url.origin}${url.pathname}.`,
      {
        cause: error,
      },
    );
  }
}

async function fetchResourceMetadata(
  resource: URL,
  options: DiscoveryOptions,
): Promise<ResourceServer | undefined> {
  const what = 'the protected-resource metadata';
  if (options.challengeMetadataUrl) {
    const url = new URL(options.challengeMetadataUrl);
    return checkResource(resource, await get(url, options, what), url);
  }
  for (const url of resourceMetadataUrls(resource)) {
    const response = await get(url, options, what);
    if (response.status === 404 || response.status === 405 || response.status === 410) {
      await response.body?.cancel();
      continue;
    }
    return checkResource(resource, response, url);
  }
  return undefined;
}

async function checkResource(resource: URL, response: Response, url: URL): Promise<ResourceServer> {
  try {
    const metadata = await processResourceDiscoveryResponse(resource, response);
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
        : `The protected-resource metadata at ${url.origin}${url.pathname} is not valid (HTTP ${response.status}, or no authorization_servers).`,
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
    return new URL(match);
  }
  const first = listed[0];
  if (!first) {
    throw new McpAgentError(
      'OAUTH_DISCOVERY',
      `The server ${resource.href} lists no usable authorization server.`,
    );
  }
  return new URL(first);
}

async function fetchAuthorizationServerMetadata(
  issuer: URL,
  options: DiscoveryOptions,
): Promise<AuthorizationServer> {
  const what = 'the authorization server metadata';
  for (const url of authorizationServerMetadataUrls(issuer)) {
    const response = await get(url, options, what);
    if (response.status !== 200) {
      await response.body?.cancel();
      continue;
    }
    try {
      return await processDiscoveryResponse(issuer, response);
    } catch (error) {
      const mismatch =
        (error as { code?: string }).code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED';
      throw new McpAgentError(
        'OAUTH_DISCOVERY',
        mismatch
          ? `The authorization server metadata at ${url.origin}${url.pathname} names another issuer than ${issuer.href} (RFC 8414 §3.3); it was not used.`
          : `The authorization server metadata at ${url.origin}${url.pathname} is not valid.`,
        { cause: error },
      );
    }
  }
  throw new McpAgentError(
    'OAUTH_DISCOVERY',
    `No authorization server metadata for ${issuer.href} (tried ${authorizationServerMetadataUrls(
      issuer,
    )
      .map((url) => url.pathname)
      .join(', ')}).`,
  );
}
