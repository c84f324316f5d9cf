/**
 * The authorization request and response of the authorization code flow (RFC 6749 §4.1) as MCP
 * requires it: PKCE with S256 (RFC 7636, refused when the AS does not advertise it), the RFC 8707
 * `resource`, the scope chosen by the MCP "Scope Selection Strategy", a fresh `state`, and a
 * response checked for `state` and RFC 9207 `iss` before its code is used.
 *
 * @module
 */
import {
  type AuthorizationServer,
  type Client,
  calculatePKCECodeChallenge,
  generateRandomCodeVerifier,
  generateRandomState,
  validateAuthResponse,
} from 'oauth4webapi';
import { McpAgentError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { ERROR_CODE, OAuthServerError, scrubText } from './failures.js';

/**
 * Throw unless `as` advertises PKCE with S256 (MCP "Authorization Code Protection": a client must
 * refuse to proceed otherwise). `requirePkce: false` (a per-server opt-out) only logs a warning;
 * S256 is sent regardless.
 */
export function checkPkceSupport(
  as: AuthorizationServer,
  options: { requirePkce: boolean; server: string; logger?: Logger | undefined },
): void {
  if (as.code_challenge_methods_supported?.includes('S256')) return;
  if (!options.requirePkce) {
    options.logger?.warn(
      `the authorization server ${as.issuer} does not advertise PKCE (S256); continuing because mcp.servers.${options.server}.auth.oauth.require_pkce is false`,
      { server: options.server },
    );
    return;
  }
  throw new McpAgentError(
    'OAUTH_AUTHORIZATION',
    `The authorization server ${as.issuer} does not advertise PKCE with S256 (code_challenge_methods_supported), so server "${options.server}" cannot be authorized safely; set mcp.servers.${options.server}.auth.oauth.require_pkce: false only if you trust it.`,
  );
}

/** The scopes of a scope string or list: split on spaces, without duplicates. */
export function scopeList(value: string | readonly string[] | undefined): string[] {
  const parts = typeof value === 'string' ? value.split(' ') : (value ?? []);
  return [...new Set(parts.map((part) => part.trim()).filter(Boolean))];
}

/**
 * The scopes to request (MCP "Scope Selection Strategy"): configured › the challenge's `scope` ›
 * the protected resource's `scopes_supported` › none; `offline_access` is added only when the AS
 * lists it (MCP 2026-07-28, "Refresh Tokens"), and never invented.
 */
export function chooseScopes(options: {
  configured: readonly string[];
  challenge?: string | undefined;
  resourceScopes?: readonly string[] | undefined;
  as: AuthorizationServer;
  /** For step-up: the scopes already granted or requested, kept in the union. */
  previous?: readonly string[] | undefined;
}): string[] {
  let scopes: string[];
  if (options.configured.length > 0) scopes = scopeList(options.configured);
  else if (options.challenge) scopes = scopeList(options.challenge);
  else scopes = scopeList(options.resourceScopes);
  if (options.previous && options.previous.length > 0) {
    scopes = scopeList([...options.previous, ...scopes]);
  }
  if (options.challenge && options.configured.length > 0) {
    scopes = scopeList([...scopes, ...scopeList(options.challenge)]);
  }
  if (
    scopes.length > 0 &&
    !scopes.includes('offline_access') &&
    options.as.scopes_supported?.includes('offline_access')
  ) {
    scopes.push('offline_access');
  }
  return scopes;
}

/** A prepared authorization request: the URL to open and what the response is checked against. */
export interface AuthorizationRequest {
  readonly url: URL;
  readonly state: string;
  readonly codeVerifier: string;
  readonly redirectUri: string;
  /** The issuer recorded with the request (MCP 2026-07-28, "Authorization Response Validation"). */
  readonly issuer: string;
  readonly scopes: readonly string[];
}

/** Build the authorization request URL (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2). */
export async function prepareAuthorization(options: {
  as: AuthorizationServer;
  clientId: string;
  redirectUri: string;
  scopes: readonly string[];
  resource?: string | undefined;
  extraParams?: Readonly<Record<string, string>> | undefined;
  /** The `state` to send (a pending flow's); default a fresh random value. */
  state?: string | undefined;
}): Promise<AuthorizationRequest> {
  const endpoint = options.as.authorization_endpoint;
  if (!endpoint || !URL.canParse(endpoint)) {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      `The authorization server ${options.as.issuer} has no authorization_endpoint.`,
    );
  }
  const codeVerifier = generateRandomCodeVerifier();
  const state = options.state ?? generateRandomState();
  const url = new URL(endpoint);
  // Extra parameters first, so the protocol's own can never be overridden by them.
  for (const [name, value] of Object.entries(options.extraParams ?? {})) {
    url.searchParams.set(name, value);
  }
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', options.clientId);
  url.searchParams.set('redirect_uri', options.redirectUri);
  url.searchParams.set('code_challenge', await calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  if (options.scopes.length > 0) url.searchParams.set('scope', options.scopes.join(' '));
  else url.searchParams.delete('scope');
  if (options.resource !== undefined) url.searchParams.set('resource', options.resource);
  else url.searchParams.delete('resource');
  return {
    url,
    state,
    codeVerifier,
    redirectUri: options.redirectUri,
    issuer: options.as.issuer,
    scopes: options.scopes,
  };
}

/**
 * Check an authorization response before its code is used: `state` (RFC 6749 §10.12) and `iss`
 * (RFC 9207 §2.4, compared as plain strings), then `error`. On an `iss` or `state` mismatch the
 * response's own `error` text is neither acted on nor shown. Returns the parameters with `code`.
 */
export function validateCallback(
  as: AuthorizationServer,
  client: Client,
  callback: URL,
  request: AuthorizationRequest,
): URLSearchParams {
  const params = callback.searchParams;
  // Our own checks first, so every failure has a precise sentence; oauth4webapi then repeats them.
  const state = params.get('state');
  if (state === null) {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      'The authorization response has no state; it was refused (it may be forged). Log in again.',
    );
  }
  if (state !== request.state) {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      'The authorization response has a state that does not match this login; it was refused (it may be forged or stale). Log in again.',
    );
  }
  const iss = params.get('iss');
  if (iss === null && as.authorization_response_iss_parameter_supported === true) {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      `The authorization response has no iss although ${request.issuer} promises one (RFC 9207); it was refused.`,
    );
  }
  if (iss !== null && iss !== request.issuer) {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      `The authorization response names another issuer than ${request.issuer} (RFC 9207 mix-up defence); it was refused.`,
    );
  }
  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description');
    const shown = ERROR_CODE.test(error) ? error : 'an unreadable error';
    const scrubbed = description
      ? scrubText(description, [request.codeVerifier, params.get('code') ?? '', request.state])
      : undefined;
    const text = scrubbed ? ` (${scrubbed})` : '';
    throw new OAuthServerError(
      'OAUTH_AUTHORIZATION',
      error === 'access_denied'
        ? `The authorization was denied at ${request.issuer}${text}; log in again and approve the access.`
        : `The authorization server ${request.issuer} answered the authorization request with ${shown}${text}.`,
      { error: shown === error ? error : 'unreadable_error', errorDescription: scrubbed },
    );
  }
  if (!params.get('code')) {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      'The authorization response carries no code; it was refused.',
    );
  }
  try {
    return validateAuthResponse(as, client, params, request.state);
  } catch {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      'The authorization response is not valid; it was refused.',
    );
  }
}
