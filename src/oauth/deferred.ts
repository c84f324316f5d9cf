/**
 * Logins where no user can be asked (a headless agent, a server-side one): the authorization
 * request is prepared and kept as a {@link PendingFlow} in the store, and an
 * {@link AuthorizationRequiredError} carries its URL to whoever can show it to a person. The
 * address the browser is redirected to completes the flow later, in this process or another one
 * sharing the store: `state` (which names the flow) and `iss` are checked, the code is exchanged
 * with the verifier that never left the agent, and the flow is taken once only.
 *
 * @module
 */
import type { AuthorizationServer, TokenEndpointResponse } from 'oauth4webapi';
import type { ServerOAuthSettings } from '../config/schema/servers.js';
import { Secret } from '../config/secret.js';
import { AuthorizationRequiredError, McpAgentError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  flowIdOf,
  newFlowState,
  type PendingFlow,
  type PendingFlowStore,
} from '../stores/flows.js';
import type { ClientRegistration } from '../stores/registrations.js';
import { refusesClient } from './clients.js';
import type { ReceiverRequest } from './consent.js';
import { assertOpenableUrl } from './flows/browser.js';
import {
  checkPkceSupport,
  prepareAuthorization,
  validateCallback,
} from './protocol/authorization.js';
import type { OAuthServerError } from './protocol/failures.js';
import { clientOf, exchangeCode, type TokenRequestContext } from './protocol/tokens.js';

/** What a deferred login needs from the token manager. */
export interface DeferredLoginContext {
  readonly server: string;
  readonly identity: string;
  readonly as: AuthorizationServer;
  readonly oauth: ServerOAuthSettings;
  readonly resource: string | undefined;
  readonly flows: PendingFlowStore;
  readonly client: (redirectUri: string) => Promise<ClientRegistration>;
  readonly context: (client: ClientRegistration) => TokenRequestContext;
  /** Throws when the authorization server refuses `client` (checked before the URL is shown). */
  readonly checkClient?:
    | ((client: ClientRegistration, url: URL, redirectUri: string) => Promise<void>)
    | undefined;
  /** The error to report when the authorization server refused `client` at completion. */
  readonly refused?:
    | ((client: ClientRegistration, error: OAuthServerError) => Promise<McpAgentError>)
    | undefined;
  readonly now: () => number;
  readonly logger: Logger;
}

/**
 * The redirect URI of a deferred login: the server's first configured redirect URI that is not a
 * loopback one, else the loopback callback on the first port (the person copies the address the
 * browser could not load, as with the paste flow).
 */
export function deferredRedirectUri(request: ReceiverRequest): string {
  const configured = request.redirectUris[0];
  if (configured) return configured;
  return `http://${request.host}:${request.ports[0] ?? 33418}/callback`;
}

/**
 * Prepare an authorization for `scopes`, keep it as a pending flow for `timeoutMs`, and return
 * the error that hands its URL over.
 */
export async function startDeferredLogin(
  login: DeferredLoginContext,
  options: {
    scopes: readonly string[];
    redirectUri: string;
    timeoutMs: number;
    /** The flow is kept in this process only (an in-memory store): said in the error. */
    inMemory?: boolean;
  },
): Promise<AuthorizationRequiredError> {
  const { as } = login;
  checkPkceSupport(as, {
    requirePkce: login.oauth.require_pkce,
    server: login.server,
    logger: login.logger,
  });
  const client = await login.client(options.redirectUri);
  const { flowId, state } = newFlowState();
  const authorization = await prepareAuthorization({
    as,
    clientId: client.clientId,
    redirectUri: options.redirectUri,
    scopes: options.scopes,
    resource: login.resource,
    extraParams: login.oauth.extra_authorize_params,
    state,
  });
  assertOpenableUrl(authorization.url.href);
  await login.checkClient?.(client, authorization.url, options.redirectUri);
  const createdAt = login.now();
  const flow: PendingFlow = {
    flowId,
    state: new Secret(state),
    codeVerifier: new Secret(authorization.codeVerifier),
    server: login.server,
    identity: login.identity,
    issuer: as.issuer,
    clientId: client.clientId,
    ...(client.source !== 'configured'
      ? {
          clientSource: client.source,
          tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
          ...(client.clientSecret ? { clientSecret: client.clientSecret } : {}),
        }
      : { clientSource: client.source }),
    redirectUri: options.redirectUri,
    scopes: options.scopes,
    authorizationUrl: authorization.url.href,
    createdAt,
    expiresAt: createdAt + options.timeoutMs,
  };
  await login.flows.put(flow);
  login.logger.info(
    `server "${login.server}" needs a login; the authorization URL was handed over`,
    {
      server: login.server,
      issuer: as.issuer,
    },
  );
  return new AuthorizationRequiredError({
    server: login.server,
    issuer: as.issuer,
    authorizationUrl: flow.authorizationUrl,
    flowId,
    expiresAt: flow.expiresAt,
    inMemory: options.inMemory,
  });
}

