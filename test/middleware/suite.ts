/**
 * The tests every adapter runs (one test file each): an SDK client logs in through the
 * development authorization server, lists and calls the tools, reads the caller back from
 * `whoami`, and steps up for `admin_report`; then every row of the attack table.
 */
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError as UnauthorizedV2,
} from '@modelcontextprotocol/client';
import { UnauthorizedError as UnauthorizedV1 } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectWithLogin, HeadlessOAuthProvider, scopesOf } from '../interop/support.js';
import { textOf } from '../server/serve-support.js';
import type { Adapter } from './adapters.js';
import { type AttackRow, TOKEN_ROWS, TRANSPORT_ROWS } from './attack-rows.js';
import { MCP_ROWS } from './attack-rows-mcp.js';
import { ADMIN, type Environment, startEnvironment } from './environment.js';

/** Every row of the attack table, in order. */
export const ATTACK_ROWS = [...TRANSPORT_ROWS, ...TOKEN_ROWS, ...MCP_ROWS];

/**
 * The rows that apply to `adapter`: not the middleware's own before `serve`, not the session rows
 * before a stateless server (no row is registered that could pass without checking anything).
 */
export function rowsFor(adapter: Adapter): AttackRow[] {
  return ATTACK_ROWS.filter(
    (row) =>
      !(row.middlewareOnly && adapter.name === 'serve') && !(row.sessionsOnly && !adapter.sessions),
  );
}

/** What the login test needs of either SDK generation's client. */
interface LoggedIn {
  callTool(name: string, args?: Record<string, unknown>): Promise<unknown>;
  listTools(): Promise<string[]>;
  /** Redeem the code of the last authorization (after a step-up's redirect). */
  finish(): Promise<void>;
  close(): Promise<void>;
}

/** The calls of either generation's `Client` the test makes. */
interface SdkClient {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  listTools(): Promise<{ tools: { name: string }[] }>;
  close(): Promise<void>;
}

function loggedIn(client: SdkClient, finish: () => Promise<void>): LoggedIn {
  return {
    callTool: (name, args = {}) => client.callTool({ name, arguments: args }),
    listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
    finish,
    close: () => client.close(),
  };
}

const INFO = { name: 'middleware-test', version: '1.0.0' };

/** Connect an SDK client of `generation` as `provider`'s user, logging in on the pages. */
async function logIn(
  generation: 'v1' | 'v2',
  url: URL,
  provider: HeadlessOAuthProvider,
): Promise<LoggedIn> {
  if (generation === 'v2') {
    const client = new ClientV2(INFO);
    const finish = (transport: TransportV2) => transport.finishAuth(provider.takeCallback());
    const newTransport = () => new TransportV2(url, { authProvider: provider });
    const transport = await connectWithLogin(client, newTransport, finish, UnauthorizedV2);
    return loggedIn(client, () => finish(transport));
  }
  const client = new ClientV1(INFO);
  const finish = (transport: TransportV1) => transport.finishAuth(provider.takeCode());
  const newTransport = () => new TransportV1(url, { authProvider: provider });
  const transport = await connectWithLogin(client, newTransport, finish, UnauthorizedV1);
  return loggedIn(client, () => finish(transport));
}

function describeLogin(adapter: Adapter, env: () => Environment): void {
  test(`an SDK ${adapter.client} client logs in through dev, lists and calls tools, sees its caller, steps up`, async () => {
    const { resource, as } = env();
    const provider = new HeadlessOAuthProvider('alice', `${adapter.name} middleware test`);
    const client = await logIn(adapter.client, new URL(resource), provider);
    try {
      const authorization = provider.authorizationUrls[0];
      expect(authorization?.origin).toBe(as.issuer);
      expect(authorization?.searchParams.get('resource')).toBe(resource);
      expect(await client.listTools()).toEqual(
        expect.arrayContaining(['whoami', 'add', 'admin_report']),
      );
      const whoami = JSON.parse(textOf(await client.callTool('whoami')));
      expect(whoami).toMatchObject({ subject: 'alice', fromAuthInfo: 'alice', token: '' });
      expect(whoami.scopes).toContain('mcp:tools');
      expect(textOf(await client.callTool('add', { a: 2, b: 40 }))).toBe('42');

      // SDK 1.32 refreshes instead of stepping up while it holds a refresh token
      // (typescript-sdk #2255, test/interop/sdk-v1.test.ts): without one, it re-authorizes.
      if (adapter.client === 'v1' && provider.saved) {
        provider.saved = { ...provider.saved, refresh_token: undefined };
      }
      const failure = await client.callTool('admin_report').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(adapter.client === 'v1' ? UnauthorizedV1 : UnauthorizedV2);
      expect(provider.authorizationUrls).toHaveLength(2);
      expect(scopesOf(provider.authorizationUrls[1]?.searchParams.get('scope'))).toContain(ADMIN);
      await client.finish();
      expect(textOf(await client.callTool('admin_report'))).toBe('Report for alice: all good.');
    } finally {
      await client.close().catch(() => {});
    }
  });
}

/** The tests of `adapter`: the SDK client's login (unless `login` is false), then the attack table. */
export function describeAdapter(adapter: Adapter, options: { login?: boolean } = {}): void {
  describe(`${adapter.name}: ${adapter.stack}`, () => {
    let env: Environment | undefined;
    const current = (): Environment => {
      if (!env) throw new Error('the environment did not start');
      return env;
    };
    beforeAll(async () => {
      env = await startEnvironment(adapter);
    }, 60_000);
    afterAll(async () => {
      await env?.close();
    });

    if (options.login !== false) describeLogin(adapter, current);

    describe('the attack rows of security.md §1 at the HTTP layer', () => {
      for (const row of rowsFor(adapter)) {
        test(`${row.id}: ${row.title}`, async () => {
          expect.hasAssertions();
          await row.run(current());
        });
      }
    });
  });
}
