/**
 * The framework-free core of the server middleware: an existing MCP server's endpoint protected
 * as `serve` protects its own. For each request the framework routed to the endpoint it says
 * what to do next: answer (a challenge of RFC 6750 §3 naming the RFC 9728 metadata, 403
 * `insufficient_scope` for a tool's, prompt's or resource's scope, 404 for another caller's
 * session, 503 while tokens cannot be verified), or go on with the caller (the SDK's `AuthInfo`, `currentCaller()`). It also
 * answers the protected-resource metadata at its path-inserted and root well-known URLs
 * (RFC 9728 §3.1). The adapters (`express.ts`, `hono.ts`, `fastify.ts`, `node.ts`, `web.ts`)
 * only translate requests and answers.
 *
 * Loads no HTTP client library (unless the environment names a proxy: then the proxy-aware stack
 * of `serve`), no Redis client (unless the settings' token store is Redis), no MCP SDK and no
 * authorization server.
 *
 * @module
 */
import { hasProxy, proxySettingsFrom } from '../config/proxy.js';
import type { AuthorizationSettings } from '../config/schema/authorization.js';
import { codedTypeError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import type { BearerGuard } from '../server/guard.js';
import { toolCallRejection } from '../server/http-auth.js';
import { type HttpAnswer, jsonRpcErrorAnswer } from '../server/http-reply.js';
import {
  type AuthInfo,
  authInfoOf,
  type CallerIdentity,
  enableCallerContext,
  principalOf,
  withCaller,
} from '../server/identity.js';
import {
  metadataPaths,
  metadataResponse,
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
  resourceMetadataUrl,
} from '../server/metadata.js';
import { guardFromSettings, sharedVerifications } from '../server/protection.js';
import {
  ConfiguredVerifier,
  type ConfiguredVerifierOptions,
} from '../server/verifiers/configured.js';
import type { KeyValueStore } from '../stores/kv.js';
import {
  type McpAuthOptions,
  type ResolvedAuthorization,
  resolveAuthorization,
} from './options.js';
import { type NormalizedRequest, normalizeRequest, type RequestInput } from './request.js';
import { SessionOwners } from './sessions.js';

/** Answer the request with `response`; nothing else runs. */
export interface McpAuthRespond {
  /** Answer, do not go on. */
  readonly action: 'respond';
  /** The answer: a challenge, 403, 404, 503, or the metadata document. */
  readonly response: HttpAnswer;
}

/** The caller is authenticated and authorized: the handler runs. */
export interface McpAuthNext {
  /** Go on to the handler. */
  readonly action: 'next';
  /** The verified caller. */
  readonly caller: CallerIdentity;
  /** The SDK's `AuthInfo` for the handler (v1 `req.auth`, v2 `authInfo`); its `token` is empty. */
  readonly authInfo: AuthInfo;
  /**
   * The JSON body, when the middleware read it to check tool scopes (its stream is consumed: hand
   * this to the transport as `parsedBody`), or decoded from the text or bytes the framework had
   * read (the value checked, so the server runs what was checked); else `undefined`.
   */
  readonly parsedBody: unknown;
  /** Call `handler` with the caller as `currentCaller()` of everything it starts. */
  run<T>(handler: () => T): T;
  /**
   * Tell the middleware how the request was answered (`Mcp-Session-Id` of the response, if any):
   * a session opened is bound to the caller, a session ended is forgotten.
   */
  responded(status: number, sessionId: string | null | undefined): void;
}

/** What the framework does with a request. */
export type McpAuthOutcome = McpAuthRespond | McpAuthNext;

/**
 * The caller, authenticated from the headers alone ({@link McpAuth.authenticateHeaders}): the
 * body, which the tool scopes need, comes next.
 */
export interface McpAuthHeadersChecked {
  /** The headers are checked; the body comes next. */
  readonly action: 'body';
  /** The verified caller. */
  readonly caller: CallerIdentity;
  /**
   * Check the tool scopes on `parsedBody`, the body the framework read since (in any form
   * `RequestInput.parsedBody` takes; `undefined`: the request's own body is read), and go on.
   */
  withBody(parsedBody: unknown): Promise<McpAuthOutcome>;
}

/** The protection of one MCP endpoint (one resource). */
export interface McpAuth {
  /** The resource identifier (`resource_server_url`). */
  readonly resource: string;
  /** Where its metadata is (RFC 9728 §3.1), as every challenge names it. */
  readonly resourceMetadataUrl: string;
  /** The metadata document (RFC 9728 §2). */
  readonly metadata: ProtectedResourceMetadata;
  /** The paths the metadata is served at: path-inserted, then the root one. */
  readonly metadataPaths: readonly string[];
  /** Whether {@link close} was called: every request is answered 503 from then on. */
  readonly closed: boolean;
  /** The answer to a request for the metadata (`GET`, `HEAD`, `OPTIONS`; 405 else), or `undefined`. */
  metadataFor(request: Request | RequestInput): HttpAnswer | undefined;
  /** Decide about a request the framework routed to the MCP endpoint: answer, or go on. */
  authenticate(request: Request | RequestInput): Promise<McpAuthOutcome>;
  /**
   * {@link authenticate} in two steps, for a framework that parses the body between them (Fastify's
   * `onRequest` then `preHandler`): `Host`, the token and the session from the headers, the body
   * unread, so no unauthenticated body is ever parsed; then `withBody` for the tool scopes.
   */
  authenticateHeaders(
    request: Request | RequestInput,
  ): Promise<McpAuthRespond | McpAuthHeadersChecked>;
  /** {@link metadataFor}, else {@link authenticate}: for one handler serving every path. */
  handle(request: Request | RequestInput): Promise<McpAuthOutcome>;
  /** Forget the sessions, close the shared cache it opened; later requests get 503. */
  close(): Promise<void>;
}

const CLOSED: HttpAnswer = {
  status: 503,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify({
    error: 'unavailable',
    error_description: 'the server is shutting down: its MCP authorization was closed',
  }),
};

const FORBIDDEN_HOST: HttpAnswer = {
  status: 403,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: 'forbidden', error_description: 'Host or Origin not allowed' }),
};

