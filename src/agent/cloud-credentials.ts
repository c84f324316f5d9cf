/**
 * The credentials of the cloud providers that are more than a key: Azure's Entra ID token and
 * Vertex AI's token from a `credentials:` profile, Vertex AI's from a service account key file
 * (the JWT bearer grant, one {@link ServiceAccountTokens} per key file shared by every model),
 * Bedrock's keys and region from the section or a named AWS profile (the AWS SDK's `fromIni`).
 * The model makers of `./models.ts` hand these to the AI SDK's providers.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { hostAllowed } from '../config/providers.js';
import type { Settings } from '../config/schema/settings.js';
import { CredentialProfiles } from '../credentials/profiles.js';
import {
  readServiceAccountKey,
  type ServiceAccountKey,
  ServiceAccountTokens,
} from '../credentials/service-account.js';
import { McpAgentError } from '../errors.js';
import type { ModelOptions } from './models.js';
import { defined, keyToSet, missing, type Section, secretOf, stringOf } from './sections.js';

/** What obtaining a provider's credential reads: its section, the settings, the options. */
export interface CloudContext {
  /** The provider's section (`azure:`, `google:`, `bedrock:`). */
  readonly section: Section;
  /** The settings the model is made from (their `credentials:` and `oauth:`). */
  readonly settings: Settings;
  /** What {@link modelFor} was given besides the settings. */
  readonly options: ModelOptions;
}

/** A bearer token, fresh on each {@link TokenSource.get}. */
export interface TokenSource {
  /** A token that is not due. */
  get(): Promise<string>;
  /** Forget the token held (the API answered 401): the next `get` obtains another, if it can. */
  invalidate(): void;
}

/** The environment cloud credentials are looked for in: `options.env`, else `process.env`. */
function envOf(context: CloudContext): Readonly<Record<string, string | undefined>> {
  return context.options.env ?? process.env;
}

/**
 * A token source from the `credentials:` profile `name` (OAuth 2.0 or bearer; the app's token
 * manager obtains and renews it), or `undefined` without one. The token comes from the app's
 * credentials (`options.credentials`) when they hold a profile of that name, else from the
 * settings' profile; refused (`MODEL_CONFIG`) unless the `hosts` of the profile that gives the
 * token include `host`, where the token is sent.
 */
export function profileToken(
  context: CloudContext,
  name: 'azure' | 'google',
  host: string,
): TokenSource | undefined {
  const profile = context.settings.credentials[name];
  if (!profile || (profile.type !== 'oauth2' && profile.type !== 'bearer')) return undefined;
  // The app's credentials when they hold this profile (other settings may have been given).
  const shared = context.options.credentials;
  const described = shared?.describe(name);
  const fromShared =
    shared !== undefined && (described?.type === 'oauth2' || described?.type === 'bearer');
  const hosts = fromShared && described ? described.hosts : profile.hosts;
  if (!hostAllowed(hosts, host)) {
    throw new McpAgentError(
      'MODEL_CONFIG',
      `The credential "${name}" may be sent to ${hosts.join(', ')} only, not to ${host} (the ${name} provider's endpoint): add it to credentials.${name}.hosts.`,
    );
  }
  const credentials = fromShared
    ? shared
    : new CredentialProfiles(
        { [name]: profile },
        {
          fetch: (input, init) => globalThis.fetch(input, init),
          ...(context.options.now ? { now: context.options.now } : {}),
        },
      );
  return {
    get: async () => (await credentials.token(name)).reveal(),
    // The app's token manager renews a profile's token when due; a refused one is not dropped.
    invalidate: () => undefined,
  };
}

/** The key files' service accounts, at most this many held at once. */
const MAX_ACCOUNTS = 16;

interface HeldAccount {
  /** The key file's modification time and size when it was read. */
  readonly stamp: string;
  readonly account: Promise<{ key: ServiceAccountKey; tokens: ServiceAccountTokens }>;
}

/**
 * The service accounts of key files, one {@link ServiceAccountTokens} per file (path, modification
 * time and size: a rewritten key file is read again), clock and `oauth.max_token_bytes`, so every
 * model of that file shares its token and one grant renews it. At most 16 files are held (the
 * oldest is forgotten first).
 */
export class ServiceAccounts {
  readonly #held = new Map<string, HeldAccount>();
  readonly #clocks = new WeakMap<() => number, number>();
  #lastClock = 0;

