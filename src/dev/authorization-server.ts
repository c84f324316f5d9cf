/**
 * The embedded development authorization server of `mcp-agent dev`: a real OpenID provider
 * (oidc-provider) on a loopback port, so an MCP app can be tried end to end (clients register,
 * log in, get JWT access tokens for the app) without an identity provider.
 *
 * It issues RFC 9068 JWT access tokens (`typ: at+jwt`, ES256, a key generated at start) whose
 * `aud` is the requested resource (RFC 8707), and offers dynamic client registration (RFC 7591),
 * authorization code + PKCE with refresh-token rotation, the device authorization grant
 * (RFC 8628), client credentials, introspection (RFC 7662) for a pre-registered client,
 * revocation (RFC 7009), RFC 9207 `iss` in authorization responses, and metadata at both
 * `/.well-known/oauth-authorization-server` (RFC 8414) and `/.well-known/openid-configuration`.
 * Everything lives in memory and is gone on {@link DevAuthorizationServer.close}.
 *
 * Development only: there are no passwords (the login page asks for a user name), and every page
 * says so.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { McpAgentError } from '../errors.js';
import { createHttpServer, type RequestTimeouts } from '../http-server.js';
import { type Logger, silentLogger } from '../logger.js';
import { handleInteraction, isInteractionPath, sendPage, USER_NAME } from './interactions.js';
import { errorPage, indexPage, providerPageCsp } from './pages.js';
import { createDevProvider } from './provider.js';

/** Options of {@link startDevAuthorizationServer}. */
export interface DevAuthorizationServerOptions {
  /**
   * The address to listen on. Default `127.0.0.1`. Anything but a loopback address (`127.x.x.x`,
   * `::1`, `localhost`) is refused unless {@link allowRemote} is true.
   */
  readonly host?: string;
  /** The port. Default 8001; 0 picks a free one (read it from the returned `issuer`). */
  readonly port?: number;
  /** How long a client may take to send a request. Default: headers 10 s, whole request 30 s. */
  readonly timeouts?: RequestTimeouts;
  /**
   * The app's resource URLs (absolute, no fragment). Access tokens requested for one of them are
   * JWTs with that URL as `aud`; any other `resource` is refused with `invalid_target`. When there
   * is exactly one, requests that name no resource get a token for it.
   */
  readonly resources: readonly string[];
  /**
   * The resource (one of {@link resources}) of requests that name none (RFC 8707 §2). Default:
   * the only resource, when there is one; else such requests get no JWT.
   */
  readonly defaultResource?: string;
  /**
   * The scopes the resources know, advertised in `scopes_supported` next to `openid` and
   * `offline_access`. Default `['mcp:tools']`.
   */
  readonly scopes?: readonly string[];
  /**
   * Complete every login and consent at once as {@link devUser}, with no page: for scripts and
   * tests. The device flow still needs its code entered. Default false.
   */
  readonly autoApprove?: boolean;
  /** The user auto-approval signs in as, and the login page suggests. Default `dev`. */
  readonly devUser?: string;
  /** Access token lifetime in seconds. Default 3600. */
  readonly accessTokenTtlSeconds?: number;
  /** Where sign-ins, tokens issued (never their values) and refusals are reported. Default silent. */
  readonly logger?: Logger;
  /**
   * Allow a non-loopback {@link host}. Security-weakening: anyone who can reach the port can sign
   * in as anyone. The issuer stays `http://HOST:PORT`. Default false.
   */
  readonly allowRemote?: boolean;
}

/** A running development authorization server. */
export interface DevAuthorizationServer {
  /** `http://127.0.0.1:8001` (no trailing slash): the `issuer` of its metadata and tokens. */
  readonly issuer: string;
  /** Where its signing keys are published (`${issuer}/jwks`). */
  readonly jwksUri: string;
  /**
   * A pre-registered confidential client (authenticating with `client_secret_basic`) allowed to
   * introspect every token, JWT access tokens included: what the app uses to see revocations. The
   * secret is random per start. (A JWT stays verifiable against the JWKS until it expires;
   * revocation shows only through introspection.)
   */
  readonly introspection: {
    /** The RFC 7662 introspection endpoint. */
    readonly endpoint: string;
    readonly clientId: string;
    readonly clientSecret: string;
  };
  /** Stop listening, drop open connections and forget every client, grant and token. */
  close(): Promise<void>;
}

/** The id of the pre-registered introspection client. */
const INTROSPECTION_CLIENT_ID = 'mcp-agent-introspection';

/** Scope tokens (RFC 6749 §3.3). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Start a development authorization server and wait until it listens.
 *
 * @example
 * ```ts
 * const as = await startDevAuthorizationServer({ resources: ['http://127.0.0.1:8000/mcp'] });
 * // clients discover `${as.issuer}/.well-known/oauth-authorization-server` and register
 * await as.close();
 * ```
 * @throws TypeError for invalid options; Error when the host is not loopback (without
 *   `allowRemote`) or the port is taken.
 */
