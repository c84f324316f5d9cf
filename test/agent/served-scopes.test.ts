/**
 * A served agent offers its model only the tools its caller may call directly (issue 17 review,
 * H1): `authorization.tool_scopes` says `down_whoami` needs `admin`. Alice holds the base scope
 * only: the agent's model is not offered `down_whoami`, and when it names the tool anyway the
 * call is a tool error, never made at the downstream server. Dana holds `admin`: her agent
 * offers and calls it. The model is the scripted OpenAI stand-in; the downstream server a
 * protected realm reached with each caller's own token.
 */
import { beforeEach, expect, test } from 'vitest';
import { defineApp } from '../../src/app/define.js';
import { startDevAuthorizationServer } from '../../src/dev/authorization-server.js';
import { principalOf } from '../../src/server/identity.js';
import { connect, type Inbound, textOf } from '../app/delegated-support.js';
import { freePort } from '../support/net.js';
import { toolResultsIn } from './scripted-chat.js';
import { servedWorld } from './served-world.js';

const ADMIN = 'admin';

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

const world = servedWorld({
  modelKey: 'sk-served-scopes',
  inbound: startAdminInbound,
  settings: (settings) => {
    const authorization = settings.authorization && {
      ...settings.authorization,
      tool_scopes: { down_whoami: [ADMIN] },
    };
    return { ...settings, authorization };
  },
  setup: defineApp((app) => {
    app.agent('finder', { serverNames: ['down'], provider: 'openai' });
  }),
  users: { alice: undefined, dana: `mcp:tools ${ADMIN}` },
});
const { tokens } = world;

beforeEach(() => {
  world.realm.server.calls.length = 0;
  // The model calls `down_whoami` whatever it was offered, then says what came back.
  world.chat.script = (request) => {
    const [result] = toolResultsIn(request);
    return result === undefined ? { tool: 'down_whoami', args: {} } : { text: `Got: ${result}` };
  };
});

/** The tool names the model was offered in its first request. */
function offered(): string[] {
  const tools = (world.chat.received[0]?.body.tools ?? []) as { function: { name: string } }[];
  return tools.map((tool) => tool.function.name);
}

test('a tool tool_scopes withholds from the caller is neither offered nor run', async () => {
  const alice = await connect(world.agent.running.url, tokens.alice, { signInAs: 'alice-down' });
  try {
    // Directly, the tool is refused (403 insufficient_scope at the HTTP layer).
    await expect(alice.call('down_whoami')).rejects.toThrow();
    const result = await alice.call('finder', { prompt: 'Who am I?' });
    expect(offered()).toContain('down_echo');
    expect(offered()).not.toContain('down_whoami');
    // The model named it anyway: an unknown tool to the AI SDK, a tool error, nothing run.
    expect(toolResultsIn(world.chat.received[1])[0]).toMatch(/down_whoami/);
    expect(world.realm.server.calls).toEqual([]);
    expect(textOf(result)).not.toContain('alice-down');
  } finally {
    await alice.close();
  }
});

test('a caller holding the scope gets the tool: offered and run with their account', async () => {
  const dana = await connect(world.agent.running.url, tokens.dana, { signInAs: 'dana-down' });
  try {
    const result = await dana.call('finder', { prompt: 'Who am I?' });
    expect(offered()).toEqual(expect.arrayContaining(['down_whoami', 'down_echo']));
    expect(world.realm.server.calls.map((call) => [call.tool, call.sub])).toEqual([
      ['whoami', 'dana-down'],
    ]);
    expect(textOf(result)).toContain('dana-down');
  } finally {
    await dana.close();
  }
});
