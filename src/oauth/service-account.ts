/**
 * Tokens without a person: service accounts (`auth.oauth.grant_type: client_credentials`, RFC
 * 6749 §4.4), and on-behalf-of tokens (`token_exchange`, RFC 8693: the caller's token swapped for
 * one for this server, living no longer than the caller's). For service accounts the agent gets
 * tokens as itself, with no browser and no refresh token. The configured client authenticates
 * with its secret (`client_secret_basic` or `_post`, as configured or as the server advertises)
 * or with a signed assertion (`private_key_jwt`, RFC 7523). A new token is asked for when the
 * one held is due, through the token manager's single flight.
 *
 * @module
 */
import type { TokenEndpointResponse } from 'oauth4webapi';
import type { ServerOAuthSettings } from '../config/schema/servers.js';
import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import type { ClientRegistration } from '../stores/registrations.js';
import { hasPrivateKey, loadSigningKey } from './private-key.js';
import {
  clientCredentialsToken,
  exchangeToken,
  type TokenRequestContext,
} from './protocol/tokens.js';

/** The redirect URI recorded with service-account tokens (none is used). */
export const SERVICE_ACCOUNT = 'urn:ietf:params:oauth:grant-type:client_credentials';

/** Refuse a service account without a client id, or without a secret or a key. */
export function checkServiceAccount(server: string, oauth: ServerOAuthSettings): void {
  const secret = oauth.client_secret !== undefined && !oauth.client_secret.isEmpty;
  if (!oauth.client_id || !(secret || hasPrivateKey(oauth))) {
    const what = oauth.client_id
      ? `a client_secret or a private_key (or private_key_file) for client "${oauth.client_id}"`
      : 'a client_id, and a client_secret or a private_key (or private_key_file)';
    throw new McpAgentError(
      'CONFIG_INVALID',
      `Server "${server}" uses grant_type: ${oauth.grant_type}, which needs ${what} in mcp.servers.${server}.auth.oauth.`,
    );
  }
}

/** A token for `server`'s configured client itself (see {@link checkServiceAccount}). */
export async function serviceAccountToken(input: {
  server: string;
  oauth: ServerOAuthSettings;
  /** The configured client as resolved for the authorization server (binding checked). */
  client: ClientRegistration;
  context: (client: ClientRegistration) => TokenRequestContext;
  scopes: readonly string[];
  /** Where a relative `private_key_file` is found. */
  cwd?: string | undefined;
  /** For `token_exchange`: the caller's token, its issuer, and when it expires (epoch ms). */
  subject?:
    | { token: Secret; issuer?: string | undefined; expiresAt?: number | undefined }
    | undefined;
  now?: () => number;
}): Promise<TokenEndpointResponse> {
  const { oauth, server } = input;
  checkServiceAccount(server, oauth);
  const keyed = oauth.token_endpoint_auth_method === 'private_key_jwt' || hasPrivateKey(oauth);
  const method = oauth.token_endpoint_auth_method;
  const client: ClientRegistration = keyed
    ? {
        ...input.client,
        tokenEndpointAuthMethod: 'private_key_jwt',
        signingKey: await loadSigningKey(server, oauth, input.cwd),
      }
    : {
        ...input.client,
        tokenEndpointAuthMethod:
          method === 'client_secret_post' || method === 'client_secret_basic'
            ? method
            : input.client.tokenEndpointAuthMethod,
      };
  if (oauth.grant_type !== 'token_exchange') {
    return clientCredentialsToken(input.context(client), input.scopes);
  }
  const subject = input.subject;
  if (!subject) {
    throw new McpAgentError(
      'OAUTH_LOGIN_REQUIRED',
      `Server "${server}" uses grant_type: token_exchange, which needs a caller's token: serve the agent with authorization enabled and call it as a user.`,
    );
  }
  const context = input.context(client);
  // The caller's token goes only to the server that issued it: any other one (named by the API's
  // metadata, say) could replay it against the agent.
  const issuer = context.as.issuer.replace(/\/+$/, '');
  if (subject.issuer === undefined || subject.issuer.replace(/\/+$/, '') !== issuer) {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      `Server "${server}" would exchange the caller's token at ${context.as.issuer}, which did not issue it; set its authorization_server to the callers' issuer.`,
    );
  }
  const response = await exchangeToken(context, subject.token, input.scopes);
  // The exchanged token lives no longer than the caller's own (and has an expiry).
  if (subject.expiresAt === undefined) return response;
  const left = Math.max(1, Math.floor((subject.expiresAt - (input.now ?? Date.now)()) / 1000));
  const given = response.expires_in;
  const expiresIn = typeof given === 'number' && given > 0 && given < left ? given : left;
  return { ...response, expires_in: expiresIn };
}
