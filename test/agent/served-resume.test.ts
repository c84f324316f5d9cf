/**
 * A login a served agent's loop needs after a tool call has run (issue 17 review, M4): the
 * downstream server wants `mcp:write` for `post` only, so the caller's token (`mcp:read`) gets a
 * 403 `insufficient_scope` on the agent's second tool call and a step-up login. With a client
 * that opens URLs, the caller signs in within that call and the loop goes on: the first tool
 * (`count`) ran once, the model was asked three times, never from the start again. A client that
 * cannot open URLs gets the sign-in link (-32042); asking again after it has signed in runs the
 * whole answer again, as docs/agents.md says. A step-up the caller declines is the call's error,
 * which the model reads.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { beforeEach, expect, test } from 'vitest';
import { defineApp } from '../../src/app/define.js';
import { startDevAuthorizationServer } from '../../src/dev/authorization-server.js';
import { connect, DOWN_SCOPE, type Realm, signIn, textOf } from '../app/delegated-support.js';
import { freePort } from '../support/net.js';
import { startProtectedMcpServer } from '../support/protected-mcp-server.js';
import { type ScriptedChat, toolResultsIn } from './scripted-chat.js';
import { servedWorld } from './served-world.js';

const WRITE = 'mcp:write';

/** The calls of the downstream tools, by the caller's downstream account. */
const ran = { count: [] as unknown[], post: [] as unknown[] };

function tools(server: McpServer): void {
  server.registerTool('count', { description: 'Counts' }, (extra) => {
    ran.count.push(extra.authInfo?.extra?.sub);
    return { content: [{ type: 'text', text: String(ran.count.length) }] };
  });
  server.registerTool('post', { description: 'Posts (needs mcp:write)' }, (extra) => {
    ran.post.push(extra.authInfo?.extra?.sub);
    return { content: [{ type: 'text', text: 'posted' }] };
  });
}

/** The downstream realm: `post` needs `mcp:write` besides the `mcp:read` of every call. */
async function startWriteRealm(): Promise<Realm> {
  const port = await freePort();
  const server = await startProtectedMcpServer({
    issuer: `http://127.0.0.1:${port}`,
    requiredScopes: [DOWN_SCOPE],
    toolScopes: { post: `${DOWN_SCOPE} ${WRITE}` },
    setup: tools,
  });
  const as = await startDevAuthorizationServer({
    port,
    resources: [server.url],
    scopes: [DOWN_SCOPE, WRITE],
  });
  return {
    as,
    server,
    async close() {
      await server.close();
      await as.close();
    },
  };
}

/** A script: `count`, then `post`, then the answer `final` makes of both results. */
function countThenPost(final: (results: string[]) => string): ScriptedChat['script'] {
  return (request) => {
    const results = toolResultsIn(request);
    if (results.length === 0) return { tool: 'down_count', args: {} };
    if (results.length === 1) return { tool: 'down_post', args: {} };
    return { text: final(results) };
  };
}

/** Sign `user` in to the realm (`mcp:read`) through an answer that calls no tool. */
async function signedIn(user: string): Promise<void> {
  const opener = await connect(world.agent.running.url, tokens[user], { signInAs: `${user}-down` });
  world.chat.script = () => ({ text: 'Nothing to do.' });
  await opener.call('poster', { prompt: 'Nothing.' });
  await opener.close();
  world.chat.received.length = 0;
}

const world = servedWorld({
  modelKey: 'sk-served-resume',
  realm: startWriteRealm,
  setup: defineApp((app) => {
    app.agent('poster', { serverNames: ['down'], provider: 'openai' });
  }),
});
const { tokens } = world;

beforeEach(() => {
  ran.count.length = 0;
  ran.post.length = 0;
  world.chat.script = countThenPost((results) => `Done: ${results.join(', ')}.`);
});

test('a step-up on the second tool call: the caller signs in within it, the first tool is not run again', async () => {
  const alice = await connect(world.agent.running.url, tokens.alice, { signInAs: 'alice-down' });
  try {
    // The first login (no token yet) comes before any model call.
    const result = await alice.call('poster', { prompt: 'Count, then post.' });
    expect(textOf(result)).toBe('Done: 1, posted.');
    expect(ran).toEqual({ count: ['alice-down'], post: ['alice-down'] });
    expect(world.chat.received).toHaveLength(3);
    // Two sign-ins: the first login, then the step-up to mcp:write.
    expect(alice.log.requests).toHaveLength(2);
    const stepUp = new URL(String((alice.log.requests[1] as { url?: string })?.url));
    expect(stepUp.pathname).toBe('/internal/oauth/connect');
  } finally {
    await alice.close();
  }
});

test('a client that cannot open URLs: the step-up ends the answer with the link; asked again, it runs again', async () => {
  await signedIn('bob');
  world.chat.script = countThenPost((results) => `Done: ${results.join(', ')}.`);
  const bob = await connect(world.agent.running.url, tokens.bob);
  try {
    const failure = await bob.call('poster', { prompt: 'Count, then post.' }).catch((e) => e);
    expect(failure).toBeInstanceOf(UrlElicitationRequiredError);
    expect(ran).toEqual({ count: ['bob-down'], post: [] });
    const link = (failure as UrlElicitationRequiredError).elicitations[0]?.url ?? '';
    await signIn(link, 'bob-down');
    const result = await bob.call('poster', { prompt: 'Count, then post.' });
    expect(textOf(result)).toBe('Done: 2, posted.');
    // The whole answer ran again: `count` twice.
    expect(ran).toEqual({ count: ['bob-down', 'bob-down'], post: ['bob-down'] });
  } finally {
    await bob.close();
  }
});

test('a step-up the caller declines: the call is an error the model reads, and the loop goes on', async () => {
  await signedIn('carol');
  world.chat.script = countThenPost((results) => `Could not post: ${results[1]}`);
  const carol = await connect(world.agent.running.url, tokens.carol, {
    signInAs: 'carol-down',
    answer: 'decline',
  });
  try {
    const result = await carol.call('poster', { prompt: 'Count, then post.' });
    // The model read the refusal as the call's error.
    expect(textOf(result)).toContain('The sign-in to down was not accepted; nothing was done.');
    expect(carol.log.requests).toHaveLength(1);
    expect(ran).toEqual({ count: ['carol-down'], post: [] });
    expect(world.chat.received).toHaveLength(3);
  } finally {
    await carol.close();
  }
});
