/**
 * Which client to use with an authorization server, in the order of the MCP authorization spec
 * (2025-11-25, "Client Registration Approaches"): the configured `client_id` (pre-registered,
 * bound to the first issuer it is used with) › a Client ID Metadata Document (when the AS
 * advertises `client_id_metadata_document_supported`) › Dynamic Client Registration, kept in the
 * token store per issuer and redirect URI. When none applies, one sentence says what to register
 * where.
 *
 * One registration per (issuer, redirect URI) at a time: concurrent logins in this process share
 * one request (single flight), and processes sharing the store take turns through a lease, each
 * reading the store again once it holds it. A registration the authorization server refuses
 * (`invalid_client`, `unauthorized_client`: it restarted, or expired it) is forgotten, so the next
 * login registers again; a configured client is never forgotten, the error says what to fix.
 *
 * @module
 */
import type { AuthorizationServer } from 'oauth4webapi';
import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import {
  type ClientRegistration,
  type RegistrationStore,
  registrationKey,
} from '../stores/registrations.js';
import { probeAuthorization } from './protocol/authorization-probe.js';
import { OAuthServerError } from './protocol/failures.js';
import {
  chooseAuthMethod,
  DEVICE_REDIRECT,
  type OAuthFetch,
  registerClient,
} from './protocol/registration.js';
import { pause } from './refresh.js';

/** How long one process may hold the lease of a registration (two 15 s attempts and some). */
export const REGISTRATION_LEASE_MS = 35_000;

/** How long one registration request may take, unless the caller says otherwise. */
const REGISTRATION_TIMEOUT_MS = 15_000;

/** The OAuth errors by which an authorization server refuses the client itself (RFC 6749 §5.2). */
const CLIENT_REFUSALS: ReadonlySet<string> = new Set(['invalid_client', 'unauthorized_client']);

/** Registrations in flight in this process, per store and (issuer, redirect URI). */
const inFlight = new WeakMap<RegistrationStore, Map<string, Promise<ClientRegistration>>>();

/** Registrations this process obtained itself (not read back from the store). */
const registeredHere = new WeakSet<ClientRegistration>();

/** What {@link resolveClient} needs. */
export interface ResolveClientOptions {
  readonly as: AuthorizationServer;
  /** The redirect URI of this flow, or {@link DEVICE_REDIRECT}. */
  readonly redirectUri: string;
  /** The server's `auth.oauth` keys that matter here. */
  readonly clientId?: string | undefined;
  readonly clientSecret?: Secret | undefined;
  readonly clientMetadataUrl?: string | undefined;
  /** Where dynamic registrations are kept. */
  readonly registrations: RegistrationStore;
  readonly fetch: OAuthFetch;
  /** `client_name` sent with a dynamic registration. */
  readonly clientName: string;
  /** For the "what to set" sentence: `mcp.servers.<name>.auth.oauth`. */
  readonly configPath: string;
  /** The `mcp.servers` name, which a configured client is bound under. */
  readonly server: string;
  /** Whether `authorization_server` is configured (then it, not a first use, binds the client). */
  readonly issuerConfigured?: boolean;
  readonly now?: () => number;
  readonly timeoutMs?: number;
}

/** The client to use with `as`, registering one dynamically when needed. */
export async function resolveClient(options: ResolveClientOptions): Promise<ClientRegistration> {
  const { as } = options;
  if (options.clientId) {
    await checkBinding(options);
    return {
      clientId: options.clientId,
      ...(options.clientSecret && !options.clientSecret.isEmpty
        ? { clientSecret: options.clientSecret }
        : {}),
      tokenEndpointAuthMethod: chooseAuthMethod(
        as,
        options.clientSecret !== undefined && !options.clientSecret.isEmpty,
      ),
      issuer: as.issuer,
      redirectUri: options.redirectUri,
      source: 'configured',
    };
  }
  if (
    options.clientMetadataUrl &&
    as.client_id_metadata_document_supported === true &&
    options.redirectUri !== DEVICE_REDIRECT
  ) {
    return noteUse(options, {
      clientId: options.clientMetadataUrl,
      tokenEndpointAuthMethod: 'none',
      issuer: as.issuer,
      redirectUri: options.redirectUri,
      source: 'metadata-document',
    });
  }
  if (as.registration_endpoint) {
    const kept = await options.registrations.get(as.issuer, options.redirectUri);
    if (usable(kept, options)) return noteUse(options, kept);
    return noteUse(options, await registerOnce(options));
  }
  const device = options.redirectUri === DEVICE_REDIRECT;
  throw new McpAgentError(
    'OAUTH_REGISTRATION',
    `The authorization server ${as.issuer} offers no dynamic client registration${options.clientMetadataUrl ? ' nor client ID metadata documents' : ''}: register a client there${device ? ' for the device authorization grant' : ` with the redirect URI ${options.redirectUri}`}, then set ${options.configPath}.client_id (and client_secret in mcp_agent.secrets.yaml if it has one).`,
  );
}

