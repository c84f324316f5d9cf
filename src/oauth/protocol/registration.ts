/**
 * Client registration steps: Dynamic Client Registration (RFC 7591) and the token endpoint
 * authentication of a client (RFC 6749 §2.3). Which client to use, and keeping it, is
 * `src/oauth/clients.ts`.
 *
 * @module
 */

import {
  type AuthorizationServer,
  allowInsecureRequests,
  type ClientAuth,
  ClientSecretPost,
  customFetch,
  dynamicClientRegistrationRequest,
  modifyAssertion,
  None,
  PrivateKeyJwt,
  processDynamicClientRegistrationResponse,
} from 'oauth4webapi';
import { Secret } from '../../config/secret.js';
import { boundedFetch, type FetchLike } from '../../fetch.js';
import type { ClientRegistration, TokenEndpointAuthMethod } from '../../stores/registrations.js';
import { oauthFailure } from './failures.js';
import { isLoopbackHost, TOKEN_RESPONSE_MAX_BYTES } from './network.js';

/** A `fetch` for OAuth requests. */
export type OAuthFetch = FetchLike;

/** The redirect URI used to file device-grant registrations, which have none. */
export const DEVICE_REDIRECT = 'urn:ietf:params:oauth:grant-type:device_code';

/** What {@link registerClient} needs. */
export interface RegisterClientOptions {
  readonly as: AuthorizationServer;
  /** The redirect URI of this flow, or {@link DEVICE_REDIRECT}. */
  readonly redirectUri: string;
  readonly fetch: OAuthFetch;
  /** `client_name` sent with the registration. */
  readonly clientName: string;
  /** For the "what to set" sentence: `mcp.servers.<name>.auth.oauth`. */
  readonly configPath: string;
  /** Milliseconds for the whole request, response body included. Default 30 000. */
  readonly timeoutMs?: number;
}

/** The token endpoint authentication of `registration` (RFC 6749 §2.3, RFC 7591 §2). */
export function clientAuthentication(registration: ClientRegistration): ClientAuth {
  const secret = registration.clientSecret?.reveal();
  switch (registration.tokenEndpointAuthMethod) {
    case 'client_secret_basic':
      return clientSecretBasic(secret ?? '');
    case 'client_secret_post':
      return ClientSecretPost(secret ?? '');
    case 'private_key_jwt': {
      const signing = registration.signingKey;
      if (!signing) throw new Error('private_key_jwt without a signing key');
      // oauth4webapi signs a fresh assertion per request: iss = sub = client_id, aud = the issuer,
      // a random jti, and a 60 s lifetime (RFC 7523 §3).
      const key = signing.kid ? { key: signing.key, kid: signing.kid } : signing.key;
      const alg = signing.alg;
      // oauth4webapi names an Ed25519 key's algorithm `Ed25519` (RFC 9864); servers that know only
      // `EdDSA` get the name they were configured with (the signature is the same).
      return alg
        ? PrivateKeyJwt(key, {
            [modifyAssertion]: (header) => {
              header.alg = alg;
            },
          })
        : PrivateKeyJwt(key);
    }
    case 'none':
      return None();
  }
}

/**
 * The method for a client with (or without) a secret, per the AS's
 * `token_endpoint_auth_methods_supported` (absent: `client_secret_basic`, RFC 8414 §2).
 */
