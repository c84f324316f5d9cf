/**
 * One MCP SDK client transport per configured server. HTTP transports get our `fetch` (the shared
 * HTTP stack, the server's headers for its own origin only, the response timeout) and never the
 * SDK's `authProvider`: the OAuth issue wraps the same `fetch` (see `wrapFetch`).
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type Transport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { ServerSettings } from '../config/schema/servers.js';
import type { Secret } from '../config/secret.js';
import type { Logger } from '../logger.js';
import { credentialsChallenge, type TokenSource, withOAuth } from '../oauth/auth-fetch.js';
import { scrub, secretValues, staticHeaders } from './credentials.js';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  type FetchLike,
  type HttpStack,
  withinOriginRedirects,
  withOriginHeaders,
  withResponseLimits,
  withResponseTimeout,
} from './http.js';
import { buildStdioEnv } from './stdio-env.js';
import { HeaderWebSocketTransport, probeHandshake } from './websocket.js';

/** Default time to wait for response headers from an HTTP server, in seconds. */
export const DEFAULT_HTTP_TIMEOUT_SECONDS = 30;

/** Default time an MCP request may take, in seconds (`read_timeout_seconds` overrides it). */
export const DEFAULT_READ_TIMEOUT_SECONDS = 60;

/** A server's `read_timeout_seconds`, in milliseconds. */
export function readTimeoutMs(settings: ServerSettings): number {
  return (settings.read_timeout_seconds ?? DEFAULT_READ_TIMEOUT_SECONDS) * 1000;
}

/** Wraps a server's `fetch`; the seam where OAuth adds its bearer token and 401 handling. */
export type FetchWrapper = (
  server: string,
  settings: ServerSettings,
  fetch: FetchLike,
) => FetchLike;

/** What {@link createTransport} needs besides the server's settings. */
export interface TransportContext {
  readonly http: HttpStack;
  /** The parent environment, for stdio servers. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly wrapFetch?: FetchWrapper | undefined;
  /** A Streamable HTTP session to resume. */
  readonly sessionId?: string | undefined;
  /** Told of every error a request of this server's `fetch` throws. */
  readonly onFetchError?: ((error: unknown) => void) | undefined;
  /** The server's OAuth tokens, when it uses OAuth. */
  readonly auth?: TokenSource | undefined;
}

/** The transport for server `name`. `settings.url` must be set for remote transports. */
export function createTransport(
  name: string,
  settings: ServerSettings,
  context: TransportContext,
): Transport {
  if (settings.transport === 'stdio') return stdioTransport(name, settings, context);
  const url = new URL(settings.url ?? '');
  if (settings.transport === 'websocket') return websocketTransport(url, settings, context);
  let fetch = serverFetch(name, settings, context.http, context.auth);
  if (context.wrapFetch) fetch = context.wrapFetch(name, settings, fetch);
  const onFetchError = context.onFetchError;
  if (onFetchError) {
    const inner = fetch;
    fetch = async (input, init) => {
      try {
        return await inner(input, init);
      } catch (error) {
        onFetchError(error);
        throw error;
      }
    };
  }
  if (settings.transport === 'sse') return new SSEClientTransport(url, { fetch });
  return new StreamableHTTPClientTransport(url, {
    fetch,
    ...(context.sessionId ? { sessionId: context.sessionId } : {}),
  });
}

/**
 * The `fetch` of HTTP server `name` (SSE, Streamable HTTP; `settings.url` must be set): the
 * shared HTTP stack, the server's static headers on its own origin only (a redirect followed
 * within that origin only: {@link withinOriginRedirects}), the response's headers
 * within `http_timeout_seconds`, its body bounded in size (`max_response_bytes`) and time
 * (`read_timeout_seconds`), and with `auth`, the server's OAuth token ({@link withOAuth}: RFC 6750
 * bearer, refresh on 401, MCP step-up on 403 `insufficient_scope`).
 */
