/**
 * Language models from mcp-agent's provider sections (`openai`, `anthropic`, `google`, `azure`,
 * `bedrock`, `ollama`, `lm_studio`), made by the Vercel AI SDK's provider packages: the section's
 * keys (filled by mcp-agent's environment aliases when the configuration loads) become the
 * provider's options, and the provider does the rest (its headers, Bedrock's SigV4 signing). The
 * credentials that are more than a key (Azure's Entra ID token, Vertex AI's service account or
 * profile token, Bedrock's AWS profile) come from `./cloud-credentials.ts`. Each provider package
 * is imported only when a model of that provider is made.
 *
 * @module
 */
import type { LanguageModel } from 'ai';
import { PROVIDER_BASE_URLS, vertexHost, withAzureScopes } from '../config/providers.js';
import type { Settings } from '../config/schema/settings.js';
import type { Secret } from '../config/secret.js';
import type { CredentialProfiles } from '../credentials/profiles.js';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import {
  awsKeys,
  awsRegion,
  profileToken,
  type ServiceAccounts,
  serviceAccountToken,
  type TokenSource,
} from './cloud-credentials.js';
import { modelRequestFetch, refusePlainHttp } from './model-fetch.js';
import { defined, keyToSet, missing, type Section, secretOf, stringOf } from './sections.js';

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
  /**
   * The `fetch` the provider sends its requests with (each following redirects within its origin
   * only). Default the global `fetch`.
   */
  readonly fetch?: FetchLike | undefined;
  /**
   * The app's named credentials (`credentials:`), whose `azure` or `google` profile (OAuth 2.0 or
   * bearer) gives the Azure or Vertex AI token: `AgentAuth.credentials`. Default profiles made
   * from the settings' `credentials:` (their tokens kept by this model only).
   */
  readonly credentials?: Pick<CredentialProfiles, 'token' | 'describe'> | undefined;
  /**
   * Where `GOOGLE_APPLICATION_CREDENTIALS` (Vertex AI's service account key file) and Bedrock's
   * `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE` are read. Default `process.env` — not the
   * `.env` file the configuration loader also reads (and `config check` with it): pass the
   * environment the settings were loaded with when a `.env` file sets these.
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /**
   * The service accounts of key files, shared by every model made with it (one token, one grant
   * when due, per key file). Default the process's (`serviceAccounts` of `./cloud-credentials`).
   */
  readonly serviceAccounts?: ServiceAccounts | undefined;
  /** The clock service-account tokens are kept by, epoch milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

interface Made {
  readonly section: Section;
  readonly modelId: string;
  readonly fetch: typeof fetch | undefined;
  readonly settings: Settings;
  readonly options: ModelOptions;
}

function notYet(what: string, instead: string): McpAgentError {
  return new McpAgentError('MODEL_CONFIG', `${what} is not supported yet: use ${instead}.`);
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
async function withReasoningDefaults(
  model: Parameters<typeof import('ai').wrapLanguageModel>[0]['model'],
  section: Section,
  responses: boolean,
): Promise<LanguageModel> {
  // Imported here: the package root exports `modelFor` and must not load the AI SDK.
  const { defaultSettingsMiddleware, wrapLanguageModel } = await import('ai');
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

/** A Vertex AI location is a single DNS label (`us-central1`, `europe-west4`, `global`, `eu`). */
const VERTEX_LOCATION = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The section's `location`, checked: it makes the host the token is sent to. */
function vertexLocation(section: Section): string {
  const location = stringOf(section, 'location');
  if (location === undefined) throw missing('google', 'Vertex AI location', ['location']);
  if (!VERTEX_LOCATION.test(location)) {
    throw new McpAgentError(
      'MODEL_CONFIG',
      `The google provider's Vertex AI location is not a location name (lowercase letters, digits and hyphens, e.g. us-central1): check ${keyToSet('google', 'location')}.`,
    );
  }
  return location;
}

/** `fetch` (default the global one) that drops `token`'s held token when the API answers 401. */
function droppingRefused(fetch: typeof globalThis.fetch | undefined, token: TokenSource) {
  const send = fetch ?? globalThis.fetch;
  return (async (input, init) => {
    const response = await send(input, init);
    if (response.status === 401) token.invalidate();
    return response;
  }) as typeof globalThis.fetch;
}

