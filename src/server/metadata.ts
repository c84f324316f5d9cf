/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for the agent served as an MCP server: the
 * document, where it is served (the path-inserted well-known URL of §3.1, and the root one for
 * clients that only try that), and its HTTP answers. Built from configuration only, never from the
 * request's `Host` or `X-Forwarded-*` (§7.3: a client compares `resource` with the URL it called).
 * The legacy SSE endpoint is a resource of its own ({@link sseResourceOf}), with its own document.
 *
 * @module
 */

/** The RFC 9728 §2 document. */
export interface ProtectedResourceMetadata {
  /** The resource identifier (`resource_server_url`): a client compares it to the URL it called. */
  readonly resource: string;
  /** The issuers whose tokens the resource accepts. */
  readonly authorization_servers: readonly string[];
  /** The scopes a client may ask for (required scopes, then tool scopes). */
  readonly scopes_supported?: readonly string[];
  /** Only the `Authorization` header carries a token (RFC 6750 §2.1; never the query). */
  readonly bearer_methods_supported: readonly ['header'];
  /** A name to show people (`resource_name`, else the app's name). */
  readonly resource_name?: string;
  /** A page about the resource (`service_documentation_url`). */
  readonly resource_documentation?: string;
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** Where the legacy SSE stream is served; its messages go to {@link SSE_MESSAGES_PATH}. */
export const SSE_PATH = '/sse';

/** Where the messages of a legacy SSE session are posted. */
export const SSE_MESSAGES_PATH = '/messages';

/** The metadata URL for `resource` (RFC 9728 §3.1: the well-known segment before the path). */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}${WELL_KNOWN}${path}`;
}

/**
 * The resource identifier of the legacy SSE endpoint served beside the MCP endpoint `resource`:
 * its last path segment replaced by `sse` (`https://h/agent/mcp` → `https://h/agent/sse`). A
 * client of `/sse` names this resource (RFC 8707), and the metadata it reads there must too
 * (RFC 9728 §3.3).
 */
export function sseResourceOf(resource: string): string {
  const url = new URL(resource);
  url.pathname = url.pathname.replace(/\/+$/, '').replace(/\/[^/]*$/, '') + SSE_PATH;
  url.search = '';
  url.hash = '';
  return url.href;
}

/** The paths the metadata is served at: the path-inserted one, and the root one. */
export function metadataPaths(resource: string): string[] {
  const inserted = new URL(resourceMetadataUrl(resource)).pathname;
  return inserted === WELL_KNOWN ? [WELL_KNOWN] : [inserted, WELL_KNOWN];
}

/** The document for `resource`. `offline_access` is never advertised (MCP 2026-07-28). */
export function protectedResourceMetadata(options: {
  resource: string;
  authorizationServers: readonly string[];
  scopes?: readonly string[];
  resourceName?: string | undefined;
  documentation?: string | undefined;
}): ProtectedResourceMetadata {
  const scopes = [...new Set(options.scopes ?? [])].filter((scope) => scope !== 'offline_access');
  return {
    resource: options.resource,
    authorization_servers: options.authorizationServers,
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
    bearer_methods_supported: ['header'],
    ...(options.resourceName ? { resource_name: options.resourceName } : {}),
    ...(options.documentation ? { resource_documentation: options.documentation } : {}),
  };
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'mcp-protocol-version',
  'access-control-max-age': '86400',
} as const;

/** The answer to `method` on a metadata URL: the document, a CORS preflight, or 405. */
export function metadataResponse(
  method: string,
  document: ProtectedResourceMetadata,
): { status: number; headers: Record<string, string>; body: string } {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return {
        status: 200,
        headers: {
          ...CORS,
          'content-type': 'application/json',
          'cache-control': 'public, max-age=3600',
        },
        body: method === 'GET' ? JSON.stringify(document) : '',
      };
    case 'OPTIONS':
      return { status: 204, headers: { ...CORS }, body: '' };
    default:
      return {
        status: 405,
        headers: { allow: 'GET, HEAD, OPTIONS', 'content-type': 'application/json' },
        body: JSON.stringify({ error: 'method_not_allowed' }),
      };
  }
}
