/**
 * An agent framework's MCP client: OpenAI Agents JS (`@openai/agents-core`,
 * `MCPServerStreamableHttp` with an `authProvider`; it runs the SDK v2 client underneath) against
 * the app served by `createApp`, protected by the development authorization server. The host
 * redeems the code with the SDK's `auth()` after the first `connect()` fails with
 * `UnauthorizedError`, as OpenAI Agents exposes no transport; then the agent's function tools
 * (`getAllMcpTools`) are invoked as a run would; an expired access token is refreshed; a tool
 * needing `mcp:admin` sends the person through a new authorization (step-up).
 */
import { auth, UnauthorizedError } from '@modelcontextprotocol/client';
import {
  type FunctionTool,
  getAllMcpTools,
  type getLogger,
  MCPServerStreamableHttp,
  RunContext,
} from '@openai/agents-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ServedApp, textOf } from '../server/serve-support.js';
import {
  ADMIN_SCOPE,
  HeadlessOAuthProvider,
  movableClock,
  PAST_EXPIRY_MS,
  scopesOf,
  startInteropApp,
} from './support.js';

/** What OpenAI Agents would print on the console (a failed first connect), kept instead. */
const logged: string[] = [];
const logger: ReturnType<typeof getLogger> = {
  namespace: 'openai-agents interop test',
  debug: () => {},
  warn: (message: string) => logged.push(message),
  error: (message: string) => logged.push(message),
  dontLogModelData: true,
  dontLogToolData: true,
};

describe('OpenAI Agents logs in to the served app and runs its tools', () => {
  let clock: ReturnType<typeof movableClock>;
  let served: ServedApp;
  const provider = new HeadlessOAuthProvider('alice', 'OpenAI Agents interop');
  let server: MCPServerStreamableHttp;

  beforeAll(async () => {
    clock = movableClock();
    served = await startInteropApp();
    server = new MCPServerStreamableHttp({
      url: served.resource,
      name: 'served-agent',
      authProvider: provider,
      logger,
    });
  }, 30_000);

  afterAll(async () => {
    await server?.close();
    await served?.close();
    clock?.restore();
  });

  /** Redeem the code of the last authorization with the SDK's `auth()`, as the host does. */
  async function finishLogin() {
    const callback = provider.takeCallback();
    const iss = callback.get('iss');
    const result = await auth(provider, {
      serverUrl: served.resource,
      authorizationCode: callback.get('code') ?? '',
      ...(iss ? { iss } : {}),
    });
    expect(result).toBe('AUTHORIZED');
  }

  test('connect: UnauthorizedError, the code redeemed, connect again; tools invoked as a run does', async () => {
    const failure = await server.connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrls[0]?.searchParams.get('resource')).toBe(served.resource);
    await finishLogin();
    await server.connect();

    const tools = (await getAllMcpTools({
      mcpServers: [server],
      runContext: new RunContext({}),
    })) as FunctionTool[];
    expect(tools.map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['whoami', 'add', 'admin_report']),
    );
    const add = tools.find((tool) => tool.name === 'add');
    const sum = await add?.invoke(new RunContext({}), JSON.stringify({ a: 2, b: 40 }));
    expect(JSON.stringify(sum)).toContain('42');
    const whoami = JSON.parse(textOf({ content: await server.callTool('whoami', {}) }));
    expect(whoami).toMatchObject({ subject: 'alice', issuer: served.as.issuer });
  });

  test('after the access token expired, the next call refreshes without a new authorization', async () => {
    const before = provider.saved?.access_token;
    clock.advance(PAST_EXPIRY_MS);
    const whoami = JSON.parse(textOf({ content: await server.callTool('whoami', {}) }));
    expect(whoami.subject).toBe('alice');
    expect(provider.saved?.access_token).not.toBe(before);
    expect(provider.authorizationUrls).toHaveLength(1);
  });

  test('a tool needing mcp:admin: the client re-authorizes for the union of scopes, then it runs', async () => {
    const failure = await server.callTool('admin_report', {}).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);
    expect(scopesOf(provider.authorizationUrls[1]?.searchParams.get('scope'))).toEqual(
      expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]),
    );
    await finishLogin();
    const report = textOf({ content: await server.callTool('admin_report', {}) });
    expect(report).toBe('Report for alice: all good.');
  });
});
