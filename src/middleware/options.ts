/**
 * What the server middleware is configured with: the `authorization:` section of
 * `mcp_agent.config.yaml` as `serve` reads it (from the file, from loaded settings, or written
 * inline with the same keys and the same validation), and the parts a program injects.
 *
 * @module
 */
import type * as z from 'zod';
import { ConfigError } from '../config/issues.js';
import { loadSettings } from '../config/load.js';
import { OriginMap } from '../config/paths.js';
import type { AuthorizationSettings, authorizationSchema } from '../config/schema/authorization.js';
import type { Settings } from '../config/schema/settings.js';
import { validateSettings } from '../config/validate.js';
import { codedTypeError, McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import type { Logger } from '../logger.js';
import type { HostCheck } from '../server/host-check.js';
import type { TokenVerifier } from '../server/verifiers/verifier.js';
import type { KeyValueStore } from '../stores/kv.js';

/**
 * The `authorization:` section written inline: the YAML keys (`issuer_url`,
 * `resource_server_url`, `expected_audiences`, `required_scopes`, `tool_scopes`, `prompt_scopes`,
 * `resource_scopes`, `jwks_uri`, `introspection_endpoint`, …), validated by the same schema. `enabled` defaults to `true` here.
 */
export type AuthorizationInput = z.input<typeof authorizationSchema>;

/** Options of `createMcpAuth`: exactly one of `configPath`, `settings`, `authorization`. */
export interface McpAuthOptions {
  /** A config file (with its secrets file and environment, as `mcp-agent` loads it). */
  readonly configPath?: string;
  /** Settings loaded already (`loadSettings().settings`). */
  readonly settings?: Settings;
  /** The `authorization:` section itself. */
  readonly authorization?: AuthorizationInput;
  /**
   * Verifies tokens instead of the configured JWKS / introspection verifier (the section still
   * names the issuer, the resource and the scopes).
   */
  readonly verifier?: TokenVerifier;
  /**
   * The `fetch` of the verification requests (JWKS, introspection, issuer metadata). Default: the
   * global `fetch`, or, when `env` names a proxy, the proxy-aware stack `serve` uses.
   */
  readonly fetch?: FetchLike;
  /**
   * The environment: a config file's `AUTHORIZATION__…` overrides, and the proxy of the
   * verification requests (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, as `serve` honours them; the
   * HTTP client library is loaded only then). Default `process.env`.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The clock, in epoch milliseconds (as `Date.now`), of token expiry, the verification cache and
   * the key refreshes. Default `Date.now`.
   */
  readonly now?: () => number;
  /**
   * Told of what an operator should know (the issuer or the JWKS not answering, a refresh that
   * failed), never of a token. Default: silent.
   */
  readonly logger?: Logger;
  /**
   * Where replicas share verifications. Default: Redis when the settings' token store is Redis
   * (as `serve`), else none.
   */
  readonly sharedCache?: KeyValueStore;
  /** Checks `Host` and `Origin` first (DNS rebinding, e.g. `loopbackHostCheck(port)`). */
  readonly hostCheck?: HostCheck;
  /**
   * Turn on `currentCaller()` in the handlers after the middleware (an `AsyncLocalStorage`, for
   * the whole process). Default true; without it, handlers read `callerFromAuthInfo(authInfo)`.
   */
  readonly callerContext?: boolean;
  /**
   * Bind each MCP session to the caller that opened it (another caller's token on it gets 404).
   * Default true; turn off when sessions move between replicas.
   */
  readonly bindSessions?: boolean;
  /** Sessions remembered in all (the least recently used is forgotten first). Default 10,000. */
  readonly maxSessions?: number;
  /** Sessions one caller may hold (one more forgets its least recently used). Default 16. */
  readonly maxSessionsPerCaller?: number;
  /** Largest request body read for the tool, prompt and resource scopes, in bytes. Default 4 MiB. */
  readonly maxBodyBytes?: number;
}

/** The section to enforce and the settings it came from. */
export interface ResolvedAuthorization {
  readonly auth: AuthorizationSettings & { readonly resource_server_url: string };
  readonly settings: Settings;
}

const usage = (message: string): TypeError => codedTypeError('ERR_INVALID_ARG_VALUE', message);

type Check = (value: unknown) => boolean;

const isObject: Check = (value) => typeof value === 'object' && value !== null;
const isFunction: Check = (value) => typeof value === 'function';
const isBoolean: Check = (value) => typeof value === 'boolean';
const isCount: Check = (value) => Number.isSafeInteger(value) && (value as number) > 0;
const withMethods =
  (...names: string[]): Check =>
  (value) =>
    isObject(value) && names.every((name) => isFunction((value as Record<string, unknown>)[name]));

/** What each option must be, and how its error says it. */
const OPTION_RULES: Readonly<Record<keyof McpAuthOptions, readonly [Check, string]>> = {
  configPath: [(value) => typeof value === 'string' && value !== '', 'a non-empty path'],
  settings: [isObject, 'the settings object loadSettings() returns'],
  authorization: [
    (value) => isObject(value) && !Array.isArray(value),
    'an object with the keys of the authorization: section',
  ],
  verifier: [withMethods('verify'), 'a TokenVerifier (an object with verify(token))'],
  fetch: [isFunction, 'a fetch function'],
  env: [isObject, 'an object of environment variables, as process.env'],
  now: [isFunction, 'a function returning epoch milliseconds'],
  logger: [withMethods('debug', 'info', 'warn', 'error'), 'a Logger (debug, info, warn, error)'],
  sharedCache: [withMethods('get', 'set', 'delete', 'close'), 'a KeyValueStore'],
  hostCheck: [isFunction, 'a function (host, origin) => boolean, e.g. loopbackHostCheck(port)'],
  callerContext: [isBoolean, 'true or false'],
  bindSessions: [isBoolean, 'true or false'],
  maxSessions: [isCount, 'a positive integer'],
  maxSessionsPerCaller: [isCount, 'a positive integer'],
  maxBodyBytes: [isCount, 'a positive integer (bytes)'],
};

/**
 * Throw a `TypeError` (`ERR_INVALID_ARG_VALUE`) for the first option that is unknown or not what
 * it must be, naming it and never its value: before anything is read or fetched (style.md §2.9).
 */
function checkOptions(options: unknown): asserts options is McpAuthOptions {
  if (!isObject(options)) throw usage('createMcpAuth takes an options object');
  for (const [name, value] of Object.entries(options as object)) {
    if (value === undefined) continue;
    const rule = OPTION_RULES[name as keyof McpAuthOptions];
    if (!Object.hasOwn(OPTION_RULES, name) || !rule) {
      throw usage(`createMcpAuth has no option ${JSON.stringify(name.slice(0, 64))}`);
    }
    if (!rule[0](value)) throw usage(`${name} must be ${rule[1]}`);
  }
}

/** The settings `options` name; bad option shapes throw a `TypeError`, bad settings a `ConfigError`. */
function settingsOf(options: McpAuthOptions): Settings {
  const given = (['configPath', 'settings', 'authorization'] as const).filter(
    (key) => options[key] !== undefined,
  );
  if (given.length !== 1) {
    throw usage(
      `createMcpAuth needs exactly one of configPath, settings, authorization (got ${given.length === 0 ? 'none' : given.join(', ')})`,
    );
  }
  if (options.configPath !== undefined) {
    const env = options.env ? { env: options.env } : {};
    return loadSettings({ configPath: options.configPath, ...env }).settings;
  }
  if (options.settings !== undefined) return options.settings;
  const result = validateSettings(
    { authorization: { enabled: true, ...options.authorization } },
    new OriginMap(),
  );
  if (!result.ok) throw new ConfigError(result.issues);
  return result.settings;
}

/**
 * The `authorization:` section `options` configure, checked to be on and complete; every option
 * is checked first, before any file is read.
 */
export function resolveAuthorization(options: McpAuthOptions): ResolvedAuthorization {
  checkOptions(options);
  const settings = settingsOf(options);
  const auth = settings.authorization;
  if (!auth?.enabled) {
    throw new McpAgentError(
      'CONFIG_INVALID',
      'authorization.enabled is not true: the middleware would protect nothing. Set authorization.enabled: true (with issuer_url, resource_server_url and expected_audiences).',
    );
  }
  const resource = auth.resource_server_url;
  if (!resource) {
    throw new McpAgentError(
      'CONFIG_INVALID',
      'authorization.resource_server_url is missing: it is the URL clients call.',
    );
  }
  return { auth: { ...auth, resource_server_url: resource }, settings };
}
