/**
 * Token endpoint requests (RFC 6749 §4.1.3, §6; RFC 8628 §3.4; RFC 7009) and the token record a
 * response becomes. The RFC 8707 `resource` goes on every token request exactly as on the
 * authorization request. A response is checked before use: JSON, `access_token` present,
 * `expires_in` a non-negative JSON number, no redirect; the expiry is counted from receipt on the
 * local clock, so a skewed AS clock does not matter.
 *
 * @module
 */
import {
  type AuthorizationServer,
  allowInsecureRequests,
  authorizationCodeGrantRequest,
  type Client,
  type ClientAuth,
  clientCredentialsGrantRequest,
  customFetch,
  type DeviceAuthorizationResponse,
  deviceAuthorizationRequest,
  deviceCodeGrantRequest,
  genericTokenEndpointRequest,
  processAuthorizationCodeResponse,
  processClientCredentialsResponse,
  processDeviceAuthorizationResponse,
  processDeviceCodeResponse,
  processGenericTokenEndpointResponse,
  processRefreshTokenResponse,
  processRevocationResponse,
  refreshTokenGrantRequest,
  revocationRequest,
  type TokenEndpointResponse,
} from 'oauth4webapi';
import { DEFAULT_MAX_TOKEN_BYTES } from '../../config/schema/oauth.js';
import { Secret } from '../../config/secret.js';
import { McpAgentError } from '../../errors.js';
import { boundedFetch, formatBytes } from '../../fetch.js';
import type { TokenRecord } from '../../stores/record.js';
import type { ClientRegistration } from '../../stores/registrations.js';
import { scopeList } from './authorization.js';
import { OAuthServerError, oauthFailure, retryAfterMs } from './failures.js';
import { TOKEN_RESPONSE_MAX_BYTES } from './network.js';
import { clientAuthentication, type OAuthFetch } from './registration.js';

/** The longest `expires_in` taken at its word: ten years, in seconds. */
export const MAX_EXPIRES_IN = 10 * 365 * 24 * 3600;

/** What every token endpoint request needs. */
export interface TokenRequestContext {
  readonly as: AuthorizationServer;
  readonly client: ClientRegistration;
  readonly fetch: OAuthFetch;
  /** The RFC 8707 resource, or `undefined` when the server omits it (`include_resource_parameter: false`). */
  readonly resource?: string | undefined;
  readonly extraParams?: Readonly<Record<string, string>> | undefined;
  /** Milliseconds for the whole request, response body included. Default 30 000. */
  readonly timeoutMs?: number | undefined;
  /**
   * The longest access or refresh token accepted, in bytes (`oauth.max_token_bytes`); a longer
   * one is refused, never stored. Default {@link DEFAULT_MAX_TOKEN_BYTES}.
   */
  readonly maxTokenBytes?: number | undefined;
}

/** The oauth4webapi client of a registration. */
export function clientOf(registration: ClientRegistration): Client {
  return { client_id: registration.clientId };
}

function requestOptions(context: TokenRequestContext, extra: Record<string, string> = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...context.extraParams, ...extra })) {
    params.set(name, value);
  }
  if (context.resource !== undefined) params.set('resource', context.resource);
  else params.delete('resource');
  return {
    additionalParameters: params,
    [customFetch]: noRedirectFetch(context),
    [allowInsecureRequests]: true,
  };
}

/**
 * A fetch that refuses a redirect from the token endpoint: credentials and codes are never
 * replayed to wherever it points (OAuth 2.1 §3.2). The body is read within
 * {@link TOKEN_RESPONSE_MAX_BYTES} and the context's time (default 30 s), or the request stops.
 */
function noRedirectFetch(context: TokenRequestContext): OAuthFetch {
  const fetch = boundedFetch(context.fetch, {
    maxBytes: TOKEN_RESPONSE_MAX_BYTES,
    timeoutMs: context.timeoutMs ?? 30_000,
  });
  return async (input, init) => {
    const response = await fetch(input, { ...init, redirect: 'manual' });
    if (response.status === 429 || response.status >= 500) {
      // Overloaded or down: say when to come back (RFC 9110 §10.2.3), whatever the body is; an
      // OAuth error code in it is kept, its other text is not.
      const body = await response.text().catch(() => '');
      let code = 'temporarily_unavailable';
      try {
        const error = (JSON.parse(body) as { error?: unknown }).error;
        // Registered codes only look like `slow_down`: nothing longer or stranger (an echoed
        // token) is repeated.
        if (typeof error === 'string' && /^[a-z_]{1,40}$/.test(error)) code = error;
      } catch {
        // Not JSON.
      }
      const url = new URL(String(input));
      const retry = retryAfterMs(response.headers.get('retry-after'));
      throw new OAuthServerError(
        'OAUTH_TOKEN',
        `The endpoint ${url.origin}${url.pathname} answered HTTP ${response.status} (${code})${retry !== undefined ? `; it asks to retry in ${Math.ceil(retry / 1000)} s` : ''}.`,
        {
          error: code,
          status: response.status,
          ...(retry !== undefined ? { retryAfterMs: retry } : {}),
        },
      );
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      const url = new URL(String(input));
      throw new McpAgentError(
        'OAUTH_TOKEN',
        `The endpoint ${url.origin}${url.pathname} answered with a redirect (HTTP ${response.status}); it was not followed.`,
      );
    }
    return response;
  };
}

