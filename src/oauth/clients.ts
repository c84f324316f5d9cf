/**
 * Which client to use with an authorization server, in the order of the MCP authorization spec
 * (2025-11-25, "Client Registration Approaches"): the configured `client_id` (pre-registered,
 * bound to the first issuer it is used with) › a Client ID Metadata Document (when the AS
 * advertises `client_id_metadata_document_supported`) › Dynamic Client Registration, kept in the
 * token store per issuer and redirect URI. When none applies, one sentence says what to register
 * where.
 *
 * @module
 */
import type { AuthorizationServer } from 'oauth4webapi';
import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import type { ClientRegistration, RegistrationStore } from '../stores/registrations.js';
import {
  chooseAuthMethod,
  DEVICE_REDIRECT,
  type OAuthFetch,
  registerClient,
} from './protocol/registration.js';

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
    return {
      clientId: options.clientMetadataUrl,
      tokenEndpointAuthMethod: 'none',
      issuer: as.issuer,
      redirectUri: options.redirectUri,
      source: 'metadata-document',
    };
  }
  if (as.registration_endpoint) {
    const now = options.now ?? Date.now;
    const kept = await options.registrations.get(as.issuer, options.redirectUri);
    if (
      kept &&
      (kept.clientSecretExpiresAt === undefined || kept.clientSecretExpiresAt > now() + 60_000)
    ) {
      return kept;
    }
    const registration = await registerClient(options);
    await options.registrations.put(registration);
    return registration;
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