/**
 * A configured client is bound to the first authorization server it is used with: if the server
 * later names another one (its metadata changed, or was tampered with), the credentials are not
 * sent there (MCP 2026-07-28, "Authorization Server Binding"), unless the config names it.
 */
async function checkBinding(options: ResolveClientOptions): Promise<void> {
  const clientId = options.clientId ?? '';
  const issuer = options.as.issuer;
  const bound = await options.registrations.boundIssuer(options.server, clientId);
  if (bound === issuer) return;
  if (bound !== undefined && !options.issuerConfigured) {
    throw new McpAgentError(
      'OAUTH_REGISTRATION',
      `Server "${options.server}" now names the authorization server ${issuer}, but its configured client_id was used with ${bound}; the client's credentials are not sent to another authorization server. If ${issuer} is right, set ${options.configPath}.authorization_server to it (or run \`mcp-agent auth logout ${options.server}\`).`,
    );
  }
  await options.registrations.bind(options.server, clientId, issuer);
}

/** Whether a kept registration may be used: its secret, if it expires, not within a minute of it. */
function usable(
  kept: ClientRegistration | undefined,
  options: ResolveClientOptions,
): kept is ClientRegistration {
  const now = options.now ?? Date.now;
  return (
    kept !== undefined &&
    (kept.clientSecretExpiresAt === undefined || kept.clientSecretExpiresAt > now() + 60_000)
  );
}

/** Remember that the server uses `client` (for `auth status` and `auth logout`). */
async function noteUse(
  options: ResolveClientOptions,
  client: ClientRegistration,
): Promise<ClientRegistration> {
  if (client.source !== 'configured') {
    await options.registrations.noteUse({
      server: options.server,
      source: client.source,
      clientId: client.clientId,
      issuer: client.issuer,
      redirectUri: client.redirectUri,
      since: client.registeredAt ?? (options.now ?? Date.now)(),
    });
  }
  return client;
}

/** One registration for (issuer, redirect URI) in this process at a time; the others share it. */
function registerOnce(options: ResolveClientOptions): Promise<ClientRegistration> {
  const store = options.registrations;
  let running = inFlight.get(store);
  if (!running) {
    running = new Map();
    inFlight.set(store, running);
  }
  const key = registrationKey(options.as.issuer, options.redirectUri);
  const current = running.get(key);
  if (current) return current;
  const map = running;
  const run = registerUnderLease(options).finally(() => map.delete(key));
  map.set(key, run);
  return run;
}

/**
 * Register under the store's lease of (issuer, redirect URI): whoever holds it reads the store
 * again first (another process may have just registered), the others wait for its registration.
 */