export function serverFetch(
  name: string,
  settings: ServerSettings,
  http: HttpStack,
  auth?: TokenSource,
): FetchLike {
  const url = new URL(settings.url ?? '');
  // Redirects are followed below the headers and the token, within the server's origin only.
  let fetch = withOriginHeaders(withinOriginRedirects(http.fetch, url), url, () =>
    staticHeaders(settings),
  );
  fetch = withResponseTimeout(
    fetch,
    (settings.http_timeout_seconds ?? DEFAULT_HTTP_TIMEOUT_SECONDS) * 1000,
    name,
  );
  // What the server sends is bounded too: a JSON body within the request's time, an event of a
  // stream in size.
  fetch = withResponseLimits(fetch, {
    maxBytes: settings.max_response_bytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    bodyTimeoutMs: readTimeoutMs(settings),
    server: name,
  });
  return auth ? withOAuth(fetch, auth, url) : fetch;
}

/** WebSocket: the OAuth token goes on the handshake; a refused handshake gets one more try. */
function websocketTransport(
  url: URL,
  settings: ServerSettings,
  context: TransportContext,
): HeaderWebSocketTransport {
  const auth = context.auth;
  let sent: Secret | undefined;
  let last: Record<string, string> = {};
  return new HeaderWebSocketTransport(url, {
    headers: async () => {
      const headers = { ...staticHeaders(settings) };
      if (auth) {
        sent = await auth.token();
        if (sent) headers.Authorization = `Bearer ${sent.reveal()}`;
      }
      last = headers;
      return headers;
    },
    dispatcher: context.http.dispatcher,
    ...(auth
      ? {
          // The WebSocket API hides why a handshake failed: ask again by hand, and only a 401
          // (or a 403 for more scope) leads to a refresh or a login and one more try.
          onRefused: async () => {
            const answer = await probeHandshake(url, last);
            const challenge = answer && credentialsChallenge(answer.status, answer.headers);
            if (!challenge) return false;
            await auth.onUnauthorized(challenge, sent);
            return true;
          },
        }
      : {}),
  });
}

function stdioTransport(
  name: string,
  settings: ServerSettings,
  context: TransportContext,
): StdioClientTransport {
  const transport = new StdioClientTransport({
    command: settings.command ?? '',
    args: settings.args,
    ...(settings.cwd ? { cwd: settings.cwd } : {}),
    env: buildStdioEnv({
      parent: context.env,
      env: settings.env,
      inheritEnv: settings.inherit_env,
      passthrough: settings.env_passthrough,
    }),
    stderr: 'pipe',
  });
  reportStrayLines(transport);
  const stderr = transport.stderr;
  if (stderr) {
    const secrets = secretValues(settings);
    createInterface({
      input: stderr as unknown as NodeJS.ReadableStream,
      crlfDelay: Number.POSITIVE_INFINITY,
    }).on('line', (line) => {
      context.logger.info(`[${name}] ${scrub(line, secrets)}`, { server: name, stream: 'stderr' });
    });
  }
  return transport;
}

/**
 * Tell `transport.onerror` of each line on the server's stdout that is not JSON (a banner, debug
 * output), as a `SyntaxError`. The SDK's v2 stdio transport skips such lines without a
 * word (v1 reported them so); the registry counts them to give up early on a server that writes
 * something other than MCP. A second reader of the child's stdout (the SDK keeps the process to
 * itself: `_process`, read after `start`). Only lines not starting with `{` or `[` are parsed
 * again; a broken JSON-RPC object is still skipped unreported.
 */
function reportStrayLines(transport: StdioClientTransport): void {
  const start = transport.start.bind(transport);
  transport.start = async () => {
    await start();
    const child = (transport as unknown as { _process?: ChildProcess })._process;
    if (!child?.stdout) return;
    createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on(
      'line',
      (line) => {
        if (/^\s*[{[]/.test(line)) return;
        try {
          JSON.parse(line);
        } catch (error) {
          transport.onerror?.(error as SyntaxError);
        }
      },
    );
  };
}
