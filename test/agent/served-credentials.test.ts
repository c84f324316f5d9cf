/**
 * A served agent's model gets the app's named credentials (issue 17, item 3): with Azure OpenAI
 * and an Entra ID `credentials.azure` profile (OAuth 2.0 client credentials at the stand-in token
 * endpoint), the app obtains the token once and every call of the agent uses it, rather than a
 * grant per call. The Azure stand-in refuses any token but the one last issued.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { defineApp } from '../../src/app/define.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { connect, type ServedAgent, serveAgent, textOf } from '../app/delegated-support.js';
import { startTokenEndpoint, type TokenEndpoint } from './cloud-stand-ins.js';
import { type ScriptedChat, startScriptedChat } from './scripted-chat.js';

const SCOPE = 'https://cognitiveservices.azure.com/.default';
const CLIENT = { id: 'finder-app', secret: 'canary-served-entra-secret', scope: SCOPE };

let entra: TokenEndpoint;
let azure: ScriptedChat;
let agent: ServedAgent;

beforeAll(async () => {
  entra = await startTokenEndpoint({ client: CLIENT, expiresIn: 3600, prefix: 'entra' });
  azure = await startScriptedChat();
  azure.script = (request) =>
    request.authorization === `Bearer ${entra.current()}`
      ? { text: 'Answered.' }
      : { status: 401, error: 'Access denied due to invalid subscription key or token.' };
  const settings = settingsSchema.parse({
    azure: { endpoint: azure.url, api_version: '2024-10-21', azure_deployment: 'finder-gpt4o' },
    credentials: {
      azure: {
        type: 'oauth2',
        token_url: entra.url,
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        scopes: [SCOPE],
        hosts: [new URL(azure.url).hostname],
      },
    },
  });
  const setup = defineApp((app) => {
    app.agent('finder', { serverNames: [], provider: 'azure' });
  });
  agent = await serveAgent(settings, 0, { setup });
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await azure?.close();
  await entra?.close();
});

test("two calls of a served agent on Azure: one Entra ID grant, the app's token in both", async () => {
  const client = await connect(agent.running.url, undefined);
  try {
    expect(textOf(await client.call('finder', { prompt: 'Hi.' }))).toBe('Answered.');
    expect(textOf(await client.call('finder', { prompt: 'Hi again.' }))).toBe('Answered.');
  } finally {
    await client.close();
  }
  expect(entra.grants).toEqual([{ grantType: 'client_credentials', ok: true }]);
  expect(azure.received.map((request) => request.authorization)).toEqual([
    'Bearer entra-1',
    'Bearer entra-1',
  ]);
});
