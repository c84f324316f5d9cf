/**
 * Bedrock (issue 17, items 1 and 6) with the real `@ai-sdk/amazon-bedrock` provider against a
 * stand-in of Converse that verifies each request's SigV4 signature with an independent
 * implementation (`aws4`, from the request received and the secret it knows): the keys of the
 * section, or a named profile of the AWS shared files (`fromIni`), with the session token when
 * there is one. The agent's tool call runs on a real OAuth-protected MCP server, then the final
 * answer, non-streamed and streamed (AWS's binary event stream).
 */
import { generateText } from 'ai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { modelFor } from '../../src/agent/models.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { tempTree } from '../helpers/cli.js';
import {
  type AwsKeyring,
  agentsDocYaml,
  type CloudRequest,
  checkSigV4,
  failureOf,
  placesIn,
  routedTo,
  type ScriptedCloud,
  startConverseStandIn,
} from './cloud-stand-ins.js';
import { protectedFinder, whoAmI, whoamiThenSubject } from './protected-finder.js';
import { settingsFrom } from './settings-from.js';

const KEYRING: AwsKeyring = {
  AKIDPROFILE0001: { secret: 'canary-profile-secret', sessionToken: 'canary-profile-session' },
  AKIDKEYS0002: { secret: 'canary-keys-secret' },
};
const CANARIES = /canary-(profile|keys)-(secret|session)/;

const files = tempTree({
  credentials: [
    '[dev]',
    'aws_access_key_id = AKIDPROFILE0001',
    'aws_secret_access_key = canary-profile-secret',
    'aws_session_token = canary-profile-session',
    '',
  ].join('\n'),
  config: ['[profile dev]', 'region = eu-central-1', ''].join('\n'),
});
const env = {
  AWS_SHARED_CREDENTIALS_FILE: `${files.dir}/credentials`,
  AWS_CONFIG_FILE: `${files.dir}/config`,
};
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const withProfile = () =>
  settingsSchema.parse({ bedrock: { profile: 'dev', aws_region: 'eu-central-1' } });

let converse: ScriptedCloud;
beforeAll(async () => {
  converse = await startConverseStandIn();
  converse.check = (request) => checkSigV4(request, KEYRING);
});
afterAll(async () => {
  await converse.close();
  files.cleanup();
});
beforeEach(() => {
  converse.received.length = 0;
  converse.script = () => ({ text: 'Signed and answered.' });
});