/** The callback address of a deferred login, parsed, with the flow id its `state` names. */
export function parseCallback(callback: URL | string): { url: URL; flowId: string } {
  const url = typeof callback === 'string' && URL.canParse(callback) ? new URL(callback) : callback;
  if (!(url instanceof URL)) {
    throw new McpAgentError(
      'OAUTH_CALLBACK',
      'The redirect address is not a URL; copy the whole address from the browser.',
    );
  }
  const flowId = flowIdOf(url.searchParams.get('state'));
  if (!flowId) {
    throw new McpAgentError(
      'OAUTH_CALLBACK',
      'The redirect address carries no login of ours (its state is missing or foreign); copy the whole address from the browser.',
    );
  }
  return { url, flowId };
}

/** Errors of completions that found no flow to take (another completion took it, or none was). */
const notTaken = new WeakSet<Error>();

const unknownFlow = () => {
  const error = new McpAgentError(
    'OAUTH_CALLBACK',
    'This login is unknown, expired or already completed; start it again.',
  );
  notTaken.add(error);
  return error;
};

/** Whether `error` is from a completion that took no flow (so it says nothing of the flow). */
export function tookNoFlow(error: unknown): boolean {
  return error instanceof Error && notTaken.has(error);
}

/**
 * Complete the pending flow the callback names: taken once (a replay finds nothing), for this
 * server and identity only, at the issuer it was started with; then the code exchange.
 */
export async function completeDeferredLogin(
  login: DeferredLoginContext,
  callback: URL | string,
): Promise<{ response: TokenEndpointResponse; flow: PendingFlow }> {
  const { url } = parseCallback(callback);
  const state = url.searchParams.get('state') ?? '';
  const peeked = await login.flows.peek(state);
  if (!peeked) throw unknownFlow();
  if (peeked.server !== login.server || peeked.identity !== login.identity) {
    throw new McpAgentError(
      'OAUTH_CALLBACK',
      `This login was started for another server or user than server "${login.server}"; it was refused.`,
    );
  }
  const flow = await login.flows.take(state);
  if (!flow) throw unknownFlow();
  if (flow.issuer !== login.as.issuer) {
    throw new McpAgentError(
      'OAUTH_CALLBACK',
      `Server "${login.server}" now uses the authorization server ${login.as.issuer}, not ${flow.issuer} where this login started; start it again.`,
    );
  }
  const client = await flowClient(login, flow);
  const request = {
    url: new URL(flow.authorizationUrl),
    state: flow.state.reveal(),
    codeVerifier: flow.codeVerifier.reveal(),
    redirectUri: flow.redirectUri,
    issuer: flow.issuer,
    scopes: flow.scopes,
  };
  try {
    const params = validateCallback(login.as, clientOf(client), url, request);
    const response = await exchangeCode(login.context(client), params, request);
    return { response, flow };
  } catch (error) {
    if (refusesClient(error) && login.refused) throw await login.refused(client, error);
    throw error;
  }
}

/**
 * The client `flow` started with: kept in the flow for a dynamic or metadata-document client
 * (the registration may have been replaced since); the configured one, which must still be it.
 */
async function flowClient(
  login: DeferredLoginContext,
  flow: PendingFlow,
): Promise<ClientRegistration> {
  if (flow.clientSource === 'dynamic' || flow.clientSource === 'metadata-document') {
    return {
      clientId: flow.clientId,
      ...(flow.clientSecret ? { clientSecret: flow.clientSecret } : {}),
      tokenEndpointAuthMethod: flow.tokenEndpointAuthMethod ?? 'none',
      issuer: flow.issuer,
      redirectUri: flow.redirectUri,
      source: flow.clientSource,
    };
  }
  const client = await login.client(flow.redirectUri);
  if (client.clientId !== flow.clientId) {
    throw new McpAgentError(
      'OAUTH_CALLBACK',
      `The client configured for server "${login.server}" changed since this login started; start it again.`,
    );
  }
  return client;
}