async function registerUnderLease(options: ResolveClientOptions): Promise<ClientRegistration> {
  const { as, registrations, redirectUri } = options;
  const giveUp = Date.now() + REGISTRATION_LEASE_MS + 5_000;
  for (;;) {
    const lease = await registrations.acquireLease(as.issuer, redirectUri, REGISTRATION_LEASE_MS);
    if (lease) {
      try {
        const kept = await registrations.get(as.issuer, redirectUri);
        if (usable(kept, options)) return kept;
        const registration: ClientRegistration = {
          ...(await registerClient({
            ...options,
            timeoutMs: options.timeoutMs ?? REGISTRATION_TIMEOUT_MS,
          })),
          registeredAt: (options.now ?? Date.now)(),
        };
        await registrations.put(registration);
        registeredHere.add(registration);
        return registration;
      } finally {
        await lease.release().catch(() => {});
      }
    }
    await pause(25 + Math.random() * 50);
    const kept = await registrations.get(as.issuer, redirectUri);
    if (usable(kept, options)) return kept;
    if (Date.now() > giveUp) {
      throw new McpAgentError(
        'OAUTH_REGISTRATION',
        `Another process has been registering a client at ${as.issuer} for server "${options.server}" and does not finish; try again.`,
      );
    }
  }
}

/**
 * Before a person is sent to `as` with a registration kept from before: the refusal with which
 * the authorization server answers the authorization request `url` for `client` when it no longer
 * knows it (see {@link probeAuthorization}), else `undefined`. Asked only of the origin of the
 * registration endpoint (which discovery checked), and only for a kept dynamic registration.
 */
export async function keptClientRefusal(
  as: AuthorizationServer,
  client: ClientRegistration,
  url: URL,
  redirectUri: string,
  fetch: OAuthFetch,
): Promise<OAuthServerError | undefined> {
  if (!isKeptRegistration(client)) return undefined;
  const endpoint = as.registration_endpoint;
  if (!endpoint || !URL.canParse(endpoint) || new URL(endpoint).origin !== url.origin) {
    return undefined;
  }
  return probeAuthorization(url, redirectUri, fetch);
}

/**
 * Whether `client` was read back from the store (registered earlier, by this process or another)
 * rather than just registered here: only such a registration may have been forgotten by the
 * authorization server since.
 */
export function isKeptRegistration(client: ClientRegistration): boolean {
  return client.source === 'dynamic' && !registeredHere.has(client);
}

/**
 * Whether `error` is an authorization server refusing the client itself (RFC 6749 §5.2), in an
 * answer to a request of ours (it has an HTTP status: the token or device endpoint, the probe of
 * the authorization endpoint). An error that arrived at the redirect URI is not: anyone holding a
 * pending flow's `state` can send one, and an authorization server does not redirect for a client
 * it does not know (RFC 6749 §4.1.2.1), so it never makes a shared registration forgotten.
 */
export function refusesClient(error: unknown): error is OAuthServerError {
  return (
    error instanceof OAuthServerError &&
    error.status !== undefined &&
    CLIENT_REFUSALS.has(error.error)
  );
}

/**
 * The authorization server refused `client` with `error` (see {@link refusesClient}): a dynamic
 * registration is forgotten (unless replaced meanwhile), so the next login registers again; a
 * configured client is kept. Returns the error to report, which says what to do.
 */
export async function clientRefused(
  client: ClientRegistration,
  error: OAuthServerError,
  where: { server: string; configPath: string; registrations: RegistrationStore },
): Promise<McpAgentError> {
  const code = error.error;
  const server = where.server;
  switch (client.source) {
    case 'dynamic':
      await where.registrations.forget(client.issuer, client.redirectUri, client.clientId);
      return new McpAgentError(
        'OAUTH_REGISTRATION',
        `The authorization server ${client.issuer} no longer accepts the client registered for server "${server}" (${code}); that registration was forgotten: log in again (\`mcp-agent auth login ${server}\`) to register a new one.`,
        { cause: error },
      );
    case 'configured':
      return new McpAgentError(
        'OAUTH_REGISTRATION',
        `The authorization server ${client.issuer} refused the configured client of server "${server}" (${code}): check ${where.configPath}.client_id and its client_secret (in mcp_agent.secrets.yaml) against the client registered there.`,
        { cause: error },
      );
    case 'metadata-document':
      return new McpAgentError(
        'OAUTH_REGISTRATION',
        `The authorization server ${client.issuer} refused the client ID metadata document ${client.clientId} of server "${server}" (${code}): check that it can fetch it and that it lists the redirect URI ${client.redirectUri}.`,
        { cause: error },
      );
  }
}
