/**
 * One clear sentence for each way a connection to a downstream server fails. Messages name the
 * server, the program or the URL's origin and path, and what to change; never a header, an
 * environment value, the arguments of a command, a URL's query, or any text a library or the
 * server wrote (it can quote those).
 *
 * @module
 */
import { InsufficientScopeError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { ServerSettings } from '../config/schema/servers.js';
import { McpAgentError } from '../errors.js';

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_NOT_YET_VALID',
]);

/**
 * Where a server is, for messages: the program of its command (not the arguments), or its URL's
 * origin and path without credentials or query. A path segment long enough to be a key (some
 * hosted servers put one there) is shown as `…`.
 */
export function describeEndpoint(settings: ServerSettings): string {
  if (settings.transport === 'stdio') {
    return `command "${(settings.command ?? '').trim().split(/\s+/)[0] ?? ''}"`;
  }
  if (!settings.url || !URL.canParse(settings.url)) return 'its url';
  const url = new URL(settings.url);
  // Only special schemes have an origin; "htp:" would print as "null".
  if (url.origin === 'null') return 'its url';
  const path = url.pathname
    .split('/')
    .map((segment) => (segment.length >= 24 ? '…' : segment))
    .join('/');
  return `${url.origin}${path}`;
}

/**
 * Every `code` (string or HTTP status) and message along an error's `cause` chain. The SDK's v2
 * HTTP errors (`SdkHttpError`) carry their status in `data.status`, and a 403
 * `insufficient_scope` that reached a transport without an `authProvider` is its
 * `InsufficientScopeError`: both count as that status.
 */
function codesOf(error: unknown): { codes: (string | number)[]; messages: string[] } {
  const codes: (string | number)[] = [];
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    if (typeof current === 'object') {
      const { code, message, data } = current as {
        code?: unknown;
        message?: unknown;
        data?: unknown;
      };
      if (typeof code === 'string' || typeof code === 'number') codes.push(code);
      // Only the SDK's own errors: a server's JSON-RPC error data says nothing about HTTP.
      const status = current instanceof SdkError ? (data as { status?: unknown })?.status : 0;
      if (typeof status === 'number' && status > 0) codes.push(status);
      if (current instanceof InsufficientScopeError) codes.push(403);
      if (typeof message === 'string') messages.push(message);
      current = (current as { cause?: unknown }).cause;
    } else break;
  }
  return { codes, messages };
}

