/**
 * Azure OpenAI with an Entra ID token (issue 17, items 1 and 6): the real `@ai-sdk/azure`
 * provider's `tokenProvider` is our `credentials.azure` profile (OAuth 2.0 client credentials at
 * a stand-in token endpoint issuing short-lived tokens), renewed when due by the injected clock.
 * The Azure stand-in (chat completions on the deployments API) refuses any token but the one last
 * issued: it sees token 1, then, after the clock passed its expiry, token 2 — never a stale one —
 * and in the Authorization header only. The agent's tool call runs on a real OAuth-protected MCP
 * server, then the final answer, non-streamed and streamed.
 */
import { generateText } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { modelFor } from '../../src/agent/models.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { createAgentAuth } from '../../src/index.js';
import { placesIn } from './apis/scripted.js';
import {
  agentsDocYaml,
  failureOf,
  startTokenEndpoint,
  type TokenEndpoint,
} from './cloud-stand-ins.js';
import { protectedFinder, whoAmI } from './protected-finder.js';
import { type ChatRequest, type ScriptedChat, startScriptedChat } from './scripted-chat.js';
import { settingsFrom } from './settings-from.js';

const SCOPE = 'https://cognitiveservices.azure.com/.default';
const CLIENT = { id: 'finder-app', secret: 'canary-entra-client-secret', scope: SCOPE };
const LIFETIME_S = 300;

let entra: TokenEndpoint;
let azure: ScriptedChat;
beforeAll(async () => {
  entra = await startTokenEndpoint({ client: CLIENT, expiresIn: LIFETIME_S, prefix: 'entra' });
  azure = await startScriptedChat();
});
afterAll(async () => {
  await azure.close();
  await entra.close();
});
beforeEach(() => {
  azure.received.length = 0;
});

/** The chat stand-in answers `reply` to a request with the token issued last, else a 401. */
function onlyCurrentToken(reply: (request: ChatRequest) => ReturnType<ScriptedChat['script']>) {
  azure.script = (request) =>
    request.authorization === `Bearer ${entra.current()}`
      ? reply(request)
      : { status: 401, error: 'Access denied due to invalid subscription key or token.' };
}

const azureSection = () => ({
  endpoint: azure.url,
  api_version: '2024-10-21',
  azure_deployment: 'finder-gpt4o',
});
const entraProfile = (hosts = [new URL(azure.url).hostname]) => ({
  type: 'oauth2' as const,
  token_url: entra.url,
  client_id: CLIENT.id,
  client_secret: CLIENT.secret,
  scopes: [SCOPE],
  hosts,
});
const settingsWith = (hosts?: string[]) =>
  settingsSchema.parse({ azure: azureSection(), credentials: { azure: entraProfile(hosts) } });

/** Every place `secret` appears in a chat request: `header:<name>`, `url`, `body`. */
function placesOf(request: ChatRequest | undefined, secret: string): string[] {
  return request ? placesIn(request, secret) : ['no request'];
}

