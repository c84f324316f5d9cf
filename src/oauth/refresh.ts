/**
 * One refresh of a stored token (RFC 6749 §6), safe across processes and replicas: the refresh
 * lease of the token's key is taken first (a compare-and-set create with expiry in the token
 * store; a holder that dies lets it lapse), the record is read again under it and adopted when
 * another holder already refreshed it, and the new record is written compare-and-set on the
 * version read, so a slower writer never replaces a newer token. A refresh token the AS does not
 * replace is kept; `invalid_grant` forgets the grant only if it still holds the refresh token that
 * failed (another process may have rotated it meanwhile).
 *
 * @module
 */
import type { TokenEndpointResponse } from 'oauth4webapi';
import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TokenKey, TokenRecord } from '../stores/record.js';
import type { ClientRegistration } from '../stores/registrations.js';
import type { Lease, StoredToken, TokenStore } from '../stores/token-store.js';
import { OAuthServerError } from './protocol/failures.js';
import { refreshTokens, type TokenRequestContext } from './protocol/tokens.js';

/** How long one process may hold a token's refresh lease (longer than a refresh request). */
export const LEASE_TTL_MS = 20_000;

/** What a refresh needs from the token manager. */
export interface RefreshSteps {
  readonly server: string;
  readonly store: TokenStore;
  readonly logger: Logger;
  read(key: TokenKey): Promise<StoredToken | undefined>;
  /** Whether a record may still be sent (not within the leeway of its expiry). */
  usable(record: TokenRecord): boolean;
  /** The client registration the record's token was issued to. */
  client(record: TokenRecord): Promise<ClientRegistration>;
  context(client: ClientRegistration): TokenRequestContext;
  /** The new record from a refresh response (`previous` gives scopes, redirect URI, old refresh token). */
  record(
    response: TokenEndpointResponse,
    previous: TokenRecord,
    client: ClientRegistration,
  ): TokenRecord;
  loginRequired(why: string): never;
  /**
   * The authorization server refused `client` (`invalid_client`): forget it if it is a dynamic
   * registration; returns the error that says what to do.
   */
  clientRefused(client: ClientRegistration, error: OAuthServerError): Promise<McpAgentError>;
}

/** Refresh the token under `key` (read at `stored`); `rejected` is a token the server refused. */
export async function refreshWithLease(
  steps: RefreshSteps,
  key: TokenKey,
  stored: StoredToken,
  rejected: Secret | undefined,
): Promise<StoredToken> {
  const held = await takeLease(steps, key, stored, rejected);
  if ('adopted' in held) return held.adopted;
  try {
    return await refreshHeld(steps, key, stored, rejected);
  } finally {
    await held.lease.release().catch(() => {});
  }
}

/** Whether `latest` is a newer, usable token than the one read at `stored`. */
function newer(
  steps: RefreshSteps,
  latest: StoredToken | undefined,
  stored: StoredToken,
  rejected: Secret | undefined,
): boolean {
  return (
    latest !== undefined &&
    latest.version !== stored.version &&
    steps.usable(latest.record) &&
    latest.record.accessToken.reveal() !== rejected?.reveal()
  );
}

/**
 * The refresh lease of `key`, or the record another holder wrote meanwhile. Waits while someone
 * else holds it, at most {@link LEASE_TTL_MS} and a little more.
 */
async function takeLease(
  steps: RefreshSteps,
  key: TokenKey,
  stored: StoredToken,
  rejected: Secret | undefined,
): Promise<{ lease: Lease } | { adopted: StoredToken }> {
  const giveUp = Date.now() + LEASE_TTL_MS + 5_000;
  for (;;) {
    const lease = await steps.store.acquireLease(key, LEASE_TTL_MS).catch((error: unknown) => {
      throw storeError(error, steps.server);
    });
    if (lease) return { lease };
    await pause(25 + Math.random() * 50);
    const latest = await steps.read(key);
    if (latest && newer(steps, latest, stored, rejected)) return { adopted: latest };
    if (Date.now() > giveUp) {
      throw new McpAgentError(
        'OAUTH_TOKEN',
        `The token of server "${steps.server}" is being refreshed by another process that does not finish; try again.`,
      );
    }
  }
}

async function refreshHeld(
  steps: RefreshSteps,
  key: TokenKey,
  stored: StoredToken,
  rejected: Secret | undefined,
): Promise<StoredToken> {
  // Read again under the lease: another process may have refreshed just before it was taken,
  // or forgotten a grant the AS refused (its refresh token must not be sent again).
  const latest = await steps.read(key);
  if (!latest) return steps.loginRequired('its grant was refused or forgotten meanwhile');
  if (newer(steps, latest, stored, rejected)) return latest;
  const refreshToken = latest.record.refreshToken;
  if (!refreshToken) return steps.loginRequired('its token expired and there is no refresh token');
  const client = await steps.client(latest.record);
  let response: TokenEndpointResponse;
  try {
    response = await refreshTokens(steps.context(client), refreshToken);
  } catch (error) {
    if (
      error instanceof OAuthServerError &&
      (error.error === 'invalid_grant' || error.error === 'invalid_client')
    ) {
      if (error.error === 'invalid_client') {
        const reported = await steps.clientRefused(client, error);
        // A configured client is wrong, not the grant: it may work again once that is fixed.
        if (client.source === 'configured') throw reported;
      }
      const current = await steps.read(key);
      if (current && current.record.refreshToken?.reveal() === refreshToken.reveal()) {
        await steps.store.delete(key, { expectVersion: current.version });
      }
      return steps.loginRequired(
        `the authorization server refused its refresh token (${error.error})`,
      );
    }
    throw error;
  }
  // Persisted before it is used: a crash after this line leaves the new tokens stored.
  const record = steps.record(response, latest.record, client);
  const version = await steps.store.put(key, record, { expectVersion: latest.version });
  if (version === undefined) {
    // Someone wrote a newer record first (the lease lapsed): theirs wins.
    const winner = await steps.read(key);
    if (winner) return winner;
    return { record, version: 0 };
  }
  steps.logger.debug(`refreshed the token of server "${steps.server}"`, { server: steps.server });
  return { record, version };
}

/** The one error of an expired token that could not be refreshed (the AS is down). */
export function expiredError(server: string, issuer: string, cause: unknown): McpAgentError {
  if (cause instanceof McpAgentError && cause.code === 'STORE_UNAVAILABLE') return cause;
  const reason = cause instanceof Error ? cause.message : 'unknown error';
  return new McpAgentError(
    'OAUTH_TOKEN',
    `The token of server "${server}" expired and could not be refreshed at ${issuer}: ${reason}`,
    { cause },
  );
}

/** A store failure as the error `STORE_UNAVAILABLE` (unless it is already ours). */
export function storeError(error: unknown, server: string): McpAgentError {
  if (error instanceof McpAgentError) return error;
  return new McpAgentError(
    'STORE_UNAVAILABLE',
    `The token store cannot be read for server "${server}"; check oauth.token_store.`,
    { cause: error },
  );
}

/** Resolve after `ms` milliseconds (real time). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
