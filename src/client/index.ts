/**
 * `mcp-agent-ts/client`: the outbound layer, for an agent that calls MCP servers protected by
 * OAuth 2.1. The {@link TokenManager} and its per-server {@link ServerAuth} (discovery by RFC 9728
 * and RFC 8414, registration by RFC 7591 or a client ID metadata document, authorization code +
 * PKCE per RFC 7636, the device grant per RFC 8628, refresh and revocation per RFC 7009, RFC 8707
 * resource indicators); {@link withOAuth}, the auth-aware `fetch` that steps up on
 * `insufficient_scope` (RFC 6750 §3.1); the {@link Consent} a login asks through and the flows
 * that serve it (browser + loopback receiver, pasted redirect, progress); the
 * {@link ServerRegistry} that connects to the configured servers with the MCP SDK client.
 *
 * It loads undici, oauth4webapi, jose and the MCP SDK's client; not its server, not the Redis
 * client (until a Redis store is used), not oidc-provider.
 *
 * @module
 */

export type { CredentialProfilesOptions } from '../credentials/profiles.js';
export { CredentialProfiles } from '../credentials/profiles.js';
export type { McpAgentErrorCode } from '../errors.js';
export { AuthorizationRequiredError, isMcpAgentError, McpAgentError } from '../errors.js';
export type { FetchLike, ResponseLimits } from '../fetch.js';
export { boundedFetch, ResponseLimitError, readBounded } from '../fetch.js';
export type { Logger } from '../logger.js';
export { silentLogger } from '../logger.js';
export type { AuthFetch, TokenSource } from '../oauth/auth-fetch.js';
export { MAX_STEP_UPS, withOAuth } from '../oauth/auth-fetch.js';
export type { ResolveClientOptions } from '../oauth/clients.js';
export { resolveClient } from '../oauth/clients.js';
export type { Consent, DeviceCodePrompt, LoginScopes, ReceiverRequest } from '../oauth/consent.js';
export type { OpenBrowserOptions } from '../oauth/flows/browser.js';
export { assertOpenableUrl, browserAvailability, openBrowser } from '../oauth/flows/browser.js';
export type { LoopbackReceiverOptions } from '../oauth/flows/loopback.js';
export { startLoopbackReceiver } from '../oauth/flows/loopback.js';
export type { PasteReceiverOptions } from '../oauth/flows/paste.js';
export { createPasteReceiver } from '../oauth/flows/paste.js';
export type { Progress, ProgressOptions } from '../oauth/flows/progress.js';
export { startProgress } from '../oauth/flows/progress.js';
export type { CallbackReceiver } from '../oauth/flows/receiver.js';
export type { LogoutResult, TokenStatus } from '../oauth/grants.js';
export type { AuthorizeReason } from '../oauth/login.js';
export type { AuthorizationRequest } from '../oauth/protocol/authorization.js';
export {
  checkPkceSupport,
  chooseScopes,
  prepareAuthorization,
  validateCallback,
} from '../oauth/protocol/authorization.js';
export type {
  DiscoveryFetch,
  DiscoveryOptions,
  DiscoveryResult,
} from '../oauth/protocol/discovery.js';
export {
  authorizationServerMetadataUrls,
  canonicalResource,
  DiscoveryCache,
  discover,
  resourceMetadataUrls,
} from '../oauth/protocol/discovery.js';
export { OAuthServerError } from '../oauth/protocol/failures.js';
export type { ConnectLookup, Lookup, NetworkPolicy } from '../oauth/protocol/network.js';
export {
  isLoopbackHost,
  isNonPublicAddress,
  METADATA_LIMITS,
  policyFor,
  publicOnlyLookup,
  TOKEN_RESPONSE_MAX_BYTES,
} from '../oauth/protocol/network.js';
export type { OAuthFetch, RegisterClientOptions } from '../oauth/protocol/registration.js';
export { DEVICE_REDIRECT, registerClient } from '../oauth/protocol/registration.js';
export type { BearerChallenge, Challenge } from '../oauth/protocol/www-authenticate.js';
export { bearerChallenge, parseChallenges } from '../oauth/protocol/www-authenticate.js';
export type {
  RefreshEvent,
  RefreshSchedulerOptions,
  RefreshTarget,
  SchedulerTimers,
} from '../oauth/scheduler.js';
export { RefreshScheduler } from '../oauth/scheduler.js';
export { APP_IDENTITY, ServerAuth } from '../oauth/server-auth.js';
export type { TokenManagerOptions } from '../oauth/token-manager.js';
export { TokenManager, usesOAuth } from '../oauth/token-manager.js';
export type { AggregatedTool, ToolAggregatorOptions } from '../servers/aggregator.js';
export { ToolAggregator } from '../servers/aggregator.js';
export type { CallTimers } from '../servers/calls-in-flight.js';
export type { AuthMode } from '../servers/credentials.js';
export { authMode } from '../servers/credentials.js';
export type {
  HttpStack,
  HttpStackOptions,
  ProxySettings,
  ServerResponseLimits,
} from '../servers/http.js';
export {
  createHttpStack,
  DEFAULT_MAX_RESPONSE_BYTES,
  hasProxy,
  proxySettingsFrom,
  withResponseLimits,
} from '../servers/http.js';
export type {
  DownstreamPeer,
  PeerCapabilities,
  PeerRequestOptions,
} from '../servers/peer.js';
export type { PeerConnectionLimits } from '../servers/peer-connections.js';
export type { ServerRegistryOptions } from '../servers/registry.js';
export { ServerConnection, ServerRegistry } from '../servers/registry.js';
export type { FetchWrapper } from '../servers/transports.js';
// The client side in one call: createAgentAuth and the ready-made consents.
export type { AgentAuth, AgentAuthScope, CreateAgentAuthOptions } from './agent-auth.js';
export { createAgentAuth, MAX_IDENTITY_LENGTH } from './agent-auth.js';
export type { McpAuthProvider } from './auth-provider.js';
export type { ConsentOutput, InteractiveConsentOptions } from './consent-interactive.js';
export { interactiveConsent } from './consent-interactive.js';
export type { HandOverConsent, HandOverOptions, LoginConsent } from './hand-over.js';
export { authorizationRequiredIn, handOverConsent } from './hand-over.js';
export type { AgentFetch, AgentServer, LoginOptions, LoginResult } from './server-handle.js';
export type { SettingsSource } from './settings.js';