async function vertexModel(made: Made): Promise<LanguageModel> {
  const { section, modelId, fetch } = made;
  const location = vertexLocation(section);
  const fromProfile = profileToken(made, 'google', vertexHost(location));
  const { token, project: keyFileProject } = fromProfile
    ? { token: fromProfile, project: undefined }
    : await serviceAccountToken(made);
  // The section's project (GOOGLE_CLOUD_PROJECT), else the key file's.
  const project = stringOf(section, 'project') ?? keyFileProject;
  if (project === undefined) throw missing('google', 'Vertex AI project', ['project']);
  const { createVertex } = await import('@ai-sdk/google-vertex');
  // The provider asks its google-auth-library client for a token before each request: that
  // client is ours, and gives our token (the key file's token_uri, our clock and fetch). The
  // provider has no hook for a refused token: our fetch sees the 401 and drops it.
  const authClient = {
    getAccessToken: async () => ({ token: await token.get() }),
  } as unknown as VertexAuthClient;
  return createVertex(
    defined({
      project,
      location,
      // Not Express mode (GOOGLE_VERTEX_API_KEY): the service account's token.
      apiKey: '',
      googleAuthOptions: { authClient },
      fetch: droppingRefused(fetch, token),
    }),
  )(modelId);
}

type VertexAuthClient = NonNullable<
  NonNullable<
    NonNullable<
      Parameters<typeof import('@ai-sdk/google-vertex').createVertex>[0]
    >['googleAuthOptions']
  >['authClient']
>;

async function googleModel(made: Made): Promise<LanguageModel> {
  if (made.section.vertexai === true) return vertexModel(made);
  const { section, modelId, fetch } = made;
  const { createGoogleGenerativeAI } = await import('@ai-sdk/google');
  return createGoogleGenerativeAI(
    defined({
      apiKey: required('google', section, 'api_key', 'API key'),
      fetch,
    }),
  )(modelId);
}

function azureAuth(
  made: Made,
  endpoint: string,
): { apiKey: string } | { tokenProvider: () => Promise<string> } {
  // A credentials.azure profile wins (an Entra ID service account, renewed when due).
  const fromProfile = profileToken(made, 'azure', new URL(endpoint).host);
  if (fromProfile) return { tokenProvider: fromProfile.get };
  const { section } = made;
  const apiKey = secretOf(section, 'api_key');
  if (apiKey !== undefined) return { apiKey };
  const token = secretOf(section, 'azure_ad_token');
  if (token !== undefined) return { tokenProvider: async () => token };
  throw new McpAgentError(
    'MODEL_CONFIG',
    `The azure provider has no credential: set ${keyToSet('azure', 'api_key')}, ${keyToSet('azure', 'azure_ad_token')}, or a credentials.azure profile (oauth2: an Entra ID service account) in the configuration (secrets in mcp_agent.secrets.yaml).`,
  );
}

async function azureModel(made: Made): Promise<LanguageModel> {
  const { section, modelId, fetch } = made;
  const endpoint = stringOf(section, 'endpoint');
  if (endpoint === undefined || !URL.canParse(endpoint))
    throw missing('azure', 'endpoint', ['endpoint']);
  const auth = azureAuth(made, endpoint);
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

async function bedrockModel(made: Made): Promise<LanguageModel> {
  const { modelId, fetch } = made;
  const credentialProvider = await awsKeys(made);
  const region = await awsRegion(made);
  const { createAmazonBedrock } = await import('@ai-sdk/amazon-bedrock');
  return createAmazonBedrock(
    defined({
      region,
      // The section's keys or profile, never the process environment's keys (nor
      // AWS_BEARER_TOKEN_BEDROCK).
      apiKey: '',
      credentialProvider,
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
 * environment variables) to set when a credential, endpoint, region or model id is missing, or
 * when a key would go over plain `http://` to a host other than loopback; the message never holds
 * a secret. The model's requests follow redirects within their origin only (see
 * `modelRequestFetch`).
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
  refusePlainHttp(settings, provider, section);
  // Late-bound: a `fetch` replaced after the model is made (a test's) is the one used.
  const fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return MAKERS[provider]({
    section,
    modelId: modelIdOf(provider, section, modelId),
    fetch: modelRequestFetch(fetch),
    // credentials.azure's scopes, when settings parsed without the loader come unfilled.
    settings: withAzureScopes(settings),
    options,
  });
}
