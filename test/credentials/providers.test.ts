/**
 * The model-provider sections as named credentials: each provider's header convention and host,
 * the env aliases, `credentials:` winning over a provider of the same name, Bedrock's keys exposed
 * (not signed), and `config check` naming a provider without a credential.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import { AppDefinition } from '../../src/app/define.js';
import { loadSettings } from '../../src/config/load.js';
import {
  bedrockCredentials,
  providerProblems,
  providerProfiles,
} from '../../src/config/providers.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { runCli, tempTree } from '../helpers/cli.js';

const seen: IncomingHttpHeaders[] = [];
const api = createServer((req, res) => {
  seen.push(req.headers);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
});
let origin = '';
beforeAll(async () => {
  await new Promise<void>((done) => api.listen(0, '127.0.0.1', done));
  origin = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => api.close(() => done())));
const trees: { cleanup(): void }[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});

describe('providerProfiles', () => {
  test("each provider's header convention, bound to the host of its base URL", () => {
    const settings = settingsSchema.parse({
      openai: { api_key: 'sk-canary-openai' },
      anthropic: { api_key: 'canary-anthropic' },
      azure: { api_key: 'canary-azure', endpoint: 'https://contoso.openai.azure.com/' },
      google: { api_key: 'canary-google' },
      cohere: { api_key: 'canary-cohere' },
      ollama: { base_url: 'http://localhost:11434' },
    });
    const profiles = providerProfiles(settings);
    expect(profiles.openai).toMatchObject({ type: 'bearer', hosts: ['api.openai.com'] });
    expect(profiles.anthropic).toMatchObject({
      type: 'api_key',
      header: 'x-api-key',
      hosts: ['api.anthropic.com'],
    });
    expect(profiles.azure).toMatchObject({
      type: 'api_key',
      header: 'api-key',
      hosts: ['contoso.openai.azure.com'],
    });
    expect(profiles.google).toMatchObject({
      type: 'api_key',
      header: 'x-goog-api-key',
      hosts: ['generativelanguage.googleapis.com'],
    });
    expect(profiles.cohere).toMatchObject({ type: 'bearer', hosts: ['api.cohere.com'] });
    // No key, no profile (a local server needs none).
    expect(profiles.ollama).toBeUndefined();
    expect(JSON.stringify(profiles)).not.toContain('canary');
  });

  test('Azure with an Entra ID token instead of a key: bearer', () => {
    const profiles = providerProfiles(
      settingsSchema.parse({
        azure: { azure_ad_token: 'canary-aad', endpoint: 'https://x.openai.azure.com' },
      }),
    );
    expect(profiles.azure).toMatchObject({ type: 'bearer', hosts: ['x.openai.azure.com'] });
  });

  test('the env aliases mcp-agent accepts fill the sections', () => {
    const tree = tempTree({ 'mcp_agent.config.yaml': 'openai: {}\nazure: {}\n' });
    trees.push(tree);
    const { settings } = loadSettings({
      cwd: tree.dir,
      env: {
        OPENAI_API_KEY: 'sk-from-env',
        AZURE_OPENAI_API_KEY: 'azure-from-env',
        AZURE_OPENAI_ENDPOINT: 'https://env.openai.azure.com',
      },
      homeDir: tree.dir,
      dotenv: false,
    });
    const profiles = providerProfiles(settings);
    expect(profiles.openai?.type).toBe('bearer');
    expect(profiles.azure).toMatchObject({ type: 'api_key', hosts: ['env.openai.azure.com'] });
  });

  test('Bedrock: the keys are exposed (as secrets), never turned into a header', () => {
    const settings = settingsSchema.parse({
      bedrock: {
        aws_access_key_id: 'AKIA-canary',
        aws_secret_access_key: 'secret-canary',
        aws_region: 'eu-west-1',
      },
    });
    expect(providerProfiles(settings).bedrock).toBeUndefined();
    const aws = bedrockCredentials(settings);
    expect(aws?.region).toBe('eu-west-1');
    expect(aws?.accessKeyId?.reveal()).toBe('AKIA-canary');
    expect(JSON.stringify(aws)).not.toContain('secret-canary');
  });
});

describe('providerProblems and config check', () => {
  test('a provider section without a credential is reported with what to set', () => {
    const problems = providerProblems(
      settingsSchema.parse({
        openai: {},
        azure: { endpoint: 'https://x.openai.azure.com' },
        bedrock: {},
      }),
    );
    expect(problems.map((problem) => problem.key).sort()).toEqual(['azure', 'bedrock', 'openai']);
    expect(problems.find((problem) => problem.key === 'openai')?.message).toContain(
      'OPENAI_API_KEY',
    );
  });

  test('Vertex AI (google.vertexai) without a credential or a location', () => {
    const messages = (raw: Record<string, unknown>, env: Record<string, string> = {}) =>
      providerProblems(settingsSchema.parse(raw), env).map(
        (problem) => `${problem.key} ${problem.message}`,
      );
    expect(messages({ google: { vertexai: true, project: 'p' } })).toEqual([
      'google on Vertex AI has no location: set google.location or GOOGLE_CLOUD_LOCATION',
      'google on Vertex AI has no credential: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or add a credentials.google profile (oauth2 or bearer)',
    ]);
    const located = { google: { vertexai: true, location: 'us-central1' } };
    expect(messages(located, { GOOGLE_APPLICATION_CREDENTIALS: '/keys/sa.json' })).toEqual([]);
    const bearer = (hosts: string[]) => ({
      ...located,
      credentials: { google: { type: 'bearer', token: 'canary-google', hosts } },
    });
    expect(messages(bearer(['us-central1-aiplatform.googleapis.com']))).toEqual([]);
    expect(messages(bearer(['europe-west4-aiplatform.googleapis.com']))).toEqual([
      'google endpoint host us-central1-aiplatform.googleapis.com is not in credentials.google.hosts (europe-west4-aiplatform.googleapis.com): add it there, or no google model can be made',
    ]);
    // The Gemini API (no vertexai) is not asked for a key file.
    expect(messages({ google: { api_key: 'canary-gemini' } })).toEqual([]);
  });

  test('Azure whose credentials.azure profile may not go to the endpoint; one that may is a credential', () => {
    const withProfile = (hosts: string[], keys: Record<string, string> = {}) =>
      providerProblems(
        settingsSchema.parse({
          azure: { endpoint: 'https://contoso.openai.azure.com/', ...keys },
          credentials: {
            azure: {
              type: 'oauth2',
              token_url: 'https://login.microsoftonline.com/t/oauth2/v2.0/token',
              client_id: 'app',
              client_secret: 'canary-entra',
              hosts,
            },
          },
        }),
        {},
      );
    expect(withProfile(['contoso.openai.azure.com'])).toEqual([]);
    const expected = [
      {
        key: 'azure',
        message:
          'endpoint host contoso.openai.azure.com is not in credentials.azure.hosts (other.openai.azure.com): add it there, or no azure model can be made',
      },
    ];
    expect(withProfile(['other.openai.azure.com'])).toEqual(expected);
    // The profile wins over a key (as the model does), so an api_key does not hide the problem.
    expect(withProfile(['other.openai.azure.com'], { api_key: 'canary-azure' })).toEqual(expected);
  });

  test('azure.credential_scopes fills a credentials.azure profile without scopes; otherwise config check says it is not used', async () => {
    const entra = {
      type: 'oauth2',
      token_url: 'https://login.microsoftonline.com/t/oauth2/v2.0/token',
      client_id: 'app',
      client_secret: 'canary-entra',
      hosts: ['contoso.openai.azure.com'],
    };
    const azure = { endpoint: 'https://contoso.openai.azure.com/' };
    const load = (config: string) => {
      const tree = tempTree({ 'mcp_agent.config.yaml': config });
      trees.push(tree);
      return loadSettings({ cwd: tree.dir, homeDir: tree.dir, dotenv: false, env: {} });
    };
    const yaml = (value: unknown) => JSON.stringify(value);
    const scopesOf = (loaded: ReturnType<typeof load>) => {
      const profile = loaded.settings.credentials.azure;
      return profile?.type === 'oauth2' ? profile.scopes : undefined;
    };
    const notUsed = (loaded: ReturnType<typeof load>) =>
      loaded.warnings.filter((issue) => /credential_scopes is not used/.test(issue.message));

    const filled = load(
      yaml({
        azure: { ...azure, credential_scopes: ['api://gw/.default'] },
        credentials: { azure: entra },
      }),
    );
    expect(scopesOf(filled)).toEqual(['api://gw/.default']);
    expect(notUsed(filled)).toEqual([]);
    const defaulted = load(yaml({ azure, credentials: { azure: entra } }));
    expect(scopesOf(defaulted)).toEqual(['https://cognitiveservices.azure.com/.default']);
    // Without an azure: section the profile is not Azure OpenAI's: left as written.
    expect(scopesOf(load(yaml({ credentials: { azure: entra } })))).toEqual([]);

    const own = load(
      yaml({
        azure: { ...azure, credential_scopes: ['api://gw/.default'] },
        credentials: { azure: { ...entra, scopes: ['api://own/.default'] } },
      }),
    );
    expect(scopesOf(own)).toEqual(['api://own/.default']);
    expect(notUsed(own).map((issue) => issue.message)).toEqual([
      'credential_scopes is not used: the credentials.azure profile names its own scopes',
    ]);
    const keyOnly = load(
      yaml({
        azure: { ...azure, api_key: 'canary-key', credential_scopes: ['api://gw/.default'] },
      }),
    );
    expect(notUsed(keyOnly).map((issue) => issue.path)).toEqual([['azure']]);
  });

  test('config check reports a Vertex section without a credential, GOOGLE_APPLICATION_CREDENTIALS counting', async () => {
    const tree = tempTree({
      'mcp_agent.config.yaml': 'google:\n  vertexai: true\n  location: us-central1\n',
    });
    trees.push(tree);
    const without = await runCli(['config', 'check'], { cwd: tree.dir, env: {} });
    expect(without.code).toBe(0);
    expect(without.stderr).toMatch(
      /google.*on Vertex AI has no credential: set GOOGLE_APPLICATION_CREDENTIALS/,
    );
    const withKey = await runCli(['config', 'check'], {
      cwd: tree.dir,
      env: { GOOGLE_APPLICATION_CREDENTIALS: `${tree.dir}/sa.json` },
    });
    expect(withKey.code).toBe(0);
    expect(withKey.stderr).not.toMatch(/google/);
  });

  test('config check warns and still passes', async () => {
    const tree = tempTree({ 'mcp_agent.config.yaml': 'anthropic:\n  default_model: claude\n' });
    trees.push(tree);
    const result = await runCli(['config', 'check'], { cwd: tree.dir });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/anthropic.*has no credential.*ANTHROPIC_API_KEY/);
  });
});

describe('app.fetch with a provider profile', () => {
  test("the provider's header arrives at its base URL's host; credentials: of the same name wins", async () => {
    const settings = settingsSchema.parse({
      openai: { api_key: 'sk-canary-1', base_url: `${origin}/v1` },
      anthropic: { api_key: 'provider-key', base_url: origin },
      credentials: {
        anthropic: {
          type: 'api_key',
          api_key: 'profile-key',
          header: 'x-api-key',
          hosts: [new URL(origin).host],
        },
      },
    });
    const definition = new AppDefinition();
    const app = await createApp({ settings, definition, env: {} });
    try {
      await definition.fetch('openai', `${origin}/v1/models`);
      expect(seen.at(-1)?.authorization).toBe('Bearer sk-canary-1');
      await definition.fetch('anthropic', `${origin}/v1/messages`);
      expect(seen.at(-1)?.['x-api-key']).toBe('profile-key');
      await expect(
        definition.fetch('openai', 'https://api.openai.com.evil.example/v1'),
      ).rejects.toMatchObject({
        code: 'USAGE',
      });
    } finally {
      await app.close();
    }
  });
});
