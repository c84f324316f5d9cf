/**
 * `mcp-agent-ts/config`: the configuration layer. Finds, reads and validates
 * `mcp_agent.config.yaml` and `mcp_agent.secrets.yaml` (YAML 1.2, `${VAR}` substitution, `.env`,
 * `MCP_APP_SETTINGS_PRELOAD`) into typed {@link Settings}, with every problem as a
 * {@link ConfigIssue} naming its key and file:line:column; {@link Secret} keeps credential values
 * out of logs; {@link ToolNames} gives tools the `SERVER_TOOL` names MCP clients call them by.
 *
 * It loads `yaml` and `zod` only: no HTTP client, no Redis client, no MCP SDK, no OpenID provider.
 *
 * @module
 */
export type { McpAgentErrorCode, McpAgentErrorOptions } from '../errors.js';
export { isMcpAgentError, McpAgentError } from '../errors.js';
export { CONFIG_FILE_NAMES, candidatePaths, SECRETS_FILE_NAMES } from './discovery.js';
export type { Environment } from './environment.js';
export type { ConfigIssue } from './issues.js';
export { ConfigError, formatIssue } from './issues.js';
export type { LoadedSettings, LoadSettingsOptions } from './load.js';
export { loadSettings } from './load.js';
export { deepMerge } from './merge.js';
export type { ConfigPath, SourcePosition, ValueOrigin } from './paths.js';
export { formatOrigin, formatPath, OriginMap } from './paths.js';
export type { AwsCredentials, ProviderProblem } from './providers.js';
export {
  bedrockCredentials,
  PROVIDER_BASE_URLS,
  providerProblems,
  providerProfiles,
} from './providers.js';
export type { RedactedValue } from './redact.js';
export { redactSettings } from './redact.js';
export type { AuthorizationSettings } from './schema/authorization.js';
export type { CredentialProfile } from './schema/credentials.js';
export type { OAuthSettings } from './schema/oauth.js';
export { DEFAULT_LOOPBACK_PORTS, DEFAULT_TOKEN_FILE } from './schema/oauth.js';
export type { ServerOAuthSettings, ServerSettings, Transport } from './schema/servers.js';
export type { Settings, SettingsInput } from './schema/settings.js';
export { SECTIONS_NOT_USED, settingsSchema } from './schema/settings.js';
export { REDACTED, revealSecret, Secret, toSecret } from './secret.js';
export type { InitResult } from './starter.js';
export { initProject, STARTER_CONFIG, STARTER_SECRETS } from './starter.js';
export type { SubstitutionProblem, SubstitutionResult, VariableLookup } from './substitute.js';
export { substitute } from './substitute.js';
export type { ToolIdentity } from './tool-names.js';
export {
  isHashedToolName,
  MAX_TOOL_NAME_LENGTH,
  TOOL_NAME_PATTERN,
  ToolNames,
} from './tool-names.js';
