/**
 * Mastra (`@mastra/mcp` 2 with `@mastra/core` 1; it runs the MCP SDK v2 client underneath) on a
 * server protected by OAuth, through `createAgentAuth` and the recipe of `docs/frameworks.md`
 * (`examples/frameworks/mastra.ts`): each server's `fetch` given to Mastra's `MCPClient`. The
 * agent logs in before Mastra connects (signing in on the development authorization server's
 * pages), lists the tools and executes them as an agent run does, refreshes an expired token
 * without a new login, and steps up to `mcp:admin` inside one tool call; an end user gets a
 * client of their own. Given only the `authProvider` (Mastra's own option), the SDK v2 transport
 * refreshes but cannot step up: it throws `InsufficientScopeError`, which `login({ scopes })`
 * answers before the call is made again. With `handOverConsent()` (nobody to ask in the process),
 * a needed login fails at once with the URL, through Mastra, and is completed out of band.
 */
import { noopLogger } from '@mastra/core/logger';
import { noopObserve } from '@mastra/core/tools';
import { MCPClient } from '@mastra/mcp';
import { describe, expect, test } from 'vitest';
import { mastraMcpClient } from '../../examples/frameworks/mastra.js';
import { authorizationRequiredIn } from '../../src/index.js';
import { ADMIN_SCOPE, PAST_EXPIRY_MS, scopesOf } from '../interop/support.js';
import { grantsOf, protectedWorld, recipe, SERVER, signInHandedOver } from './protected-server.js';

/** A Mastra tool, as `listTools()` gives it to an agent. */
type MastraTool = Awaited<ReturnType<MCPClient['listTools']>>[string];

/** Execute `tool` as Mastra's agent loop does; the text of its MCP result. */
async function run(tool: MastraTool | undefined, input: Record<string, unknown> = {}) {
  if (!tool?.execute) throw new Error('no such tool');
  const result = (await tool.execute(input, { observe: noopObserve })) as {
    content?: { text?: string }[];
  };
  return result.content?.[0]?.text ?? JSON.stringify(result);
}

/** What `promise` was rejected with (`undefined` when it was not). */
function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

test('docs/frameworks.md shows the recipe this file runs', () => {
  const { example, inDocs } = recipe('mastra.ts');
  expect(inDocs).toBe(example);
});

describe('Mastra through createAgentAuth (the fetch of each server)', () => {
  const world = protectedWorld();
  let tools: Record<string, MastraTool>;

  test('logs in before Mastra connects, then lists the tools and executes one', async () => {
    const { auth, consent, requests, served } = world();
    const mcp = await mastraMcpClient(auth, [SERVER]);
    world().closing(() => mcp.disconnect());
    expect(consent.urls).toHaveLength(1);
    expect(consent.urls[0]?.searchParams.get('resource')).toBe(served.resource);
    expect(grantsOf(requests)).toEqual(['authorization_code']);
    const loggedIn = requests.length;

    tools = await mcp.listTools();
    expect(Object.keys(tools)).toEqual(
      expect.arrayContaining([`${SERVER}_whoami`, `${SERVER}_add`, `${SERVER}_admin_report`]),
    );
    expect(await run(tools[`${SERVER}_add`], { a: 2, b: 40 })).toBe('42');
    const whoami = JSON.parse(await run(tools[`${SERVER}_whoami`]));
    expect(whoami).toMatchObject({ subject: 'alice', issuer: served.as.issuer });
    // Logged in first: no request of Mastra's was refused.
    const statuses = requests.slice(loggedIn).map((request) => request.status);
    expect(statuses).not.toContain(401);
  });

  test('after the access token expired, the next tool call refreshes it, no new login', async () => {
    const { auth, consent, requests } = world();
    const [before] = await auth.status(SERVER);
    world().advance(PAST_EXPIRY_MS);
    expect(JSON.parse(await run(tools[`${SERVER}_whoami`])).subject).toBe('alice');
    expect(grantsOf(requests)).toEqual(['authorization_code', 'refresh_token']);
    const [after] = await auth.status(SERVER);
    expect(after?.obtainedAt).toBeGreaterThan(before?.obtainedAt ?? Number.POSITIVE_INFINITY);
    expect(consent.urls).toHaveLength(1);
  });

  test('a tool needing mcp:admin: the fetch steps up inside the tool call, then it runs', async () => {
    const { auth, consent } = world();
    expect(await run(tools[`${SERVER}_admin_report`])).toBe('Report for alice: all good.');
    expect(consent.urls).toHaveLength(2);
    expect(consent.infos[1]?.added).toEqual([ADMIN_SCOPE]);
    expect(scopesOf(consent.urls[1]?.searchParams.get('scope'))).toEqual(
      expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]),
    );
    const [held] = await auth.status(SERVER);
    expect(held?.scopes).toEqual(expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]));
    expect(consent.browserErrors).toEqual([]);
  });

  test('an end user (forUser) gets a Mastra client of their own, calling with their token', async () => {
    world().user = 'bob';
    const bobs = await mastraMcpClient(world().auth.forUser('bob'), [SERVER]);
    world().closing(() => bobs.disconnect());
    const whoami = JSON.parse(await run((await bobs.listTools())[`${SERVER}_whoami`]));
    expect(whoami.subject).toBe('bob');
    // The agent's own client still calls as the agent's login (alice).
    expect(JSON.parse(await run(tools[`${SERVER}_whoami`])).subject).toBe('alice');
    expect(world().consent.urls).toHaveLength(3);
  });
});

