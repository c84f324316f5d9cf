/**
 * What every MCP SDK client (v1 `@modelcontextprotocol/sdk`, v2 `@modelcontextprotocol/client`)
 * connected through `createAgentAuth` must do against the protected server of
 * `protected-server.ts`: log in before connecting (signing in on the development authorization
 * server's pages), list and call tools, refresh an expired token in the same session without a
 * new login, step up to `mcp:admin` inside one `callTool`, and, for an end user, sign in as that
 * user and call with that user's token.
 */
import { describe, expect, test } from 'vitest';
import type { AgentAuthScope } from '../../src/index.js';
import { ADMIN_SCOPE, PAST_EXPIRY_MS, scopesOf } from '../interop/support.js';
import { textOf } from '../server/serve-support.js';
import { grantsOf, protectedWorld, SERVER } from './protected-server.js';

/** What the cases use of an SDK client (v1 and v2 alike). */
export interface SdkClient {
  listTools(): Promise<{ tools: { name: string }[] }>;
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<unknown>;
  readonly transport?: unknown;
  close(): Promise<void>;
}

/** The parsed `whoami` result of `client`. */
export async function whoami(client: SdkClient): Promise<{ subject: string }> {
  return JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
}

function sessionOf(client: SdkClient): string | undefined {
  return (client.transport as { sessionId?: string } | undefined)?.sessionId;
}

/** A `describe` of the cases for clients made by `connect`. */
export function describeSdkClient(
  title: string,
  connect: (auth: AgentAuthScope, name: string) => Promise<SdkClient>,
): void {
  describe(title, () => {
    const current = protectedWorld();
    let client: SdkClient;

    test('logs in before connecting, then lists the tools and calls them', async () => {
      const world = current();
      client = await connect(world.auth, SERVER);
      world.closing(() => client.close());
      expect(world.consent.urls).toHaveLength(1);
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(['whoami', 'add', 'admin_report']));
      expect((await whoami(client)).subject).toBe('alice');
      const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
      expect(textOf(sum)).toBe('42');
    });

    test('after the access token expired, the next call refreshes it in the same session', async () => {
      const world = current();
      const session = sessionOf(client);
      const refreshes = () => grantsOf(world.requests).filter((grant) => grant === 'refresh_token');
      const before = refreshes().length;
      world.advance(PAST_EXPIRY_MS);
      expect((await whoami(client)).subject).toBe('alice');
      expect(refreshes()).toHaveLength(before + 1);
      expect(world.consent.urls).toHaveLength(1);
      expect(sessionOf(client)).toBe(session);
    });

    test('a tool needing mcp:admin: a new authorization for the union of scopes inside the call', async () => {
      const world = current();
      const report = textOf(await client.callTool({ name: 'admin_report', arguments: {} }));
      expect(report).toBe('Report for alice: all good.');
      expect(world.consent.urls).toHaveLength(2);
      expect(scopesOf(world.consent.urls[1]?.searchParams.get('scope'))).toEqual(
        expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]),
      );
      expect(world.consent.infos[1]?.added).toEqual([ADMIN_SCOPE]);
    });

    test("an end user's client signs in as that user and calls with that user's token", async () => {
      const world = current();
      world.user = 'bob';
      const bob = await connect(world.auth.forUser('user-bob'), SERVER);
      world.closing(() => bob.close());
      expect((await whoami(bob)).subject).toBe('bob');
      expect((await whoami(client)).subject).toBe('alice');
      expect(world.consent.urls).toHaveLength(3);
    });
  });
}