describe('bedrock: SigV4 verified by aws4 at the stand-in', () => {
  test('a named profile (bedrock.profile): its keys and session token, from the shared files', async () => {
    const model = await modelFor(withProfile(), 'bedrock', MODEL, {
      fetch: routedTo(converse.url),
      env,
    });
    const result = await generateText({ model, prompt: 'Hi.', maxRetries: 0 });
    expect(result.text).toBe('Signed and answered.');
    const [request] = converse.received;
    if (!request) throw new Error('nothing reached the stand-in');
    expect(request.intended).toBe(
      `https://bedrock-runtime.eu-central-1.amazonaws.com/model/${encodeURIComponent(MODEL)}/converse`,
    );
    expect(checkSigV4(request, KEYRING)).toBeUndefined();
    expect(request.headers['x-amz-security-token']).toBe('canary-profile-session');
    expect(placesIn(request, 'canary-profile-session')).toEqual(['header:x-amz-security-token']);
    expect(placesIn(request, 'AKIDPROFILE0001')).toEqual(['header:authorization']);
    expect(placesIn(request, 'canary-profile-secret')).toEqual([]);
  });

  test("docs/agents.md's configuration, as the page shows it", async () => {
    const settings = settingsFrom({
      'mcp_agent.config.yaml': agentsDocYaml('# mcp_agent.config.yaml\nbedrock:'),
    });
    const model = await modelFor(settings, 'bedrock', undefined, {
      fetch: routedTo(converse.url),
      env,
    });
    expect((await generateText({ model, prompt: 'Hi.', maxRetries: 0 })).text).toBe(
      'Signed and answered.',
    );
    expect(converse.received[0]?.intended).toBe(
      `https://bedrock-runtime.eu-central-1.amazonaws.com/model/${encodeURIComponent(MODEL)}/converse`,
    );
    expect(checkSigV4(converse.received[0] as CloudRequest, KEYRING)).toBeUndefined();
  });

  test('the check fails for another secret: the same request, re-signed with a wrong key, differs', async () => {
    const model = await modelFor(withProfile(), 'bedrock', MODEL, {
      fetch: routedTo(converse.url),
      env,
    });
    await generateText({ model, prompt: 'Hi.', maxRetries: 0 });
    const [request] = converse.received;
    if (!request) throw new Error('nothing reached the stand-in');
    const wrong = { AKIDPROFILE0001: { ...KEYRING.AKIDPROFILE0001, secret: 'not-the-secret' } };
    expect(checkSigV4(request, wrong)?.message).toMatch(/signature we calculated does not match/);
    // A body changed after signing is refused too.
    expect(checkSigV4({ ...request, body: `${request.body} ` }, KEYRING)?.status).toBe(403);
  });

  test("keys signed with a secret the API does not know: the API's refusal, no secret in it", async () => {
    const settings = settingsSchema.parse({
      bedrock: {
        aws_access_key_id: 'AKIDKEYS0002',
        aws_secret_access_key: 'canary-wrong-secret',
        aws_region: 'us-east-1',
      },
    });
    const model = await modelFor(settings, 'bedrock', MODEL, { fetch: routedTo(converse.url) });
    const failure = await failureOf(generateText({ model, prompt: 'Hi.', maxRetries: 0 }));
    expect(String(failure?.message)).toMatch(/signature we calculated does not match/);
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toMatch(
      /canary-wrong-secret/,
    );
    expect(converse.received).toHaveLength(1);
  });

  test('keys without a session token: signed, no x-amz-security-token', async () => {
    const settings = settingsSchema.parse({
      bedrock: {
        aws_access_key_id: 'AKIDKEYS0002',
        aws_secret_access_key: 'canary-keys-secret',
        aws_region: 'us-east-1',
      },
    });
    const model = await modelFor(settings, 'bedrock', MODEL, { fetch: routedTo(converse.url) });
    expect((await generateText({ model, prompt: 'Hi.', maxRetries: 0 })).text).toBe(
      'Signed and answered.',
    );
    const [request] = converse.received;
    expect(request?.headers['x-amz-security-token']).toBeUndefined();
    expect(String(request?.headers.authorization)).toMatch(/SignedHeaders=[^,]*x-amz-date/);
  });

  test("no aws_region: the profile's region, from the files the environment names", async () => {
    const settings = settingsSchema.parse({ bedrock: { profile: 'dev' } });
    const model = await modelFor(settings, 'bedrock', MODEL, {
      fetch: routedTo(converse.url),
      env,
    });
    expect((await generateText({ model, prompt: 'Hi.', maxRetries: 0 })).text).toBe(
      'Signed and answered.',
    );
    const [request] = converse.received;
    expect(request?.intended).toBe(
      `https://bedrock-runtime.eu-central-1.amazonaws.com/model/${encodeURIComponent(MODEL)}/converse`,
    );
    expect(String(request?.headers.authorization)).toContain('/eu-central-1/bedrock/aws4_request');
    expect(checkSigV4(request as CloudRequest, KEYRING)).toBeUndefined();
  });

  test("aws_region (AWS_REGION) wins over the profile's; the credentials file's region over the config file's", async () => {
    const tree = tempTree({
      credentials: [
        '[dev]',
        'aws_access_key_id = AKIDKEYS0002',
        'aws_secret_access_key = canary-keys-secret',
        'region = ap-southeast-2',
        '',
      ].join('\n'),
      config: ['[profile dev]', 'region = eu-central-1', ''].join('\n'),
    });
    try {
      const withRegion = settingsSchema.parse({
        bedrock: { profile: 'dev', aws_region: 'us-west-2' },
      });
      const filesOf = {
        AWS_SHARED_CREDENTIALS_FILE: `${tree.dir}/credentials`,
        AWS_CONFIG_FILE: `${tree.dir}/config`,
      };
      const regionOf = async (settings: typeof withRegion) => {
        converse.received.length = 0;
        const model = await modelFor(settings, 'bedrock', MODEL, {
          fetch: routedTo(converse.url),
          env: filesOf,
        });
        await generateText({ model, prompt: 'Hi.', maxRetries: 0 });
        const [request] = converse.received;
        expect(checkSigV4(request as CloudRequest, KEYRING)).toBeUndefined();
        return new URL(request?.intended ?? 'https://none').hostname;
      };
      expect(await regionOf(withRegion)).toBe('bedrock-runtime.us-west-2.amazonaws.com');
      expect(await regionOf(settingsSchema.parse({ bedrock: { profile: 'dev' } }))).toBe(
        'bedrock-runtime.ap-southeast-2.amazonaws.com',
      );
    } finally {
      tree.cleanup();
    }
  });

  test('neither aws_region nor a region in the profile: one MODEL_CONFIG error naming both', async () => {
    const tree = tempTree({
      credentials: ['[bare]', 'aws_access_key_id = AKIDPROFILE0001', ''].join('\n'),
      config: ['[profile other]', 'region = eu-central-1', ''].join('\n'),
    });
    try {
      const failure = await failureOf(
        modelFor(settingsSchema.parse({ bedrock: { profile: 'bare' } }), 'bedrock', MODEL, {
          env: {
            AWS_SHARED_CREDENTIALS_FILE: `${tree.dir}/credentials`,
            AWS_CONFIG_FILE: `${tree.dir}/config`,
          },
        }),
      );
      expect(failure.code).toBe('MODEL_CONFIG');
      expect(failure.message).toBe(
        'The bedrock provider has no region: set bedrock.aws_region (AWS_REGION) in the configuration, or region in the AWS profile "bare" (AWS_CONFIG_FILE).',
      );
    } finally {
      tree.cleanup();
    }
  });

  test('a profile the files do not have: an error naming it, no secret in it', async () => {
    const settings = settingsSchema.parse({
      bedrock: { profile: 'nope', aws_region: 'eu-central-1' },
    });
    const model = await modelFor(settings, 'bedrock', MODEL, {
      fetch: routedTo(converse.url),
      env,
    });
    const failure = await failureOf(generateText({ model, prompt: 'Hi.', maxRetries: 0 }));
    expect(String(failure?.message)).toMatch(/nope/);
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toMatch(CANARIES);
    expect(converse.received).toHaveLength(0);
  });
});

