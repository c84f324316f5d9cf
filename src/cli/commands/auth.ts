/**
 * `auth login SERVER`, `auth status [SERVER]`, `auth logout SERVER | --all` and `doctor SERVER`.
 * Token values are never printed: status shows scopes, expiry and whether a refresh token is held.
 *
 * @module
 */
import { AuthorizationRequiredError, McpAgentError } from '../../errors.js';
import { parseCallback } from '../../oauth/deferred.js';
import type { ClientStatus, TokenGrant, TokenStatus } from '../../oauth/grants.js';
import { APP_IDENTITY, type ServerAuth } from '../../oauth/server-auth.js';
import { usesOAuth } from '../../oauth/token-manager.js';
import type { GrantEvent } from '../../stores/events.js';
import type { TokenRecord } from '../../stores/record.js';
import type { UnreadableReason } from '../../stores/token-store.js';
import type { CliConsentOptions } from '../consent.js';
import { handOverJson, handOverText } from '../hand-over.js';
import type { CliIo, GlobalOptions, Output } from '../io.js';
import { type CliSession, withSession } from '../session.js';
import {
  credentialStatus,
  isCredential,
  loginCredential,
  logoutCredential,
} from './auth-credentials.js';

/** The OAuth state of `name`, or a clear error when it does not use OAuth. */
export function oauthServer(session: CliSession, name: string): ServerAuth {
  const settings = session.registry.settings(name);
  const auth = session.tokens.forServer(name, settings);
  if (!auth) {
    throw new McpAgentError(
      'USAGE',
      settings.transport === 'stdio'
        ? `Server "${name}" is a stdio server; it takes its credentials from env, not from OAuth.`
        : `Server "${name}" does not use OAuth (set mcp.servers.${name}.auth.oauth.enabled: true).`,
    );
  }
  return auth;
}

function loggedIn(out: Output, server: string, record: TokenRecord): number {
  const status = describeExpiry(record.expiresAt, Date.now());
  out.resultJson({
    server,
    issuer: record.issuer,
    scopes: record.scopes,
    expires_at: record.expiresAt !== undefined ? new Date(record.expiresAt).toISOString() : null,
    refresh_token: record.refreshToken !== undefined,
  });
  out.result(
    `Logged in to "${server}" at ${record.issuer}${record.scopes.length > 0 ? ` with ${record.scopes.join(' ')}` : ''}; the token ${status}${record.refreshToken ? ', and a refresh token is held' : ''}.`,
  );
  return 0;
}

function warnMemoryStore(session: CliSession, out: Output, what: string): void {
  if (session.loaded.settings.oauth.token_store.backend === 'memory') {
    out.warn(
      `oauth.token_store.backend is "memory": ${what} ends with this command. Use "file" or "redis" to keep it.`,
    );
  }
}

/**
 * `auth login SERVER`: run the login now and keep the token. With `--no-wait`, print the
 * authorization URL and return at once; `auth complete` finishes the login later.
 */
export function authLogin(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  server: string,
  flags: CliConsentOptions & { noWait?: boolean },
): Promise<number> {
  return withSession(
    io,
    options,
    out,
    async (session) => {
      if (isCredential(session.loaded.settings, server)) {
        return loginCredential(session, out, server, io.cwd);
      }
      const auth = oauthServer(session, server);
      warnMemoryStore(session, out, flags.noWait ? 'the pending login' : 'the token');
      try {
        return loggedIn(out, server, await auth.authorize(flags.device ? { device: true } : {}));
      } catch (error) {
        if (!flags.noWait || !(error instanceof AuthorizationRequiredError)) throw error;
        out.resultJson(handOverJson(error));
        out.result(handOverText(error));
        return 0;
      }
    },
    flags.noWait ? { ...flags, interactive: false, handOver: true } : flags,
  );
}

/** `auth complete ADDRESS`: finish a login handed over by `auth login --no-wait` (or a tool call). */
export function authComplete(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  address: string,
): Promise<number> {
  return withSession(
    io,
    options,
    out,
    async (session) => {
      const { url } = parseCallback(address);
      const flow = await session.store.flows.peek(url.searchParams.get('state') ?? '');
      if (!flow) {
        throw new McpAgentError(
          'OAUTH_CALLBACK',
          'This login is unknown, expired or already completed (or was started with another token store); start it again with `mcp-agent auth login SERVER --no-wait`.',
        );
      }
      const record = await oauthServer(session, flow.server).completeAuthorization(url);
      return loggedIn(out, flow.server, record);
    },
    { interactive: false },
  );
}

