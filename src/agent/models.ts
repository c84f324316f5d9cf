/**
 * Language models from mcp-agent's provider sections (`openai`, `anthropic`, `google`, `azure`,
 * `bedrock`, `ollama`, `lm_studio`), made by the Vercel AI SDK's provider packages: the section's
 * keys (filled by mcp-agent's environment aliases when the configuration loads) become the
 * provider's options, and the provider does the rest (its headers, Bedrock's SigV4 signing). Each
 * provider package is imported only when a model of that provider is made.
 *
 * @module
 */
import type { LanguageModel } from 'ai';
import { defaultSettingsMiddleware, wrapLanguageModel } from 'ai';
import { PROVIDER_BASE_URLS } from '../config/providers.js';
import { PROVIDER_ENV_ALIASES } from '../config/schema/providers.js';
import type { Settings } from '../config/schema/settings.js';
import type { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';

/** The provider sections a model can be made from. */
export const MODEL_PROVIDERS = [
  'openai',
  'anthropic',
  'google',
  'azure',
  'bedrock',
  'ollama',
  'lm_studio',
] as const;

/** A provider section's name: {@link MODEL_PROVIDERS}. */
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

/** What {@link modelFor} accepts besides the settings. */
export interface ModelOptions {
  /** The `fetch` the provider sends its requests with. Default the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** A section's keys, as far as making a model needs them. */
type Section = Readonly<Record<string, unknown>>;

interface Made {
  readonly section: Section;
  readonly modelId: string;
  readonly fetch: typeof fetch | undefined;
}

/** The environment variables mcp-agent reads for `section.key` (its aliases). */
function aliasesOf(section: string, key: string): string[] {
  return Object.entries(PROVIDER_ENV_ALIASES)
    .filter(([, targets]) => targets.some(([s, k]) => s === section && k === key))
    .map(([variable]) => variable);
}

/** `section.key (ENV, …)`, naming what to set. */
function keyToSet(section: string, key: string): string {
  const variables = aliasesOf(section, key);
  return variables.length > 0
    ? `${section}.${key} (${variables.join(' or ')})`
    : `${section}.${key}`;
}

function missing(provider: string, what: string, keys: readonly string[]): McpAgentError {
  const set = keys.map((key) => keyToSet(provider, key)).join(', ');
  return new McpAgentError(
    'MODEL_CONFIG',
    `The ${provider} provider has no ${what}: set ${set} in the configuration (secrets in mcp_agent.secrets.yaml).`,
  );
}

function notYet(what: string, instead: string): McpAgentError {
  return new McpAgentError('MODEL_CONFIG', `${what} is not supported yet: use ${instead}.`);
}

function secretOf(section: Section, key: string): string | undefined {
  const value = section[key] as Secret | undefined;
  return value === undefined || value.isEmpty ? undefined : value.reveal();
}

function stringOf(section: Section, key: string): string | undefined {
  const value = section[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function required(provider: string, section: Section, key: string, what: string): string {
  const value = secretOf(section, key);
  if (value === undefined) throw missing(provider, what, [key]);
  return value;
}

function headersOf(section: Section): Record<string, string> | undefined {
  const headers = section.default_headers as Readonly<Record<string, Secret>> | undefined;
  if (!headers) return undefined;
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, value.reveal()]));
}

/** `options` without its `undefined` values (the providers' options are exact optional types). */
type Defined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

function defined<T extends object>(options: T): Defined<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Defined<T>;
}

const withoutSlash = (url: string): string => url.replace(/\/+$/, '');

/** `https://api.anthropic.com` (mcp-agent's form) or `…/v1` (the AI SDK's form) → `…/v1`. */
function anthropicBase(baseUrl: string | undefined): string {
  const base = withoutSlash(baseUrl ?? PROVIDER_BASE_URLS.anthropic);
  return base.endsWith('/v1') ? base : `${base}/v1`;
}

/** An endpoint without a path (`https://NAME.openai.azure.com/`) gets Azure OpenAI's `/openai`. */
function azureBase(endpoint: string): string {
  const url = new URL(endpoint);
  return url.pathname.replace(/\/+$/, '') === ''
    ? `${url.origin}/openai`
    : withoutSlash(url.toString());
}