  /** The service account of the key file at `path` (read now unless held), its tokens. */
  async account(
    path: string,
    options: { now?: (() => number) | undefined; maxTokenBytes?: number | undefined } = {},
  ): Promise<{ key: ServiceAccountKey; tokens: ServiceAccountTokens }> {
    const file = await stat(path).catch(() => undefined);
    // Unreadable: readServiceAccountKey says so, naming the file.
    if (!file) return this.#read(path, options);
    const name = `${this.#clockId(options.now)}\0${options.maxTokenBytes ?? ''}\0${resolve(path)}`;
    const stamp = `${file.mtimeMs}:${file.size}`;
    const held = this.#held.get(name);
    if (held?.stamp === stamp) return held.account;
    const account = this.#read(path, options);
    this.#held.delete(name);
    this.#held.set(name, { stamp, account });
    account.catch(() => {
      if (this.#held.get(name)?.account === account) this.#held.delete(name);
    });
    for (const oldest of this.#held.keys()) {
      if (this.#held.size <= MAX_ACCOUNTS) break;
      this.#held.delete(oldest);
    }
    return account;
  }

  /** Forget every account held (and its token). */
  clear(): void {
    this.#held.clear();
  }

  async #read(
    path: string,
    options: { now?: (() => number) | undefined; maxTokenBytes?: number | undefined },
  ): Promise<{ key: ServiceAccountKey; tokens: ServiceAccountTokens }> {
    const key = await readServiceAccountKey(path);
    return { key, tokens: new ServiceAccountTokens(key, defined(options)) };
  }

  /** One number per clock (0: the default clock), so accounts of other clocks are not shared. */
  #clockId(now: (() => number) | undefined): number {
    if (now === undefined) return 0;
    let id = this.#clocks.get(now);
    if (id === undefined) {
      this.#lastClock += 1;
      id = this.#lastClock;
      this.#clocks.set(now, id);
    }
    return id;
  }
}

/** The process's service accounts: what {@link serviceAccountToken} uses by default. */
export const serviceAccounts = new ServiceAccounts();

/**
 * The service account of `GOOGLE_APPLICATION_CREDENTIALS` (in `options.env`, default
 * `process.env`): its token, shared by every model of that key file ({@link ServiceAccounts}), and
 * its project. Throws `MODEL_CONFIG` without the variable.
 */
export async function serviceAccountToken(
  context: CloudContext,
): Promise<{ token: TokenSource; project?: string }> {
  const path = envOf(context).GOOGLE_APPLICATION_CREDENTIALS;
  if (!path) {
    throw new McpAgentError(
      'MODEL_CONFIG',
      'The google provider on Vertex AI (google.vertexai) has no credential: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or add a credentials.google profile (oauth2 or bearer).',
    );
  }
  const accounts = context.options.serviceAccounts ?? serviceAccounts;
  const { key, tokens } = await accounts.account(path, {
    now: context.options.now,
    maxTokenBytes: context.settings.oauth.max_token_bytes,
  });
  return defined({
    token: {
      get: async () => (await tokens.token()).reveal(),
      invalidate: () => tokens.invalidate(),
    },
    project: key.projectId,
  });
}

/** AWS keys, as Bedrock's `credentialProvider` gives them. */
export interface AwsKeys {
  /** `aws_access_key_id`. */
  readonly accessKeyId: string;
  /** `aws_secret_access_key`. */
  readonly secretAccessKey: string;
  /** `aws_session_token`, for temporary keys. */
  readonly sessionToken?: string;
}

/**
 * The bedrock section's keys, else its named `profile` of the AWS shared files (`fromIni`, which
 * reads `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE` of the environment, and follows the
 * profile's role, SSO or process settings). Throws `MODEL_CONFIG` with neither.
 */
export async function awsKeys(context: CloudContext): Promise<() => Promise<AwsKeys>> {
  const { section } = context;
  const accessKeyId = secretOf(section, 'aws_access_key_id');
  const secretAccessKey = secretOf(section, 'aws_secret_access_key');
  const sessionToken = secretOf(section, 'aws_session_token');
  const profile = stringOf(section, 'profile');
  if (accessKeyId === undefined && profile !== undefined) {
    const env = envOf(context);
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
async function profileRegion(context: CloudContext, profile: string): Promise<string | undefined> {
  const env = envOf(context);
  const { loadSharedConfigFiles } = await import('@smithy/core/config');
  const { configFile, credentialsFile } = await loadSharedConfigFiles(
    defined({ filepath: env.AWS_SHARED_CREDENTIALS_FILE, configFilepath: env.AWS_CONFIG_FILE }),
  );
  const region = credentialsFile[profile]?.region ?? configFile[profile]?.region;
  return region === undefined || region === '' ? undefined : region;
}

/**
 * The bedrock section's `aws_region` (`AWS_REGION`), else its `profile`'s region. Throws
 * `MODEL_CONFIG` without either.
 */
export async function awsRegion(context: CloudContext): Promise<string> {
  const region = stringOf(context.section, 'aws_region');
  if (region !== undefined) return region;
  const profile = stringOf(context.section, 'profile');
  const fromProfile = profile === undefined ? undefined : await profileRegion(context, profile);
  if (fromProfile !== undefined) return fromProfile;
  if (profile === undefined) throw missing('bedrock', 'region', ['aws_region']);
  throw new McpAgentError(
    'MODEL_CONFIG',
    `The bedrock provider has no region: set ${keyToSet('bedrock', 'aws_region')} in the configuration, or region in the AWS profile ${JSON.stringify(profile)} (AWS_CONFIG_FILE).`,
  );
}