/** `auth status [SERVER]`: what is stored per server, never a value. No network. */
export function authStatus(
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
      const credential = server !== undefined && isCredential(session.loaded.settings, server);
      const names = credential
        ? []
        : server !== undefined
          ? [server]
          : session.registry.names().filter((name) => usesOAuth(session.registry.settings(name)));
      if (server !== undefined && !credential) oauthServer(session, server);
      const credentialRows =
        server === undefined || credential ? await credentialStatus(session, io.cwd, server) : [];
      const rows: TokenStatus[] = [];
      const clients = new Map<string, ClientStatus[]>();
      for (const name of names) {
        const auth = session.tokens.forServer(name, session.registry.settings(name));
        if (auth) rows.push(...(await auth.status()));
        if (auth) clients.set(name, await auth.clients());
      }
      const unreadable = (await session.store.unreadable()).filter(
        (entry) => entry.identity === APP_IDENTITY && names.includes(entry.server),
      );
      const now = Date.now();
      out.resultJson({
        backend: session.loaded.settings.oauth.token_store.backend,
        credentials: credentialRows.map(({ line: _line, ...row }) => row),
        servers: names.map((name) => ({
          server: name,
          clients: (clients.get(name) ?? []).map(clientJson),
          unreadable: unreadable.filter((entry) => entry.server === name).map((e) => e.reason),
          tokens: rows
            .filter((row) => row.server === name)
            .map((row) => ({
              identity: row.identity,
              issuer: row.issuer,
              resource: row.resource,
              scopes: row.scopes,
              expires_at:
                row.expiresAt !== undefined ? new Date(row.expiresAt).toISOString() : null,
              obtained_at: new Date(row.obtainedAt).toISOString(),
              refresh_token: row.hasRefreshToken,
              grant: row.grant,
              expired: row.expired,
              last_event: row.lastEvent
                ? {
                    type: row.lastEvent.type,
                    at: new Date(row.lastEvent.at).toISOString(),
                    ...(row.lastEvent.message !== undefined
                      ? { message: row.lastEvent.message }
                      : {}),
                    ...(row.lastEvent.retryAt !== undefined
                      ? { retry_at: new Date(row.lastEvent.retryAt).toISOString() }
                      : {}),
                  }
                : null,
            })),
        })),
      });
      for (const row of credentialRows) out.result(row.line);
      if (names.length === 0) {
        if (credentialRows.length === 0) {
          out.note(
            'No server uses OAuth (auth.oauth.enabled: true), and no credential is configured.',
          );
        }
        return 0;
      }
      for (const name of names) {
        const mine = rows.filter((row) => row.server === name);
        if (mine.length === 0) {
          out.result(`${name}: not logged in (mcp-agent auth login ${name})`);
        }
        for (const row of mine) {
          out.result(
            `${name}: logged in at ${row.issuer} (${GRANT_TEXT[row.grant]}); scopes: ${row.scopes.join(' ') || '(none)'}; token ${describeExpiry(row.expiresAt, now)}; refresh token: ${row.hasRefreshToken ? 'yes' : 'no'}${row.expired ? ' — log in again' : ''}`,
          );
          if (row.lastEvent)
            out.result(`  background refresh: ${describeEvent(row.lastEvent, now)}`);
        }
        for (const client of clients.get(name) ?? []) {
          out.result(`  client: ${describeClient(client, name, now)}`);
        }
        for (const entry of unreadable.filter((each) => each.server === name)) {
          out.result(
            `${name}: a stored token cannot be read: ${UNREADABLE_TEXT[entry.reason]}; log in again to replace it.`,
          );
        }
      }
      return 0;
    },
    { interactive: false },
  );
}

/** `auth logout SERVER | --all`: revoke where possible, then forget. */
export function authLogout(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  server: string | undefined,
  all: boolean,
): Promise<number> {
  return withSession(
    io,
    options,
    out,
    async (session) => {
      if (!all && server !== undefined && isCredential(session.loaded.settings, server)) {
        return logoutCredential(session, out, server, io.cwd);
      }
      const names = all
        ? session.registry.names().filter((name) => usesOAuth(session.registry.settings(name)))
        : [server ?? ''];
      const results = [];
      let failed = false;
      for (const name of names) {
        const result = await oauthServer(session, name).logout();
        results.push({ server: name, ...result });
        const registrations =
          result.registrations > 0
            ? `the dynamic client registration${result.registrations === 1 ? '' : 's'} it used`
            : undefined;
        if (result.forgotten === 0) {
          out.result(
            `${name}: no stored token${registrations ? `; forgot ${registrations}` : ''}.`,
          );
        } else {
          out.result(
            `${name}: forgot ${result.forgotten} token record${result.forgotten === 1 ? '' : 's'}${registrations ? ` and ${registrations}` : ''}${result.revoked > 0 ? `, revoked ${result.revoked} token${result.revoked === 1 ? '' : 's'} at the authorization server` : ''}.`,
          );
        }
        for (const problem of result.problems) {
          failed = true;
          out.warn(`${name}: ${problem}`);
        }
      }
      out.resultJson({ servers: results });
      return failed ? 1 : 0;
    },
    { interactive: false },
  );
}

