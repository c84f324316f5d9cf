/**
 * A served agent offers its model only the tools its caller may call directly (issue 17 review,
 * H1): `authorization.tool_scopes` says `down_whoami` needs `admin`. Alice holds the base scope
 * only: the agent's model is not offered `down_whoami`, and when it names the tool anyway the
 * call is a tool error, never made at the downstream server. Dana holds `admin`: her agent
 * offers and calls it. The model is the scripted OpenAI stand-in; the downstream server a
 * protected realm reached with each caller's own token.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { defineApp } from '../../src/app/define.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { startDevAuthorizationServer } from '../../src/dev/authorization-server.js';
import { principalOf } from '../../src/server/identity.js';
import {
  connect,
  delegatedSettings,
  type Inbound,
  type Realm,
  type ServedAgent,
  serveAgent,
  startRealm,
  textOf,
} from '../app/delegated-support.js';
import { userTokens } from '../server/serve-support.js';
import { freePort } from '../support/net.js';
import { type ScriptedChat, startScriptedChat, toolResultsIn } from './scripted-chat.js';

const ADMIN = 'admin';

let inbound: Inbound;
let realm: Realm;
let chat: ScriptedChat;
let agent: ServedAgent;
const tokens: Record<string, string> = {};

/** The callers' authorization server: it grants the base scope and `admin`. */
async function startAdminInbound(): Promise<Inbound> {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const as = await startDevAuthorizationServer({
    port: 0,
    resources: [resource],
    scopes: ['mcp:tools', ADMIN],
  });
  return {
    as,
    resource,
    port,
    identity: (user) => principalOf({ issuer: as.issuer, subject: user }),
  };
}

beforeAll(async () => {
  inbound = await startAdminInbound();
  realm = await startRealm();
  chat = await startScriptedChat();
  const base = delegatedSettings({ realm, inbound });
  const { openai } = settingsSchema.parse({
    openai: { api_key: 'sk-served-scopes', base_url: `${chat.url}/v1`, default_model: 'gpt-4o' },
  });
  const authorization = base.authorization && {
    ...base.authorization,
    tool_scopes: { down_whoami: [ADMIN] },
  };
  const settings = { ...base, openai, authorization };
  const setup = defineApp((app) => {
    app.agent('finder', { serverNames: ['down'], provider: 'openai' });
  });
  agent = await serveAgent(settings, inbound.port, { setup });
  const { issuer } = inbound.as;
  tokens.alice = (await userTokens(issuer, inbound.resource, 'alice')).accessToken;
  tokens.dana = (
    await userTokens(issuer, inbound.resource, 'dana', `mcp:tools ${ADMIN}`)
  ).accessToken;
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await chat?.close();
  await realm?.close();
  await inbound?.as.close();
});

beforeEach(() => {
  chat.received.length = 0;
  realm.server.calls.length = 0;
  // The model calls `down_whoami` whatever it was offered, then says what came back.
  chat.script = (request) => {
    const [result] = toolResultsIn(request);
    return result === undefined ? { tool: 'down_whoami', args: {} } : { text: `Got: ${result}` };
  };
});

/** The tool names the model was offered in its first request. */
function offered(): string[] {
  const tools = (chat.received[0]?.body.tools ?? []) as { function: { name: string } }[];
  return tools.map((tool) => tool.function.name);
}

test('a tool tool_scopes withholds from the caller is neither offered nor run', async () => {
  const alice = await connect(agent.running.url, tokens.alice, { signInAs: 'alice-down' });
  try {
    // Directly, the tool is refused (403 insufficient_scope at the HTTP layer).
    await expect(alice.call('down_whoami')).rejects.toThrow();
    const result = await alice.call('finder', { prompt: 'Who am I?' });
    expect(offered()).toContain('down_echo');
    expect(offered()).not.toContain('down_whoami');
    // The model named it anyway: an unknown tool to the AI SDK, a tool error, nothing run.
    expect(toolResultsIn(chat.received[1])[0]).toMatch(/down_whoami/);
    expect(realm.server.calls).toEqual([]);
    expect(textOf(result)).not.toContain('alice-down');
  } finally {
    await alice.close();
  }
});

test('a caller holding the scope gets the tool: offered and run with their account', async () => {
  const dana = await connect(agent.running.url, tokens.dana, { signInAs: 'dana-down' });
  try {
    const result = await dana.call('finder', { prompt: 'Who am I?' });
    expect(offered()).toEqual(expect.arrayContaining(['down_whoami', 'down_echo']));
    expect(realm.server.calls.map((call) => [call.tool, call.sub])).toEqual([
      ['whoami', 'dana-down'],
    ]);
    expect(textOf(result)).toContain('dana-down');
  } finally {
    await dana.close();
  }
});