const respond = (response: HttpAnswer): McpAuthRespond => ({ action: 'respond', response });

/** The verification requests' `fetch`, and how to close it when the protection opened it. */
interface OwnHttp {
  readonly fetch: FetchLike;
  close?(): Promise<void>;
}

/** What {@link ProtectedEndpoint} is built from. */
interface EndpointParts {
  readonly resolved: ResolvedAuthorization;
  readonly guard: BearerGuard;
  readonly options: McpAuthOptions;
  /** The shared cache this instance opened (and closes). */
  readonly ownShared: KeyValueStore | undefined;
  /** The HTTP stack of its verification requests (closed with it, when it opened one). */
  readonly ownHttp: OwnHttp | undefined;
  /** `prompt_scopes` and `resource_scopes` by request, or `undefined` when both are empty. */
  readonly contentScopes: ((method: string, params: unknown) => readonly string[]) | undefined;
}

class ProtectedEndpoint implements McpAuth {
  readonly resource: string;
  readonly resourceMetadataUrl: string;
  readonly metadata: ProtectedResourceMetadata;
  readonly metadataPaths: readonly string[];
  readonly #parts: EndpointParts;
  readonly #toolScopes: Readonly<Record<string, readonly string[]>>;
  /** `prompt_scopes` and `resource_scopes` by request, or `undefined` when both are empty. */
  readonly #contentScopes: ((method: string, params: unknown) => readonly string[]) | undefined;
  readonly #sessions: SessionOwners | undefined;
  readonly #maxBody: number;
  #closed = false;

  constructor(parts: EndpointParts) {
    const { auth, settings } = parts.resolved;
    this.#parts = parts;
    this.resource = auth.resource_server_url;
    this.resourceMetadataUrl = resourceMetadataUrl(this.resource);
    this.metadataPaths = metadataPaths(this.resource);
    this.#toolScopes = auth.tool_scopes;
    this.#contentScopes = parts.contentScopes;
    this.metadata = protectedResourceMetadata({
      resource: this.resource,
      authorizationServers: [auth.issuer_url as string],
      scopes: [
        ...auth.required_scopes,
        ...[auth.tool_scopes, auth.prompt_scopes, auth.resource_scopes].flatMap((record) =>
          Object.values(record).flat(),
        ),
      ],
      resourceName: auth.resource_name ?? settings.name,
      documentation: auth.service_documentation_url,
    });
    const { bindSessions, maxSessions, maxSessionsPerCaller, maxBodyBytes } = parts.options;
    this.#sessions =
      bindSessions === false
        ? undefined
        : new SessionOwners({
            total: maxSessions ?? 10_000,
            perPrincipal: maxSessionsPerCaller ?? 16,
          });
    this.#maxBody = maxBodyBytes ?? 4 * 1024 * 1024;
  }