/** mcp-agent's reasoning models (`o1`, `o3`, `o4`, `gpt-5` and their variants). */
const REASONING_MODEL = /^(o1|o3|o4|gpt-5)/;

/** No `base_url`, or one on OpenAI's own host: where the Responses API is. */
function onOpenAi(baseUrl: string | undefined): boolean {
  return (
    baseUrl === undefined ||
    (URL.canParse(baseUrl) && new URL(baseUrl).hostname === 'api.openai.com')
  );
}

/**
 * `model` with the section's `reasoning_effort` as each call's default `reasoningEffort`; on the
 * Responses API also `store: false`: the exchange is not stored at OpenAI, as chat completions
 * are not (the conversation is the caller's, sent with each request).
 */
function withReasoningDefaults(
  model: Parameters<typeof wrapLanguageModel>[0]['model'],
  section: Section,
  responses: boolean,
): LanguageModel {
  const effort = stringOf(section, 'reasoning_effort');
  const openai = {
    ...(effort === undefined ? {} : { reasoningEffort: effort }),
    ...(responses ? { store: false } : {}),
  };
  return wrapLanguageModel({
    model,
    middleware: defaultSettingsMiddleware({ settings: { providerOptions: { openai } } }),
  });
}

/**
 * OpenAI's chat completions, as mcp-agent calls them; a reasoning model (see
 * {@link REASONING_MODEL}) gets the section's `reasoning_effort`, and on OpenAI's own API is
 * called through the Responses API, where reasoning and function tools go together.
 */
async function openAiModel({ section, modelId, fetch }: Made): Promise<LanguageModel> {
  const { createOpenAI } = await import('@ai-sdk/openai');
  const baseURL = stringOf(section, 'base_url');
  const openai = createOpenAI(
    defined({
      apiKey: required('openai', section, 'api_key', 'API key'),
      baseURL,
      organization: stringOf(section, 'organization'),
      headers: headersOf(section),
      fetch,
    }),
  );
  if (!REASONING_MODEL.test(modelId)) return openai.chat(modelId);
  const responses = onOpenAi(baseURL);
  const model = responses ? openai.responses(modelId) : openai.chat(modelId);
  return withReasoningDefaults(model, section, responses);
}

async function anthropicModel({ section, modelId, fetch }: Made): Promise<LanguageModel> {
  if (section.provider !== undefined && section.provider !== 'anthropic') {
    throw notYet(
      `The anthropic provider through ${String(section.provider)} (anthropic.provider)`,
      "Anthropic's API with anthropic.api_key, or the bedrock provider",
    );
  }
  const { createAnthropic } = await import('@ai-sdk/anthropic');
  return createAnthropic(
    defined({
      apiKey: required('anthropic', section, 'api_key', 'API key'),
      baseURL: anthropicBase(stringOf(section, 'base_url')),
      fetch,
    }),
  )(modelId);
}

async function googleModel({ section, modelId, fetch }: Made): Promise<LanguageModel> {
  if (section.vertexai === true) {
    throw notYet(
      'The google provider on Vertex AI (google.vertexai)',
      'a Gemini API key (google.api_key)',
    );
  }
  const { createGoogleGenerativeAI } = await import('@ai-sdk/google');
  return createGoogleGenerativeAI(
    defined({
      apiKey: required('google', section, 'api_key', 'API key'),
      fetch,
    }),
  )(modelId);
}

function azureAuth(
  section: Section,
): { apiKey: string } | { tokenProvider: () => Promise<string> } {
  const apiKey = secretOf(section, 'api_key');
  if (apiKey !== undefined) return { apiKey };
  const token = secretOf(section, 'azure_ad_token');
  if (token !== undefined) return { tokenProvider: async () => token };
  throw missing('azure', 'credential', ['api_key', 'azure_ad_token']);
}

async function azureModel({ section, modelId, fetch }: Made): Promise<LanguageModel> {
  const endpoint = stringOf(section, 'endpoint');
  if (endpoint === undefined || !URL.canParse(endpoint))
    throw missing('azure', 'endpoint', ['endpoint']);
  const auth = azureAuth(section);
  const apiVersion = stringOf(section, 'api_version');
  const { createAzure } = await import('@ai-sdk/azure');
  return createAzure(
    defined({
      ...auth,
      baseURL: azureBase(endpoint),
      // A dated api_version is the deployments API; without one, Azure's `v1` API.
      ...(apiVersion ? { apiVersion, useDeploymentBasedUrls: true } : {}),
      fetch,
    }),
  ).chat(modelId);
}