describe("Mastra given only the server's authProvider (SDK v2 AuthProvider)", () => {
  const world = protectedWorld();

  test('refreshes; a step-up is InsufficientScopeError, answered by login({ scopes })', async () => {
    const { auth, consent, requests } = world();
    const server = auth.server(SERVER);
    await server.login();
    const mcp = new MCPClient({
      id: 'authProvider only',
      servers: { [SERVER]: { url: server.url, authProvider: server.authProvider } },
    });
    world().closing(() => mcp.disconnect());
    // Mastra logs a failed tool call on the console; the refusal below is expected.
    mcp.__setLogger(noopLogger);
    const tools = await mcp.listTools();
    world().advance(PAST_EXPIRY_MS);
    expect(JSON.parse(await run(tools[`${SERVER}_whoami`])).subject).toBe('alice');
    expect(grantsOf(requests)).toEqual(['authorization_code', 'refresh_token']);

    const refused = (await failureOf(run(tools[`${SERVER}_admin_report`]))) as {
      name?: string;
      requiredScope?: string;
    };
    expect(refused?.name).toBe('InsufficientScopeError');
    expect(scopesOf(refused?.requiredScope)).toContain(ADMIN_SCOPE);
    expect(consent.urls).toHaveLength(1);
    await server.login({ scopes: scopesOf(refused?.requiredScope) });
    expect(consent.infos[1]?.added).toEqual([ADMIN_SCOPE]);
    expect(await run(tools[`${SERVER}_admin_report`])).toBe('Report for alice: all good.');
  });
});

describe('Mastra with handOverConsent(): a needed login fails fast with its URL', () => {
  const world = protectedWorld({ handOver: true });

  test('the first login and a step-up inside a tool call, each completed out of band', async () => {
    const { auth } = world();
    const login = authorizationRequiredIn(await failureOf(mastraMcpClient(auth, [SERVER])));
    expect(login?.server).toBe(SERVER);
    await auth.completeLogin(SERVER, await signInHandedOver(login?.authorizationUrl ?? ''));
    const mcp = await mastraMcpClient(auth, [SERVER]);
    world().closing(() => mcp.disconnect());
    mcp.__setLogger(noopLogger);
    const tools = await mcp.listTools();
    expect(JSON.parse(await run(tools[`${SERVER}_whoami`])).subject).toBe('alice');

    // Mastra rethrows what our fetch threw: the step-up's URL reaches the host.
    const stepUp = authorizationRequiredIn(await failureOf(run(tools[`${SERVER}_admin_report`])));
    expect(scopesOf(new URL(stepUp?.authorizationUrl ?? '').searchParams.get('scope'))).toEqual(
      expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]),
    );
    await auth.completeLogin(SERVER, await signInHandedOver(stepUp?.authorizationUrl ?? ''));
    expect(await run(tools[`${SERVER}_admin_report`])).toBe('Report for alice: all good.');
  });
});