  get closed(): boolean {
    return this.#closed;
  }

  metadataFor(input: Request | RequestInput): HttpAnswer | undefined {
    return this.#metadata(normalizeRequest(input));
  }

  async authenticate(input: Request | RequestInput): Promise<McpAuthOutcome> {
    return this.#authenticate(normalizeRequest(input));
  }

  async authenticateHeaders(
    input: Request | RequestInput,
  ): Promise<McpAuthRespond | McpAuthHeadersChecked> {
    return this.#headers(normalizeRequest(input));
  }

  async handle(input: Request | RequestInput): Promise<McpAuthOutcome> {
    const request = normalizeRequest(input);
    const document = this.#metadata(request);
    return document ? respond(document) : this.#authenticate(request);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sessions?.clear();
    await this.#parts.ownShared?.close().catch(() => {});
    await this.#parts.ownHttp?.close?.().catch(() => {});
  }

  #metadata(request: NormalizedRequest): HttpAnswer | undefined {
    if (!this.metadataPaths.includes(request.url.pathname)) return undefined;
    if (this.#closed) return CLOSED;
    // The metadata is public and read cross-origin (browser-based clients): only Host counts.
    if (!this.#hostAllowed(request, false)) return FORBIDDEN_HOST;
    return metadataResponse(request.method, this.metadata);
  }

  async #authenticate(request: NormalizedRequest): Promise<McpAuthOutcome> {
    const checked = await this.#headers(request);
    return checked.action === 'respond' ? checked : checked.withBody(undefined);
  }

