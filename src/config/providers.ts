/**
 * The model-provider sections of an mcp-agent file (`openai`, `anthropic`, `azure`, `google`,
 * `cohere`, `lm_studio`, `ollama`) as named credentials for `app.fetch('openai', …)`: each
 * provider's header convention (`Authorization: Bearer`, `x-api-key`, `api-key`,
 * `x-goog-api-key`), bound to the host of its base URL. The env aliases mcp-agent accepts
 * (`OPENAI_API_KEY`, `AZURE_OPENAI_ENDPOINT`, …) are applied when the configuration loads. A
 * `credentials:` profile of the same name wins (an Entra ID service account for Azure, say).
 * Bedrock signs requests (SigV4), which is the AWS SDK's work: its keys are resolved and exposed,
 * not turned into a header.
 *
 * @module
 */
import type { CredentialProfile } from './schema/credentials.js';
import type { Settings } from './schema/settings.js';
import type { Secret } from './secret.js';

/** Where each provider is, by default. */
export const PROVIDER_BASE_URLS = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  google: 'https://generativelanguage.googleapis.com',
  cohere: 'https://api.cohere.com',
  lm_studio: 'http://localhost:1234/v1',
  ollama: 'http://localhost:11434',
} as const;

function hostOf(url: string | undefined): string | undefined {
  return url && URL.canParse(url) ? new URL(url).host : undefined;
}

function usable(secret: Secret | undefined): secret is Secret {
  return secret !== undefined && !secret.isEmpty;
}

/** The provider sections with a credential, as profiles (by provider name). */
export function providerProfiles(settings: Settings): Record<string, CredentialProfile> {
  const out: Record<string, CredentialProfile> = {};
  const bearer = (name: string, token: Secret, base: string | undefined) => {
    const host = hostOf(base);
    if (host) out[name] = { type: 'bearer', token, hosts: [host] };
  };
  const header = (name: string, key: Secret, headerName: string, base: string | undefined) => {
    const host = hostOf(base);
    if (host) {
      out[name] = {
        type: 'api_key',
        api_key: key,
        header: headerName,
        query: undefined,
        hosts: [host],
      };
    }
  };
  const { openai, anthropic, azure, google, cohere, lm_studio, ollama } = settings;
  if (usable(openai?.api_key))
    bearer('openai', openai.api_key, openai.base_url ?? PROVIDER_BASE_URLS.openai);
  if (usable(anthropic?.api_key)) {
    header(
      'anthropic',
      anthropic.api_key,
      'x-api-key',
      anthropic.base_url ?? PROVIDER_BASE_URLS.anthropic,
    );
  }
  if (azure?.endpoint) {
    if (usable(azure.api_key)) header('azure', azure.api_key, 'api-key', azure.endpoint);
    else if (usable(azure.azure_ad_token)) bearer('azure', azure.azure_ad_token, azure.endpoint);
  }
  if (usable(google?.api_key) && !google.vertexai) {
    header('google', google.api_key, 'x-goog-api-key', PROVIDER_BASE_URLS.google);
  }
  if (usable(cohere?.api_key)) bearer('cohere', cohere.api_key, PROVIDER_BASE_URLS.cohere);
  if (usable(lm_studio?.api_key)) {
    bearer('lm_studio', lm_studio.api_key, lm_studio.base_url ?? PROVIDER_BASE_URLS.lm_studio);
  }
  if (usable(ollama?.api_key)) {
    bearer('ollama', ollama.api_key, ollama.base_url ?? PROVIDER_BASE_URLS.ollama);
  }
  return out;
}

/** Bedrock's AWS keys (signing them into requests is the AWS SDK's work). */
export interface AwsCredentials {
  readonly accessKeyId?: Secret | undefined;
  readonly secretAccessKey?: Secret | undefined;
  readonly sessionToken?: Secret | undefined;
  readonly region?: string | undefined;
  /** A named profile of the AWS configuration files, when keys are not given. */
  readonly profile?: string | undefined;
}

