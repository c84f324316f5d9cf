/**
 * `auth login/status/logout` for the named credentials of `credentials:` (and the model
 * providers'): an OAuth 2.0 profile's token is obtained, shown (expiry only) or forgotten; the
 * static kinds (api_key, bearer, basic) need no login and say where they are sent.
 *
 * @module
 */
import { providerProfiles } from '../../config/providers.js';
import type { Settings } from '../../config/schema/settings.js';
import { CredentialProfiles } from '../../credentials/profiles.js';
import type { Output } from '../io.js';
import type { CliSession } from '../session.js';
import { describeExpiry } from './auth.js';

/** The credential profiles of `settings` (providers', then `credentials:`, which wins). */
function profilesOf(settings: Settings) {
  return { ...providerProfiles(settings), ...settings.credentials };
}

/** Whether `name` is a credential profile and not a server. */
export function isCredential(settings: Settings, name: string): boolean {
  return !Object.hasOwn(settings.mcp.servers, name) && Object.hasOwn(profilesOf(settings), name);
}

function credentials(session: CliSession, cwd: string): CredentialProfiles {
  return new CredentialProfiles(profilesOf(session.loaded.settings), {
    fetch: session.http.fetch,
    store: session.store,
    tokens: session.tokens,
    cwd,
    maxTokenBytes: session.loaded.settings.oauth.max_token_bytes,
  });
}

/** `auth login PROFILE`. */
export async function loginCredential(
  session: CliSession,
  out: Output,
  name: string,
  cwd: string,
): Promise<number> {
  const profiles = credentials(session, cwd);
  const described = profiles.describe(name);
  if (described?.grant === 'token_exchange') {
    out.resultJson({ credential: name, type: 'oauth2', grant: 'token_exchange', login: false });
    out.result(
      `Credential "${name}" exchanges each caller's token in a served agent (token_exchange): there is nothing to log in here.`,
    );
    return 0;
  }
  if (described?.type !== 'oauth2') {
    out.resultJson({
      credential: name,
      type: described?.type,
      hosts: described?.hosts,
      login: false,
    });
    out.result(
      `Credential "${name}" is ${described?.type === 'api_key' ? 'an' : 'a'} ${described?.type} credential: it needs no login and is sent to ${described?.hosts.join(', ')} only.`,
    );
    return 0;
  }
  const person = profiles.authorization(name);
  if (person) {
    // A person logs in (browser, pasted address or device code), as for a server.
    const record = await person.authorize();
    out.resultJson({
      credential: name,
      type: 'oauth2',
      issuer: record.issuer,
      scopes: record.scopes,
      expires_at: record.expiresAt !== undefined ? new Date(record.expiresAt).toISOString() : null,
      refresh_token: record.refreshToken !== undefined,
    });
    out.result(
      `Credential "${name}": logged in at ${record.issuer}; the token ${describeExpiry(record.expiresAt, Date.now())}${record.refreshToken ? ', and a refresh token is held' : ''}.`,
    );
    return 0;
  }
  await profiles.token(name);
  const held = await profiles.held(name);
  out.resultJson({
    credential: name,
    type: 'oauth2',
    expires_at: held?.expiresAt !== undefined ? new Date(held.expiresAt).toISOString() : null,
  });
  out.result(
    `Credential "${name}": got a token (client credentials); it ${describeExpiry(held?.expiresAt, Date.now())}.`,
  );
  return 0;
}

/** The lines and data `auth status` adds for the credential profiles. */
export async function credentialStatus(session: CliSession, cwd: string, only?: string) {
  const profiles = credentials(session, cwd);
  const names = profiles.names().filter((name) => only === undefined || name === only);
  const now = Date.now();
  const rows = [];
  for (const name of names) {
    const described = profiles.describe(name);
    if (!described) continue;
    const person = described.grant === 'token_exchange' ? undefined : profiles.authorization(name);
    const personal = person ? (await person.status().catch(() => []))[0] : undefined;
    const held = person
      ? personal
        ? { expiresAt: personal.expiresAt, obtainedAt: personal.obtainedAt }
        : undefined
      : described.type === 'oauth2' && described.grant === 'client_credentials'
        ? await profiles.held(name).catch(() => undefined)
        : undefined;
    rows.push({
      name,
      type: described.type,
      hosts: described.hosts,
      token:
        described.grant === 'token_exchange'
          ? '; exchanged per caller (token_exchange)'
          : described.type === 'oauth2'
            ? held
              ? {
                  expires_at:
                    held.expiresAt !== undefined ? new Date(held.expiresAt).toISOString() : null,
                }
              : null
            : undefined,
      line: `${name}: ${described.type} credential for ${described.hosts.join(', ')}${
        described.grant === 'token_exchange'
          ? '; exchanged per caller (token_exchange)'
          : described.type === 'oauth2'
            ? held
              ? `; token ${describeExpiry(held.expiresAt, now)}`
              : `; no token yet (mcp-agent auth login ${name})`
            : ''
      }`,
    });
  }
  return rows;
}

/** `auth logout PROFILE`: forget an OAuth 2.0 profile's token. */
export async function logoutCredential(
  session: CliSession,
  out: Output,
  name: string,
  cwd: string,
): Promise<number> {
  const profiles = credentials(session, cwd);
  const exchanged = profiles.describe(name)?.grant === 'token_exchange';
  const person = exchanged ? undefined : profiles.authorization(name);
  const forgotten = exchanged
    ? false
    : person
      ? (await person.logout()).forgotten > 0
      : await profiles.forget(name);
  out.resultJson({ credential: name, forgotten: forgotten ? 1 : 0 });
  out.result(
    forgotten
      ? `Credential "${name}": forgot its token.`
      : `Credential "${name}": no stored token.`,
  );
  return 0;
}
