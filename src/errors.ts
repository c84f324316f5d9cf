/**
 * The error type of every failure mcp-agent-ts reports.
 *
 * One base class with a closed union of codes, so callers can `switch (error.code)`, and `cause`
 * on every wrap. Messages are one sentence that names what failed and what to do; they never
 * contain a secret value.
 *
 * @module
 */

/** Every code an {@link McpAgentError} can carry. */
export type McpAgentErrorCode =
  /** A configuration file named explicitly (`--config`, `configPath`) does not exist. */
  | 'CONFIG_NOT_FOUND'
  /** A configuration file exists but cannot be read (permissions, a directory, too large). */
  | 'CONFIG_UNREADABLE'
  /** The configuration is invalid; see {@link ConfigError.issues}. */
  | 'CONFIG_INVALID'
  /** A command-line usage error. */
  | 'USAGE'
  /** A file that would be written already exists (and overwriting was not asked for). */
  | 'FILE_EXISTS'
  /** A file cannot be written. */
  | 'FILE_WRITE'
  /** A server name that is not in `mcp.servers`. */
  | 'SERVER_UNKNOWN'
  /** A downstream server could not be started or reached, or broke the protocol. */
  | 'SERVER_CONNECT'
  /** A downstream server answered 401/403: it needs credentials. */
  | 'SERVER_AUTH_REQUIRED'
  /** A downstream server did not answer in time. */
  | 'SERVER_TIMEOUT'
  /** A tool name no connected server offers. */
  | 'TOOL_UNKNOWN'
  /** Tool arguments that are not JSON or do not match the tool's input schema. */
  | 'TOOL_ARGUMENTS'
  /** The token store cannot be read or written (a file, Redis). */
  | 'STORE_UNAVAILABLE'
  /** OAuth metadata could not be discovered, or was refused (mismatch, network policy). */
  | 'OAUTH_DISCOVERY'
  /** No way to register a client with the authorization server, or the registration was refused. */
  | 'OAUTH_REGISTRATION'
  /**
   * The authorization step failed: the authorization server cannot be used safely (no PKCE), the
   * user refused, or the callback was not valid (`state`, `iss`).
   */
  | 'OAUTH_AUTHORIZATION'
  /** The loopback callback could not be received: every port busy, or the flow timed out. */
  | 'OAUTH_CALLBACK'
  /** The token endpoint refused or answered something unusable (exchange, refresh, revocation). */
  | 'OAUTH_TOKEN'
  /** A user must log in (again) before the server can be used: `mcp-agent auth login SERVER`. */
  | 'OAUTH_LOGIN_REQUIRED'
  /** A server of ours (the development authorization server, say) cannot listen on its address. */
  | 'LISTEN'
  /**
   * A server's response passed a limit: larger than allowed, or not complete in time (see
   * `ResponseLimitError`); the request was stopped and nothing of it was kept.
   */
  | 'RESPONSE_LIMIT'
  /**
   * A model cannot be made from a provider section: an unknown provider, or a credential,
   * endpoint, region or model id missing (the message names the keys to set).
   */
  | 'MODEL_CONFIG'
  /** An agent's model was still calling tools when its `maxIterations` steps were used up. */
  | 'AGENT_MAX_ITERATIONS'
  /** The model's provider failed a request (`mcp-agent chat`): its own error text, never a key. */
  | 'MODEL_REQUEST';

/** Options accepted by {@link McpAgentError}. */
export interface McpAgentErrorOptions {
  /** The underlying error, kept for `--verbose` output and debugging. */
  cause?: unknown;
}

/** Base class of every error thrown by mcp-agent-ts. */
export class McpAgentError extends Error {
  /** Machine-readable reason, stable across releases. */
  readonly code: McpAgentErrorCode;

  constructor(code: McpAgentErrorCode, message: string, options: McpAgentErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A login is needed and no user can be asked here (a headless or server-side agent): the person
 * opens {@link AuthorizationRequiredError.authorizationUrl}, and the address the browser is sent
 * back to completes the login (`completeLogin` of `createAgentAuth`,
 * `ServerAuth.completeAuthorization`, or `mcp-agent auth complete`) before
 * {@link AuthorizationRequiredError.expiresAt}. Code `OAUTH_LOGIN_REQUIRED`.
 *
 * The message says where the URL is, not the URL itself: its `state` lets whoever holds it finish
 * the login with an account of their own, and messages reach logs. The URL is for the person.
 */
export class AuthorizationRequiredError extends McpAgentError {
  /** The `mcp.servers` name. */
  readonly server: string;
  /** The authorization server's issuer. */
  readonly issuer: string;
  /** The URL to open in a browser (it carries no secret: PKCE keeps the verifier here). */
  readonly authorizationUrl: string;
  /** The pending flow's id. */
  readonly flowId: string;
  /** Epoch milliseconds after which the flow is gone. */
  readonly expiresAt: number;

  constructor(details: {
    server: string;
    issuer: string;
    authorizationUrl: string;
    flowId: string;
    expiresAt: number;
    /**
     * The pending flow is kept in this process only (an in-memory token store): the login can be
     * completed here, and nowhere else. Default false.
     */
    inMemory?: boolean | undefined;
  }) {
    super('OAUTH_LOGIN_REQUIRED', handOverMessage(details));
    this.server = details.server;
    this.issuer = details.issuer;
    this.authorizationUrl = details.authorizationUrl;
    this.flowId = details.flowId;
    this.expiresAt = details.expiresAt;
  }
}

/** The message of an {@link AuthorizationRequiredError}: what to do, where its URL is. */
function handOverMessage(details: {
  server: string;
  issuer: string;
  inMemory?: boolean | undefined;
}): string {
  const start = `Server "${details.server}" needs a login at ${details.issuer}: open this error's authorizationUrl in a browser (authorizationRequiredIn(error) finds the error inside another), then complete the login with the address the browser is sent back to`;
  return details.inMemory
    ? `${start}, in this process (completeLogin(server, address)): the token store is in memory, so the login is lost when the process ends. Where a person runs the agent, give createAgentAuth consent: interactiveConsent({ output: process.stderr, input: process.stdin }) instead.`
    : `${start} (completeLogin(server, address), or mcp-agent auth complete ADDRESS on the same token store).`;
}

/** Is `value` an {@link McpAgentError}, optionally with the given code? */
export function isMcpAgentError(value: unknown, code?: McpAgentErrorCode): value is McpAgentError {
  return value instanceof McpAgentError && (code === undefined || value.code === code);
}

/** Node's codes of a misuse: an argument of the wrong type or value, an object in the wrong state. */
export type MisuseCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_INVALID_STATE';

/**
 * A caller's misuse of the API (not a failure to report as an {@link McpAgentError}): a
 * `TypeError` with Node's `code`, as Node's own argument checks throw it. `message` names what is
 * wrong, never a value.
 */
export function codedTypeError(
  code: MisuseCode,
  message: string,
  options: McpAgentErrorOptions = {},
): TypeError & { code: MisuseCode } {
  const error = new TypeError(message, 'cause' in options ? { cause: options.cause } : undefined);
  return Object.assign(error, { code });
}
