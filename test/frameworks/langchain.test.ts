/**
 * LangChain (`@langchain/mcp-adapters` 1.1 with `@langchain/core` 1 and `@langchain/langgraph` 1;
 * the adapters run the MCP SDK v1 client) on a server protected by OAuth, through
 * `createAgentAuth` and the recipe of `docs/frameworks.md` (`examples/frameworks/langchain.ts`):
 * the adapters take no `fetch`, so `loadMcpTools` gets an SDK v1 `Client` whose transport has the
 * server's `fetch`. Logging in before connecting signs in on the development authorization
 * server's pages; the tools are listed and run as LangGraph's `ToolNode` runs a model's tool
 * calls; an expired token is refreshed without a new login; a tool needing `mcp:admin` steps up inside one call; an end user gets tools of their own.
 * With `handOverConsent()`, logging in before the run (with the scopes the tools need) hands the
 * URL over; a login needed inside a tool call cannot: the adapters rethrow a `ToolException` of
 * their own that keeps only the error's text.
 */
import { AIMessage, type ToolMessage } from '@langchain/core/messages';
import type { DynamicStructuredTool } from '@langchain/core/tools';
import { ToolNode } from '@langchain/langgraph/prebuilt';
import { describe, expect, test } from 'vitest';
import { langchainTools } from '../../examples/frameworks/langchain.js';
import { authorizationRequiredIn } from '../../src/index.js';
import { ADMIN_SCOPE, PAST_EXPIRY_MS, scopesOf } from '../interop/support.js';
import { grantsOf, protectedWorld, recipe, SERVER, signInHandedOver } from './protected-server.js';

/** Run `name` as a LangGraph agent does: a model's tool call through a `ToolNode`. */
async function callThroughGraph(
  tools: DynamicStructuredTool[],
  name: string,
  args: Record<string, unknown> = {},
): Promise<ToolMessage> {
  const call = { id: `call-${name}`, name, args };
  const { messages } = (await new ToolNode(tools).invoke({
    messages: [new AIMessage({ content: '', tool_calls: [call] })],
  })) as { messages: ToolMessage[] };
  const [message] = messages;
  if (!message) throw new Error('the ToolNode answered nothing');
  return message;
}

/** The `whoami` subject, through the graph. */
async function subjectOf(tools: DynamicStructuredTool[]): Promise<string> {
  const whoami = await callThroughGraph(tools, 'whoami');
  expect(whoami.status).toBe('success');
  return JSON.parse(String(whoami.content)).subject;
}

test('docs/frameworks.md shows the recipe this file runs', () => {
  const { example, inDocs } = recipe('langchain.ts');
  expect(inDocs).toBe(example);
});

describe('LangChain through createAgentAuth (a v1 Client on the server’s fetch given to loadMcpTools)', () => {
  const world = protectedWorld();
  let tools: DynamicStructuredTool[];

  test('connecting logs in; the tools are listed and invoked', async () => {
    const { auth, consent, requests, served } = world();
    tools = await langchainTools(auth, SERVER);
    expect(consent.urls).toHaveLength(1);
    expect(consent.urls[0]?.searchParams.get('resource')).toBe(served.resource);
    expect(grantsOf(requests)).toEqual(['authorization_code']);

    expect(tools.map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['whoami', 'add', 'admin_report']),
    );
    const add = tools.find((tool) => tool.name === 'add');
    expect(await add?.invoke({ a: 2, b: 40 })).toBe('42');
    const whoami = await callThroughGraph(tools, 'whoami');
    expect(JSON.parse(String(whoami.content))).toMatchObject({
      subject: 'alice',
      issuer: served.as.issuer,
    });
  });

  test('after the access token expired, the next tool call refreshes it, no new login', async () => {
    world().advance(PAST_EXPIRY_MS);
    expect(await subjectOf(tools)).toBe('alice');
    expect(grantsOf(world().requests)).toEqual(['authorization_code', 'refresh_token']);
    expect(world().consent.urls).toHaveLength(1);
  });

  test('a tool needing mcp:admin: our fetch steps up inside the tool call, then it runs', async () => {
    const { consent } = world();
    const report = await callThroughGraph(tools, 'admin_report');
    expect(report.status).toBe('success');
    expect(report.content).toBe('Report for alice: all good.');
    expect(consent.urls).toHaveLength(2);
    expect(consent.infos[1]?.added).toEqual([ADMIN_SCOPE]);
    expect(scopesOf(consent.urls[1]?.searchParams.get('scope'))).toEqual(
      expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]),
    );
    expect(consent.browserErrors).toEqual([]);
  });

  test('an end user (forUser) gets tools that call with their own token', async () => {
    world().user = 'bob';
    expect(await subjectOf(await langchainTools(world().auth.forUser('bob'), SERVER))).toBe('bob');
    // The agent's own tools still call as the agent's login (alice).
    expect(await subjectOf(tools)).toBe('alice');
    expect(world().consent.urls).toHaveLength(3);
  });
});

describe('LangChain with handOverConsent(): log in before the run', () => {
  const world = protectedWorld({ handOver: true });

  /** The handed-over login `attempt` fails with, completed as the person would, in a browser. */
  async function completeHandOver(attempt: Promise<unknown>) {
    const handed = authorizationRequiredIn(
      await attempt.then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    expect(handed?.server).toBe(SERVER);
    await world().auth.completeLogin(
      SERVER,
      await signInHandedOver(handed?.authorizationUrl ?? ''),
    );
    return handed;
  }

  test('login hands its URL over; inside a tool call LangChain keeps only the text, onAuthorizationRequired gets the URL', async () => {
    const { auth, handedOver } = world();
    await completeHandOver(auth.login(SERVER));
    const tools = await langchainTools(auth, SERVER);
    const admin = tools.find((tool) => tool.name === 'admin_report');

    const refused = await admin?.invoke({}).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(refused?.name).toBe('ToolException');
    expect(refused?.message).toContain('AuthorizationRequiredError');
    expect(authorizationRequiredIn(refused)).toBeUndefined();
    // The host still reaches the step-up's URL: handOverConsent told it before the call failed.
    const inCall = handedOver.at(-1);
    expect(inCall?.server).toBe(SERVER);
    expect(refused?.message).not.toContain(inCall?.authorizationUrl ?? '-');
    expect(scopesOf(new URL(inCall?.authorizationUrl ?? '').searchParams.get('scope'))).toEqual(
      expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]),
    );
    await auth.completeLogin(SERVER, await signInHandedOver(inCall?.authorizationUrl ?? ''));
    expect(await admin?.invoke({})).toBe('Report for alice: all good.');
  });
});
