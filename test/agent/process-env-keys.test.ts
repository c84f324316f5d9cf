/**
 * The keys of the process environment that a provider package would read by itself are not
 * used: Bedrock's `AWS_BEARER_TOKEN_BEDROCK` (the section's keys sign, SigV4) and Vertex AI's
 * `GOOGLE_VERTEX_API_KEY` (Express mode; the configured credential's token is sent instead).
 */
import { generateText } from 'ai';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { modelFor } from '../../src/agent/models.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import {
  ANSWER,
  placesOf,
  type Received,
  routedTo,
  type StandIn,
  startStandIn,
} from './stand-in.js';

let standIn: StandIn;
beforeAll(async () => {
  standIn = await startStandIn();
});
afterAll(() => standIn.close());

const saved = new Map<string, string | undefined>();
function setEnv(name: string, value: string): void {
  if (!saved.has(name)) saved.set(name, process.env[name]);
  process.env[name] = value;
}
afterEach(() => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  saved.clear();
  standIn.received.length = 0;
});

async function ask(model: Awaited<ReturnType<typeof modelFor>>): Promise<Received> {
  const result = await generateText({ model, prompt: 'Hi.', maxRetries: 0 });
  expect(result.text).toBe(ANSWER);
  expect(standIn.received).toHaveLength(1);
  return standIn.received[0] as Received;
}

test('bedrock: AWS_BEARER_TOKEN_BEDROCK of process.env is not sent; the section signs', async () => {
  setEnv('AWS_BEARER_TOKEN_BEDROCK', 'canary-env-bedrock-bearer');
  const settings = settingsSchema.parse({
    bedrock: {
      aws_access_key_id: 'AKIDCANARY0002',
      aws_secret_access_key: 'canary-aws-secret',
      aws_region: 'us-east-1',
      default_model: 'anthropic.claude-3-haiku-20240307-v1:0',
    },
  });
  const request = await ask(
    await modelFor(settings, 'bedrock', undefined, { fetch: routedTo(standIn.url) }),
  );
  expect(String(request.headers.authorization)).toMatch(
    /^AWS4-HMAC-SHA256 Credential=AKIDCANARY0002\//,
  );
  expect(placesOf(request, 'canary-env-bedrock-bearer')).toEqual([]);
});

test("vertex: GOOGLE_VERTEX_API_KEY of process.env is not sent; the profile's token is", async () => {
  setEnv('GOOGLE_VERTEX_API_KEY', 'canary-env-vertex-key');
  const settings = settingsSchema.parse({
    google: { vertexai: true, project: 'p', location: 'us-central1', default_model: 'gemini-x' },
    credentials: {
      google: {
        type: 'bearer',
        token: 'canary-google-bearer',
        hosts: ['us-central1-aiplatform.googleapis.com'],
      },
    },
  });
  const request = await ask(
    await modelFor(settings, 'google', undefined, { fetch: routedTo(standIn.url) }),
  );
  expect(request.intended).toMatch(
    /^https:\/\/us-central1-aiplatform\.googleapis\.com\/v1(beta1)?\/projects\/p\/locations\/us-central1\/publishers\/google\/models\/gemini-x:generateContent$/,
  );
  expect(request.headers.authorization).toBe('Bearer canary-google-bearer');
  expect(placesOf(request, 'canary-env-vertex-key')).toEqual([]);
});
