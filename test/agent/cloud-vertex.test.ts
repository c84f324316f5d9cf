/**
 * Google Vertex AI with a service account (issue 17, items 1 and 6): the real
 * `@ai-sdk/google-vertex` provider against a stand-in of Vertex's generateContent (the URL with
 * the project, location, `publishers/google/models/…`), its token ours: the JWT bearer grant
 * (RFC 7523) with an assertion signed by the key file's private key, sent to the key file's
 * `token_uri`, where the stand-in token endpoint verifies it with the account's public key. The
 * API accepts only the token issued last; a new one is obtained after the injected clock passed
 * the expiry. The agent's tool call runs on a real OAuth-protected MCP server, then the final
 * answer, non-streamed and streamed (server-sent events).
 */
import { utimes } from 'node:fs/promises';
import { generateText } from 'ai';
import { decodeJwt, exportPKCS8, generateKeyPair, importPKCS8, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { ServiceAccounts, serviceAccounts } from '../../src/agent/cloud-credentials.js';
import { modelFor } from '../../src/agent/models.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import {
  readServiceAccountKey,
  ServiceAccountTokens,
} from '../../src/credentials/service-account.js';
import { tempTree } from '../helpers/cli.js';
import {
  agentsDocYaml,
  type CloudRequest,
  failureOf,
  placesIn,
  routedTo,
  type ScriptedCloud,
  startTokenEndpoint,
  startVertexStandIn,
  type TokenEndpoint,
  type TokenEndpointOptions,
} from './cloud-stand-ins.js';
import { protectedFinder, whoAmI, whoamiThenSubject } from './protected-finder.js';
import { settingsFrom } from './settings-from.js';

const EMAIL = 'finder@canary-project.iam.gserviceaccount.com';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const LIFETIME_S = 3600;
const MODEL = 'gemini-2.0-flash';

const files = tempTree();
let privateKeyPem = '';
let google: TokenEndpoint;
let vertex: ScriptedCloud;
let keyFile = '';
/** The token endpoint's options, changed by a test (and put back after it). */
let endpoint: { -readonly [K in keyof TokenEndpointOptions]: TokenEndpointOptions[K] };

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  privateKeyPem = await exportPKCS8(privateKey);
  endpoint = {
    account: { email: EMAIL, key: publicKey, scope: SCOPE },
    expiresIn: LIFETIME_S,
    prefix: 'ya29.canary',
  };
  google = await startTokenEndpoint(endpoint);
  vertex = await startVertexStandIn();
  vertex.check = (request) =>
    request.headers.authorization === `Bearer ${google.current()}`
      ? undefined
      : { status: 401, message: 'Request had invalid authentication credentials.' };
  keyFile = files.write(
    'service-account.json',
    JSON.stringify({
      type: 'service_account',
      project_id: 'canary-project',
      private_key_id: 'canary-key-id',
      private_key: privateKeyPem,
      client_email: EMAIL,
      client_id: '1234567890',
      token_uri: google.url,
    }),
  );
});
afterAll(async () => {
  await vertex.close();
  await google.close();
  files.cleanup();
});
beforeEach(() => {
  // Each test starts without the key file's held token (the stand-in takes the last issued only).
  serviceAccounts.clear();
  endpoint.expiresIn = LIFETIME_S;
  endpoint.prefix = 'ya29.canary';
  vertex.received.length = 0;
  vertex.script = () => ({ text: 'Answered by Vertex.' });
});

const vertexSettings = (google: Record<string, unknown> = {}) =>
  settingsSchema.parse({
    google: { vertexai: true, location: 'us-central1', default_model: MODEL, ...google },
  });

/** The private key's base64 body, as it could leak (without its PEM lines). */
const keyBody = () => privateKeyPem.split('\n')[1] ?? 'no key';

