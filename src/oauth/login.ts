/**
 * The two interactive logins: the authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636)
 * through a {@link CallbackReceiver}, and the device authorization grant (RFC 8628). Each returns
 * the token response; the token manager turns it into a record and stores it.
 *
 * @module
 */
import type { AuthorizationServer, TokenEndpointResponse } from 'oauth4webapi';
import type { OAuthSettings } from '../config/schema/oauth.js';
import type { ServerOAuthSettings } from '../config/schema/servers.js';
import { McpAgentError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ClientRegistration } from '../stores/registrations.js';
import type { Consent, ReceiverRequest } from './consent.js';
import { assertOpenableUrl } from './flows/browser.js';
import {
  checkPkceSupport,
  prepareAuthorization,
  validateCallback,
} from './protocol/authorization.js';
import { DEVICE_REDIRECT } from './protocol/registration.js';
import {
  clientOf,
  exchangeCode,
  pollDeviceToken,
  startDeviceAuthorization,
  type TokenRequestContext,
} from './protocol/tokens.js';
import type { BearerChallenge } from './protocol/www-authenticate.js';

/**
 * Where the callback may arrive: loopback ports of `redirect_uri_options`
 * (`http://127.0.0.1:PORT/callback` or `localhost`), else `oauth.loopback_ports`; other redirect
 * options are targets for a pasted URL.
 */
export function receiverRequest(
  server: string,
  oauth: ServerOAuthSettings,
  global: OAuthSettings,
): ReceiverRequest {
  const loopback: number[] = [];
  const others: string[] = [];
  let host: '127.0.0.1' | 'localhost' = '127.0.0.1';
  for (const option of oauth.redirect_uri_options) {
    const url = URL.canParse(option) ? new URL(option) : undefined;
    if (
      url &&
      url.protocol === 'http:' &&
      (url.hostname === '127.0.0.1' || url.hostname === 'localhost') &&
      url.port &&
      url.pathname === '/callback'
    ) {
      if (loopback.length === 0) host = url.hostname === 'localhost' ? 'localhost' : '127.0.0.1';
      // One receiver serves one host spelling; an entry with the other one is a paste target, so
      // the redirect URI sent is always one that was configured.
      if (url.hostname === host) loopback.push(Number(url.port));
      else others.push(option);
    } else {
      others.push(option);
    }
  }
  // Configured redirect URIs that are not loopback ones are used as written (pasted back), never
  // replaced by a loopback URI the authorization server does not know.
  const ports = loopback.length > 0 ? loopback : others.length > 0 ? [] : global.loopback_ports;
  return {
    server,
    ports,
    host,
    redirectUris: others,
    timeoutMs: global.flow_timeout_seconds * 1000,
  };
}

/** Why a new authorization is needed. */
export interface AuthorizeReason {
  readonly challenge?: BearerChallenge | undefined;
  /** A 403 `insufficient_scope`: ask for the union of granted and challenged scopes. */
  readonly stepUp?: boolean;
  /** Force the device grant (`--device`). */
  readonly device?: boolean;
}

/**
 * Why a step-up for `wanted` scopes cannot help, or `undefined` when it may: a scope asked for
 * before and not granted (`denied`), or every wanted scope already `granted` to the token the
 * server refused.
 */
export function stepUpRefusal(
  server: string,
  wanted: readonly string[],
  denied: ReadonlySet<string>,
  granted: readonly string[] | undefined,
): McpAgentError | undefined {
  const refused = wanted.filter((scope) => denied.has(scope));
  if (refused.length > 0) {
    return new McpAgentError(
      'OAUTH_AUTHORIZATION',
      `The authorization server of server "${server}" did not grant ${refused.join(' ')}, which the server requires for this request; ask its administrator for access.`,
    );
  }
  if (granted && wanted.length > 0 && wanted.every((scope) => granted.includes(scope))) {
    return new McpAgentError(
      'OAUTH_AUTHORIZATION',
      `Server "${server}" refuses the scopes it asked for (${wanted.join(' ')}) although they were granted; it is not a login problem.`,
    );
  }
  return undefined;
}

