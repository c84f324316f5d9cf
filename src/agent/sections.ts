/**
 * Reading a provider section's keys (mcp-agent's `openai:`, `google:`, …) for the model makers
 * and the cloud credentials: its secrets and strings, and the `MODEL_CONFIG` errors naming the
 * keys (and environment variables) to set.
 *
 * @module
 */
import { PROVIDER_ENV_ALIASES } from '../config/schema/providers.js';
import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';

/** A section's keys, as far as making a model needs them. */
export type Section = Readonly<Record<string, unknown>>;

/** The environment variables mcp-agent reads for `section.key` (its aliases). */
function aliasesOf(section: string, key: string): string[] {
  return Object.entries(PROVIDER_ENV_ALIASES)
    .filter(([, targets]) => targets.some(([s, k]) => s === section && k === key))
    .map(([variable]) => variable);
}

/** `section.key (ENV, …)`, naming what to set. */
export function keyToSet(section: string, key: string): string {
  const variables = aliasesOf(section, key);
  return variables.length > 0
    ? `${section}.${key} (${variables.join(' or ')})`
    : `${section}.${key}`;
}

/** The `MODEL_CONFIG` error of a provider without `what`, naming `keys` to set. */
export function missing(provider: string, what: string, keys: readonly string[]): McpAgentError {
  const set = keys.map((key) => keyToSet(provider, key)).join(', ');
  return new McpAgentError(
    'MODEL_CONFIG',
    `The ${provider} provider has no ${what}: set ${set} in the configuration (secrets in mcp_agent.secrets.yaml).`,
  );
}

/** The secret `key` of `section`, revealed, or `undefined` when unset or empty. */
export function secretOf(section: Section, key: string): string | undefined {
  const value = section[key] as Secret | undefined;
  return value === undefined || value.isEmpty ? undefined : value.reveal();
}

/** The string `key` of `section`, or `undefined` when unset or empty. */
export function stringOf(section: Section, key: string): string | undefined {
  const value = section[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `options` without its `undefined` values (the providers' options are exact optional types). */
export type Defined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** `options` without its `undefined` values: {@link Defined}. */
export function defined<T extends object>(options: T): Defined<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Defined<T>;
}