export function chooseAuthMethod(
  as: AuthorizationServer,
  hasSecret: boolean,
): TokenEndpointAuthMethod {
  const supported = as.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
  if (!hasSecret) return 'none';
  if (supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  return 'client_secret_basic';
}

/**
 * RFC 7591 §3: register a client for this flow (`application_type` native for a loopback or
 * device client, retried once with the other type when an OIDC provider refuses the redirect URI).
 */
export async function registerClient(options: RegisterClientOptions): Promise<ClientRegistration> {
  const { as } = options;
  const device = options.redirectUri === DEVICE_REDIRECT;
  const supported = as.token_endpoint_auth_methods_supported;
  // A public client (no secret) where the AS allows it; else one with a secret.
  const method: TokenEndpointAuthMethod =
    supported === undefined || supported.includes('none') ? 'none' : chooseAuthMethod(as, true);
  const loopback =
    device ||
    (URL.canParse(options.redirectUri) && isLoopbackHost(new URL(options.redirectUri).hostname));
  const types: readonly ('native' | 'web')[] = loopback ? ['native', 'web'] : ['web', 'native'];
  const fetch = boundedFetch(options.fetch, {
    maxBytes: TOKEN_RESPONSE_MAX_BYTES,
    timeoutMs: options.timeoutMs ?? 30_000,
    what: 'the registration response',
  });
  let lastError: unknown;
  for (const applicationType of types) {
    const metadata = {
      client_name: options.clientName,
      application_type: applicationType,
      token_endpoint_auth_method: method,
      ...(device
        ? {
            redirect_uris: [],
            response_types: [],
            grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
          }
        : {
            redirect_uris: [options.redirectUri],
            response_types: ['code'],
            grant_types: ['authorization_code', 'refresh_token'],
          }),
    };
    try {
      const response = await dynamicClientRegistrationRequest(as, metadata, {
        [customFetch]: fetch,
        [allowInsecureRequests]: true,
      });
      const client = await processDynamicClientRegistrationResponse(
        await defaultSecretExpiry(response),
      );
      const secret = typeof client.client_secret === 'string' ? client.client_secret : undefined;
      const granted = client.token_endpoint_auth_method;
      const expires = client.client_secret_expires_at;
      return {
        clientId: client.client_id,
        ...(secret ? { clientSecret: new Secret(secret) } : {}),
        tokenEndpointAuthMethod:
          granted === 'client_secret_basic' ||
          granted === 'client_secret_post' ||
          granted === 'none'
            ? granted
            : secret
              ? 'client_secret_basic'
              : 'none',
        issuer: as.issuer,
        redirectUri: options.redirectUri,
        source: 'dynamic',
        ...(typeof expires === 'number' && expires > 0
          ? { clientSecretExpiresAt: expires * 1000 }
          : {}),
      };
    } catch (error) {
      lastError = error;
      // OIDC providers refuse some redirect URIs for one application type and take them for the
      // other (MCP 2026-07-28, "Application Type and Redirect URI Constraints").
      const code = (error as { error?: unknown }).error;
      if (code !== 'invalid_redirect_uri' && code !== 'invalid_client_metadata') break;
    }
  }
  throw oauthFailure(
    'OAUTH_REGISTRATION',
    lastError,
    `Dynamic client registration at ${as.issuer}`,
    {
      hint: `Register a client there by hand${device ? ' for the device authorization grant' : ` with the redirect URI ${options.redirectUri}`} and set ${options.configPath}.client_id.`,
    },
  );
}

/**
 * RFC 7591 §3.2.1 makes `client_secret_expires_at` required with a `client_secret`, and
 * oauth4webapi refuses a response without it; many servers omit it. Its absence is read as 0
 * ("does not expire") instead of refusing the registration.
 */
async function defaultSecretExpiry(response: Response): Promise<Response> {
  if (response.status !== 201) return response;
  const text = await response.text();
  let body = text;
  try {
    const json = JSON.parse(text) as unknown;
    if (
      typeof json === 'object' &&
      json !== null &&
      !Array.isArray(json) &&
      typeof (json as Record<string, unknown>).client_secret === 'string' &&
      (json as Record<string, unknown>).client_secret_expires_at === undefined
    ) {
      body = JSON.stringify({ ...json, client_secret_expires_at: 0 });
    }
  } catch {
    // Not JSON: oauth4webapi says so.
  }
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** `value` encoded as application/x-www-form-urlencoded (RFC 6749 Appendix B). */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * HTTP Basic client authentication (RFC 6749 §2.3.1): id and secret form-encoded, then Base64.
 * Not oauth4webapi's `ClientSecretBasic`, which also escapes `-`, `.`, `_`, `*` and others that
 * form encoding leaves alone: servers that do not decode the credentials (many) then see another
 * client id.
 */
function clientSecretBasic(secret: string): ClientAuth {
  return (_as, client, _body, headers) => {
    const credentials = `${formEncode(client.client_id)}:${formEncode(secret)}`;
    headers.set('authorization', `Basic ${Buffer.from(credentials).toString('base64')}`);
  };
}