describe('bedrock: the agent, a tool call on an OAuth-protected MCP server, then the answer', () => {
  const finder = protectedFinder();
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test.each([
    ['not streamed', 'converse'],
    ['streamed (the binary event stream)', 'converse-stream'],
  ] as const)('%s: every request signed with the profile', async (how, path) => {
    // The default environment: fromIni reads the files the process's variables name.
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', env.AWS_SHARED_CREDENTIALS_FILE);
    vi.stubEnv('AWS_CONFIG_FILE', env.AWS_CONFIG_FILE);
    const llm = await finder().attachLlm('bedrock', {
      settings: withProfile(),
      model: MODEL,
      fetch: routedTo(converse.url),
    });
    converse.script = whoamiThenSubject;
    expect(await whoAmI(llm, how)).toBe('You are alice.');
    expect(converse.received.map((request) => request.path.split('/').at(-1))).toEqual([
      path,
      path,
    ]);
    for (const request of converse.received) {
      expect(checkSigV4(request, KEYRING)).toBeUndefined();
      expect(placesIn(request, 'canary-profile-secret')).toEqual([]);
    }
    const tools = JSON.parse(converse.received[0]?.body ?? '{}').toolConfig.tools as {
      toolSpec: { name: string };
    }[];
    expect(tools.map((tool) => tool.toolSpec.name).sort()).toEqual([
      'served_add',
      'served_admin_report',
      'served_whoami',
    ]);
    expect(JSON.stringify(llm.history)).not.toMatch(CANARIES);
  });
});
