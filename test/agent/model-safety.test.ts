/**
 * Where a provider's key may travel (src/agent/model-fetch.ts): a redirect to another origin is
 * not followed (Anthropic's `x-api-key`, Azure's `api-key`, Gemini's `x-goog-api-key` would go
 * along: `fetch` strips only `Authorization`), one within the origin is; a key over plain
 * `http://` to a host other than loopback is refused before any request. And a provider's error
 * text as it may be shown (`providerErrorText`): every secret of the settings scrubbed.
 */
import { APICallError, generateText } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { modelFor } from '../../src/agent/models.js';
import { providerErrorText } from '../../src/agent/provider-error.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { McpAgentError } from '../../src/errors.js';
import { type Stub, startHttpStub } from '../support/stub-servers.js';
import { ANTHROPIC_MESSAGES } from './apis/anthropic-messages.js';

/** The other origin: records each request reaching it, with its headers. */
let elsewhere: Stub;
const reached: string[] = [];
/** The API: `/moved/…` redirects within its origin, anything else 307s to `elsewhere`. */
let api: Stub;

beforeAll(async () => {
  elsewhere = await startHttpStub((req, res) => {
    reached.push(JSON.stringify(req.headers));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  api = await startHttpStub((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/moved/')) {
      res.writeHead(307, { location: url.slice('/moved'.length) }).end();
    } else if (url === '/v1/messages') {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(ANTHROPIC_MESSAGES.json({ text: 'same origin' }, 1)));
      });
    } else {
      res.writeHead(307, { location: `${elsewhere.url}/steal${url}` }).end();
    }
  });
});
afterAll(() => Promise.all([api.close(), elsewhere.close()]));
beforeEach(() => {
  reached.length = 0;
});

/** Sends every request meant for the provider's real host to `api`, as `fetch` got it. */
const toApi =
  (prefix = ''): typeof fetch =>
  (input, init) => {
    const meant = new URL(input instanceof Request ? input.url : input);
    return fetch(`${api.url}${prefix}${meant.pathname}${meant.search}`, init);
  };

async function refused(model: Awaited<ReturnType<typeof modelFor>>, canary: string) {
  const error = await generateText({ model, prompt: 'Hi.', maxRetries: 0 }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(McpAgentError);
  expect((error as McpAgentError).code).toBe('MODEL_REQUEST');
  const message = (error as Error).message;
  expect(message).toContain('answered 307, a redirect to http://127.0.0.1:');
  expect(message).toContain(new URL(elsewhere.url).origin);
  expect(message).not.toContain('/steal');
  expect(message).not.toContain(canary);
  expect(reached).toEqual([]);
}

describe('a redirect of a model request', () => {
  test('anthropic (x-api-key): to another origin, not followed, an error naming the status', async () => {
    const settings = settingsSchema.parse({
      anthropic: { api_key: 'sk-ant-canary-redirect', base_url: `${api.url}/elsewhere` },
    });
    await refused(await modelFor(settings, 'anthropic', 'claude-x'), 'sk-ant-canary-redirect');
  });

  test('azure (api-key): to another origin, not followed', async () => {
    const settings = settingsSchema.parse({
      azure: { api_key: 'az-canary-redirect', endpoint: api.url, azure_deployment: 'd' },
    });
    await refused(await modelFor(settings, 'azure'), 'az-canary-redirect');
  });

  test('google (x-goog-api-key): to another origin, not followed', async () => {
    const settings = settingsSchema.parse({ google: { api_key: 'goog-canary-redirect' } });
    const model = await modelFor(settings, 'google', 'gemini-x', { fetch: toApi() });
    await refused(model, 'goog-canary-redirect');
  });

  test('within the origin: followed, with the same method and body', async () => {
    const settings = settingsSchema.parse({
      anthropic: { api_key: 'sk-ant-canary-redirect', base_url: `${api.url}/moved` },
    });
    const model = await modelFor(settings, 'anthropic', 'claude-x');
    const result = await generateText({ model, prompt: 'Hi.', maxRetries: 0 });
    expect(result.text).toBe('same origin');
    expect(reached).toEqual([]);
  });
});

describe('a key over plain http', () => {
  test.each([
    ['openai', { openai: { api_key: 'sk-canary-http', base_url: 'http://gateway.example/v1' } }],
    ['anthropic', { anthropic: { api_key: 'sk-canary-http', base_url: 'http://10.0.0.5' } }],
    [
      'azure',
      {
        azure: {
          api_key: 'canary-http',
          endpoint: 'http://contoso.example',
          azure_deployment: 'd',
        },
      },
    ],
    ['ollama', { ollama: { api_key: 'canary-http', base_url: 'http://gpu.example:11434/v1' } }],
    [
      'lm_studio',
      { lm_studio: { default_headers: { 'x-key': 'canary-http' }, base_url: 'http://lm.example' } },
    ],
  ] as const)(
    '%s to a remote host: MODEL_CONFIG, before any request',
    async (provider, section) => {
      const error = await modelFor(settingsSchema.parse(section), provider, 'm').then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(McpAgentError);
      expect((error as McpAgentError).code).toBe('MODEL_CONFIG');
      expect((error as Error).message).toMatch(/would send its key in clear to .*http:\/\//);
      expect((error as Error).message).not.toContain('canary');
    },
  );

  test('to loopback, or without a key, or over https: accepted', async () => {
    for (const section of [
      { openai: { api_key: 'sk-canary-http', base_url: 'http://127.0.0.1:1/v1' } },
      { anthropic: { api_key: 'sk-canary-http', base_url: 'http://localhost:1' } },
      { ollama: { base_url: 'http://gpu.example:11434/v1' } },
      { openai: { api_key: 'sk-canary-http', base_url: 'https://gateway.example/v1' } },
    ]) {
      const provider = Object.keys(section)[0] as string;
      await expect(modelFor(settingsSchema.parse(section), provider, 'm')).resolves.toBeDefined();
    }
  });
});

describe('providerErrorText', () => {
  test('scrubs every secret of the settings from the text, and shows only the message', () => {
    const settings = settingsSchema.parse({
      openai: { api_key: 'sk-canary-openai', default_headers: { 'x-team': 'canary-header' } },
      azure: { azure_ad_token: 'canary-entra-token' },
      bedrock: { aws_secret_access_key: 'canary-aws-secret', aws_session_token: 'canary-aws-st' },
      credentials: {
        partner: {
          type: 'oauth2',
          token_url: 'https://login.example/token',
          client_id: 'c',
          client_secret: 'canary-client-secret',
          hosts: ['api.example'],
        },
      },
    });
    const secrets = [
      'sk-canary-openai',
      'canary-header',
      'canary-entra-token',
      'canary-aws-secret',
      'canary-aws-st',
      'canary-client-secret',
    ];
    const error = new APICallError({
      message: `Incorrect API key provided: ${secrets.join(', ')}; ${encodeURIComponent('sk-canary-openai')}`,
      url: 'https://api.example/v1',
      requestBodyValues: { key: 'sk-canary-openai' },
      responseBody: 'sk-canary-openai',
      statusCode: 401,
    });
    const text = providerErrorText(error, settings, ['runtime-token-canary']);
    expect(text).toMatch(/^Incorrect API key provided: \[redacted\]/);
    expect(text).not.toMatch(/canary/);
    expect(
      providerErrorText('plain runtime-token-canary', settings, ['runtime-token-canary']),
    ).toBe('plain [redacted]');
  });
});
