/**
 * `mcp-agent-ts/agent`: the agent layer. {@link modelFor} makes a language model of the Vercel AI
 * SDK from one of mcp-agent's provider sections (`openai`, `anthropic`, `google`, `azure`,
 * `bedrock`, `ollama`, `lm_studio`).
 *
 * The AI SDK's provider packages are imported only when a model of theirs is made: importing this
 * entry loads none of them.
 *
 * @module
 */
export type { McpAgentErrorCode } from '../errors.js';
export { isMcpAgentError, McpAgentError } from '../errors.js';
export type { AgentConnections, AgentContext, AgentSpec, AgentTool } from './agent.js';
export { Agent } from './agent.js';
export { agentSpecsOf, loadAgents } from './definitions.js';
export type { AugmentedLlmParts, LlmOptions, RequestParams } from './llm.js';
export { AugmentedLlm, DEFAULT_MAX_ITERATIONS, DEFAULT_MAX_TOOL_RESULT_CHARS } from './llm.js';
export type { ModelOptions, ModelProvider } from './models.js';
export { MODEL_PROVIDERS, modelFor } from './models.js';
export { providerErrorText } from './provider-error.js';