/** Why a stored token cannot be read, for people. */
const UNREADABLE_TEXT: Readonly<Record<UnreadableReason, string>> = {
  'other-key':
    'it is encrypted with another oauth.token_store.encryption_key (set the one it was written with to use it)',
  'no-key': 'it is encrypted, and oauth.token_store.encryption_key is not set',
  'not-encrypted':
    'it was written unencrypted, before oauth.token_store.encryption_key was set, and encrypted stores read only encrypted records',
  'not-a-record': 'it is not a token record this version can read',
};

/** How the agent's own token of a server was obtained, for people. */
const GRANT_TEXT: Readonly<Record<TokenGrant, string>> = {
  authorization_code: "the agent's token, from a person's sign-in",
  device_code: "the agent's token, from a person's sign-in with a device code",
  client_credentials: "the agent's service account",
  token_exchange: 'exchanged for a caller',
  configured: 'a token from the configuration',
};

/** How a client was obtained, as `auth status --json` names it. */
const OBTAINED = {
  configured: 'pre-registered',
  'metadata-document': 'cimd',
  dynamic: 'dcr',
} as const;

function clientJson(client: ClientStatus) {
  return {
    client_id: client.clientId,
    obtained: OBTAINED[client.source],
    issuer: client.issuer ?? null,
    redirect_uri: client.redirectUri ?? null,
    since: client.since !== undefined ? new Date(client.since).toISOString() : null,
  };
}

/** One line for the client a server uses (never its secret). */
export function describeClient(client: ClientStatus, server: string, now: number): string {
  const at = client.issuer ? ` at ${client.issuer}` : '';
  const when = client.since !== undefined ? `, ${ago(client.since, now)}` : '';
  const redirect =
    client.redirectUri !== undefined && /^https?:/.test(client.redirectUri)
      ? ` for ${client.redirectUri}`
      : client.redirectUri !== undefined
        ? ' for the device grant'
        : '';
  switch (client.source) {
    case 'configured':
      return `${client.clientId} (pre-registered: mcp.servers.${server}.auth.oauth.client_id${client.issuer ? `, used with ${client.issuer}` : ''})`;
    case 'metadata-document':
      return `${client.clientId} (client ID metadata document${at}, first used${when.slice(1)}${redirect})`;
    case 'dynamic':
      return `${client.clientId} (registered dynamically${at}${when}${redirect})`;
  }
}

/** One line for the last background-refresh event. */
export function describeEvent(event: GrantEvent, now: number): string {
  const when = ago(event.at, now);
  switch (event.type) {
    case 'refreshed':
      return `refreshed ${when}`;
    case 'failed':
      return `failed ${when} (${event.message ?? 'unknown error'})${event.retryAt !== undefined && event.retryAt > now ? `; next attempt in ${span((event.retryAt - now) / 1000)}` : ''}`;
    case 'needs-login':
      return `stopped ${when}: ${event.message ?? 'a new login is needed'}`;
  }
}

function span(seconds: number): string {
  const abs = Math.abs(Math.round(seconds));
  if (abs < 120) return `${abs} s`;
  if (abs < 7200) return `${Math.round(abs / 60)} min`;
  if (abs < 172_800) return `${Math.round(abs / 3600)} h`;
  return `${Math.round(abs / 86_400)} days`;
}

function ago(at: number, now: number): string {
  // Another host's clock may be ahead of ours: never "… ago" for a time to come.
  return at > now ? 'just now' : `${span((now - at) / 1000)} ago`;
}

/** "expires in 59 min", "expired 3 min ago", "has no expiry". */
export function describeExpiry(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return 'has no expiry';
  const seconds = Math.round((expiresAt - now) / 1000);
  return seconds >= 0 ? `expires in ${span(seconds)}` : `expired ${span(seconds)} ago`;
}
