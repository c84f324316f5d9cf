/**
 * Models from mcp-agent's provider sections (issue 17, item 1): each provider's real AI SDK
 * package answers `generateText` against a local stand-in of its API (OpenAI chat completions,
 * Anthropic messages, Gemini generateContent, Azure OpenAI, Bedrock Converse, Ollama's and LM
 * Studio's OpenAI-compatible API). Each stand-in checks that the credential arrives in exactly the
 * provider's header and nowhere else (not in the URL, not in the body); a model id the API
 * rejects brings the API's error text to the caller, without a secret. A missing credential is
 * one `MODEL_CONFIG` error naming the provider, the keys and the environment variables; canary
 * secrets never reach a message. The same APIs through `Agent.attachLlm`, with a tool call,
 * streamed and not (OpenAI's organization and default headers, Ollama's key among them), are in
 * providers.test.ts.
 */
import { inspect } from 'node:util';
import { generateText } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { modelFor } from '../../src/agent/models.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { McpAgentError } from '../../src/errors.js';
import { settingsFrom } from './settings-from.js';
import {
  ANSWER,
  placesOf,
  type Received,
  routedTo,
  type StandIn,
  startStandIn,
  UNKNOWN_MODEL,
  UNKNOWN_MODEL_TEXT,
} from './stand-in.js';

let standIn: StandIn;
let origin = '';
let received: Received[] = [];
beforeAll(async () => {
  standIn = await startStandIn();
  origin = standIn.url;
  received = standIn.received;
});
afterAll(() => standIn.close());
beforeEach(() => {
  received.length = 0;
});
const routedToStandIn = (): typeof fetch => routedTo(origin);

async function ask(model: Awaited<ReturnType<typeof modelFor>>): Promise<Received> {
  const result = await generateText({
    model,
    prompt: 'Print the first 2 paragraphs of …',
    maxRetries: 0,
  });
  expect(result.text).toBe(ANSWER);
  expect(received).toHaveLength(1);
  return received[0] as Received;
}

describe('each provider, with its real AI SDK package, against a stand-in of its API', () => {
  test('anthropic: messages, x-api-key; base_url in either form', async () => {
    for (const base of [origin, `${origin}/v1`]) {
      received.length = 0;
      const settings = settingsSchema.parse({
        anthropic: { api_key: 'canary-anthropic', base_url: base },
      });
      const request = await ask(await modelFor(settings, 'anthropic', 'claude-sonnet-4-5'));
      expect(request.url).toBe('/v1/messages');
      expect(JSON.parse(request.body)).toMatchObject({ model: 'claude-sonnet-4-5' });
      expect(request.headers['x-api-key']).toBe('canary-anthropic');
      expect(placesOf(request, 'canary-anthropic')).toEqual(['header:x-api-key']);
    }
  });

  test('google: Gemini generateContent, x-goog-api-key (not ?key=)', async () => {
    const settings = settingsSchema.parse({
      google: { api_key: 'canary-gemini', default_model: 'gemini-2.0-flash' },
    });
    const request = await ask(
      await modelFor(settings, 'google', undefined, { fetch: routedToStandIn() }),
    );
    expect(request.intended).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent',
    );
    expect(request.headers['x-goog-api-key']).toBe('canary-gemini');
    expect(placesOf(request, 'canary-gemini')).toEqual(['header:x-goog-api-key']);
  });

  test.each([
    {
      name: 'a dated api_version is the deployments API, with api-key',
      azure: {
        api_key: 'canary-azure',
        endpoint: 'https://contoso.openai.azure.com/',
        api_version: '2024-10-21',
        azure_deployment: 'finder-gpt4o',
      },
      intended:
        'https://contoso.openai.azure.com/openai/deployments/finder-gpt4o/chat/completions?api-version=2024-10-21',
      header: ['api-key', 'canary-azure', 'canary-azure'],
      absent: 'authorization',
    },
    {
      name: "without api_version, Azure's v1 API; an Entra ID token as a bearer",
      azure: {
        azure_ad_token: 'canary-entra',
        endpoint: 'https://contoso.openai.azure.com',
        default_model: 'gpt-4o',
      },
      intended: 'https://contoso.openai.azure.com/openai/v1/chat/completions?api-version=v1',
      header: ['authorization', 'Bearer canary-entra', 'canary-entra'],
      absent: 'api-key',
    },
  ] as const)('azure: $name', async ({ azure, intended, header, absent }) => {
    const settings = settingsSchema.parse({ azure });
    const request = await ask(
      await modelFor(settings, 'azure', undefined, { fetch: routedToStandIn() }),
    );
    const [name, value, secret] = header;
    expect(request.intended).toBe(intended);
    expect(request.headers[name]).toBe(value);
    expect(placesOf(request, secret)).toEqual([`header:${name}`]);
    expect(request.headers[absent]).toBeUndefined();
  });

  test("bedrock: Converse, signed by the provider (AWS4-HMAC-SHA256, the section's key and region)", async () => {
    const settings = settingsSchema.parse({
      bedrock: {
        aws_access_key_id: 'AKIDCANARY0001',
        aws_secret_access_key: 'canary-aws-secret',
        aws_session_token: 'canary-aws-session',
        aws_region: 'eu-west-3',
        default_model: 'anthropic.claude-3-haiku-20240307-v1:0',
      },
    });
    const request = await ask(
      await modelFor(settings, 'bedrock', undefined, { fetch: routedToStandIn() }),
    );
    expect(request.intended).toBe(
      'https://bedrock-runtime.eu-west-3.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
    );
    const date = String(request.headers['x-amz-date']);
    expect(date).toMatch(/^\d{8}T\d{6}Z$/);
    const authorization = String(request.headers.authorization);
    const signature =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    expect(signature, authorization).not.toBeNull();
    const [, keyId, day, region, service, signedHeaders] = signature as RegExpExecArray;
    expect({ keyId, day, region, service }).toEqual({
      keyId: 'AKIDCANARY0001',
      day: date.slice(0, 8),
      region: 'eu-west-3',
      service: 'bedrock',
    });
    expect(signedHeaders?.split(';')).toEqual(
      expect.arrayContaining(['host', 'x-amz-date', 'x-amz-security-token']),
    );
    expect(request.headers['x-amz-security-token']).toBe('canary-aws-session');
    expect(placesOf(request, 'canary-aws-session')).toEqual(['header:x-amz-security-token']);
    expect(placesOf(request, 'AKIDCANARY0001')).toEqual(['header:authorization']);
    // The secret key only signs: it is sent nowhere.
    expect(placesOf(request, 'canary-aws-secret')).toEqual([]);
  });

  test.each([
    ['ollama', 'llama3.2:3b'],
    ['lm_studio', 'qwen2.5-7b-instruct'],
  ])('%s: the OpenAI-compatible API at base_url, no key needed', async (provider, model) => {
    const settings = settingsSchema.parse({
      [provider]: { base_url: `${origin}/v1`, default_model: model },
    });
    const request = await ask(await modelFor(settings, provider));
    expect(request.url).toBe('/v1/chat/completions');
    expect(JSON.parse(request.body)).toMatchObject({ model });
    expect(request.headers.authorization).toBeUndefined();
  });
});

