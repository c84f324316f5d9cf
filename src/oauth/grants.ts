/**
 * What is stored for a server: its status (tokens, never their values, and the client it uses),
 * and logging out of it: revoke (RFC 7009 §2.1: the refresh token first, as revoking it may revoke
 * the access tokens of the grant, then the access token) where the authorization server has a
 * revocation endpoint, then forget the records, the configured client's binding, and the dynamic
 * registrations no other stored grant uses. Revocation failures are reported; the tokens are
 * forgotten anyway.
 *
 * @module
 */
import type { ServerOAuthSettings } from '../config/schema/servers.js';
import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import type { GrantEvent } from '../stores/events.js';
import type { TokenKey, TokenRecord } from '../stores/record.js';
import type { ClientUse, RegistrationSource, RegistrationStore } from '../stores/registrations.js';
import type { TokenStore } from '../stores/token-store.js';
import { DEVICE_REDIRECT } from './protocol/registration.js';
import { revokeToken } from './protocol/tokens.js';
import type { ServerAuth } from './server-auth.js';
import { SERVICE_ACCOUNT } from './service-account.js';

/**
 * How a stored token was obtained: a person's login with the authorization code (RFC 6749 §4.1)
 * or the device grant (RFC 8628), the client credentials grant (§4.4, a service account), token
 * exchange (RFC 8693), or `access_token` from the configuration.
 */
export type TokenGrant =
  | 'authorization_code'
  | 'device_code'
  | 'client_credentials'
  | 'token_exchange'
  | 'configured';

/** The {@link TokenGrant} of `record`, a token of a server configured with `oauth`. */
export function grantOf(record: TokenRecord, oauth: ServerOAuthSettings | undefined): TokenGrant {
  if (record.redirectUri === DEVICE_REDIRECT) return 'device_code';
  if (record.redirectUri === SERVICE_ACCOUNT) {
    return oauth?.grant_type === 'token_exchange' ? 'token_exchange' : 'client_credentials';
  }
  return record.redirectUri === undefined ? 'configured' : 'authorization_code';
}

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
  /** How the token was obtained (see {@link grantOf}). */
  readonly grant: TokenGrant;
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

/** What `auth status` shows of the client a server uses with an authorization server. */
export interface ClientStatus {
  /** The `client_id` (never the secret). */
  readonly clientId: string;
  /** Configured (pre-registered), a client ID metadata document, or dynamically registered. */
  readonly source: RegistrationSource;
  /** The authorization server's issuer, when known (a configured client: once it was used). */
  readonly issuer?: string | undefined;
  readonly redirectUri?: string | undefined;
  /** When it was registered (dynamic) or first used (metadata document), epoch milliseconds. */
  readonly since?: number | undefined;
}

/**
 * The clients `server` noted it uses, and the dynamic registrations its `records` were issued
 * under that it did not note (a store written before uses were noted).
 */
async function usesOf(
  server: string,
  registrations: RegistrationStore,
  records: readonly TokenRecord[],
): Promise<ClientUse[]> {
  const uses = await registrations.usesOf(server);
  for (const record of records) {
    const { issuer, redirectUri } = record;
    if (!redirectUri) continue;
    if (uses.some((use) => use.issuer === issuer && use.redirectUri === redirectUri)) continue;
    const kept = await registrations.get(issuer, redirectUri);
    if (!kept) continue;
    uses.push({
      server,
      source: 'dynamic',
      clientId: kept.clientId,
      issuer,
      redirectUri,
      since: kept.registeredAt ?? record.obtainedAt,
    });
  }
  return uses;
}

/**
 * The clients `server` uses: the configured one (and the issuer it is bound to), or those it
 * registered dynamically (for its stored `records` too) or used as metadata documents and still
 * has. No network.
 */
export async function clientStatus(
  server: string,
  oauth: ServerOAuthSettings,
  registrations: RegistrationStore,
  records: readonly TokenRecord[] = [],
): Promise<ClientStatus[]> {
  if (oauth.client_id) {
    const issuer =
      (await registrations.boundIssuer(server, oauth.client_id)) ?? oauth.authorization_server;
    return [{ clientId: oauth.client_id, source: 'configured', issuer }];
  }
  const out: ClientStatus[] = [];
  for (const use of await usesOf(server, registrations, records)) {
    const kept =
      use.source === 'dynamic' ? await registrations.get(use.issuer, use.redirectUri) : undefined;
    // A registration forgotten (or replaced) since is not shown under this server.
    if (use.source === 'dynamic' && kept?.clientId !== use.clientId) continue;
    out.push({
      clientId: use.clientId,
      source: use.source,
      issuer: use.issuer,
      redirectUri: use.redirectUri,
      since: kept?.registeredAt ?? use.since,
    });
  }
  return out;
}

/**
 * Forget the dynamic registrations `server` used (or its `forgottenRecords` were issued under)
 * that no stored grant (of any server or identity) still uses, and that it used them; returns how
 * many registrations were forgotten.
 */
export async function forgetRegistrations(
  server: string,
  store: TokenStore,
  forgottenRecords: readonly TokenRecord[] = [],
): Promise<number> {
  const registrations = store.registrations;
  const uses = await usesOf(server, registrations, forgottenRecords);
  if (uses.length === 0) return 0;
  const records = (await store.list()).map(({ record }) => record);
  let forgotten = 0;
  for (const use of uses) {
    const inUse = records.some(
      (record) => record.issuer === use.issuer && record.redirectUri === use.redirectUri,
    );
    if (inUse) continue;
    await registrations.dropUse(server, use.issuer, use.redirectUri);
    if (
      use.source === 'dynamic' &&
      (await registrations.forget(use.issuer, use.redirectUri, use.clientId))
    ) {
      forgotten += 1;
    }
  }
  return forgotten;
}

/** What a logout did. */
export interface LogoutResult {
  /** Records deleted from the store. */
  readonly forgotten: number;
  /** Dynamic client registrations forgotten (no other stored grant used them). */
  readonly registrations: number;
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
    grant: grantOf(record, auth.settings.auth?.oauth),
    expired: !usable(record) && record.refreshToken === undefined,
    ...(lastEvent ? { lastEvent } : {}),
  }));
}

/**
 * Log `auth` out: revoke, forget; unless `unbind: false` (one identity of several), also the
 * configured client's binding and the dynamic registrations no stored grant uses any more.
 */
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
  // The configured client's binding and the registrations belong to the server, not to one
  // identity.
  if (options.unbind !== false) await auth.unbindClient();
  const registrations =
    options.unbind !== false
      ? await forgetRegistrations(
          auth.name,
          store,
          records.map(({ record }) => record),
        )
      : 0;
  await store.events.clear(auth.identity, auth.name).catch(() => {});
  return { forgotten, registrations, revoked, problems };
}