/**
 * Refuse a token response whose `expires_in` is not a non-negative JSON number (a string, even a
 * numeric one, is refused too: RFC 6749 §5.1 says number), before oauth4webapi reads it.
 */
async function checkRawResponse(
  response: Response,
  where: string,
  context: TokenRequestContext,
): Promise<Response> {
  if (!response.ok) return response;
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new McpAgentError('OAUTH_TOKEN', `The token response of ${where} is not JSON.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new McpAgentError('OAUTH_TOKEN', `The token response of ${where} is not a JSON object.`);
  }
  const record = json as Record<string, unknown>;
  if (typeof record.access_token !== 'string' || record.access_token === '') {
    throw new McpAgentError('OAUTH_TOKEN', `The token response of ${where} has no access_token.`);
  }
  // RFC 6750 tokens only: a DPoP- or MAC-bound token sent as Bearer would loop on 401s.
  const type = record.token_type;
  if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer')) {
    throw new McpAgentError(
      'OAUTH_TOKEN',
      `The token response of ${where} has a token_type other than Bearer, which is not supported.`,
    );
  }
  checkTokenSizes(record, where, context.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES);
  const expiresIn = record.expires_in;
  if (
    expiresIn !== undefined &&
    (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0)
  ) {
    throw new McpAgentError(
      'OAUTH_TOKEN',
      `The token response of ${where} has an expires_in that is not a non-negative number.`,
    );
  }
  return new Response(text, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/**
 * Refuse an access or refresh token longer than `max` bytes: sent as a header it would make
 * servers refuse every request (HTTP 431), and it is never stored.
 */
function checkTokenSizes(record: Record<string, unknown>, where: string, max: number): void {
  for (const name of ['access_token', 'refresh_token'] as const) {
    const value = record[name];
    if (typeof value !== 'string') continue;
    const size = Buffer.byteLength(value, 'utf8');
    if (size <= max) continue;
    throw new McpAgentError(
      'OAUTH_TOKEN',
      `The token response of ${where} has ${name === 'access_token' ? 'an' : 'a'} ${name} of ${size} bytes, more than the ${formatBytes(max)} allowed (oauth.max_token_bytes); it was not stored, as servers would refuse every request that carried it (HTTP 431). Ask for fewer scopes or claims, or raise oauth.max_token_bytes if such tokens are expected.`,
    );
  }
}

/** A token response as a record (see {@link TokenRecord}); `now` is the time of receipt. */
export function toTokenRecord(
  response: TokenEndpointResponse,
  options: {
    now: number;
    issuer: string;
    resource: string;
    server: string;
    requestedScopes: readonly string[];
    /** Kept when a refresh response carries no new refresh token (RFC 6749 §6). */
    previousRefreshToken?: Secret | undefined;
  },
): TokenRecord {
  const refresh = response.refresh_token
    ? new Secret(response.refresh_token)
    : options.previousRefreshToken;
  return {
    accessToken: new Secret(response.access_token),
    ...(refresh ? { refreshToken: refresh } : {}),
    tokenType: response.token_type ? normaliseTokenType(response.token_type) : 'Bearer',
    // 0 says nothing usable, and more than ten years is not a real lifetime: both count as
    // "no expiry" (used until a 401) rather than a refresh on every request or a broken date.
    ...(typeof response.expires_in === 'number' &&
    response.expires_in > 0 &&
    response.expires_in <= MAX_EXPIRES_IN
      ? { expiresAt: options.now + response.expires_in * 1000 }
      : {}),
    obtainedAt: options.now,
    // RFC 6749 §5.1: no `scope` in the response means the requested scope was granted.
    scopes: response.scope !== undefined ? scopeList(response.scope) : [...options.requestedScopes],
    issuer: options.issuer,
    resource: options.resource,
    server: options.server,
  };
}

function normaliseTokenType(type: string): string {
  return type.toLowerCase() === 'bearer' ? 'Bearer' : type;
}

/** The secrets of a request, scrubbed from any error text. */
function secretsOf(context: TokenRequestContext, ...more: string[]): string[] {
  const secret = context.client.clientSecret?.reveal();
  return [...more, ...(secret ? [secret] : [])];
}

/** RFC 6749 §4.1.3: exchange the code of a validated callback. */
export async function exchangeCode(
  context: TokenRequestContext,
  params: URLSearchParams,
  request: { redirectUri: string; codeVerifier: string },
): Promise<TokenEndpointResponse> {
  const where = `${context.as.issuer}`;
  const code = params.get('code') ?? '';
  try {
    const client = clientOf(context.client);
    const response = await authorizationCodeGrantRequest(
      context.as,
      client,
      clientAuthentication(context.client),
      params,
      request.redirectUri,
      request.codeVerifier,
      requestOptions(context),
    );
    return await processAuthorizationCodeResponse(
      context.as,
      client,
      await checkRawResponse(response, where, context),
    );
  } catch (error) {
    throw oauthFailure('OAUTH_TOKEN', error, `The code exchange at ${where}`, {
      secrets: secretsOf(context, code, request.codeVerifier),
      hint: 'Log in again.',
    });
  }
}

/**
 * How long a refresh request may take by default: well under the refresh lease (20 s), so no
 * other process starts the same refresh while this one may still succeed.
 */
export const REFRESH_TIMEOUT_MS = 15_000;

/** RFC 6749 §6: a new access token from a refresh token. */
export async function refreshTokens(
  given: TokenRequestContext,
  refreshToken: Secret,
): Promise<TokenEndpointResponse> {
  const context = { ...given, timeoutMs: given.timeoutMs ?? REFRESH_TIMEOUT_MS };
  const where = `${context.as.issuer}`;
  try {
    const client = clientOf(context.client);
    const response = await refreshTokenGrantRequest(
      context.as,
      client,
      clientAuthentication(context.client),
      refreshToken.reveal(),
      requestOptions(context),
    );
    return await processRefreshTokenResponse(
      context.as,
      client,
      await checkRawResponse(response, where, context),
    );
  } catch (error) {
    throw oauthFailure('OAUTH_TOKEN', error, `The token refresh at ${where}`, {
      secrets: secretsOf(context, refreshToken.reveal()),
    });
  }
}

/**
 * RFC 6749 §4.4: a token for the client itself (a service account), with `scopes` and the
 * `resource` of the context. No refresh token is expected: a new one is asked for when due.
 */
export async function clientCredentialsToken(
  context: TokenRequestContext,
  scopes: readonly string[],
): Promise<TokenEndpointResponse> {
  const where = `${context.as.issuer}`;
  const params: Record<string, string> = scopes.length > 0 ? { scope: scopes.join(' ') } : {};
  try {
    const client = clientOf(context.client);
    const options = requestOptions(context, params);
    const response = await clientCredentialsGrantRequest(
      context.as,
      client,
      clientAuthentication(context.client),
      options.additionalParameters,
      options,
    );
    return await processClientCredentialsResponse(
      context.as,
      client,
      await checkRawResponse(response, where, context),
    );
  } catch (error) {
    throw oauthFailure(
      'OAUTH_TOKEN',
      error,
      `The client credentials grant of client "${context.client.clientId}" at ${where}`,
      { secrets: secretsOf(context) },
    );
  }
}

/** One grant of the token endpoint's generic form (an extension grant, RFC 6749 §4.5). */
interface Grant {
  /** The `grant_type` URI. */
  readonly type: string;
  /** The form's parameters besides `grant_type` (and the context's `resource`, extras). */
  readonly params: Record<string, string>;
  /** What the grant is, for an error: `The token exchange of client "x"`. */
  readonly what: string;
  /** The secret values sent, kept out of any error. */
  readonly secrets: readonly string[];
  /** How the client authenticates. Default as its registration says. */
  readonly clientAuth?: ClientAuth | undefined;
}

/** Send `grant` to the context's token endpoint; its response checked as every grant's is. */
async function genericGrant(
  context: TokenRequestContext,
  grant: Grant,
): Promise<TokenEndpointResponse> {
  const where = `${context.as.issuer}`;
  try {
    const client = clientOf(context.client);
    const options = requestOptions(context, grant.params);
    const response = await genericTokenEndpointRequest(
      context.as,
      client,
      grant.clientAuth ?? clientAuthentication(context.client),
      grant.type,
      options.additionalParameters,
      options,
    );
    return await processGenericTokenEndpointResponse(
      context.as,
      client,
      await checkRawResponse(response, where, context),
    );
  } catch (error) {
    throw oauthFailure('OAUTH_TOKEN', error, `${grant.what} at ${where}`, {
      secrets: secretsOf(context, ...grant.secrets),
    });
  }
}

/**
 * RFC 8693 §2.1: exchange `subjectToken` (an access token for the agent) for one for the
 * context's `resource`, on behalf of its subject.
 */
export async function exchangeToken(
  context: TokenRequestContext,
  subjectToken: Secret,
  scopes: readonly string[],
): Promise<TokenEndpointResponse> {
  return genericGrant(context, {
    type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    params: {
      subject_token: subjectToken.reveal(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      ...(scopes.length > 0 ? { scope: scopes.join(' ') } : {}),
    },
    what: `The token exchange of client "${context.client.clientId}"`,
    secrets: [subjectToken.reveal()],
  });
}

/** What {@link jwtBearerToken} does besides sending the assertion. */
export interface JwtBearerOptions {
  /**
   * Whether the client authenticates as its registration says (`none`: its `client_id` in the
   * form). `false`: the assertion alone, as RFC 7523 §3.1 allows and Google's service accounts
   * send it (the form holds `grant_type` and `assertion` only). Default `true`.
   */
  readonly authenticateClient?: boolean | undefined;
}

/** No client authentication: nothing added to the request. */
const assertionOnly: ClientAuth = () => undefined;

/**
 * RFC 7523 §2.1: a token for the signed JWT `assertion` (a service account's, e.g. Google's), at
 * the context's token endpoint. No refresh token is expected: a new assertion is sent when due.
 */
export async function jwtBearerToken(
  context: TokenRequestContext,
  assertion: Secret,
  { authenticateClient = true }: JwtBearerOptions = {},
): Promise<TokenEndpointResponse> {
  return genericGrant(context, {
    type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    params: { assertion: assertion.reveal() },
    what: `The JWT bearer grant of "${context.client.clientId}"`,
    secrets: [assertion.reveal()],
    clientAuth: authenticateClient ? undefined : assertionOnly,
  });
}

/** RFC 7009 §2.1: revoke `token` (a refresh or an access token). */
export async function revokeToken(
  context: TokenRequestContext,
  token: Secret,
  hint: 'refresh_token' | 'access_token',
): Promise<void> {
  try {
    const response = await revocationRequest(
      context.as,
      clientOf(context.client),
      clientAuthentication(context.client),
      token.reveal(),
      {
        additionalParameters: { token_type_hint: hint },
        [customFetch]: noRedirectFetch(context),
        [allowInsecureRequests]: true,
      },
    );
    await processRevocationResponse(response);
  } catch (error) {
    throw oauthFailure('OAUTH_TOKEN', error, `The revocation at ${context.as.issuer}`, {
      secrets: secretsOf(context, token.reveal()),
    });
  }
}

/** RFC 8628 §3.1: start a device authorization. */
export async function startDeviceAuthorization(
  context: TokenRequestContext,
  scopes: readonly string[],
): Promise<DeviceAuthorizationResponse> {
  try {
    const params: Record<string, string> = {};
    if (scopes.length > 0) params.scope = scopes.join(' ');
    if (context.resource !== undefined) params.resource = context.resource;
    const response = await deviceAuthorizationRequest(
      context.as,
      clientOf(context.client),
      clientAuthentication(context.client),
      params,
      {
        [customFetch]: noRedirectFetch(context),
        [allowInsecureRequests]: true,
      },
    );
    return await processDeviceAuthorizationResponse(context.as, clientOf(context.client), response);
  } catch (error) {
    throw oauthFailure(
      'OAUTH_AUTHORIZATION',
      error,
      `The device authorization at ${context.as.issuer}`,
      {
        secrets: secretsOf(context),
      },
    );
  }
}

/** The outcome of one device-code poll (RFC 8628 §3.5). */
export type DevicePoll =
  | { readonly done: true; readonly response: TokenEndpointResponse }
  | { readonly done: false; readonly slowDown: boolean };

/** RFC 8628 §3.4: poll once for the device code's token. */
export async function pollDeviceToken(
  context: TokenRequestContext,
  deviceCode: string,
): Promise<DevicePoll> {
  try {
    const client = clientOf(context.client);
    const response = await deviceCodeGrantRequest(
      context.as,
      client,
      clientAuthentication(context.client),
      deviceCode,
      requestOptions(context),
    );
    return {
      done: true,
      response: await processDeviceCodeResponse(
        context.as,
        client,
        await checkRawResponse(response, context.as.issuer, context),
      ),
    };
  } catch (error) {
    const code = (error as { error?: unknown }).error;
    if (code === 'authorization_pending') return { done: false, slowDown: false };
    if (code === 'slow_down') return { done: false, slowDown: true };
    throw oauthFailure(
      'OAUTH_AUTHORIZATION',
      error,
      `The device authorization at ${context.as.issuer}`,
      {
        secrets: secretsOf(context, deviceCode),
        hint: code === 'expired_token' ? 'The code expired; log in again.' : '',
      },
    );
  }
}
