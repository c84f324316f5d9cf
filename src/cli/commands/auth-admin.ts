/**
 * The operator's view of a served agent's token store: `auth status --all-identities` (every
 * identity's tokens: servers, issuers, scopes, expiry, refresh token held — never a value) and
 * `auth logout --identity ID SERVER` (revoke and forget one caller's tokens for one server).
 *
 * @module
 */
import { McpAgentError } from '../../errors.js';
import { TokenManager } from '../../oauth/token-manager.js';
import type { CliIo, GlobalOptions, Output } from '../io.js';
import { withSession } from '../session.js';
import { describeExpiry } from './auth.js';

/** A token-store identity as people read it: `issuer#subject` of a caller, or `app`. */
export function readableIdentity(identity: string): string {
  const hash = identity.indexOf('#');
  if (hash === -1) return identity;
  try {
    return `${decodeURIComponent(identity.slice(0, hash))} ${decodeURIComponent(identity.slice(hash + 1))}`;
  } catch {
    return identity;
  }
}

/** `auth status --all-identities [SERVER]`: every identity's tokens. No network. */
export function authStatusAll(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  server: string | undefined,
): Promise<number> {
  return withSession(
    io,
    options,
    out,
    async (session) => {
      if (server !== undefined) session.registry.settings(server);
      const now = Date.now();
      const rows = (await session.store.list())
        .map(({ id, record }) => ({
          identity: decodeURIComponent(id.slice(0, id.indexOf(':'))),
          record,
        }))
        .filter(({ record }) => server === undefined || record.server === server)
        .sort(
          (a, b) =>
            a.identity.localeCompare(b.identity) || a.record.server.localeCompare(b.record.server),
        );
      out.resultJson({
        backend: session.loaded.settings.oauth.token_store.backend,
        tokens: rows.map(({ identity, record }) => ({
          identity,
          server: record.server,
          issuer: record.issuer,
          resource: record.resource,
          scopes: record.scopes,
          expires_at:
            record.expiresAt !== undefined ? new Date(record.expiresAt).toISOString() : null,
          obtained_at: new Date(record.obtainedAt).toISOString(),
          refresh_token: record.refreshToken !== undefined,
        })),
      });
      if (rows.length === 0) {
        out.note('No token is stored.');
        return 0;
      }
      let last: string | undefined;
      for (const { identity, record } of rows) {
        if (identity !== last) {
          out.result(
            `${readableIdentity(identity)}${identity.includes('#') ? ` (--identity '${identity}')` : ''}`,
          );
          last = identity;
        }
        out.result(
          `  ${record.server}: ${record.issuer}; scopes: ${record.scopes.join(' ') || '(none)'}; token ${describeExpiry(record.expiresAt, now)}; refresh token: ${record.refreshToken ? 'yes' : 'no'}`,
        );
      }
      return 0;
    },
    { interactive: false },
  );
}

/** `auth logout --identity ID SERVER`: revoke where possible, then forget, for one identity. */
export function authLogoutIdentity(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  identity: string,
  server: string,
): Promise<number> {
  return withSession(
    io,
    options,
    out,
    async (session) => {
      const settings = session.registry.settings(server);
      const tokens = new TokenManager({
        store: session.store,
        oauth: session.loaded.settings.oauth,
        fetch: session.http.fetch,
        guardedFetch: session.guardedFetch,
        identity,
        pendingLogins: false,
      });
      const auth = tokens.forServer(server, settings);
      if (!auth) {
        throw new McpAgentError('USAGE', `Server "${server}" does not use OAuth.`);
      }
      // One identity's tokens: the configured client's binding stays (it is everyone's).
      const result = await auth.logout({ unbind: false });
      out.resultJson({ identity, server, ...result });
      out.result(
        result.forgotten === 0
          ? `${readableIdentity(identity)}: no stored token for "${server}".`
          : `${readableIdentity(identity)}: forgot ${result.forgotten} token record${result.forgotten === 1 ? '' : 's'} of "${server}"${result.revoked > 0 ? `, revoked ${result.revoked} at the authorization server` : ''}.`,
      );
      for (const problem of result.problems) out.warn(`${server}: ${problem}`);
      return result.problems.length > 0 ? 1 : 0;
    },
    { interactive: false },
  );
}