async function bedrockModel({ section, modelId, fetch }: Made): Promise<LanguageModel> {
  const accessKeyId = secretOf(section, 'aws_access_key_id');
  const secretAccessKey = secretOf(section, 'aws_secret_access_key');
  if (accessKeyId === undefined && typeof section.profile === 'string') {
    throw notYet(
      'Bedrock with an AWS profile (bedrock.profile)',
      'bedrock.aws_access_key_id and aws_secret_access_key',
    );
  }
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw missing('bedrock', 'AWS credential', ['aws_access_key_id', 'aws_secret_access_key']);
  }
  const region = stringOf(section, 'aws_region');
  if (region === undefined) throw missing('bedrock', 'region', ['aws_region']);
  const sessionToken = secretOf(section, 'aws_session_token');
  const { createAmazonBedrock } = await import('@ai-sdk/amazon-bedrock');
  return createAmazonBedrock(
    defined({
      region,
      // The keys of the section, never the process environment's (nor AWS_BEARER_TOKEN_BEDROCK).
      apiKey: '',
      credentialProvider: async () => defined({ accessKeyId, secretAccessKey, sessionToken }),
      fetch,
    }),
  )(modelId);
}

function compatibleModel(provider: 'ollama' | 'lm_studio', defaultBase: string) {
  return async ({ section, modelId, fetch }: Made): Promise<LanguageModel> => {
    const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible');
    return createOpenAICompatible(
      defined({
        name: provider,
        baseURL: withoutSlash(stringOf(section, 'base_url') ?? defaultBase),
        apiKey: secretOf(section, 'api_key'),
        headers: headersOf(section),
        fetch,
      }),
    ).chatModel(modelId);
  };
}

const MAKERS: Readonly<Record<ModelProvider, (made: Made) => Promise<LanguageModel>>> = {
  openai: openAiModel,
  anthropic: anthropicModel,
  google: googleModel,
  azure: azureModel,
  bedrock: bedrockModel,
  ollama: compatibleModel('ollama', `${PROVIDER_BASE_URLS.ollama}/v1`),
  lm_studio: compatibleModel('lm_studio', PROVIDER_BASE_URLS.lm_studio),
};

function isModelProvider(name: string): name is ModelProvider {
  return (MODEL_PROVIDERS as readonly string[]).includes(name);
}

/** The model id asked for, else the section's default (Azure: its deployment). */
function modelIdOf(provider: ModelProvider, section: Section, modelId: string | undefined): string {
  const chosen =
    modelId ||
    (provider === 'azure' ? stringOf(section, 'azure_deployment') : undefined) ||
    stringOf(section, 'default_model');
  if (chosen) return chosen;
  const keys = provider === 'azure' ? ['azure_deployment', 'default_model'] : ['default_model'];
  throw new McpAgentError(
    'MODEL_CONFIG',
    `No model for the ${provider} provider: pass a model id, or set ${keys.map((key) => keyToSet(provider, key)).join(' or ')}.`,
  );
}

/**
 * The language model `modelId` (default: the section's `default_model`; Azure's
 * `azure_deployment`) of the provider section `provider`, made by its AI SDK provider package,
 * imported now. Throws {@link McpAgentError} `MODEL_CONFIG` naming the provider and the keys (and
 * environment variables) to set when a credential, endpoint, region or model id is missing; the
 * message never holds a secret.
 */
export async function modelFor(
  settings: Settings,
  provider: string,
  modelId?: string,
  options: ModelOptions = {},
): Promise<LanguageModel> {
  if (!isModelProvider(provider)) {
    throw new McpAgentError(
      'MODEL_CONFIG',
      `Unknown model provider ${JSON.stringify(provider)}: use one of ${MODEL_PROVIDERS.join(', ')}.`,
    );
  }
  const section = (settings[provider] ?? {}) as Section;
  return MAKERS[provider]({
    section,
    modelId: modelIdOf(provider, section, modelId),
    fetch: options.fetch,
  });
}
