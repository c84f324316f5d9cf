/**
 * The whole configuration: one strict zod schema that is also the TypeScript type.
 *
 * Keys and defaults follow mcp-agent's `Settings` (config.py); unknown keys are errors.
 *
 * @module
 */
import * as z from 'zod';
import { authorizationSchema } from './authorization.js';
import { credentialsSchema } from './credentials.js';
import {
  agentsSchema,
  deployEnvSchema,
  loggerSchema,
  otelSchema,
  retryPolicySchema,
  temporalSchema,
  usageTelemetrySchema,
} from './ecosystem.js';
import { oauthSchema } from './oauth.js';
import { optionalString } from './primitives.js';
import {
  anthropicSchema,
  azureSchema,
  bedrockSchema,
  cohereSchema,
  googleSchema,
  lmStudioSchema,
  ollamaSchema,
  openAiSchema,
} from './providers.js';
import { mcpSchema } from './servers.js';

/**
 * Top-level sections mcp-agent-ts accepts for compatibility but does not act on yet;
 * `config check` reports each one present as a warning.
 */
export const SECTIONS_NOT_USED: readonly string[] = [
  'name',
  'description',
  'execution_engine',
  'temporal',
  'workflow_task_modules',
  'workflow_task_retry_policies',
  'logger',
  'otel',
  'usage_telemetry',
  'env',
];

const optionalSection = <T extends z.ZodType>(schema: T) =>
  schema.nullish().transform((value) => value ?? undefined);

/** The configuration schema. Parse the merged document with it to get {@link Settings}. */
export const settingsSchema = z.strictObject({
  /** The JSON-schema reference editors use; ignored. */
  $schema: z.string().optional(),
  name: optionalString,
  description: optionalString,
  /** Ours: the module (TypeScript or JavaScript) defining the app's tools and workflows. */
  app: optionalString,
  /**
   * Ours: serve this one configured server as it is (its tools under their own names, nothing
   * else), protected by `authorization` (`serve --front NAME` sets it too; see `app/front.ts`).
   */
  front: optionalString,
  mcp: mcpSchema.nullish().transform((value) => value ?? mcpSchema.parse({})),
  oauth: oauthSchema.nullish().transform((value) => value ?? oauthSchema.parse({})),
  authorization: optionalSection(authorizationSchema),
  /** Ours: named credentials for the HTTP APIs the app's code calls (`app.fetch`). */
  credentials: credentialsSchema.default({}),
  execution_engine: z.enum(['asyncio', 'temporal']).default('asyncio'),
  temporal: optionalSection(temporalSchema),
  workflow_task_modules: z.array(z.string()).optional(),
  workflow_task_retry_policies: z.record(z.string(), retryPolicySchema).optional(),
  logger: optionalSection(loggerSchema),
  otel: optionalSection(otelSchema),
  usage_telemetry: optionalSection(usageTelemetrySchema),
  agents: optionalSection(agentsSchema),
  openai: optionalSection(openAiSchema),
  anthropic: optionalSection(anthropicSchema),
  azure: optionalSection(azureSchema),
  bedrock: optionalSection(bedrockSchema),
  google: optionalSection(googleSchema),
  cohere: optionalSection(cohereSchema),
  lm_studio: optionalSection(lmStudioSchema),
  ollama: optionalSection(ollamaSchema),
  env: deployEnvSchema.optional(),
});

/** The validated, defaulted configuration. Secret-bearing fields hold {@link Secret}s. */
export type Settings = z.output<typeof settingsSchema>;

/** What a configuration document may contain before validation (the YAML shape). */
export type SettingsInput = z.input<typeof settingsSchema>;
