/**
 * Model-provider sections of an mcp-agent file (`openai`, `anthropic`, `azure`, `google`,
 * `bedrock`, `cohere`, `lm_studio`, `ollama`), with mcp-agent's shapes; their keys and secrets
 * are validated and redacted, and they become named credentials (see `config/providers.ts`).
 *
 * @module
 */
import * as z from 'zod';
import { optionalSecret, optionalString, secretMap } from './primitives.js';

const awsKeys = {
  aws_access_key_id: optionalSecret,
  aws_secret_access_key: optionalSecret,
  aws_session_token: optionalSecret,
  aws_region: optionalString,
  profile: optionalString,
};

const vertexKeys = {
  project: optionalString,
  location: optionalString,
};

const openAiShape = {
  api_key: optionalSecret,
  reasoning_effort: z.enum(['none', 'low', 'medium', 'high']).default('medium'),
  base_url: optionalString,
  /** The OpenAI organization the requests are billed to (`OpenAI-Organization`). */
  organization: optionalString,
  user: optionalString,
  default_headers: secretMap.nullish().transform((value) => value ?? undefined),
  default_model: optionalString,
};

/** `openai:` */
export const openAiSchema = z.strictObject(openAiShape);

/** `lm_studio:` (OpenAI-compatible). */
export const lmStudioSchema = z.strictObject(openAiShape);

/** `ollama:` (OpenAI-compatible; mcp-agent's examples configure Ollama through `openai:`). */
export const ollamaSchema = z.strictObject(openAiShape);

/** `anthropic:` */
export const anthropicSchema = z.strictObject({
  ...awsKeys,
  ...vertexKeys,
  api_key: optionalSecret,
  default_model: optionalString,
  provider: z.enum(['anthropic', 'bedrock', 'vertexai']).default('anthropic'),
  base_url: optionalString,
});

/** `bedrock:` */
export const bedrockSchema = z.strictObject({ ...awsKeys, default_model: optionalString });

/** `cohere:` */
export const cohereSchema = z.strictObject({ api_key: optionalSecret });

/** `azure:` */
export const azureSchema = z.strictObject({
  api_key: optionalSecret,
  endpoint: optionalString,
  api_version: optionalString,
  azure_deployment: optionalString,
  azure_ad_token: optionalSecret,
  credential_scopes: z
    .array(z.string())
    .nullish()
    .transform((value) => value ?? undefined),
  default_model: optionalString,
});

/** `google:` */
export const googleSchema = z.strictObject({
  ...vertexKeys,
  api_key: optionalSecret,
  vertexai: z.boolean().default(false),
  default_model: optionalString,
});

/**
 * Flat environment variables mcp-agent accepts for provider keys. They fill a key only when no
 * file, preload or `SECTION__KEY` variable sets it.
 */
export const PROVIDER_ENV_ALIASES: Readonly<
  Record<string, readonly (readonly [string, string])[]>
> = {
  OPENAI_API_KEY: [['openai', 'api_key']],
  OPENAI_BASE_URL: [['openai', 'base_url']],
  OPENAI_DEFAULT_MODEL: [['openai', 'default_model']],
  OPENAI_REASONING_EFFORT: [['openai', 'reasoning_effort']],
  ANTHROPIC_API_KEY: [['anthropic', 'api_key']],
  ANTHROPIC_DEFAULT_MODEL: [['anthropic', 'default_model']],
  ANTHROPIC_PROVIDER: [['anthropic', 'provider']],
  COHERE_API_KEY: [['cohere', 'api_key']],
  LM_STUDIO_API_KEY: [['lm_studio', 'api_key']],
  LM_STUDIO_BASE_URL: [['lm_studio', 'base_url']],
  LM_STUDIO_DEFAULT_MODEL: [['lm_studio', 'default_model']],
  AZURE_OPENAI_API_KEY: [['azure', 'api_key']],
  AZURE_AI_API_KEY: [['azure', 'api_key']],
  AZURE_OPENAI_ENDPOINT: [['azure', 'endpoint']],
  AZURE_AI_ENDPOINT: [['azure', 'endpoint']],
  AZURE_OPENAI_API_VERSION: [['azure', 'api_version']],
  AZURE_AI_API_VERSION: [['azure', 'api_version']],
  AZURE_OPENAI_DEPLOYMENT: [['azure', 'azure_deployment']],
  AZURE_AI_DEPLOYMENT: [['azure', 'azure_deployment']],
  AZURE_AD_TOKEN: [['azure', 'azure_ad_token']],
  AZURE_AI_AD_TOKEN: [['azure', 'azure_ad_token']],
  AZURE_OPENAI_DEFAULT_MODEL: [['azure', 'default_model']],
  GOOGLE_API_KEY: [['google', 'api_key']],
  GEMINI_API_KEY: [['google', 'api_key']],
  GOOGLE_VERTEXAI: [['google', 'vertexai']],
  GOOGLE_DEFAULT_MODEL: [['google', 'default_model']],
  GOOGLE_CLOUD_PROJECT: [
    ['google', 'project'],
    ['anthropic', 'project'],
  ],
  GOOGLE_CLOUD_LOCATION: [
    ['google', 'location'],
    ['anthropic', 'location'],
  ],
  AWS_ACCESS_KEY_ID: [
    ['bedrock', 'aws_access_key_id'],
    ['anthropic', 'aws_access_key_id'],
  ],
  AWS_SECRET_ACCESS_KEY: [
    ['bedrock', 'aws_secret_access_key'],
    ['anthropic', 'aws_secret_access_key'],
  ],
  AWS_SESSION_TOKEN: [
    ['bedrock', 'aws_session_token'],
    ['anthropic', 'aws_session_token'],
  ],
  AWS_REGION: [
    ['bedrock', 'aws_region'],
    ['anthropic', 'aws_region'],
  ],
  AWS_PROFILE: [
    ['bedrock', 'profile'],
    ['anthropic', 'profile'],
  ],
};

/**
 * Generic names mcp-agent also accepts (`PROJECT_ID`, `LOCATION`, `CLOUD_LOCATION`). Shells set
 * such names for unrelated reasons, so they only fill a section the configuration already has.
 */
export const GENERIC_PROVIDER_ENV_ALIASES: Readonly<
  Record<string, readonly (readonly [string, string])[]>
> = {
  PROJECT_ID: [
    ['google', 'project'],
    ['anthropic', 'project'],
  ],
  LOCATION: [
    ['google', 'location'],
    ['anthropic', 'location'],
  ],
  CLOUD_LOCATION: [
    ['google', 'location'],
    ['anthropic', 'location'],
  ],
};