describe('vertex: a service account by the JWT bearer grant, renewed when due', () => {
  test('generateContent at the project and location, with the token the endpoint issued for a verified assertion', async () => {
    let clock = Date.now();
    const model = await modelFor(vertexSettings(), 'google', undefined, {
      fetch: routedTo(vertex.url),
      env: { GOOGLE_APPLICATION_CREDENTIALS: keyFile },
      now: () => clock,
    });
    const grantsBefore = google.grants.length;
    const ask = async () => (await generateText({ model, prompt: 'Hi.', maxRetries: 0 })).text;
    expect(await ask()).toBe('Answered by Vertex.');
    clock += (LIFETIME_S + 1) * 1000;
    expect(await ask()).toBe('Answered by Vertex.');

    expect(google.grants.slice(grantsBefore)).toEqual([
      { grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer', ok: true },
      { grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer', ok: true },
    ]);
    const [first, second] = vertex.received;
    if (!first || !second) throw new Error('Vertex was not asked twice');
    expect(first.intended).toBe(
      `https://us-central1-aiplatform.googleapis.com/v1beta1/projects/canary-project/locations/us-central1/publishers/google/models/${MODEL}:generateContent`,
    );
    const [token1, token2] = google.issued.slice(-2) as [string, string];
    expect(first.headers.authorization).toBe(`Bearer ${token1}`);
    expect(second.headers.authorization).toBe(`Bearer ${token2}`);
    expect(placesIn(first, token1)).toEqual(['header:authorization']);
    expect(placesIn(second, token2)).toEqual(['header:authorization']);
    for (const request of [first, second]) expect(placesIn(request, keyBody())).toEqual([]);
  });

  test("docs/agents.md's configuration, as the page shows it", async () => {
    const settings = settingsFrom({
      'mcp_agent.config.yaml': agentsDocYaml('# mcp_agent.config.yaml\ngoogle:'),
    });
    const model = await modelFor(settings, 'google', undefined, {
      fetch: routedTo(vertex.url),
      env: { GOOGLE_APPLICATION_CREDENTIALS: keyFile },
    });
    expect((await generateText({ model, prompt: 'Hi.', maxRetries: 0 })).text).toBe(
      'Answered by Vertex.',
    );
    expect(vertex.received[0]?.intended).toMatch(
      /^https:\/\/us-central1-aiplatform\.googleapis\.com\/v1beta1\/projects\/my-project\/locations\/us-central1\/publishers\/google\/models\/gemini-2\.0-flash:generateContent$/,
    );
  });

  test('a credentials.google profile instead of a key file: its token, to the Vertex host only', async () => {
    const raw = (location: string) => ({
      google: { vertexai: true, project: 'p', location, default_model: MODEL },
      credentials: {
        google: {
          type: 'bearer' as const,
          token: 'canary-google-bearer',
          hosts: ['europe-west4-aiplatform.googleapis.com'],
        },
      },
    });
    const settings = settingsSchema.parse(raw('europe-west4'));
    vertex.check = (request) =>
      request.headers.authorization === 'Bearer canary-google-bearer'
        ? undefined
        : { status: 401, message: 'Request had invalid authentication credentials.' };
    try {
      const model = await modelFor(settings, 'google', undefined, {
        fetch: routedTo(vertex.url),
        env: {},
      });
      await generateText({ model, prompt: 'Hi.', maxRetries: 0 });
      const [request] = vertex.received;
      expect(request?.intended).toContain(
        'https://europe-west4-aiplatform.googleapis.com/v1beta1/projects/p/locations/europe-west4/',
      );
      expect(placesIn(request as CloudRequest, 'canary-google-bearer')).toEqual([
        'header:authorization',
      ]);
      const elsewhere = settingsSchema.parse(raw('us-east1'));
      const refused = await failureOf(modelFor(elsewhere, 'google', MODEL, { env: {} }));
      expect(refused.message).toContain(
        'may be sent to europe-west4-aiplatform.googleapis.com only, not to us-east1-aiplatform.googleapis.com',
      );
      expect(refused.message).not.toContain('canary');
    } finally {
      vertex.check = (request) =>
        request.headers.authorization === `Bearer ${google.current()}`
          ? undefined
          : { status: 401, message: 'Request had invalid authentication credentials.' };
    }
  });

  test("the token request is Google's: grant_type and assertion only, claims iss scope aud iat exp", async () => {
    const sent: URLSearchParams[] = [];
    const tokens = new ServiceAccountTokens(await readServiceAccountKey(keyFile), {
      fetch: async (input, init) => {
        sent.push(new URLSearchParams(String(init?.body)));
        return fetch(input, init);
      },
    });
    await tokens.token();
    const [form] = sent;
    expect([...(form?.keys() ?? [])].sort()).toEqual(['assertion', 'grant_type']);
    const claims = decodeJwt(form?.get('assertion') ?? '');
    expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'scope']);
    expect(claims).toMatchObject({ iss: EMAIL, aud: google.url, scope: SCOPE });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(LIFETIME_S);
  });

  test('the stand-in token endpoint refuses what Google does not document (a sub, a client_id, another claim, a long assertion)', async () => {
    const key = await importPKCS8(privateKeyPem, 'RS256');
    const iat = Math.floor(Date.now() / 1000);
    const assertion = (claims: Record<string, unknown> = {}, lifetime = LIFETIME_S) =>
      new SignJWT({ scope: SCOPE, ...claims })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'canary-key-id' })
        .setIssuer(EMAIL)
        .setAudience(google.url)
        .setIssuedAt(iat)
        .setExpirationTime(iat + lifetime)
        .sign(key);
    const status = async (jwt: string, extra: Record<string, string> = {}) => {
      const body = new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: jwt,
        ...extra,
      });
      return (await fetch(google.url, { method: 'POST', body })).status;
    };
    expect(await status(await assertion())).toBe(200);
    expect(await status(await assertion({ sub: EMAIL }))).toBe(400);
    expect(await status(await assertion(), { client_id: EMAIL })).toBe(400);
    expect(await status(await assertion({ jti: 'x' }))).toBe(400);
    expect(await status(await assertion({}, LIFETIME_S + 1))).toBe(400);
    expect(await status(await assertion({ scope: 'https://example.com/other' }))).toBe(400);
  });

  test('calls waiting at once share one grant', async () => {
    const tokens = new ServiceAccountTokens(await readServiceAccountKey(keyFile));
    const grantsBefore = google.grants.length;
    const got = await Promise.all([tokens.token(), tokens.token(), tokens.token()]);
    expect(new Set(got.map((token) => token.reveal())).size).toBe(1);
    expect(google.grants.length - grantsBefore).toBe(1);
    expect(tokens.account).toBe(EMAIL);
  });

  test("google.project (GOOGLE_CLOUD_PROJECT) wins over the key file's project", async () => {
    const model = await modelFor(
      vertexSettings({ project: 'other-project' }),
      'google',
      undefined,
      {
        fetch: routedTo(vertex.url),
        env: { GOOGLE_APPLICATION_CREDENTIALS: keyFile },
      },
    );
    await generateText({ model, prompt: 'Hi.', maxRetries: 0 });
    expect(vertex.received[0]?.intended).toContain(
      '/projects/other-project/locations/us-central1/',
    );
  });

  test('an assertion signed by another key: the endpoint refuses it; the error has no key in it', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const otherPem = await exportPKCS8(privateKey);
    const otherFile = files.write(
      'other.json',
      JSON.stringify({
        type: 'service_account',
        project_id: 'canary-project',
        private_key_id: 'canary-key-id',
        private_key: otherPem,
        client_email: EMAIL,
        token_uri: google.url,
      }),
    );
    const model = await modelFor(vertexSettings(), 'google', undefined, {
      fetch: routedTo(vertex.url),
      env: { GOOGLE_APPLICATION_CREDENTIALS: otherFile },
    });
    const failure = await failureOf(generateText({ model, prompt: 'Hi.', maxRetries: 0 }));
    expect(failure.message).toMatch(/invalid_grant/);
    const shown = JSON.stringify(failure, Object.getOwnPropertyNames(failure));
    expect(shown).not.toContain(otherPem.split('\n')[1]);
    expect(shown).not.toMatch(/eyJ/); // no assertion (a JWT) either
    expect(vertex.received).toHaveLength(0);
  });

  test.each([
    [
      'no credential',
      vertexSettings({ project: 'p' }),
      {},
      'The google provider on Vertex AI (google.vertexai) has no credential: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or add a credentials.google profile (oauth2 or bearer).',
    ],
    [
      'no location',
      settingsSchema.parse({ google: { vertexai: true, project: 'p' } }),
      {},
      'The google provider has no Vertex AI location: set google.location (GOOGLE_CLOUD_LOCATION',
    ],
  ])('%s: one MODEL_CONFIG error', async (_, settings, env, expected) => {
    const failure = await failureOf(modelFor(settings, 'google', MODEL, { env }));
    expect(failure.code).toBe('MODEL_CONFIG');
    expect(failure.message).toContain(expected);
  });

  test('a key file whose token_uri is plain http to another host: refused, the key never sent', async () => {
    const file = files.write(
      'http.json',
      JSON.stringify({
        type: 'service_account',
        private_key: privateKeyPem,
        client_email: EMAIL,
        token_uri: 'http://tokens.example/token',
      }),
    );
    const failure = await failureOf(
      modelFor(vertexSettings({ project: 'p' }), 'google', MODEL, {
        env: { GOOGLE_APPLICATION_CREDENTIALS: file },
      }),
    );
    expect(failure.message).toBe(
      `The token_uri of the service account key ${file} is not https (http to loopback only).`,
    );
  });

  test('a key file that is not a service account key: named, its content not shown', async () => {
    const bad = files.write(
      'bad.json',
      JSON.stringify({ type: 'authorized_user', secret: 'canary-x' }),
    );
    const failure = await failureOf(
      modelFor(vertexSettings(), 'google', MODEL, { env: { GOOGLE_APPLICATION_CREDENTIALS: bad } }),
    );
    expect(failure.message).toMatch(/is not a service account key/);
    expect(failure.message).not.toContain('canary-x');
  });
});

