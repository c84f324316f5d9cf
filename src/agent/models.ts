/**
 * Language models from mcp-agent's provider sections (`openai`, `anthropic`, `google`, `azure`,
 * `bedrock`, `ollama`, `lm_studio`), made by the Vercel AI SDK's provider packages: the section's
 * keys (filled by mcp-agent's environment aliases when the configuration loads) become the
 * provider's options, and the provider does the rest (its headers, Bedrock's SigV4 signing). The
 * credentials that are more than a key come from our credentials layer: Azure's Entra ID token
 * from a `credentials.azure` profile, Vertex AI's from a service account key file (the JWT bearer
 * grant) or a `credentials.google` profile, each renewed when due; Bedrock's keys from the section
 * or a named AWS profile (the AWS SDK's `fromIni`), its region from the section or that profile.
 * Each provider package is imported only when a model of that provider is made.
 *
 * @module
 */
import type { LanguageModel } from 'ai';
import {
  hostAllowed,
  PROVIDER_BASE_URLS,
  vertexHost,
  withAzureScopes,
} from '../config/providers.js';
import { PROVIDER_ENV_ALIASES } from '../config/schema/providers.js';
import type { Settings } from '../config/schema/settings.js';
import type { Secret } from '../config/secret.js';
import { CredentialProfiles } from '../credentials/profiles.js';
import { readServiceAccountKey, ServiceAccountTokens } from '../credentials/service-account.js';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import { modelRequestFetch, refusePlainHttp } from './model-fetch.js';

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
   * `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE` are read. Default `process.env`.
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** The clock service-account tokens are kept by, epoch milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** A section's keys, as far as making a model needs them. */
type Section = Readonly<Record<string, unknown>>;

