/**
 * What is stored for a server: its status, and logging out of it: revoke (RFC 7009 §2.1: the refresh token first, as revoking it may
 * revoke the access tokens of the grant, then the access token) where the authorization server has
 * a revocation endpoint, then forget the records and the configured client's binding. Revocation
 * failures are reported; the tokens are forgotten anyway.
 *
 * @module
 */
import type { ServerOAuthSettings } from '../config/schema/servers.js';
import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import type { GrantEvent } from '../stores/events.js';
import type { TokenKey, TokenRecord } from '../stores/record.js';
import type { TokenStore } from '../stores/token-store.js';
import { revokeToken } from './protocol/tokens.js';
import type { ServerAuth } from './server-auth.js';

/** What `auth status` shows of one stored token: never its value. */
export interface TokenStatus {
  readonly server: string;
  readonly identity: string;
  readonly issuer: string;
  readonly resource: string;
  readonly scopes: readonly string[];
  readonly expiresAt?: number | undefined;
  readonly obtainedAt: number;
  readonly hasRefreshToken: boolean;
  /** Expired (past the leeway) and not refreshable. */
  readonly expired: boolean;
  /** What the background refresh (of any process sharing the store) last did for this server. */
  readonly lastEvent?: GrantEvent | undefined;
}

/**
 * The record of a token configured in `auth.oauth` (`access_token`, `refresh_token`,
 * `expires_at` in epoch seconds), for the app's own identity; `undefined` without one.
 */
export function configuredRecord(
  oauth: ServerOAuthSettings,
  key: TokenKey,
  now: number,
): TokenRecord | undefined {
  if (!oauth.access_token) return undefined;
  return {
    accessToken: oauth.access_token,
    ...(oauth.refresh_token ? { refreshToken: oauth.refresh_token } : {}),
    tokenType: oauth.token_type,
    ...(oauth.expires_at !== undefined ? { expiresAt: oauth.expires_at * 1000 } : {}),
    obtainedAt: now,
    scopes: oauth.scopes,
    issuer: key.issuer,
    resource: key.resource,
    server: key.server,
  };
}

/** A token obtained elsewhere (see `ServerAuth.adoptToken`). */
export interface AdoptedToken {
  readonly accessToken: Secret;
  readonly refreshToken?: Secret | undefined;
  /** Epoch milliseconds. */
  readonly expiresAt?: number | undefined;
  readonly scopes?: readonly string[] | undefined;
  readonly tokenType?: string | undefined;
  /** The issuer it claims to come from. */
  readonly authorizationServer?: string | undefined;
}

/**
 * The record of an adopted token for `server` at `target`: its authorization server, when named,
 * must be the one the server uses (compared exactly, a trailing slash aside); Bearer only.
 */
export function adoptedRecord(
  input: AdoptedToken,
  server: string,
  target: { discovery: { authorizationServer: { issuer: string } }; key: TokenKey },
  now: number,
): TokenRecord {
  const issuer = target.discovery.authorizationServer.issuer;
  const named = input.authorizationServer?.replace(/\/+$/, '');
  if (named !== undefined && named !== issuer.replace(/\/+$/, '')) {
    throw new McpAgentError(
      'OAUTH_AUTHORIZATION',
      `The token is from ${input.authorizationServer}, but server "${server}" uses ${issuer}.`,
    );
  }
  if (input.tokenType !== undefined && input.tokenType.toLowerCase() !== 'bearer') {
    throw new McpAgentError('OAUTH_TOKEN', 'Only Bearer tokens can be stored.');
  }
  return {
    accessToken: input.accessToken,
    ...(input.refreshToken ? { refreshToken: input.refreshToken } : {}),
    tokenType: 'Bearer',
    ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}),
    obtainedAt: now,
    scopes: [...(input.scopes ?? [])],
    issuer,
    resource: target.key.resource,
    server,
  };
}

/** What a logout did. */
export interface LogoutResult {
  /** Records deleted from the store. */
  readonly forgotten: number;
  /** Tokens the authorization server accepted to revoke. */
  readonly revoked: number;
  /** One sentence per revocation that failed. */
  readonly problems: readonly string[];
}

/** What `auth status` shows for `auth`: its stored tokens (never values) and the last event. */
export async function grantStatus(
  auth: ServerAuth,
  store: TokenStore,
  usable: (record: TokenRecord) => boolean,
): Promise<TokenStatus[]> {
  const lastEvent = await store.events.last(auth.identity, auth.name).catch(() => undefined);
  return (await auth.storedRecords()).map(({ record }) => ({
    server: record.server,
    identity: auth.identity,
    issuer: record.issuer,
    resource: record.resource,
    scopes: record.scopes,
    ...(record.expiresAt !== undefined ? { expiresAt: record.expiresAt } : {}),
    obtainedAt: record.obtainedAt,
    hasRefreshToken: record.refreshToken !== undefined,
    expired: !usable(record) && record.refreshToken === undefined,
    ...(lastEvent ? { lastEvent } : {}),
  }));
}

/** Log `auth` out: revoke, forget, unbind. */
export async function logout(
  auth: ServerAuth,
  store: TokenStore,
  options: { unbind?: boolean } = {},
): Promise<LogoutResult> {
  const problems: string[] = [];
  let revoked = 0;
  let forgotten = 0;
  const records = await auth.storedRecords();
  for (const { record } of records) {
    try {
      const context = await auth.revocationContext(record);
      if (!context) continue;
      if (record.refreshToken) {
        await revokeToken(context, record.refreshToken, 'refresh_token');
        revoked += 1;
      }
      await revokeToken(context, record.accessToken, 'access_token');
      revoked += 1;
    } catch (error) {
      problems.push(error instanceof Error ? error.message : 'revocation failed');
    }
  }
  // By storage id: a record's key may differ from today's (other configured scopes).
  for (const { id } of records) {
    if (await store.deleteStored(id)) forgotten += 1;
  }
  // The configured client's binding belongs to the server, not to one identity.
  if (options.unbind !== false) await auth.unbindClient();
  await store.events.clear(auth.identity, auth.name).catch(() => {});
  return { forgotten, revoked, problems };
}
