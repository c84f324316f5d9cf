/**
 * Who is at the browser? Before a caller's downstream login, the browser goes through the agent's
 * `{callback_base_url}/internal/oauth/connect?flow=ID`: the agent signs the browser in with its
 * own authorization server (the one that issues the callers' tokens; the agent registers itself
 * there dynamically), verifies the token it gets like any caller's, and compares the principal
 * with the one that started the flow. Only the same person goes on to the downstream server, with
 * a cookie that binds the flow to this browser; the callback requires it. Someone who opens a
 * sign-in link another user sent is stopped here (MCP 2025-11-25, URL-mode elicitation:
 * "Phishing").
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthorizationServer } from 'oauth4webapi';
import type { AuthorizationSettings } from '../config/schema/authorization.js';
import { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import { pageHeaders, textPage } from '../html.js';
import type { Logger } from '../logger.js';
import {
  clientRefused,
  keptClientRefusal,
  refusesClient,
  resolveClient,
} from '../oauth/clients.js';
import { prepareAuthorization, validateCallback } from '../oauth/protocol/authorization.js';
import { clientOf, exchangeCode } from '../oauth/protocol/tokens.js';
import { APP_IDENTITY } from '../oauth/server-auth.js';
import type { BearerGuard } from '../server/guard.js';
import { principalOf } from '../server/identity.js';
import { issuerMetadata } from '../server/verifiers/configured.js';
import { newFlowState, type PendingFlow } from '../stores/flows.js';
import type { ClientRegistration } from '../stores/registrations.js';
import type { TokenStore } from '../stores/token-store.js';

/** The path of the check under `callback_base_url`. */
export const CONNECT_PATH = '/internal/oauth/connect';

/** The `server` of a check's own pending flow. */
const CHECK = '#connect';

/** How many clients a check may have started with are remembered (normally one per issuer). */
const KNOWN_CLIENTS = 16;

/**
 * Send a page of the agent's sign-in routes (the check, the callback): the shared look, no form,
 * no referrer (the address may hold a code).
 */
export function sendSignInPage(
  res: ServerResponse,
  status: number,
  title: string,
  text: string,
): void {
  res.writeHead(status, pageHeaders({ forms: 'none', referrer: 'no-referrer' }));
  res.end(textPage(title, text));
}

/** The cookie that binds downstream flow `flowId` to a browser. */
export function ownerCookieName(flowId: string): string {
  return `mcp_agent_signin_${flowId}`;
}

/** SHA-256 of an owner secret (the store keeps only that). */
export function ownerHash(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** What the check needs. */
export interface ConnectRouteOptions {
  readonly authorization: AuthorizationSettings;
  readonly guard: BearerGuard;
  readonly store: TokenStore;
  readonly fetch: FetchLike;
  readonly logger: Logger;
  readonly clientName: string;
  /** The full URL of this route (its redirect URI), once known. */
  readonly connectUrl: () => string | undefined;
  /** The path cookies are scoped to (the callback's). */
  readonly cookiePath: string;
  readonly now?: () => number;
}

/** The route handler of the sign-in check. */
export function connectRoute(
  options: ConnectRouteOptions,
): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  const check = new SignInCheck(options);
  return (req, res, url) => check.handle(req, res, url);
}

/** The sign-in check: `?flow=ID` starts it, the authorization server's redirect ends it. */
class SignInCheck {
  readonly #options: ConnectRouteOptions;
  readonly #now: () => number;
  #inbound: Promise<AuthorizationServer> | undefined;
  /** The clients checks started with, by `client_id` (a secret is not in the flow record). */
  readonly #known = new Map<string, ClientRegistration>();