interface Made {
  readonly section: Section;
  readonly modelId: string;
  readonly fetch: typeof fetch | undefined;
  readonly settings: Settings;
  readonly options: ModelOptions;
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

/**
 * A token source from the `credentials:` profile `name` (OAuth 2.0 or bearer; the app's token
 * manager obtains and renews it), or `undefined` without one. Refused unless the profile's
 * `hosts` include `host`, where the token is sent.
 */
function profileToken(made: Made, name: 'azure' | 'google', host: string): TokenSource | undefined {
  const profile = made.settings.credentials[name];
  if (!profile || (profile.type !== 'oauth2' && profile.type !== 'bearer')) return undefined;
  if (!hostAllowed(profile.hosts, host)) {
    throw new McpAgentError(
      'MODEL_CONFIG',
      `The credential "${name}" may be sent to ${profile.hosts.join(', ')} only, not to ${host} (the ${name} provider's endpoint): add it to credentials.${name}.hosts.`,
    );
  }
  // The app's credentials when they hold this profile (other settings may have been given).
  const shared = made.options.credentials;
  const type = shared?.describe(name)?.type;
  const credentials =
    shared && (type === 'oauth2' || type === 'bearer')
      ? shared
      : new CredentialProfiles(
          { [name]: profile },
          {
            fetch: (input, init) => globalThis.fetch(input, init),
            ...(made.options.now ? { now: made.options.now } : {}),
          },
        );
  return async () => (await credentials.token(name)).reveal();
}

/** A function giving a bearer token, fresh. */
type TokenSource = () => Promise<string>;

/** The service account of `GOOGLE_APPLICATION_CREDENTIALS`: its tokens and its project. */
async function serviceAccount(made: Made): Promise<{ token: TokenSource; project?: string }> {
  const path = (made.options.env ?? process.env).GOOGLE_APPLICATION_CREDENTIALS;
  if (!path) {
    throw new McpAgentError(
      'MODEL_CONFIG',
      'The google provider on Vertex AI (google.vertexai) has no credential: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or add a credentials.google profile (oauth2 or bearer).',
    );
  }
  const key = await readServiceAccountKey(path);
  const tokens = new ServiceAccountTokens(key, defined({ now: made.options.now }));
  return defined({
    token: async () => (await tokens.token()).reveal(),
    project: key.projectId,
  });
}

async function vertexModel(made: Made): Promise<LanguageModel> {
  const { section, modelId, fetch } = made;
  const location = stringOf(section, 'location');
  if (location === undefined) throw missing('google', 'Vertex AI location', ['location']);
  const fromProfile = profileToken(made, 'google', vertexHost(location));
  const { token, project: keyFileProject } = fromProfile
    ? { token: fromProfile, project: undefined }
    : await serviceAccount(made);
  // The section's project (GOOGLE_CLOUD_PROJECT), else the key file's.
  const project = stringOf(section, 'project') ?? keyFileProject;
  if (project === undefined) throw missing('google', 'Vertex AI project', ['project']);
  const { createVertex } = await import('@ai-sdk/google-vertex');
  // The provider asks its google-auth-library client for a token before each request: that
  // client is ours, and gives our token (the key file's token_uri, our clock and fetch).
  const authClient = {
    getAccessToken: async () => ({ token: await token() }),
  } as unknown as VertexAuthClient;
  return createVertex(
    defined({
      project,
      location,
      // Not Express mode (GOOGLE_VERTEX_API_KEY): the service account's token.
      apiKey: '',
      googleAuthOptions: { authClient },
      fetch,
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
  if (fromProfile) return { tokenProvider: fromProfile };
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

interface AwsKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * The section's keys, else its named `profile` of the AWS shared files (`fromIni`, which reads
 * `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE` of the environment, and follows the
 * profile's role, SSO or process settings).
 */
async function awsKeys(made: Made): Promise<() => Promise<AwsKeys>> {
  const { section } = made;
  const accessKeyId = secretOf(section, 'aws_access_key_id');
  const secretAccessKey = secretOf(section, 'aws_secret_access_key');
  const sessionToken = secretOf(section, 'aws_session_token');
  const profile = stringOf(section, 'profile');
  if (accessKeyId === undefined && profile !== undefined) {
    const env = made.options.env ?? process.env;
    const { fromIni } = await import('@aws-sdk/credential-providers');
    const provider = fromIni(
      defined({
        profile,
        filepath: env.AWS_SHARED_CREDENTIALS_FILE,
        configFilepath: env.AWS_CONFIG_FILE,
      }),
    );
    return async () => {
      const keys = await provider();
      return defined({
        accessKeyId: keys.accessKeyId,
        secretAccessKey: keys.secretAccessKey,
        sessionToken: keys.sessionToken,
      });
    };
  }
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new McpAgentError(
      'MODEL_CONFIG',
      `The bedrock provider has no AWS credential: set ${keyToSet('bedrock', 'aws_access_key_id')}, ${keyToSet('bedrock', 'aws_secret_access_key')}, or a named profile of the AWS files, ${keyToSet('bedrock', 'profile')}, in the configuration (secrets in mcp_agent.secrets.yaml).`,
    );
  }
  return async () => defined({ accessKeyId, secretAccessKey, sessionToken });
}

/**
 * The `region` of the AWS profile `profile`, as the AWS SDK reads it: from the shared files
 * (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/`), the credentials file's
 * profile over the config file's (the SDK's `NODE_REGION_CONFIG_FILE_OPTIONS`).
 */
async function profileRegion(made: Made, profile: string): Promise<string | undefined> {
  const env = made.options.env ?? process.env;
  const { loadSharedConfigFiles } = await import('@smithy/core/config');
  const { configFile, credentialsFile } = await loadSharedConfigFiles(
    defined({ filepath: env.AWS_SHARED_CREDENTIALS_FILE, configFilepath: env.AWS_CONFIG_FILE }),
  );
  const region = credentialsFile[profile]?.region ?? configFile[profile]?.region;
  return region === undefined || region === '' ? undefined : region;
}

/** The section's `aws_region` (`AWS_REGION`), else its `profile`'s region. */
async function awsRegion(made: Made): Promise<string> {
  const region = stringOf(made.section, 'aws_region');
  if (region !== undefined) return region;
  const profile = stringOf(made.section, 'profile');
  const fromProfile = profile === undefined ? undefined : await profileRegion(made, profile);
  if (fromProfile !== undefined) return fromProfile;
  if (profile === undefined) throw missing('bedrock', 'region', ['aws_region']);
  throw new McpAgentError(
    'MODEL_CONFIG',
    `The bedrock provider has no region: set ${keyToSet('bedrock', 'aws_region')} in the configuration, or region in the AWS profile ${JSON.stringify(profile)} (AWS_CONFIG_FILE).`,
  );
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