describe('azure: an Entra ID token from credentials.azure, renewed by our token manager', () => {
  test('token 1 until it is due, then token 2 after the clock passed its expiry; in the header only', async () => {
    let clock = Date.now();
    const model = await modelFor(settingsWith(), 'azure', undefined, { now: () => clock });
    onlyCurrentToken(() => ({ text: 'Answered.' }));
    const ask = async () => (await generateText({ model, prompt: 'Hi.', maxRetries: 0 })).text;
    const grantsBefore = entra.grants.length;

    expect(await ask()).toBe('Answered.');
    clock += 200_000; // not yet due (renewed 60 s before expiry)
    expect(await ask()).toBe('Answered.');
    clock += (LIFETIME_S + 1) * 1000 - 200_000; // past expiry
    expect(await ask()).toBe('Answered.');

    const [first, second, third] = azure.received;
    const token1 = entra.issued.at(-2) ?? '';
    const token2 = entra.issued.at(-1) ?? '';
    expect(token1).not.toBe(token2);
    expect([first, second, third].map((request) => request?.authorization)).toEqual([
      `Bearer ${token1}`,
      `Bearer ${token1}`,
      `Bearer ${token2}`,
    ]);
    expect(entra.grants.slice(grantsBefore)).toEqual([
      { grantType: 'client_credentials', ok: true },
      { grantType: 'client_credentials', ok: true },
    ]);
    expect(first?.path).toBe(
      '/openai/deployments/finder-gpt4o/chat/completions?api-version=2024-10-21',
    );
    for (const [request, token] of [
      [first, token1],
      [third, token2],
    ] as const) {
      expect(placesOf(request, token)).toEqual(['header:authorization']);
      expect(placesOf(request, CLIENT.secret)).toEqual([]);
      expect(request?.headers['api-key']).toBeUndefined();
    }
  });

  test('a profile whose hosts do not include the endpoint: refused before any token is asked for', async () => {
    const grantsBefore = entra.grants.length;
    const failure = await failureOf(modelFor(settingsWith(['contoso.openai.azure.com']), 'azure'));
    expect(failure).toMatchObject({ code: 'MODEL_CONFIG' });
    expect(failure.message).toBe(
      `The credential "azure" may be sent to contoso.openai.azure.com only, not to ${new URL(azure.url).host} (the azure provider's endpoint): add it to credentials.azure.hosts.`,
    );
    expect(entra.grants.length).toBe(grantsBefore);
  });

  test('a token endpoint that refuses the client: the error reaches the caller, without the secret', async () => {
    const settings = settingsSchema.parse({
      azure: azureSection(),
      credentials: { azure: { ...entraProfile(), client_secret: 'canary-wrong-client-secret' } },
    });
    const model = await modelFor(settings, 'azure');
    const failure = await failureOf(generateText({ model, prompt: 'Hi.', maxRetries: 0 }));
    expect(failure.message).toMatch(/invalid_grant/);
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toMatch(
      /canary-wrong-client-secret/,
    );
    expect(azure.received).toHaveLength(0);
  });

  test("docs/agents.md's configuration, its secret from the secrets file, as the page shows it", async () => {
    const settings = settingsFrom(
      {
        'mcp_agent.config.yaml': agentsDocYaml('# mcp_agent.config.yaml\nazure:')
          .replace('https://contoso.openai.azure.com/', `${azure.url}/`)
          .replace('https://login.microsoftonline.com/<tenant-id>/oauth2/v2.0/token', entra.url)
          .replace('<application-id>', CLIENT.id)
          .replace('[contoso.openai.azure.com]', `[${new URL(azure.url).hostname}]`),
        'mcp_agent.secrets.yaml': agentsDocYaml(
          '# mcp_agent.secrets.yaml (mode 0600)\ncredentials:',
        ),
      },
      { AZURE_CLIENT_SECRET: CLIENT.secret },
    );
    onlyCurrentToken(() => ({ text: 'As documented.' }));
    const model = await modelFor(settings, 'azure');
    expect((await generateText({ model, prompt: 'Hi.', maxRetries: 0 })).text).toBe(
      'As documented.',
    );
    expect(azure.received[0]?.path).toBe(
      '/openai/deployments/finder-gpt4o/chat/completions?api-version=2024-10-21',
    );
  });

  test("a profile without scopes asks for azure.credential_scopes, else Azure OpenAI's .default scope", async () => {
    const { scopes: _, ...unscoped } = entraProfile();
    // No credential_scopes: mcp-agent's default, the scope the stand-in endpoint wants.
    onlyCurrentToken(() => ({ text: 'Default scope.' }));
    const plain = settingsSchema.parse({ azure: azureSection(), credentials: { azure: unscoped } });
    const model = await modelFor(plain, 'azure');
    expect((await generateText({ model, prompt: 'Hi.', maxRetries: 0 })).text).toBe(
      'Default scope.',
    );

    // azure.credential_scopes (mcp-agent's key): an endpoint that wants only that scope.
    const custom = await startTokenEndpoint({
      client: { ...CLIENT, scope: 'api://finder-gateway/.default' },
      expiresIn: LIFETIME_S,
      prefix: 'custom',
    });
    const auth = createAgentAuth({
      settings: {
        azure: { ...azureSection(), credential_scopes: ['api://finder-gateway/.default'] },
        credentials: { azure: { ...unscoped, token_url: custom.url } },
      },
    });
    try {
      azure.script = (request) =>
        request.authorization === `Bearer ${custom.current()}`
          ? { text: 'Custom scope.' }
          : { status: 401, error: 'Access denied due to invalid subscription key or token.' };
      const agent = new Agent({ name: 'plain', serverNames: [] }, { auth });
      expect(await (await agent.attachLlm('azure')).generateStr('Hi.')).toBe('Custom scope.');
      expect(custom.grants).toEqual([{ grantType: 'client_credentials', ok: true }]);
      expect(auth.settings.credentials.azure).toMatchObject({
        scopes: ['api://finder-gateway/.default'],
      });
    } finally {
      await auth.close();
      await custom.close();
    }
  });

  test("the agent's attachLlm takes the token from its AgentAuth's credentials", async () => {
    const auth = createAgentAuth({
      settings: { azure: azureSection(), credentials: { azure: entraProfile() } },
    });
    try {
      const agent = new Agent({ name: 'plain', serverNames: [] }, { auth });
      const llm = await agent.attachLlm('azure');
      onlyCurrentToken(() => ({ text: 'Through AgentAuth.' }));
      expect(await llm.generateStr('Hi.')).toBe('Through AgentAuth.');
      expect(azure.received[0]?.authorization).toBe(`Bearer ${entra.current()}`);
      expect(await auth.credentials.held('azure')).toMatchObject({
        expiresAt: expect.any(Number),
      });
    } finally {
      await auth.close();
    }
  });

  test("other settings naming this endpoint in their profile's hosts: the app's token, bound elsewhere, is not sent", async () => {
    // The app's credentials.azure: its Entra ID token is for contoso's resource only.
    const auth = createAgentAuth({
      settings: {
        azure: { ...azureSection(), endpoint: 'https://contoso.openai.azure.com/' },
        credentials: { azure: entraProfile(['contoso.openai.azure.com']) },
      },
    });
    try {
      const agent = new Agent({ name: 'plain', serverNames: [] }, { auth });
      const grantsBefore = entra.grants.length;
      // Other settings, whose own credentials.azure lets a token go to the stand-in.
      const failure = await failureOf(agent.attachLlm('azure', { settings: settingsWith() }));
      expect(failure).toMatchObject({ code: 'MODEL_CONFIG' });
      expect(failure.message).toBe(
        `The credential "azure" may be sent to contoso.openai.azure.com only, not to ${new URL(azure.url).host} (the azure provider's endpoint): add it to credentials.azure.hosts.`,
      );
      expect(entra.grants.length).toBe(grantsBefore);
      expect(azure.received).toHaveLength(0);
    } finally {
      await auth.close();
    }
  });
});

describe('azure with Entra ID: the agent, a tool call on an OAuth-protected MCP server, then the answer', () => {
  const finder = protectedFinder();
  const whoami = (request: ChatRequest): ReturnType<ScriptedChat['script']> => {
    const last = request.body.messages.at(-1);
    if (last?.role !== 'tool') return { tool: 'served_whoami', args: {} };
    return { text: `You are ${JSON.parse(String(last.content)).subject}.` };
  };

  test.each(['not streamed', 'streamed'] as const)('%s', async (how) => {
    const llm = await finder().attachLlm('azure', { settings: settingsWith() });
    onlyCurrentToken(whoami);
    expect(await whoAmI(llm, how)).toBe('You are alice.');
    expect(azure.received).toHaveLength(2);
    for (const request of azure.received) {
      expect(request.authorization).toBe(`Bearer ${entra.current()}`);
      expect(request.body.stream === true).toBe(how === 'streamed');
      expect(placesOf(request, CLIENT.secret)).toEqual([]);
    }
    expect(JSON.stringify(llm.history)).not.toMatch(/canary|entra-\d/);
  });
});
