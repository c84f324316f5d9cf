/**
 * A server every end user reaches with the agent's own token (`shared_preconfigured_token`), seen
 * from an end user's scope (`forUser`): the token is used (fetch, authProvider, connect, status),
 * never managed. `logout()` without a name covers the user's own servers only; `login`,
 * `completeLogin` and `logout` of the shared server are `USAGE` errors that leave the agent's
 * token as it was; and a login that token needs is a plain `OAUTH_LOGIN_REQUIRED` error in the
 * user's scope, never a hand-over whose URL the user could follow (their account would become
 * everyone's). The agent's own scope still gets the hand-over.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { authorizationRequiredIn, handOverConsent } from '../../src/client/hand-over.js';
import type { SettingsInput } from '../../src/config/schema/settings.js';
import { AuthorizationRequiredError, isMcpAgentError } from '../../src/errors.js';
import { failure, fakeSettings, ISSUER, MCP_URL, openFake } from './fake-world.js';
import { type OpaqueMcpServer, startOpaqueMcpServer } from './opaque-mcp-server.js';

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((each) => each.close()));
});

/** The fake world's settings with `docs` on the agent's shared token. */
function sharedSettings(): SettingsInput {
  const settings = fakeSettings() as {
    mcp: { servers: { docs: { auth: { oauth: Record<string, unknown> } } } };
  };
  settings.mcp.servers.docs.auth.oauth.shared_preconfigured_token = true;
  return settings as SettingsInput;
}

/** A request to the MCP endpoint. */
const post = { method: 'POST', body: '{}' } as const;

describe("an end user's scope does not manage the agent's shared token", () => {
  test("logout() without a name covers the user's own servers only: the agent's token stays", async () => {
    const { auth } = openFake(closing, { settings: sharedSettings() });
    await auth.server('docs').fetch(MCP_URL, post);
    expect(await auth.status('docs')).toHaveLength(1);

    expect(await auth.forUser('mallory').logout()).toEqual([]);
    expect(await auth.forUser('mallory').status()).toEqual([]);
    expect(await auth.status('docs')).toHaveLength(1);
  });

  test('login, completeLogin and logout of the shared server are USAGE errors; nothing is handed over', async () => {
    const told: string[] = [];
    const consent = handOverConsent({ onAuthorizationRequired: (_login, who) => told.push(who) });
    const { auth, world } = openFake(closing, { settings: sharedSettings(), consent });
    await auth.server('docs').fetch(MCP_URL, post);
    const mallory = auth.forUser('mallory');

    for (const run of [
      () => mallory.login('docs', { force: true }),
      () => mallory.server('docs').login(),
      () =>
        mallory.completeLogin(
          'docs',
          `http://127.0.0.1:53999/callback?code=c&state=s&iss=${ISSUER}`,
        ),
      () => mallory.logout('docs'),
      () => mallory.server('docs').logout(),
    ]) {
      const error = await failure(run);
      expect(error.code).toBe('USAGE');
      expect(error.message).toContain("uses the agent's shared token");
    }
    expect(told).toEqual([]);
    expect(world.tokenRequests()).toEqual([]);
    // The agent's own token is there and still sent.
    expect(await auth.status('docs')).toHaveLength(1);
    expect((await mallory.server('docs').fetch(MCP_URL, post)).status).toBe(200);
    expect((await mallory.status('docs')).map((row) => row.identity)).toEqual(['app']);
  });
});

describe("a login the agent's token needs, met in an end user's scope", () => {
  /** The fake world where the agent's token is refused and cannot be refreshed. */
  function agentLoginNeeded() {
    const told: string[] = [];
    const consent = handOverConsent({ onAuthorizationRequired: (_login, who) => told.push(who) });
    const fake = openFake(closing, { settings: sharedSettings(), consent });
    fake.world.accepted.clear();
    fake.world.refuseGrants();
    return { ...fake, told };
  }

  /** A plain OAUTH_LOGIN_REQUIRED that carries no authorization URL, also in its causes. */
  function expectPlain(error: unknown): void {
    expect(isMcpAgentError(error, 'OAUTH_LOGIN_REQUIRED')).toBe(true);
    expect(error).not.toBeInstanceOf(AuthorizationRequiredError);
    expect(authorizationRequiredIn(error)).toBeUndefined();
    expect((error as Error).message).toContain("needs a login by the agent's operator");
    expect((error as Error).message).not.toContain('/authorize');
  }

  test('through fetch: a plain error for the user; the agent is told, with identity app', async () => {
    const { auth, told } = agentLoginNeeded();
    expectPlain(await failure(() => auth.forUser('mallory').server('docs').fetch(MCP_URL, post)));
    expect(told).toEqual(['app']);
    // The agent's own scope gets the hand-over, to show its operator.
    const own = await failure(() => auth.server('docs').fetch(MCP_URL, post));
    expect(own).toBeInstanceOf(AuthorizationRequiredError);
  });

  test('through authProvider: a plain error for the user', async () => {
    const { auth } = agentLoginNeeded();
    const provider = auth.forUser('mallory').server('docs').authProvider;
    await provider.token();
    const response = new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer' } });
    expectPlain(await failure(() => provider.onUnauthorized({ response })));
  });

  test('through connect(): a plain error for the user', async () => {
    const { auth } = agentLoginNeeded();
    expectPlain(await failure(() => auth.forUser('mallory').connect('docs')));
  });
});

describe("the agent's connected Client, handed to an end user", () => {
  let server: OpaqueMcpServer;

  async function open() {
    server = await startOpaqueMcpServer(['agent-token']);
    closing.push(server);
    const { auth } = openFake(closing, {
      settings: {
        mcp: {
          servers: {
            docs: {
              transport: 'streamable_http',
              url: server.url,
              auth: {
                oauth: {
                  enabled: true,
                  client_id: 'agent-client',
                  access_token: 'agent-token',
                  shared_preconfigured_token: true,
                },
              },
            },
          },
        },
        oauth: { token_store: { backend: 'memory' }, loopback_ports: [53_999] },
      } as SettingsInput,
      realNetwork: true,
    });
    return auth;
  }

  test('is the same connection as the agent’s, and a login its token needs later is a plain error', async () => {
    const auth = await open();
    const client = await auth.forUser('mallory').connect('docs');
    expect(await auth.forUser('mallory').connect('docs')).toBe(client);
    const result = await client.callTool({ name: 'ping', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'pong' }]);

    server.accepted.clear(); // the agent's token is revoked; its refresh is refused
    const error = await client.callTool({ name: 'ping', arguments: {} }).catch((e: unknown) => e);
    expect(isMcpAgentError(error, 'OAUTH_LOGIN_REQUIRED')).toBe(true);
    expect(authorizationRequiredIn(error)).toBeUndefined();
    // The agent's own handle of the same connection hands the login over, to its operator.
    const own = await (await auth.connect('docs'))
      .callTool({ name: 'ping', arguments: {} })
      .catch((e: unknown) => e);
    expect(authorizationRequiredIn(own)).toBeInstanceOf(AuthorizationRequiredError);
  });

  test("disconnect() from a user's scope leaves the agent's connection open", async () => {
    const auth = await open();
    const client = await auth.connect('docs');
    await auth.forUser('mallory').server('docs').disconnect();
    expect((await client.callTool({ name: 'ping', arguments: {} })).content).toEqual([
      { type: 'text', text: 'pong' },
    ]);
  });
});
