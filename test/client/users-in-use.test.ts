/**
 * An end user's connected SDK `Client` (what `forUser(id).connect(name)` returns, and LangChain's
 * per-user tools hold) is in use as long as it sends: each request makes the user's state
 * recently used, so it is not closed as idle while the client is used, and a user pushed out of
 * the cache (`maxUsers`) or idle while a call is in flight keeps the connection until that call
 * has answered. A real MCP server (the SDK's own) behind opaque tokens; the clock is injected.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, test } from 'vitest';
import { type ClientRuntime, openClientRuntime } from '../../src/client/runtime.js';
import { resolveSettings } from '../../src/client/settings.js';
import type { SettingsInput } from '../../src/config/schema/settings.js';
import { Secret } from '../../src/config/secret.js';
import { silentLogger } from '../../src/logger.js';
import { waitFor } from '../support/net.js';
import { type OpaqueMcpServer, startOpaqueMcpServer } from './opaque-mcp-server.js';

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const each of closing.splice(0).reverse()) await each.close();
});

const IDLE_MS = 60_000;

/** The runtime of `createAgentAuth` on a real MCP server that accepts alice's and bob's tokens. */
async function open(options: { maxUsers?: number } = {}) {
  const server: OpaqueMcpServer = await startOpaqueMcpServer(['alice-token', 'bob-token']);
  closing.push(server);
  const clock = { now: Date.now() };
  const input = {
    mcp: {
      servers: {
        docs: {
          transport: 'streamable_http',
          url: server.url,
          auth: { oauth: { enabled: true, client_id: 'agent-client' } },
        },
      },
    },
    oauth: { token_store: { backend: 'memory' } },
  } as SettingsInput;
  const runtime: ClientRuntime = openClientRuntime(resolveSettings({ settings: input }).settings, {
    env: {},
    logger: silentLogger,
    clientName: 'users in use',
    clientInfo: { name: 'users in use', version: '1' },
    now: () => clock.now,
    userIdleMs: IDLE_MS,
    ...options,
  });
  closing.push(runtime);
  const settings = runtime.settings.mcp.servers.docs;
  if (!settings) throw new Error('no docs server');
  /** `user`'s connected Client, their token held (as a completed login leaves it). */
  const connect = async (user: string): Promise<Client> => {
    const scope = runtime.scopes.forIdentity(user);
    await scope.tokens.forServer('docs', settings)?.adoptToken({
      accessToken: new Secret(`${user}-token`),
      expiresAt: clock.now + 3_600_000,
    });
    return (await scope.registry.connect('docs')).client;
  };
  return { runtime, server, clock, connect };
}

const call = async (client: Client, name: string) =>
  (await client.callTool({ name, arguments: {} })).content;
/** The error message of a call once `client`'s connection was closed (closing is not awaited). */
const closedCall = (client: Client) =>
  waitFor("the connection's close", () =>
    call(client, 'ping').then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    ),
  );
const PONG = [{ type: 'text', text: 'pong' }];
const RELEASED = [{ type: 'text', text: 'released' }];

describe("an end user's connected Client", () => {
  test('used every 30 s, it is not closed as idle (60 s) when another user arrives', async () => {
    const { runtime, clock, connect } = await open();
    const alice = await connect('alice');
    for (let minute = 0; minute < 3; minute += 1) {
      clock.now += 30_000;
      expect(await call(alice, 'ping')).toEqual(PONG);
    }
    runtime.scopes.forIdentity('bob');
    expect(await call(alice, 'ping')).toEqual(PONG);
  });

  test('a call in flight for longer than the idle time is not cut off; unused, the scope is closed after', async () => {
    const { runtime, server, clock, connect } = await open();
    const alice = await connect('alice');
    const holding = call(alice, 'hold');
    await waitFor('the hold call to arrive', () => (server.holding() === 1 ? true : undefined));
    expect(runtime.scopes.requestsInFlight('alice')).toBe(1);
    clock.now += 2 * IDLE_MS;
    runtime.scopes.forIdentity('bob'); // the sweep: alice is busy, not idle
    server.release();
    expect(await holding).toEqual(RELEASED);
    expect(await call(alice, 'ping')).toEqual(PONG);
    // The answer arrives before its event stream ends; the call is over when it has.
    await waitFor('the last answer read', () =>
      runtime.scopes.requestsInFlight('alice') === 0 ? true : undefined,
    );

    clock.now += 2 * IDLE_MS;
    runtime.scopes.forIdentity('carol'); // now alice is idle: her connection is closed
    expect(await closedCall(alice)).toMatch(/closed|not connected/i);
  });

  test('pushed out of the cache (maxUsers) during a call: the call answers, then the connection is closed', async () => {
    const { runtime, server, connect } = await open({ maxUsers: 1 });
    const alice = await connect('alice');
    const holding = call(alice, 'hold');
    await waitFor('the hold call to arrive', () => (server.holding() === 1 ? true : undefined));
    runtime.scopes.forIdentity('bob'); // alice is pushed out
    expect(runtime.scopes.forIdentity('bob')).toBeDefined();
    server.release();
    expect(await holding).toEqual(RELEASED);
    expect(await closedCall(alice)).toMatch(/closed|not connected/i);
  });
});