describe('a model id the API rejects', () => {
  test.each([
    ['openai', { api_key: 'sk-canary-1', base_url: 'STAND_IN/v1' }],
    ['anthropic', { api_key: 'canary-2', base_url: 'STAND_IN' }],
    ['google', { api_key: 'canary-3' }],
    [
      'azure',
      {
        api_key: 'canary-4',
        endpoint: 'https://contoso.openai.azure.com',
        api_version: '2024-10-21',
      },
    ],
    [
      'bedrock',
      {
        aws_access_key_id: 'AKIDCANARY5',
        aws_secret_access_key: 'canary-6',
        aws_region: 'us-east-1',
      },
    ],
    ['ollama', { base_url: 'STAND_IN/v1', api_key: 'canary-7' }],
  ] as const)(
    "%s: the API's error text reaches the caller, with no secret",
    async (provider, section) => {
      const withOrigin = JSON.parse(JSON.stringify(section).replaceAll('STAND_IN', origin));
      const model = await modelFor(
        settingsSchema.parse({ [provider]: withOrigin }),
        provider,
        UNKNOWN_MODEL,
        {
          fetch: routedToStandIn(),
        },
      );
      const error = await generateText({ model, prompt: 'hi', maxRetries: 0 }).then(
        () => undefined,
        (caught: unknown) => caught as Error,
      );
      expect(error?.message).toContain(UNKNOWN_MODEL_TEXT);
      expect(
        `${error?.message} ${JSON.stringify(error)} ${inspect(error, { depth: 8 })}`,
      ).not.toMatch(/canary/i);
      expect(received).toHaveLength(1);
    },
  );
});