const onlyCurrentToken = (request: CloudRequest) =>
  request.headers.authorization === `Bearer ${google.current()}`
    ? undefined
    : { status: 401, message: 'Request had invalid authentication credentials.' };

describe("vertex: one key file's token, shared, kept as long as it is good", () => {
  const env = () => ({ GOOGLE_APPLICATION_CREDENTIALS: keyFile });
  const ask = async (model: Awaited<ReturnType<typeof modelFor>>) =>
    (await generateText({ model, prompt: 'Hi.', maxRetries: 0 })).text;

  test('two models of one key file, two calls each: one grant', async () => {
    const grantsBefore = google.grants.length;
    const options = { fetch: routedTo(vertex.url), env: env() };
    const first = await modelFor(vertexSettings(), 'google', undefined, options);
    const second = await modelFor(vertexSettings(), 'google', 'gemini-2.5-pro', options);
    for (const model of [first, second, first, second]) {
      expect(await ask(model)).toBe('Answered by Vertex.');
    }
    expect(google.grants.length - grantsBefore).toBe(1);
    expect(vertex.received.map((request) => request.headers.authorization)).toEqual(
      Array(4).fill(`Bearer ${google.current()}`),
    );
  });

  test('a rewritten key file (a new modification time) is read again: a new grant', async () => {
    const accounts = new ServiceAccounts();
    const options = { fetch: routedTo(vertex.url), env: env(), serviceAccounts: accounts };
    const grantsBefore = google.grants.length;
    await ask(await modelFor(vertexSettings(), 'google', undefined, options));
    await ask(await modelFor(vertexSettings(), 'google', undefined, options));
    expect(google.grants.length - grantsBefore).toBe(1);
    const later = new Date(Date.now() + 60_000);
    await utimes(keyFile, later, later);
    await ask(await modelFor(vertexSettings(), 'google', undefined, options));
    expect(google.grants.length - grantsBefore).toBe(2);
  });

  test('oauth.max_token_bytes holds for the service account token too', async () => {
    endpoint.prefix = `ya29.canary-${'x'.repeat(2000)}`;
    const settings = settingsSchema.parse({
      ...vertexSettings(),
      google: vertexSettings().google,
      oauth: { max_token_bytes: 1024 },
    });
    const model = await modelFor(settings, 'google', undefined, {
      fetch: routedTo(vertex.url),
      env: env(),
    });
    const failure = await failureOf(ask(model));
    expect(failure.message).toMatch(/more than the 1 KiB allowed \(oauth.max_token_bytes\)/);
    expect(failure.message).not.toContain('xxxxxxxx');
    expect(vertex.received).toHaveLength(0);
  });

  test('no expires_in: kept a short while (5 min), not for ever', async () => {
    endpoint.expiresIn = undefined;
    let clock = Date.now();
    const tokens = new ServiceAccountTokens(await readServiceAccountKey(keyFile), {
      now: () => clock,
    });
    const grantsBefore = google.grants.length;
    const first = (await tokens.token()).reveal();
    clock += 200_000;
    expect((await tokens.token()).reveal()).toBe(first);
    clock += 101_000;
    expect((await tokens.token()).reveal()).not.toBe(first);
    expect(google.grants.length - grantsBefore).toBe(2);
  });

  test('expires_in 0: already due, a new token for each call', async () => {
    endpoint.expiresIn = 0;
    const tokens = new ServiceAccountTokens(await readServiceAccountKey(keyFile));
    const grantsBefore = google.grants.length;
    const first = (await tokens.token()).reveal();
    const second = (await tokens.token()).reveal();
    expect(second).not.toBe(first);
    expect(google.grants.length - grantsBefore).toBe(2);
  });

  test('Vertex answers 401: the held token is dropped, the next call obtains another', async () => {
    const model = await modelFor(vertexSettings(), 'google', undefined, {
      fetch: routedTo(vertex.url),
      env: env(),
    });
    expect(await ask(model)).toBe('Answered by Vertex.');
    const grantsBefore = google.grants.length;
    // The key was revoked, say: Vertex refuses the token it accepted a moment ago.
    vertex.check = () => ({
      status: 401,
      message: 'Request had invalid authentication credentials.',
    });
    try {
      await failureOf(ask(model));
    } finally {
      vertex.check = onlyCurrentToken;
    }
    expect(await ask(model)).toBe('Answered by Vertex.');
    expect(google.grants.length - grantsBefore).toBe(1);
    const [first, refused, renewed] = vertex.received;
    expect(refused?.headers.authorization).toBe(first?.headers.authorization);
    expect(renewed?.headers.authorization).toBe(`Bearer ${google.current()}`);
    expect(renewed?.headers.authorization).not.toBe(first?.headers.authorization);
  });

  test('a google.location that is not a location name: MODEL_CONFIG naming the key, no request', async () => {
    for (const location of ['127.0.0.1:9/x?', 'us-central1.evil.example', 'US Central']) {
      const failure = await failureOf(
        modelFor(vertexSettings({ project: 'p', location }), 'google', MODEL, { env: env() }),
      );
      expect(failure.code).toBe('MODEL_CONFIG');
      expect(failure.message).toBe(
        "The google provider's Vertex AI location is not a location name (lowercase letters, digits and hyphens, e.g. us-central1): check google.location (GOOGLE_CLOUD_LOCATION).",
      );
    }
    expect(vertex.received).toHaveLength(0);
  });
});

