/**
 * The MCP SDK v2 client (`@modelcontextprotocol/client` 2.4.0: `Client` +
 * `StreamableHTTPClientTransport`) on a server protected by OAuth, through `createAgentAuth` and
 * the recipe of `docs/frameworks.md` (`examples/frameworks/sdk-v2.ts`): the transport gets the
 * server's `fetch`; and `connect(name)`, the connected v2 client of our own server registry, whose
 * transport has our `fetch` and no `authProvider` (so the step-up is our `fetch`'s, answered
 * before the SDK's transport could throw `InsufficientScopeError`). The cases of `sdk-cases.ts`: log in before connecting, list and call tools,
 * refresh in the same session, step up to `mcp:admin` inside one `callTool`, an end user signing in
 * as themself. Given only the `authProvider`, the transport refreshes but throws
 * `InsufficientScopeError` on the 403, which `login({ scopes })` answers before the call is made
 * again. With `handOverConsent()` the login fails at once with its URL and is completed out of
 * band.
 */
import {
  Client,
  InsufficientScopeError,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { describe, expect, test } from 'vitest';
import { connectSdkV2 } from '../../examples/frameworks/sdk-v2.js';
import { AuthorizationRequiredError } from '../../src/index.js';
import { ADMIN_SCOPE, PAST_EXPIRY_MS } from '../interop/support.js';
import { textOf } from '../server/serve-support.js';
import { grantsOf, protectedWorld, recipe, SERVER, signInHandedOver } from './protected-server.js';
import { describeSdkClient, whoami } from './sdk-cases.js';

test('docs/frameworks.md shows the recipe this file runs', () => {
  const { example, inDocs } = recipe('sdk-v2.ts');
  expect(inDocs).toBe(example);
});

describeSdkClient('SDK v2 with the server’s fetch (the recipe)', connectSdkV2);

describeSdkClient('SDK v2: the connected client of connect(name)', async (auth, name) => {
  await auth.login(name);
  return auth.connect(name);
});

describe('SDK v2 with the authProvider only', () => {
  const current = protectedWorld();

  test('refreshes, but a 403 insufficient_scope is InsufficientScopeError; login({ scopes }) answers it', async () => {
    const world = current();
    const server = world.auth.server(SERVER);
    await server.login();
    const client = new Client({ name: 'provider-only', version: '1.0.0' });
    world.closing(() => client.close());
    await client.connect(
      new StreamableHTTPClientTransport(server.url, { authProvider: server.authProvider }),
    );
    expect((await whoami(client)).subject).toBe('alice');

    world.advance(PAST_EXPIRY_MS);
    expect((await whoami(client)).subject).toBe('alice');
    expect(grantsOf(world.requests)).toContain('refresh_token');

    const refused = await client
      .callTool({ name: 'admin_report', arguments: {} })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InsufficientScopeError);
    expect(world.consent.urls).toHaveLength(1);
    await server.login({ scopes: [ADMIN_SCOPE] });
    expect(world.consent.urls).toHaveLength(2);
    const report = textOf(await client.callTool({ name: 'admin_report', arguments: {} }));
    expect(report).toBe('Report for alice: all good.');
  });
});

describe('SDK v2 with nobody to ask in the process (handOverConsent)', () => {
  const current = protectedWorld({ handOver: true });

  test('the login fails at once with its URL; completed out of band, the recipe connects', async () => {
    const world = current();
    const carol = world.auth.forUser('user-carol');
    const handed = await connectSdkV2(carol, SERVER).catch((error: unknown) => error);
    expect(handed).toBeInstanceOf(AuthorizationRequiredError);
    const { authorizationUrl } = handed as AuthorizationRequiredError;
    const callback = await signInHandedOver(authorizationUrl, 'carol');
    expect(await carol.completeLogin(SERVER, callback)).toMatchObject({
      identity: 'user-carol',
      loggedIn: true,
    });
    const client = await connectSdkV2(carol, SERVER);
    world.closing(() => client.close());
    expect((await whoami(client)).subject).toBe('carol');
  });
});