/** Turn any connection failure into an {@link McpAgentError} with one actionable sentence. */
export function describeConnectError(
  name: string,
  settings: ServerSettings,
  error: unknown,
  fetchError?: unknown,
): McpAgentError {
  if (error instanceof McpAgentError) return error;
  if (error instanceof SdkError && error.code === SdkErrorCode.EraNegotiationFailed) {
    return describeNegotiationError(name, settings, error, fetchError);
  }
  // A transport that turned a network error into text (SSE): classify the error fetch saw.
  if (fetchError !== undefined && codesOf(error).codes.length === 0) {
    if (fetchError instanceof McpAgentError) return fetchError;
    return describeConnectError(name, settings, fetchError);
  }
  const where = describeEndpoint(settings);
  const { codes, messages } = codesOf(error);
  // Only codes decide; the text of a message (a server's error body, say) never does.
  const httpStatus = codes.find(
    (code): code is number => typeof code === 'number' && code >= 400 && code < 600,
  );
  const text = messages.join(' | ');

  if ((httpStatus === 401 || httpStatus === 403) && settings.auth?.oauth?.enabled) {
    return new McpAgentError(
      'SERVER_AUTH_REQUIRED',
      `Server "${name}" at ${where} refused the request (HTTP ${httpStatus}) although mcp.servers.${name}.auth.oauth is enabled: either no token was sent (a ServerRegistry built without authFor; createApp and the CLI give it one) or the server refused ours; \`mcp-agent doctor ${name}\` tells which.`,
      { cause: error },
    );
  }
  if (httpStatus === 401 || httpStatus === 403) {
    return new McpAgentError(
      'SERVER_AUTH_REQUIRED',
      `Server "${name}" at ${where} needs authentication (HTTP ${httpStatus}); set its credentials in mcp.servers.${name}.headers (or auth.api_key), or enable mcp.servers.${name}.auth.oauth.`,
      { cause: error },
    );
  }
  if (httpStatus === 404 || httpStatus === 405) {
    return new McpAgentError(
      'SERVER_CONNECT',
      `Server "${name}" has no MCP endpoint at ${where} (HTTP ${httpStatus}); check mcp.servers.${name}.url and transport (${settings.transport}).`,
      { cause: error },
    );
  }
  if (codes.includes('WS_HANDSHAKE_REFUSED')) {
    return new McpAgentError(
      'SERVER_CONNECT',
      `Server "${name}" at ${where} refused the WebSocket handshake; check mcp.servers.${name}.url, and its headers if it needs credentials.`,
      { cause: error },
    );
  }
  if (/Redirect to .* not followed/i.test(text)) {
    return new McpAgentError(
      'SERVER_CONNECT',
      `Server "${name}" at ${where} redirects to another origin, which is not followed (its headers must not reach another site); set mcp.servers.${name}.url to the final address.`,
      { cause: error },
    );
  }
  if (codes.includes('ENOENT') && settings.transport === 'stdio') {
    return new McpAgentError(
      'SERVER_CONNECT',
      `Server "${name}" cannot be started: ${where} was not found; check mcp.servers.${name}.command and PATH.`,
      { cause: error },
    );
  }
  if (codes.includes('ECONNREFUSED')) {
    return new McpAgentError(
      'SERVER_CONNECT',
      `Server "${name}" at ${where} refused the connection; is it running?`,
      { cause: error },
    );
  }
  if (codes.includes('ENOTFOUND') || codes.includes('EAI_AGAIN')) {
    return new McpAgentError(
      'SERVER_CONNECT',
      `Server "${name}": the host of ${where} cannot be resolved; check mcp.servers.${name}.url.`,
      { cause: error },
    );
  }
  const tls = codes.find((code) => typeof code === 'string' && TLS_CODES.has(code));
  if (tls) {
    return new McpAgentError(
      'SERVER_CONNECT',
      `Server "${name}": the TLS certificate of ${where} is not trusted (${tls}); if your organisation signs it, point NODE_EXTRA_CA_CERTS at that CA certificate.`,
      { cause: error },
    );
  }
  // -32001: a v1 SDK's timeout (or a server's JSON-RPC error of that code).
  if (
    codes.includes('ETIMEDOUT') ||
    codes.includes(SdkErrorCode.RequestTimeout) ||
    codes.includes(-32001)
  ) {
    return new McpAgentError(
      'SERVER_TIMEOUT',
      `Server "${name}" at ${where} did not answer in time; check that it is up, or raise mcp.servers.${name}.read_timeout_seconds.`,
      { cause: error },
    );
  }
  if (
    settings.transport === 'stdio' &&
    (codes.includes(SdkErrorCode.ConnectionClosed) || codes.includes(-32000))
  ) {
    return new McpAgentError(
      'SERVER_CONNECT',
      `Server "${name}" (${where}) exited before it answered; run the command by hand to see its error, or look at its stderr with --verbose.`,
      { cause: error },
    );
  }
  // Anything else: the kind of failure, never the text of a message from a library or the
  // server (it can quote a header, an argument or a URL); the error is kept as `cause`.
  const kind = httpStatus ? `HTTP ${httpStatus}` : describeKind(error, codes);
  return new McpAgentError(
    'SERVER_CONNECT',
    `Server "${name}" at ${where} could not be used (${kind}).`,
    { cause: error },
  );
}

function describeKind(error: unknown, codes: readonly (string | number)[]): string {
  const code = codes.find((candidate) => typeof candidate === 'string');
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return code;
  const name = error instanceof Error ? error.name : typeof error;
  return /^[A-Za-z]+$/.test(name) ? name : 'error';
}

/**
 * A failed `server/discover` probe: what made it fail (a timeout, a refused connection, our own
 * error), or, with nothing underneath, a server that does not offer the pinned revision.
 */
function describeNegotiationError(
  name: string,
  settings: ServerSettings,
  error: SdkError,
  fetchError: unknown,
): McpAgentError {
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined) return describeConnectError(name, settings, cause, fetchError);
  if (settings.protocol === '2026-07-28') {
    return new McpAgentError(
      'SERVER_CONNECT',
      `Server "${name}" at ${describeEndpoint(settings)} does not offer MCP 2026-07-28, which mcp.servers.${name}.protocol requires; set it to auto (or 2025-11-25) to use the server on 2025-11-25.`,
      { cause: error },
    );
  }
  return new McpAgentError(
    'SERVER_CONNECT',
    `Server "${name}" at ${describeEndpoint(settings)} could not agree on an MCP revision (ERA_NEGOTIATION_FAILED); set mcp.servers.${name}.protocol to the one it speaks.`,
    { cause: error },
  );
}
