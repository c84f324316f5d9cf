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
import { resolveClient } from '../oauth/clients.js';
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
  const now = options.now ?? Date.now;
  let inbound: Promise<AuthorizationServer> | undefined;
  const authorizationServer = () => {
    inbound ??= issuerMetadata(options.authorization.issuer_url as string, options.fetch).then(
      (metadata) => metadata as unknown as AuthorizationServer,
      (error: unknown) => {
        inbound = undefined;
        throw error;
      },
    );
    return inbound;
  };
  // Several sign-in links opened at once on a fresh agent must not each register a client: the
  // last registration stored would replace the others, and their codes (issued to another
  // client_id) could not be exchanged. One resolution per issuer and redirect URI at a time; the
  // others wait for it and use the same client.
  const resolving = new Map<string, Promise<ClientRegistration>>();
  /** The clients checks started with, by `client_id` (a secret is not in the flow record). */
  const known = new Map<string, ClientRegistration>();
  const client = (as: AuthorizationServer, redirectUri: string): Promise<ClientRegistration> => {
    const key = JSON.stringify([as.issuer, redirectUri]);
    let pending = resolving.get(key);
    if (pending === undefined) {
      pending = resolveClient({
        as,
        redirectUri,
        registrations: options.store.registrations,
        fetch: options.fetch,
        clientName: options.clientName,
        configPath: 'authorization',
        server: CHECK,
        now,
      }).finally(() => resolving.delete(key));
      resolving.set(key, pending);
    }
    return pending.then((registered) => {
      known.delete(registered.clientId);
      known.set(registered.clientId, registered);
      const oldest = known.keys().next().value;
      if (known.size > KNOWN_CLIENTS && oldest !== undefined) known.delete(oldest);
      return registered;
    });
  };

  /**
   * The client `check` started with: the code was issued to it, whatever registration the store
   * holds now (another replica may have registered since). A public client needs only its id; a
   * confidential one, its secret, which only the store or this process has.
   */
  const clientOfCheck = async (
    as: AuthorizationServer,
    check: PendingFlow,
  ): Promise<ClientRegistration> => {
    const current = await client(as, check.redirectUri);
    if (current.clientId === check.clientId) return current;
    const started = known.get(check.clientId);
    if (started !== undefined) return started;
    if (current.tokenEndpointAuthMethod === 'none') return { ...current, clientId: check.clientId };
    throw new McpAgentError(
      'OAUTH_CALLBACK',
      `The agent's client at ${as.issuer} was registered again while this sign-in was under way, and its secret is not known here; start the sign-in again.`,
    );
  };

  async function start(res: ServerResponse, flowId: string): Promise<void> {
    const flow = await options.store.flows.byId(flowId);
    const redirectUri = options.connectUrl();
    if (!flow || flow.identity === APP_IDENTITY || flow.server === CHECK || !redirectUri) {
      sendSignInPage(
        res,
        404,
        'Unknown sign-in',
        'This sign-in is unknown, expired or already used. Start it again from your MCP client.',
      );
      return;
    }
    const as = await authorizationServer();
    const registered = await client(as, redirectUri);
    const { flowId: checkId, state } = newFlowState();
    const authorization = await prepareAuthorization({
      as,
      clientId: registered.clientId,
      redirectUri,
      scopes: options.authorization.required_scopes,
      resource: options.authorization.resource_server_url,
      state,
    });
    await options.store.flows.put({
      flowId: checkId,
      state: new Secret(state),
      codeVerifier: new Secret(authorization.codeVerifier),
      server: CHECK,
      identity: flow.identity,
      issuer: as.issuer,
      clientId: registered.clientId,
      redirectUri,
      scopes: options.authorization.required_scopes,
      authorizationUrl: authorization.url.href,
      next: flow.flowId,
      createdAt: now(),
      expiresAt: flow.expiresAt,
    });
    res.writeHead(302, {
      location: authorization.url.href,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    });
    res.end();
  }

  async function back(res: ServerResponse, url: URL): Promise<void> {
    const check = await options.store.flows.take(url.searchParams.get('state') ?? '');
    if (!check || check.server !== CHECK || !check.next) {
      sendSignInPage(
        res,
        404,
        'Unknown sign-in',
        'This sign-in is unknown, expired or already used. Start it again from your MCP client.',
      );
      return;
    }
    const next = await options.store.flows.byId(check.next);
    if (!next) {
      sendSignInPage(
        res,
        404,
        'Unknown sign-in',
        'This sign-in expired. Start it again from your MCP client.',
      );
      return;
    }
    const as = await authorizationServer();
    const registered = await clientOfCheck(as, check);
    const request = {
      url: new URL(check.authorizationUrl),
      state: check.state.reveal(),
      codeVerifier: check.codeVerifier.reveal(),
      redirectUri: check.redirectUri,
      issuer: check.issuer,
      scopes: check.scopes,
    };
    const params = validateCallback(as, clientOf(registered), url, request);
    const response = await exchangeCode(
      {
        as,
        client: registered,
        fetch: options.fetch,
        resource: options.authorization.resource_server_url,
      },
      params,
      request,
    );
    const verified = await options.guard.authenticate({
      authorization: [`Bearer ${response.access_token}`],
    });
    if (!verified.ok || principalOf(verified.identity) !== check.identity) {
      // Not the caller who started it: end the downstream login so nobody completes it.
      const taken = await options.store.flows.take(next.state.reveal());
      if (taken) await options.store.flows.finish(taken.flowId, 'failed').catch(() => {});
      options.logger.warn(
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
      return;
    }
    const secret = randomBytes(32).toString('base64url');
    await options.store.flows.bindOwner(next.flowId, ownerHash(secret), next.expiresAt);
    const maxAge = Math.max(1, Math.floor((next.expiresAt - now()) / 1000));
    const secure = new URL(check.redirectUri).protocol === 'https:' ? '; Secure' : '';
    res.writeHead(302, {
      location: next.authorizationUrl,
      'set-cookie': `${ownerCookieName(next.flowId)}=${secret}; Path=${options.cookiePath}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    });
    res.end();
  }

  return async (req, res, url) => {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' });
      res.end();
      return;
    }
    try {
      const flowId = url.searchParams.get('flow');
      if (flowId !== null) await start(res, flowId);
      else await back(res, url);
    } catch (error) {
      options.logger.warn(
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
  };
}
