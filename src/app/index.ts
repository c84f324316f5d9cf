/**
 * `mcp-agent-ts/app`: the whole served agent. {@link defineApp} declares tools and workflows;
 * {@link createApp} builds the MCP server (Streamable HTTP and legacy SSE) that serves them next
 * to the aggregated tools of the configured servers, protected as the `authorization` section
 * says (RFC 6750 bearer tokens, RFC 9728 metadata, tool scopes) and calling downstream servers
 * with per-caller tokens (RFC 8693 token exchange or delegated logins).
 *
 * It loads what `mcp-agent serve` needs: the MCP SDK (server and client), undici, oauth4webapi,
 * jose; the Redis client only when the token store is Redis; never oidc-provider.
 *
 * @module
 */

export { guardedHttpStack } from '../client/guarded-http.js';
export type { McpAgentErrorCode } from '../errors.js';
export { isMcpAgentError, McpAgentError } from '../errors.js';
export type { RequestTimeouts } from '../http-server.js';
export { createHttpServer, DEFAULT_REQUEST_TIMEOUTS } from '../http-server.js';
export type { Logger } from '../logger.js';
export type { McpHttpHandler, McpHttpHandlerOptions } from '../server/http.js';
export { createMcpHttpHandler } from '../server/http.js';
export type { ServedTool, ServerInfo, ToolCallContext, ToolCatalog } from '../server/mcp-server.js';
export type { StreamEventStore } from '../stores/stream-events.js';
export type {
  App,
  CreateAppOptions,
  ListenOptions,
  ResumableStreamOptions,
  RunningApp,
  WorkflowRunTuning,
} from './create-app.js';
export { createApp } from './create-app.js';
export type {
  AppBuilder,
  AppSetup,
  ServedAgentOptions,
  ServedAgentSpec,
  ToolHandler,
  ToolOptions,
  ToolReturn,
  WorkflowContext,
  WorkflowRun,
} from './define.js';
export { AppDefinition, defineApp } from './define.js';
export { loadAppModule } from './module.js';
export type {
  RunState,
  RunStatus,
  WorkflowLimits,
  WorkflowRuns,
  WorkflowRunsOptions,
} from './workflows.js';