  constructor(options: ConnectRouteOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' });
      res.end();
      return;
    }
    try {
      const flowId = url.searchParams.get('flow');
      if (flowId !== null) await this.#start(res, flowId);
      else await this.#back(res, url);
    } catch (error) {
      this.#options.logger.warn(
        `the sign-in check failed: ${error instanceof Error ? error.message : 'unknown error'}`,
        {},
      );
      sendSignInPage(
        res,
        502,
        'Sign-in check failed',
        'Who you are could not be checked. Start the sign-in again from your MCP client.',
      );
    }
  }

  /** The callers' authorization server's metadata (fetched once; again after a failure). */
  #authorizationServer(): Promise<AuthorizationServer> {
    const { authorization, fetch } = this.#options;
    this.#inbound ??= issuerMetadata(authorization.issuer_url as string, fetch).then(
      (metadata) => metadata as unknown as AuthorizationServer,
      (error: unknown) => {
        this.#inbound = undefined;
        throw error;
      },
    );
    return this.#inbound;
  }

  /**
   * The agent's client at `as`: one registration per issuer and redirect URI at a time, shared by
   * the checks started together (and by replicas sharing the store), so no code comes back issued
   * to another client than the one its check uses.
   */
  async #client(as: AuthorizationServer, redirectUri: string): Promise<ClientRegistration> {
    const registered = await resolveClient({
      as,
      redirectUri,
      registrations: this.#options.store.registrations,
      fetch: this.#options.fetch,
      clientName: this.#options.clientName,
      configPath: 'authorization',
      server: CHECK,
      now: this.#now,
    });
    this.#known.delete(registered.clientId);
    this.#known.set(registered.clientId, registered);
    const oldest = this.#known.keys().next().value;
    if (this.#known.size > KNOWN_CLIENTS && oldest !== undefined) this.#known.delete(oldest);
    return registered;
  }

  /** Where a refusal of the check's client is reported (and a dynamic one forgotten). */
  #where() {
    return {
      server: CHECK,
      configPath: 'authorization',
      registrations: this.#options.store.registrations,
    };
  }

  /**
   * The authorization request of a new check, with a client the authorization server still
   * knows: a registration kept from before is probed first, and when the server has forgotten
   * it (it restarted with registrations in memory, or expired it), registered again once.
   */
  async #authorize(as: AuthorizationServer, redirectUri: string, state: string) {
    const prepare = (client: ClientRegistration) =>
      prepareAuthorization({
        as,
        clientId: client.clientId,
        redirectUri,
        scopes: this.#options.authorization.required_scopes,
        resource: this.#options.authorization.resource_server_url,
        state,
      });
    const kept = await this.#client(as, redirectUri);
    const first = await prepare(kept);
    const refusal = await keptClientRefusal(as, kept, first.url, redirectUri, this.#options.fetch);
    if (!refusal) return { client: kept, authorization: first };
    await clientRefused(kept, refusal, this.#where());
    this.#options.logger.info(
      `the authorization server ${as.issuer} no longer knows the agent's sign-in client; registering a new one`,
      { issuer: as.issuer },
    );
    const client = await this.#client(as, redirectUri);
    return { client, authorization: await prepare(client) };
  }

  /**
   * The client `check` started with: the code was issued to it, whatever registration the store
   * holds now (another replica may have registered since). A public client needs only its id; a
   * confidential one, its secret, which only the store or this process has.
   */
  async #clientOfCheck(as: AuthorizationServer, check: PendingFlow): Promise<ClientRegistration> {
    const current = await this.#client(as, check.redirectUri);
    if (current.clientId === check.clientId) return current;
    const started = this.#known.get(check.clientId);
    if (started !== undefined) return started;
    if (current.tokenEndpointAuthMethod === 'none') return { ...current, clientId: check.clientId };
    throw new McpAgentError(
      'OAUTH_CALLBACK',
      `The agent's client at ${as.issuer} was registered again while this sign-in was under way, and its secret is not known here; start the sign-in again.`,
    );
  }

  /** `?flow=ID`: send the browser to the callers' authorization server, the check kept. */
  async #start(res: ServerResponse, flowId: string): Promise<void> {
    const { store, connectUrl } = this.#options;
    const flow = await store.flows.byId(flowId);
    const redirectUri = connectUrl();
    if (!flow || flow.identity === APP_IDENTITY || flow.server === CHECK || !redirectUri) {
      sendUnknown(res, 'This sign-in is unknown, expired or already used.');
      return;
    }
    const as = await this.#authorizationServer();
    const { flowId: checkId, state } = newFlowState();
    const { client, authorization } = await this.#authorize(as, redirectUri, state);
    await store.flows.put({
      flowId: checkId,
      state: new Secret(state),
      codeVerifier: new Secret(authorization.codeVerifier),
      server: CHECK,
      identity: flow.identity,
      issuer: as.issuer,
      clientId: client.clientId,
      redirectUri,
      scopes: this.#options.authorization.required_scopes,
      authorizationUrl: authorization.url.href,
      next: flow.flowId,
      createdAt: this.#now(),
      expiresAt: flow.expiresAt,
    });
    redirect(res, authorization.url.href);
  }

  /** The authorization server's redirect: who signed in? Only the caller goes on. */
  async #back(res: ServerResponse, url: URL): Promise<void> {
    const { store } = this.#options;
    const check = await store.flows.take(url.searchParams.get('state') ?? '');
    if (!check || check.server !== CHECK || !check.next) {
      sendUnknown(res, 'This sign-in is unknown, expired or already used.');
      return;
    }
    const next = await store.flows.byId(check.next);
    if (!next) {
      sendUnknown(res, 'This sign-in expired.');
      return;
    }
    const accessToken = await this.#exchange(check, url);
    const verified = await this.#options.guard.authenticate({
      authorization: [`Bearer ${accessToken}`],
    });
    if (!verified.ok || principalOf(verified.identity) !== check.identity) {
      await this.#stop(res, next);
      return;
    }
    await this.#handOn(res, check, next);
  }

  /** The check's code exchanged with the client it started with; that client's refusal forgets it. */
  async #exchange(check: PendingFlow, url: URL): Promise<string> {
    const as = await this.#authorizationServer();
    const client = await this.#clientOfCheck(as, check);
    const request = {
      url: new URL(check.authorizationUrl),
      state: check.state.reveal(),
      codeVerifier: check.codeVerifier.reveal(),
      redirectUri: check.redirectUri,
      issuer: check.issuer,
      scopes: check.scopes,
    };
    const params = validateCallback(as, clientOf(client), url, request);
    const context = {
      as,
      client,
      fetch: this.#options.fetch,
      resource: this.#options.authorization.resource_server_url,
    };
    try {
      return (await exchangeCode(context, params, request)).access_token;
    } catch (error) {
      if (refusesClient(error)) throw await clientRefused(client, error, this.#where());
      throw error;
    }
  }

  /** Not the caller who started it: end the downstream login so nobody completes it. */
  async #stop(res: ServerResponse, next: PendingFlow): Promise<void> {
    const { store, logger } = this.#options;
    const taken = await store.flows.take(next.state.reveal());
    if (taken) await store.flows.finish(taken.flowId, 'failed').catch(() => {});
    logger.warn(
      'a sign-in link was opened by someone other than the caller it was for; it was stopped',
      {
        server: next.server,
      },
    );
    sendSignInPage(
      res,
      403,
      'Not your sign-in',
      'This sign-in was started by another user, so nothing was connected. Start your own from your MCP client.',
    );
  }

  /** The caller it was for: bind the downstream login to this browser, and send it there. */
  async #handOn(res: ServerResponse, check: PendingFlow, next: PendingFlow): Promise<void> {
    const secret = randomBytes(32).toString('base64url');
    await this.#options.store.flows.bindOwner(next.flowId, ownerHash(secret), next.expiresAt);
    const maxAge = Math.max(1, Math.floor((next.expiresAt - this.#now()) / 1000));
    const secure = new URL(check.redirectUri).protocol === 'https:' ? '; Secure' : '';
    redirect(
      res,
      next.authorizationUrl,
      `${ownerCookieName(next.flowId)}=${secret}; Path=${this.#options.cookiePath}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`,
    );
  }
}

/** The page for a sign-in link that is unknown, used or expired. */
function sendUnknown(res: ServerResponse, what: string): void {
  sendSignInPage(res, 404, 'Unknown sign-in', `${what} Start it again from your MCP client.`);
}

/** A redirect that is not cached and sends no referrer (the address may hold a code). */
function redirect(res: ServerResponse, location: string, cookie?: string): void {
  res.writeHead(302, {
    location,
    ...(cookie ? { 'set-cookie': cookie } : {}),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  });
  res.end();
}