/** `bedrock:`'s credentials, or `undefined` without the section. */
export function bedrockCredentials(settings: Settings): AwsCredentials | undefined {
  const bedrock = settings.bedrock;
  if (!bedrock) return undefined;
  return {
    accessKeyId: bedrock.aws_access_key_id,
    secretAccessKey: bedrock.aws_secret_access_key,
    sessionToken: bedrock.aws_session_token,
    region: bedrock.aws_region,
    profile: bedrock.profile,
  };
}

/** Azure OpenAI's scope: mcp-agent's default `azure.credential_scopes`. */
export const AZURE_DEFAULT_SCOPES: readonly string[] = [
  'https://cognitiveservices.azure.com/.default',
];

/**
 * `settings` with the scopes of the `credentials.azure` OAuth 2.0 profile filled in when it names
 * none and an `azure:` section is there to use it: `azure.credential_scopes` (mcp-agent's key),
 * else {@link AZURE_DEFAULT_SCOPES}, as mcp-agent asks Entra ID for. The same object when there
 * is nothing to fill (applied when the settings are validated, and by `modelFor`).
 */
export function withAzureScopes(settings: Settings): Settings {
  const profile = Object.hasOwn(settings.credentials, 'azure')
    ? settings.credentials.azure
    : undefined;
  if (!settings.azure || profile?.type !== 'oauth2' || profile.scopes.length > 0) return settings;
  const configured = settings.azure.credential_scopes ?? [];
  const scopes = configured.length > 0 ? [...configured] : [...AZURE_DEFAULT_SCOPES];
  return { ...settings, credentials: { ...settings.credentials, azure: { ...profile, scopes } } };
}

/** Vertex AI's host in `location` (as `@ai-sdk/google-vertex` chooses it). */
export function vertexHost(location: string): string {
  if (location === 'global') return 'aiplatform.googleapis.com';
  if (location === 'eu' || location === 'us') return `aiplatform.${location}.rep.googleapis.com`;
  return `${location}-aiplatform.googleapis.com`;
}

/** Whether a credential bound to `hosts` may go to `host` (`name:port`, or its name alone). */
export function hostAllowed(hosts: readonly string[], host: string): boolean {
  const hostname = host.replace(/:\d+$/, '').toLowerCase();
  return hosts.some((allowed) => [host.toLowerCase(), hostname].includes(allowed.toLowerCase()));
}

/** The `credentials:` profile `name` when it gives a token (oauth2 or bearer), the way models use it. */
function tokenProfile(settings: Settings, name: string): CredentialProfile | undefined {
  const profile = Object.hasOwn(settings.credentials, name)
    ? settings.credentials[name]
    : undefined;
  return profile?.type === 'oauth2' || profile?.type === 'bearer' ? profile : undefined;
}

/** A provider section that cannot authenticate: its key and what to set. */
export interface ProviderProblem {
  readonly key: string;
  readonly message: string;
}

/** `credentials.NAME` may not be sent to `host`, the provider's endpoint: what to add. */
function hostProblem(name: string, hosts: readonly string[], host: string): ProviderProblem {
  return {
    key: name,
    message: `endpoint host ${host} is not in credentials.${name}.hosts (${hosts.join(', ')}): add it there, or no ${name} model can be made`,
  };
}

function azureProblems(settings: Settings): ProviderProblem[] {
  const azure = settings.azure;
  if (!azure) return [];
  if (!azure.endpoint) {
    return [
      { key: 'azure', message: 'has no endpoint: set azure.endpoint or AZURE_OPENAI_ENDPOINT' },
    ];
  }
  const problems = credentialScopesProblems(settings);
  // A credentials.azure token profile wins over the keys: it must be allowed to the endpoint.
  const profile = tokenProfile(settings, 'azure');
  const host = URL.canParse(azure.endpoint) ? new URL(azure.endpoint).host : undefined;
  if (profile) {
    if (host && !hostAllowed(profile.hosts, host)) {
      problems.push(hostProblem('azure', profile.hosts, host));
    }
  } else if (!usable(azure.api_key) && !usable(azure.azure_ad_token)) {
    problems.push({
      key: 'azure',
      message:
        'has no credential: set azure.api_key (AZURE_OPENAI_API_KEY), azure.azure_ad_token, or a credentials.azure oauth2 profile (an Entra ID service account)',
    });
  }
  return problems;
}