describe('vertex: the agent, a tool call on an OAuth-protected MCP server, then the answer', () => {
  const finder = protectedFinder();
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test('calls with another model (params.model): the one token of the key file, one grant', async () => {
    vi.stubEnv('GOOGLE_APPLICATION_CREDENTIALS', keyFile);
    const llm = await finder().attachLlm('google', {
      settings: vertexSettings(),
      fetch: routedTo(vertex.url),
    });
    const grantsBefore = google.grants.length;
    for (const model of ['gemini-2.5-pro', 'gemini-2.5-flash', MODEL]) {
      expect(await llm.generateStr('Hi.', { model })).toBe('Answered by Vertex.');
    }
    expect(google.grants.length - grantsBefore).toBe(1);
    expect(vertex.received.map((request) => request.intended.split('/models/')[1])).toEqual([
      'gemini-2.5-pro:generateContent',
      'gemini-2.5-flash:generateContent',
      `${MODEL}:generateContent`,
    ]);
  });

  test.each([
    ['not streamed', ':generateContent'],
    ['streamed (server-sent events)', ':streamGenerateContent?alt=sse'],
  ] as const)('%s', async (how, method) => {
    // The default environment: the key file GOOGLE_APPLICATION_CREDENTIALS names.
    vi.stubEnv('GOOGLE_APPLICATION_CREDENTIALS', keyFile);
    const llm = await finder().attachLlm('google', {
      settings: vertexSettings(),
      fetch: routedTo(vertex.url),
    });
    vertex.script = whoamiThenSubject;
    expect(await whoAmI(llm, how)).toBe('You are alice.');
    expect(vertex.received).toHaveLength(2);
    for (const request of vertex.received) {
      expect(request.intended.endsWith(`/models/${MODEL}${method}`)).toBe(true);
      expect(request.headers.authorization).toBe(`Bearer ${google.current()}`);
      expect(placesIn(request, keyBody())).toEqual([]);
    }
    const declared = JSON.parse(vertex.received[0]?.body ?? '{}').tools[0].functionDeclarations as {
      name: string;
    }[];
    expect(declared.map((tool) => tool.name).sort()).toEqual([
      'served_add',
      'served_admin_report',
      'served_whoami',
    ]);
    expect(JSON.stringify(llm.history)).not.toMatch(/ya29\.canary/);
  });
});
