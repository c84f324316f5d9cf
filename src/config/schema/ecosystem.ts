/**
 * The other sections of an mcp-agent file (`logger`, `otel`, `temporal`, `agents`, …). They are
 * accepted with mcp-agent's documented shapes so existing files load unchanged; mcp-agent-ts does
 * not act on them and `config check` says so.
 *
 * @module
 */
import * as z from 'zod';
import { optionalSecret, optionalString, secretMap, stringList } from './primitives.js';

const pathSettingsSchema = z.strictObject({
  path_pattern: z.string().optional(),
  unique_id: z.enum(['timestamp', 'session_id']).optional(),
  timestamp_format: z.string().optional(),
});

const loggerTransport = z.enum(['none', 'console', 'file', 'http']);

/** `logger:` (mcp-agent `LoggerSettings`; `show_progress` appears in mcp-agent's own examples). */
export const loggerSchema = z.strictObject({
  type: loggerTransport.optional(),
  transports: z.array(loggerTransport).optional(),
  level: z.enum(['debug', 'info', 'warning', 'error']).optional(),
  progress_display: z.boolean().optional(),
  show_progress: z.boolean().optional(),
  path: z.string().optional(),
  path_settings: pathSettingsSchema.nullish(),
  batch_size: z.number().int().optional(),
  flush_interval: z.number().optional(),
  max_queue_size: z.number().int().optional(),
  http_endpoint: optionalString,
  http_headers: secretMap.nullish().transform((value) => value ?? undefined),
  http_timeout: z.number().optional(),
});

const exporterSchema = z.union([
  z.enum(['console', 'file', 'otlp']),
  // The older `{type: otlp, endpoint: …}` form mcp-agent still accepts.
  z.strictObject({
    type: z.enum(['console', 'file', 'otlp']),
    path: optionalString,
    path_settings: pathSettingsSchema.nullish(),
    endpoint: optionalString,
    headers: secretMap.nullish().transform((value) => value ?? undefined),
  }),
  z.strictObject({ console: z.strictObject({}).nullish() }),
  z.strictObject({
    file: z.strictObject({ path: optionalString, path_settings: pathSettingsSchema.nullish() }),
  }),
  z.strictObject({
    otlp: z.strictObject({
      endpoint: optionalString,
      headers: secretMap.nullish().transform((value) => value ?? undefined),
    }),
  }),
]);

/** `otel:` (mcp-agent `OpenTelemetrySettings`). */
export const otelSchema = z.strictObject({
  enabled: z.boolean().optional(),
  exporters: z.array(exporterSchema).optional(),
  service_name: z.string().optional(),
  service_instance_id: optionalString,
  service_version: optionalString,
  sample_rate: z.number().min(0).max(1).optional(),
  path: optionalString,
  path_settings: pathSettingsSchema.nullish(),
  otlp_settings: z
    .strictObject({
      endpoint: z.string(),
      headers: secretMap.nullish().transform((value) => value ?? undefined),
    })
    .nullish(),
});

/** `temporal:` (mcp-agent `TemporalSettings`). */
export const temporalSchema = z.strictObject({
  host: z.string(),
  namespace: z.string().optional(),
  api_key: optionalSecret,
  tls: z.boolean().optional(),
  task_queue: z.string(),
  max_concurrent_activities: z.number().int().nullish(),
  timeout_seconds: z.number().int().nullish(),
  rpc_metadata: secretMap.nullish().transform((value) => value ?? undefined),
  id_reuse_policy: z
    .enum([
      'allow_duplicate',
      'allow_duplicate_failed_only',
      'reject_duplicate',
      'terminate_if_running',
    ])
    .optional(),
  workflow_task_modules: z.array(z.string()).optional(),
});

const interval = z.union([z.number(), z.string()]).nullish();

/** `workflow_task_retry_policies.<activity>`. */
export const retryPolicySchema = z.strictObject({
  maximum_attempts: z.number().int().nullish(),
  initial_interval: interval,
  backoff_coefficient: z.number().nullish(),
  maximum_interval: interval,
  non_retryable_error_types: z.array(z.string()).nullish(),
});

/** `usage_telemetry:` */
export const usageTelemetrySchema = z.strictObject({
  enabled: z.boolean().optional(),
  enable_detailed_telemetry: z.boolean().optional(),
});

/** `agents:` (mcp-agent `SubagentSettings`). Agent definitions are passed through as written. */
export const agentsSchema = z.strictObject({
  enabled: z.boolean().optional(),
  search_paths: stringList.optional(),
  pattern: z.string().optional(),
  definitions: z.array(z.record(z.string(), z.unknown())).optional(),
});

/** Top-level `env:` list used by `mcp-agent deploy`: `NAME` or `{NAME: fallback}`. */
export const deployEnvSchema = z.array(
  z.union([
    z.string().min(1),
    z.record(z.string().min(1), z.string()).refine((entry) => Object.keys(entry).length === 1, {
      message: 'each mapping entry must have exactly one NAME: fallback pair',
    }),
  ]),
);