/** What a login needs from the token manager. */
interface LoginContext {
  readonly server: string;
  readonly as: AuthorizationServer;
  readonly scopes: readonly string[];
  /** A step-up: the scopes asked for beyond those of the token it replaces. */
  readonly added?: readonly string[] | undefined;
  readonly consent: Consent;
  /** The client registered for a redirect URI. */
  readonly client: (redirectUri: string) => Promise<ClientRegistration>;
  readonly context: (client: ClientRegistration) => TokenRequestContext;
  /** Throws when the authorization server refuses `client` (checked before the URL is shown). */
  readonly checkClient?:
    | ((client: ClientRegistration, url: URL, redirectUri: string) => Promise<void>)
    | undefined;
  readonly now: () => number;
}

/** The authorization code flow; resolves with the token response and the redirect URI used. */
export async function codeLogin(
  login: LoginContext & {
    oauth: ServerOAuthSettings;
    resource: string | undefined;
    request: ReceiverRequest;
    logger: Logger;
  },
): Promise<{ response: TokenEndpointResponse; redirectUri: string }> {
  const { as, consent, request } = login;
  checkPkceSupport(as, {
    requirePkce: login.oauth.require_pkce,
    server: login.server,
    logger: login.logger,
  });
  const receiver = await consent.openReceiver(request);
  let callback: URL;
  let client: ClientRegistration;
  let authorization: Awaited<ReturnType<typeof prepareAuthorization>>;
  let outcome: 'ok' | 'failed' = 'failed';
  try {
    client = await login.client(receiver.redirectUri);
    authorization = await prepareAuthorization({
      as,
      clientId: client.clientId,
      redirectUri: receiver.redirectUri,
      scopes: login.scopes,
      resource: login.resource,
      extraParams: login.oauth.extra_authorize_params,
    });
    // Checked here too, so no Consent (a library user's own) is handed an unsafe URL.
    assertOpenableUrl(authorization.url.href);
    await login.checkClient?.(client, authorization.url, receiver.redirectUri);
    await consent.showAuthorizationUrl(authorization.url, {
      server: login.server,
      issuer: as.issuer,
      deadline: login.now() + request.timeoutMs,
      scopes: login.scopes,
      added: login.added,
    });
    callback = await receiver.wait(authorization.state);
    outcome = 'ok';
  } finally {
    consent.finished?.(outcome);
    await receiver.close();
  }
  const params = validateCallback(as, clientOf(client), callback, authorization);
  const response = await exchangeCode(login.context(client), params, authorization);
  return { response, redirectUri: receiver.redirectUri };
}

/** The device authorization grant: show the code, poll at the advertised interval. */
export async function deviceLogin(
  login: LoginContext & { timeoutMs: number; sleep: (ms: number) => Promise<void> },
): Promise<TokenEndpointResponse> {
  const { as, consent } = login;
  if (!as.device_authorization_endpoint) {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      `The authorization server ${as.issuer} does not offer the device authorization grant; log in to server "${login.server}" with the browser (without --device).`,
    );
  }
  const client = await login.client(DEVICE_REDIRECT);
  const context = login.context(client);
  const start = await startDeviceAuthorization(context, login.scopes);
  const deadline = Math.min(login.now() + start.expires_in * 1000, login.now() + login.timeoutMs);
  consent.showDeviceCode({
    server: login.server,
    issuer: as.issuer,
    userCode: start.user_code,
    verificationUri: start.verification_uri,
    verificationUriComplete: start.verification_uri_complete,
    expiresAt: deadline,
    scopes: login.scopes,
    added: login.added,
  });
  // RFC 8628 §3.2: 5 seconds when the server does not say.
  let interval = Math.max(1, start.interval ?? 5) * 1000;
  let outcome: 'ok' | 'failed' = 'failed';
  try {
    while (login.now() < deadline) {
      await login.sleep(interval);
      const poll = await pollDeviceToken(context, start.device_code);
      if (poll.done) {
        outcome = 'ok';
        return poll.response;
      }
      // RFC 8628 §3.5: slow_down adds 5 seconds to every later interval.
      if (poll.slowDown) interval += 5000;
    }
  } finally {
    consent.finished?.(outcome);
  }
  throw new McpAgentError(
    'OAUTH_CALLBACK',
    `The device code for server "${login.server}" was not confirmed in time; run \`mcp-agent auth login ${login.server} --device\` again.`,
  );
}
