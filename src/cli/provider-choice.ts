/**
 * Which provider section answers when none is named (`chat`, and servers' sampling requests):
 * the first configured one with an `api_key`, else the first configured one.
 *
 * @module
 */
import { MODEL_PROVIDERS } from '../agent/models.js';
import type { Settings } from '../config/schema/settings.js';
import { McpAgentError } from '../errors.js';

/** The provider section chosen without `--provider`; `undefined` when none is configured. */
export function configuredProvider(settings: Settings): string | undefined {
  const record = settings as unknown as Readonly<Record<string, unknown>>;
  const present = MODEL_PROVIDERS.filter((name) => record[name] !== undefined);
  const keyed = present.find(
    (name) => (record[name] as Record<string, unknown> | null)?.api_key !== undefined,
  );
  return keyed ?? present[0];
}

/** {@link configuredProvider}, or a `MODEL_CONFIG` error saying how to configure one. */
export function defaultProvider(settings: Settings): string {
  const chosen = configuredProvider(settings);
  if (chosen !== undefined) return chosen;
  throw new McpAgentError(
    'MODEL_CONFIG',
    `No model provider is configured: add a provider section (${MODEL_PROVIDERS.join(', ')}) with its key, or pass --provider.`,
  );
}