export async function startDevAuthorizationServer(
  options: DevAuthorizationServerOptions,
): Promise<DevAuthorizationServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8001;
  const scopes = options.scopes ?? ['mcp:tools'];
  const devUser = options.devUser ?? 'dev';
  const accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 3600;
  const logger = options.logger ?? silentLogger;
  validate(options.resources, scopes, port, accessTokenTtlSeconds, devUser);
  if (
    options.defaultResource !== undefined &&
    !options.resources.includes(options.defaultResource)
  ) {
    throw new TypeError('defaultResource must be one of resources.');
  }
  const bindHost = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!isLoopback(bindHost) && options.allowRemote !== true) {
    throw new Error(
      `The development authorization server only listens on a loopback address (127.0.0.1, ::1, localhost), not on ${JSON.stringify(host)}: it has no passwords, so anyone who reaches it can sign in as anyone. Set allowRemote to listen there anyway.`,
    );
  }

  const http = createHttpServer(undefined, options.timeouts);
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handler) handler(req, res);
    else sendPage(res, 503, errorPage('temporarily_unavailable', 'Starting.'));
  });
  await listen(http, bindHost, port, host);
  const address = http.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const issuer = `http://${isIP(bindHost) === 6 ? `[${bindHost}]` : bindHost}:${actualPort}`;

  const introspectionClient = {
    clientId: INTROSPECTION_CLIENT_ID,
    clientSecret: randomBytes(32).toString('base64url'),
  };
  let provider: Awaited<ReturnType<typeof createDevProvider>>;
  try {
    provider = await createDevProvider({
      issuer,
      resources: options.resources,
      ...(options.defaultResource ? { defaultResource: options.defaultResource } : {}),
      scopes,
      accessTokenTtlSeconds,
      introspectionClient,
      logger,
    });
  } catch (error) {
    await closeServer(http);
    throw error;
  }

  const interactions = {
    provider,
    issuer,
    autoApprove: options.autoApprove ?? false,
    devUser,
    resourceScopes: new Set(scopes),
    logger,
  };
  const callback = provider.callback();
  const index = indexPage({
    issuer,
    resources: options.resources,
    scopes: [...scopes],
    autoApprove: interactions.autoApprove,
  });
  const allowedHosts = new Set(
    ['127.0.0.1', 'localhost', '[::1]', isIP(bindHost) === 6 ? `[${bindHost}]` : bindHost].map(
      (name) => `${name}:${actualPort}`,
    ),
  );
  handler = (req, res) => {
    // DNS rebinding: a page whose name resolves to 127.0.0.1 must not register clients or log in.
    if (!options.allowRemote && !allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      sendPage(res, 403, errorPage('forbidden', 'This Host is not allowed.'));
      return;
    }
    if (!URL.canParse(req.url ?? '/', issuer)) {
      sendPage(res, 400, errorPage('invalid_request', 'The request target is not a URL.'));
      return;
    }
    const url = new URL(req.url ?? '/', issuer);
    if (isInteractionPath(url.pathname)) {
      void handleInteraction(interactions, req, res);
      return;
    }
    if (url.pathname === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendPage(res, 200, index);
      return;
    }
    // A policy for the pages oidc-provider renders itself (it adds its script's hash).
    res.setHeader(
      'content-security-policy',
      providerPageCsp(url.pathname.startsWith('/device') ? 'self' : 'client'),
    );
    // RFC 8414 metadata is the OpenID discovery document (a superset) at its own address.
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      req.url = `/.well-known/openid-configuration${url.search}`;
    }
    void callback(req, res);
  };

  logger.debug('development authorization server: listening', {
    issuer,
    resources: [...options.resources],
    scopes: [...scopes],
    auto_approve: interactions.autoApprove,
  });

  let closing: Promise<void> | undefined;
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    introspection: { endpoint: `${issuer}/token/introspection`, ...introspectionClient },
    close() {
      closing ??= closeServer(http).then(() => {
        logger.info('development authorization server: stopped', { issuer });
      });
      return closing;
    },
  };
}

/** Whether `host` (without brackets) is a loopback name or address. */
function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

function validate(
  resources: readonly string[],
  scopes: readonly string[],
  port: number,
  ttl: number,
  devUser: string,
): void {
  if (!Array.isArray(resources) || resources.length === 0) {
    throw new TypeError('resources must name at least one resource URL (the MCP app’s URL).');
  }
  for (const resource of resources) {
    let url: URL | undefined;
    try {
      url = new URL(resource);
    } catch {
      url = undefined;
    }
    if (url === undefined || url.hash !== '' || resource.includes('#')) {
      throw new TypeError(
        `resources: ${JSON.stringify(resource)} is not an absolute URL without a fragment.`,
      );
    }
  }
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope) || scope === 'openid' || scope === 'offline_access') {
      throw new TypeError(
        `scopes: ${JSON.stringify(scope)} is not a resource scope (one token, not openid or offline_access).`,
      );
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new TypeError(`port must be an integer from 0 to 65535, not ${String(port)}.`);
  }
  if (!Number.isInteger(ttl) || ttl <= 0) {
    throw new TypeError('accessTokenTtlSeconds must be a positive whole number of seconds.');
  }
  if (!USER_NAME.test(devUser)) {
    throw new TypeError('devUser must be 1 to 64 letters, digits or . _ @ + -');
  }
}

function listen(http: Server, host: string, port: number, shownHost: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      http.off('listening', onListening);
      const where = `${shownHost} port ${port}`;
      const sentence =
        error.code === 'EADDRINUSE'
          ? `The development authorization server cannot listen on ${where}: the port is in use. Stop whatever uses it, or choose another port (0 picks a free one).`
          : `The development authorization server cannot listen on ${where}: ${error.message}.`;
      reject(new McpAgentError('LISTEN', sentence, { cause: error }));
    };
    const onListening = () => {
      http.off('error', onError);
      resolve();
    };
    http.once('error', onError);
    http.once('listening', onListening);
    http.listen(port, host);
  });
}

function closeServer(http: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!http.listening) {
      resolve();
      return;
    }
    http.close(() => resolve());
    http.closeAllConnections();
  });
}