/**
 * `azure.credential_scopes` is asked for only by a `credentials.azure` oauth2 profile without
 * scopes of its own ({@link withAzureScopes} filled them in): otherwise it is not used.
 */
function credentialScopesProblems(settings: Settings): ProviderProblem[] {
  const wanted = settings.azure?.credential_scopes;
  if (!wanted || wanted.length === 0) return [];
  const profile = tokenProfile(settings, 'azure');
  const used =
    profile?.type === 'oauth2' &&
    profile.scopes.length === wanted.length &&
    profile.scopes.every((scope, index) => scope === wanted[index]);
  if (used) return [];
  return [
    {
      key: 'azure',
      message:
        profile?.type === 'oauth2'
          ? 'credential_scopes is not used: the credentials.azure profile names its own scopes'
          : 'credential_scopes is not used: it gives the scopes of a credentials.azure oauth2 profile (an Entra ID service account), and there is none',
    },
  ];
}

function vertexProblems(
  settings: Settings,
  env: Readonly<Record<string, string | undefined>>,
): ProviderProblem[] {
  const google = settings.google;
  if (!google?.vertexai) return [];
  const problems: ProviderProblem[] = [];
  if (!google.location) {
    problems.push({
      key: 'google',
      message: 'on Vertex AI has no location: set google.location or GOOGLE_CLOUD_LOCATION',
    });
  }
  const profile = tokenProfile(settings, 'google');
  if (profile) {
    const host = google.location ? vertexHost(google.location) : undefined;
    if (host && !hostAllowed(profile.hosts, host)) {
      problems.push(hostProblem('google', profile.hosts, host));
    }
  } else if (!env.GOOGLE_APPLICATION_CREDENTIALS) {
    problems.push({
      key: 'google',
      message:
        'on Vertex AI has no credential: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or add a credentials.google profile (oauth2 or bearer)',
    });
  }
  return problems;
}

/**
 * What `config check` reports of the provider sections present. `env` is where
 * `GOOGLE_APPLICATION_CREDENTIALS` is looked for (default `process.env`).
 */
export function providerProblems(
  settings: Settings,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ProviderProblem[] {
  const problems: ProviderProblem[] = [];
  const missing = (key: string, env: string) =>
    problems.push({
      key,
      message: `has no credential: set ${key}.api_key in the secrets file or ${env}`,
    });
  if (settings.openai && !usable(settings.openai.api_key)) missing('openai', 'OPENAI_API_KEY');
  if (
    settings.anthropic &&
    !usable(settings.anthropic.api_key) &&
    !settings.anthropic.aws_access_key_id
  ) {
    missing('anthropic', 'ANTHROPIC_API_KEY');
  }
  problems.push(...azureProblems(settings));
  if (settings.google && !settings.google.vertexai && !usable(settings.google.api_key)) {
    missing('google', 'GOOGLE_API_KEY / GEMINI_API_KEY');
  }
  problems.push(...vertexProblems(settings, env));
  if (settings.cohere && !usable(settings.cohere.api_key)) missing('cohere', 'COHERE_API_KEY');
  const bedrock = settings.bedrock;
  if (bedrock && !bedrock.aws_access_key_id && !bedrock.profile) {
    problems.push({
      key: 'bedrock',
      message:
        'has no AWS credential: set bedrock.aws_access_key_id / aws_secret_access_key (AWS_ACCESS_KEY_ID, …) or bedrock.profile; the AWS SDK signs the requests',
    });
  }
  return problems;
}