  /** `Host`, the token, the session: everything but the body. */
  async #headers(request: NormalizedRequest): Promise<McpAuthRespond | McpAuthHeadersChecked> {
    if (this.#closed) return respond(CLOSED);
    if (!this.#hostAllowed(request, true)) return respond(FORBIDDEN_HOST);
    const { guard } = this.#parts;
    const result = await guard.authenticate({
      authorization: request.header('authorization'),
      queryHasToken: request.url.searchParams.has('access_token'),
    });
    if (!result.ok) return respond(guard.response(result.rejection));
    const caller = result.identity;
    const principal = principalOf(caller);
    const sessionIds = request.header('mcp-session-id');
    if (sessionIds.length > 0 && !this.#ownsSession(sessionIds, principal)) {
      return respond(jsonRpcErrorAnswer(404, -32001, 'Session not found'));
    }
    return {
      action: 'body',
      caller,
      withBody: async (parsedBody) => {
        const full = parsedBody === undefined ? request : request.withParsedBody(parsedBody);
        const body = await this.#checkToolScopes(full, caller);
        if (body.action === 'respond') return body;
        return this.#next(full, caller, principal, body.parsedBody);
      },
    };
  }

  #ownsSession(ids: readonly string[], principal: string): boolean {
    const [id] = ids;
    if (!this.#sessions) return true;
    return ids.length === 1 && id !== undefined && this.#sessions.owns(id, principal);
  }

  /**
   * The body, read when a `POST` may call a tool, get a prompt or read a resource with scopes
   * (`tool_scopes`, `prompt_scopes`, `resource_scopes`); 403 when the caller lacks one.
   */
  async #checkToolScopes(
    request: NormalizedRequest,
    caller: CallerIdentity,
  ): Promise<McpAuthRespond | { action: 'checked'; parsedBody: unknown }> {
    const scoped = Object.keys(this.#toolScopes).length > 0 || this.#contentScopes !== undefined;
    if (request.method !== 'POST' || !scoped) {
      return { action: 'checked', parsedBody: undefined };
    }
    const body = await request.json(this.#maxBody);
    if (!body.ok) return respond(body.answer);
    const { guard } = this.#parts;
    const rejection = toolCallRejection(
      guard,
      caller,
      body.value,
      (name) => (Object.hasOwn(this.#toolScopes, name) ? (this.#toolScopes[name] ?? []) : []),
      this.#contentScopes,
    );
    return rejection
      ? respond(guard.response(rejection))
      : { action: 'checked', parsedBody: body.value };
  }

  #next(
    request: NormalizedRequest,
    caller: CallerIdentity,
    principal: string,
    parsedBody: unknown,
  ): McpAuthNext {
    const sessions = this.#sessions;
    const requested = request.header('mcp-session-id')[0];
    const context = this.#parts.options.callerContext !== false;
    return {
      action: 'next',
      caller,
      authInfo: authInfoOf(caller, {
        resource: this.resource,
        resourceMetadataUrl: this.resourceMetadataUrl,
      }),
      parsedBody,
      run: (handler) => (context ? withCaller(caller, handler) : handler()),
      responded: (status, sessionId) => {
        if (!sessions) return;
        const ok = status >= 200 && status < 300;
        if (requested === undefined) {
          if (ok && sessionId && request.method === 'POST') sessions.bind(sessionId, principal);
        } else if (status === 404 || (ok && request.method === 'DELETE')) {
          sessions.forget(requested);
        }
      },
    };
  }

  #hostAllowed(request: NormalizedRequest, withOrigin: boolean): boolean {
    const check = this.#parts.options.hostCheck;
    if (!check) return true;
    return check(request.host, withOrigin ? request.header('origin')[0] : undefined);
  }
}

/**
 * The protection of the MCP endpoint `options` configure: its verifier (JWKS and/or
 * introspection, discovered from the issuer when not configured; its metadata fetched now, a
 * failure logged and answered 503 until it answers), the verification cache, the challenges,
 * the metadata, the tool scopes, the session binding and the caller context.
 *
 * Throws a `TypeError` for options of the wrong shape, a `ConfigError` listing every problem of
 * the settings, an `McpAgentError` (`CONFIG_INVALID`) when authorization is off or incomplete.
 */
export async function createMcpAuth(options: McpAuthOptions): Promise<McpAuth> {
  const resolved = resolveAuthorization(options);
  const { auth, settings } = resolved;
  const now = options.now ? { now: options.now } : {};
  const http = options.verifier ? undefined : await verificationHttp(options);
  try {
    const verifier =
      options.verifier ??
      (await preparedVerifier(auth, {
        fetch: (http as OwnHttp).fetch,
        logger: options.logger,
        ...now,
      }));
    const ownShared = options.sharedCache ? undefined : await sharedVerifications(settings);
    const { guard } = guardFromSettings(auth, auth.resource_server_url, verifier, {
      shared: options.sharedCache ?? ownShared,
      ...now,
    });
    if (options.callerContext !== false) enableCallerContext();
    const contentScopes = await contentScopesOf(auth);
    return new ProtectedEndpoint({
      resolved,
      guard,
      options,
      ownShared,
      ownHttp: http,
      contentScopes,
    });
  } catch (error) {
    await http?.close?.();
    throw error;
  }
}

/**
 * The scopes of prompt, resource and completion requests, or `undefined` when neither
 * `prompt_scopes` nor `resource_scopes` is set. Imported only then: its URI templates are the MCP
 * SDK's, which the middleware otherwise never loads.
 */
async function contentScopesOf(
  auth: ResolvedAuthorization['auth'],
): Promise<((method: string, params: unknown) => readonly string[]) | undefined> {
  const records = [auth.prompt_scopes, auth.resource_scopes];
  if (!records.some((record) => Object.keys(record).length > 0)) return undefined;
  const { contentScopes } = await import('../server/content-scopes.js');
  return contentScopes(auth.prompt_scopes, auth.resource_scopes);
}

/** The configured verifier, its issuer's metadata fetched (a failure is logged, not thrown). */
async function preparedVerifier(
  auth: AuthorizationSettings,
  options: ConfiguredVerifierOptions,
): Promise<ConfiguredVerifier> {
  const verifier = new ConfiguredVerifier(auth, options);
  await verifier.prepare();
  return verifier;
}

/**
 * The `fetch` of the verification requests: `options.fetch`, else the global one, or, when the
 * environment names a proxy, the proxy-aware stack of `serve` (its HTTP client library loaded
 * only then, so the middleware loads none otherwise).
 */
async function verificationHttp(options: McpAuthOptions): Promise<OwnHttp> {
  if (options.fetch) return { fetch: options.fetch };
  const proxy = proxySettingsFrom(options.env ?? process.env);
  if (!hasProxy(proxy)) return { fetch: globalThis.fetch };
  const { createHttpStack } = await import('../servers/http.js');
  return createHttpStack(proxy);
}

/**
 * Throw when `auth` was closed: an adapter is not built on a closed protection (a request that
 * reaches one built before is answered 503).
 */
export function assertOpen(auth: McpAuth, adapter: string): void {
  if (auth.closed) {
    throw codedTypeError('ERR_INVALID_STATE', `${adapter}: this McpAuth was closed`);
  }
}