describe("mcp-agent's environment aliases fill the sections", () => {
  test('OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_DEFAULT_MODEL; AWS_* for bedrock', async () => {
    const settings = settingsFrom(
      { 'mcp_agent.config.yaml': 'name: finder\n' },
      {
        OPENAI_API_KEY: 'sk-canary-env',
        OPENAI_BASE_URL: `${origin}/v1`,
        OPENAI_DEFAULT_MODEL: 'gpt-4.1',
        AWS_ACCESS_KEY_ID: 'AKIDCANARYENV',
        AWS_SECRET_ACCESS_KEY: 'canary-env-secret',
        AWS_REGION: 'us-east-2',
      },
    );
    const request = await ask(await modelFor(settings, 'openai'));
    expect(JSON.parse(request.body)).toMatchObject({ model: 'gpt-4.1' });
    expect(request.headers.authorization).toBe('Bearer sk-canary-env');

    received.length = 0;
    const signed = await ask(
      await modelFor(settings, 'bedrock', 'amazon.nova-lite-v1:0', { fetch: routedToStandIn() }),
    );
    expect(signed.intended).toContain('https://bedrock-runtime.us-east-2.amazonaws.com/');
    expect(String(signed.headers.authorization)).toContain('Credential=AKIDCANARYENV/');
  });
});

describe('a model that cannot be made: one clear error, no secret in it', () => {
  const CANARIES = /canary/i;

  async function refusal(settings: unknown, provider: string, modelId?: string): Promise<string> {
    const error = await modelFor(settingsSchema.parse(settings), provider, modelId).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).code).toBe('MODEL_CONFIG');
    const text = `${(error as Error).message} ${JSON.stringify(error)}`;
    expect(text).not.toMatch(CANARIES);
    expect(received).toEqual([]);
    return (error as Error).message;
  }

  test.each([
    [
      'openai without a key',
      { openai: { default_headers: { 'x-team': 'canary-h' } } },
      'openai',
      'The openai provider has no API key: set openai.api_key (OPENAI_API_KEY)',
    ],
    [
      'no section at all',
      {},
      'anthropic',
      'The anthropic provider has no API key: set anthropic.api_key (ANTHROPIC_API_KEY)',
    ],
    [
      'google without a key',
      { google: { project: 'p' } },
      'google',
      'The google provider has no API key: set google.api_key (GOOGLE_API_KEY or GEMINI_API_KEY)',
    ],
    [
      'azure without an endpoint',
      { azure: { api_key: 'canary-azure' } },
      'azure',
      'The azure provider has no endpoint: set azure.endpoint (AZURE_OPENAI_ENDPOINT or AZURE_AI_ENDPOINT)',
    ],
    [
      'azure without a credential',
      { azure: { endpoint: 'https://contoso.openai.azure.com' } },
      'azure',
      'The azure provider has no credential: set azure.api_key (AZURE_OPENAI_API_KEY or AZURE_AI_API_KEY), azure.azure_ad_token (AZURE_AD_TOKEN or AZURE_AI_AD_TOKEN)',
    ],
    [
      'bedrock without its secret key',
      { bedrock: { aws_access_key_id: 'AKIDCANARY', aws_region: 'us-east-1' } },
      'bedrock',
      'The bedrock provider has no AWS credential: set bedrock.aws_access_key_id (AWS_ACCESS_KEY_ID), bedrock.aws_secret_access_key (AWS_SECRET_ACCESS_KEY)',
    ],
    [
      'bedrock without a region',
      { bedrock: { aws_access_key_id: 'AKIDCANARY', aws_secret_access_key: 'canary-s' } },
      'bedrock',
      'The bedrock provider has no region: set bedrock.aws_region (AWS_REGION)',
    ],
  ] as const)('%s', async (_name, settings, provider, expected) => {
    expect(await refusal(settings, provider, 'some-model')).toContain(expected);
  });

  test('no model id and no default_model names the key and its variable', async () => {
    expect(await refusal({ openai: { api_key: 'sk-canary' } }, 'openai')).toBe(
      'No model for the openai provider: pass a model id, or set openai.default_model (OPENAI_DEFAULT_MODEL).',
    );
    expect(await refusal({ azure: { api_key: 'canary' } }, 'azure')).toContain(
      'azure.azure_deployment (AZURE_OPENAI_DEPLOYMENT or AZURE_AI_DEPLOYMENT) or azure.default_model',
    );
  });

  test.each([
    [
      { anthropic: { provider: 'bedrock', aws_access_key_id: 'AKIDCANARY' } },
      'anthropic',
      "The anthropic provider through bedrock (anthropic.provider) is not supported yet: use Anthropic's API with anthropic.api_key, or the bedrock provider.",
    ],
  ] as const)('not yet supported: %o', async (settings, provider, expected) => {
    expect(await refusal(settings, provider, 'some-model')).toBe(expected);
  });

  test('an unknown provider lists the known ones', async () => {
    expect(await refusal({}, 'cohere', 'command-r')).toBe(
      'Unknown model provider "cohere": use one of openai, anthropic, google, azure, bedrock, ollama, lm_studio.',
    );
  });
});
