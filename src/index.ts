/**
 * mcp-agent-ts: authentication for MCP agents.
 *
 * Every public export is listed here by name; nothing else is public API.
 *
 * @module
 */

// The agent as an MCP server (inbound).
export type { App, CreateAppOptions, ListenOptions, RunningApp } from './app/create-app.js';
export { createApp } from './app/create-app.js';
export type {
  AppBuilder,
  AppSetup,
  ToolHandler,
  ToolOptions,
  ToolReturn,
  WorkflowContext,
  WorkflowRun,
} from './app/define.js';
export { AppDefinition, defineApp } from './app/define.js';
export { guardedHttpStack } from './app/guarded-http.js';
export { loadAppModule } from './app/module.js';
export type { RunState, RunStatus } from './app/workflows.js';
// The client side in one call: createAgentAuth and the ready-made consents.
export type {
  AgentAuth,
  AgentAuthScope,
  CreateAgentAuthOptions,
} from './client/agent-auth.js';
export { createAgentAuth, MAX_IDENTITY_LENGTH } from './client/agent-auth.js';
export type { McpAuthProvider } from './client/auth-provider.js';
export type {
  ConsentOutput,
  HandOverConsent,
  HandOverOptions,
  InteractiveConsentOptions,
  LoginConsent,
} from './client/consent.js';
export {
  authorizationRequiredIn,
  handOverConsent,
  interactiveConsent,
} from './client/consent.js';
export type {
  AgentFetch,
  AgentServer,
  LoginOptions,
  LoginResult,
} from './client/server-handle.js';
export type { SettingsSource } from './client/settings.js';
export { CONFIG_FILE_NAMES, candidatePaths, SECRETS_FILE_NAMES } from './config/discovery.js';
export type { Environment } from './config/environment.js';
export type { ConfigIssue } from './config/issues.js';
export { ConfigError, formatIssue } from './config/issues.js';
export type { LoadedSettings, LoadSettingsOptions } from './config/load.js';
export { loadSettings } from './config/load.js';
export { deepMerge } from './config/merge.js';
export type {
  ConfigPath,
  SourcePosition,
  ValueOrigin,
} from './config/paths.js';
export { formatOrigin, formatPath, OriginMap } from './config/paths.js';
export type { AwsCredentials, ProviderProblem } from './config/providers.js';
export {
  bedrockCredentials,
  PROVIDER_BASE_URLS,
  providerProblems,
  providerProfiles,
} from './config/providers.js';
export type { RedactedValue } from './config/redact.js';
export { redactSettings } from './config/redact.js';
export type { AuthorizationSettings } from './config/schema/authorization.js';
export type { CredentialProfile } from './config/schema/credentials.js';
export type { OAuthSettings } from './config/schema/oauth.js';
export { DEFAULT_LOOPBACK_PORTS, DEFAULT_TOKEN_FILE } from './config/schema/oauth.js';
export type { ServerOAuthSettings, ServerSettings, Transport } from './config/schema/servers.js';
export type { Settings, SettingsInput } from './config/schema/settings.js';
export { SECTIONS_NOT_USED, settingsSchema } from './config/schema/settings.js';
export { REDACTED, revealSecret, Secret, toSecret } from './config/secret.js';
export type { InitResult } from './config/starter.js';
export { initProject, STARTER_CONFIG, STARTER_SECRETS } from './config/starter.js';
export type {
  SubstitutionProblem,
  SubstitutionResult,
  VariableLookup,
} from './config/substitute.js';
export { substitute } from './config/substitute.js';
export type { ToolIdentity } from './config/tool-names.js';
export {
  isHashedToolName,
  MAX_TOOL_NAME_LENGTH,
  TOOL_NAME_PATTERN,
  ToolNames,
} from './config/tool-names.js';
export type { CredentialProfilesOptions } from './credentials/profiles.js';
export { CredentialProfiles } from './credentials/profiles.js';
export type { McpAgentErrorCode, McpAgentErrorOptions } from './errors.js';
export { AuthorizationRequiredError, isMcpAgentError, McpAgentError } from './errors.js';
export type { ResponseLimits } from './fetch.js';
export { boundedFetch, ResponseLimitError, readBounded } from './fetch.js';
export type { RequestTimeouts } from './http-server.js';
export { createHttpServer, DEFAULT_REQUEST_TIMEOUTS } from './http-server.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { AuthFetch, TokenSource } from './oauth/auth-fetch.js';
export { MAX_STEP_UPS, withOAuth } from './oauth/auth-fetch.js';
export type { ResolveClientOptions } from './oauth/clients.js';
export { resolveClient } from './oauth/clients.js';
export type { Consent, DeviceCodePrompt, LoginScopes, ReceiverRequest } from './oauth/consent.js';
export type { OpenBrowserOptions } from './oauth/flows/browser.js';
export { assertOpenableUrl, browserAvailability, openBrowser } from './oauth/flows/browser.js';
export type { LoopbackReceiverOptions } from './oauth/flows/loopback.js';
export { startLoopbackReceiver } from './oauth/flows/loopback.js';
export type { PasteReceiverOptions } from './oauth/flows/paste.js';
export { createPasteReceiver } from './oauth/flows/paste.js';
export type { Progress, ProgressOptions } from './oauth/flows/progress.js';
export { startProgress } from './oauth/flows/progress.js';
export type { CallbackReceiver } from './oauth/flows/receiver.js';
export type { LogoutResult, TokenStatus } from './oauth/grants.js';
export type { AuthorizeReason } from './oauth/login.js';
export type { AuthorizationRequest } from './oauth/protocol/authorization.js';
export {
  checkPkceSupport,
  chooseScopes,
  prepareAuthorization,
  validateCallback,
} from './oauth/protocol/authorization.js';
export type {
  DiscoveryFetch,
  DiscoveryOptions,
  DiscoveryResult,
} from './oauth/protocol/discovery.js';
export {
  authorizationServerMetadataUrls,
  canonicalResource,
  DiscoveryCache,
  discover,
  resourceMetadataUrls,
} from './oauth/protocol/discovery.js';
export { OAuthServerError } from './oauth/protocol/failures.js';
export type { ConnectLookup, Lookup, NetworkPolicy } from './oauth/protocol/network.js';
export {
  isLoopbackHost,
  isNonPublicAddress,
  METADATA_LIMITS,
  policyFor,
  publicOnlyLookup,
  TOKEN_RESPONSE_MAX_BYTES,
} from './oauth/protocol/network.js';
export type { OAuthFetch, RegisterClientOptions } from './oauth/protocol/registration.js';
export { DEVICE_REDIRECT, registerClient } from './oauth/protocol/registration.js';
export type { BearerChallenge, Challenge } from './oauth/protocol/www-authenticate.js';
export { bearerChallenge, parseChallenges } from './oauth/protocol/www-authenticate.js';
export type {
  RefreshEvent,
  RefreshSchedulerOptions,
  RefreshTarget,
  SchedulerTimers,
} from './oauth/scheduler.js';
export { RefreshScheduler } from './oauth/scheduler.js';
export { APP_IDENTITY, ServerAuth } from './oauth/server-auth.js';
export type { TokenManagerOptions } from './oauth/token-manager.js';
export { TokenManager, usesOAuth } from './oauth/token-manager.js';
export { readCredentials } from './server/bearer.js';
export type { ChallengeContext, Rejection, RejectionResponse } from './server/challenge.js';
export { challengeFor, rejectionResponse } from './server/challenge.js';
export type { BearerGuardOptions, GuardRequest, GuardResult } from './server/guard.js';
export { BearerGuard } from './server/guard.js';
export type { HostCheck } from './server/host-check.js';
export { loopbackHostCheck } from './server/host-check.js';
export type { McpHttpHandler, McpHttpHandlerOptions } from './server/http.js';
export { createMcpHttpHandler } from './server/http.js';
export type { CallerIdentity } from './server/identity.js';
export { currentCaller, enableCallerContext, principalOf } from './server/identity.js';
export type { ServedTool, ServerInfo, ToolCallContext, ToolCatalog } from './server/mcp-server.js';
export type { ProtectedResourceMetadata } from './server/metadata.js';
export {
  metadataPaths,
  protectedResourceMetadata,
  resourceMetadataUrl,
  sseResourceOf,
} from './server/metadata.js';
export type { VerificationCacheOptions } from './server/verification-cache.js';
export { VerificationCache } from './server/verification-cache.js';
export { ConfiguredVerifier } from './server/verifiers/configured.js';
export type { IntrospectionVerifierOptions } from './server/verifiers/introspection.js';
export { IntrospectionVerifier } from './server/verifiers/introspection.js';
export type { JwksCacheOptions } from './server/verifiers/jwks.js';
export { JwksCache } from './server/verifiers/jwks.js';
export type { JwtVerifierOptions } from './server/verifiers/jwt.js';
export { JwtVerifier } from './server/verifiers/jwt.js';
export type { TokenVerifier, Verification } from './server/verifiers/verifier.js';
export type { AggregatedTool, ToolAggregatorOptions } from './servers/aggregator.js';
export { ToolAggregator } from './servers/aggregator.js';
export type { AuthMode } from './servers/credentials.js';
export { authMode } from './servers/credentials.js';
export type {
  FetchLike,
  HttpStack,
  HttpStackOptions,
  ProxySettings,
  ServerResponseLimits,
} from './servers/http.js';
export {
  createHttpStack,
  DEFAULT_MAX_RESPONSE_BYTES,
  hasProxy,
  proxySettingsFrom,
  withResponseLimits,
} from './servers/http.js';
export type { ServerRegistryOptions } from './servers/registry.js';
export { ServerConnection, ServerRegistry } from './servers/registry.js';
export type { FetchWrapper } from './servers/transports.js';
export type { GrantEvent } from './stores/events.js';
export { GrantEventStore } from './stores/events.js';
export { FileKeyValueStore } from './stores/file.js';
export type { PendingFlow } from './stores/flows.js';
export { PendingFlowStore } from './stores/flows.js';
export type { KeyValueStore, SetOptions, VersionedValue } from './stores/kv.js';
export { MemoryKeyValueStore } from './stores/memory.js';
export type { TokenKey, TokenRecord } from './stores/record.js';
export { parseRecord, scopeFingerprint, serializeRecord, storageKey } from './stores/record.js';
export { RedisKeyValueStore } from './stores/redis.js';
export type {
  ClientRegistration,
  RegistrationSource,
  TokenEndpointAuthMethod,
} from './stores/registrations.js';
export { RegistrationStore } from './stores/registrations.js';
export { Sealer } from './stores/seal.js';
export type {
  StoredToken,
  TokenStoreOptions,
  UnreadableReason,
  UnreadableRecord,
} from './stores/token-store.js';
export { createTokenStore, TokenStore } from './stores/token-store.js';
