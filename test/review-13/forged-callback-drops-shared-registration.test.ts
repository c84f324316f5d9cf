/**
 * Review finding (issue 13, item 5): an `error=invalid_client` that arrives at the redirect URI
 * (the front channel: anyone who holds a pending flow's `state` can send it, the caller who
 * started that flow included) makes the agent forget the dynamic registration. Registrations are
 * shared per (issuer, redirect URI) by every identity and every server using that authorization
 * server, so one signed-in caller of a hosted agent can drop the registration everybody's tokens
 * were issued under: the other callers' refreshes then find no client ("needs a new login").
 *
 * RFC 6749 §4.1.2.1: for an unknown client the authorization server must NOT redirect, and
 * `invalid_client` is not even an authorization-response error code, so a redirect carrying it is
 * never the authorization server's word about the registration.
 *
 * Fix: never forget a registration on an error received through the callback. Either only report
 * it, or confirm it over the back channel first (`probeAuthorization`, or the token endpoint's own
 * `invalid_client`) before `RegistrationStore.forget`.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AuthorizationRequiredError } from '../../src/errors.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { createTokenStore } from '../../src/stores/token-store.js';
import { serverAuthOf } from '../oauth/harness.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { loadConfig } from '../support/config.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  as = await startAuthorizationServer();
  mcp = await startProtectedMcpServer({ issuer: as.issuer, requiredScopes: ['mcp:read'] });
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await mcp?.close();
  await as?.close();
});

test('a caller forging error=invalid_client on their own pending flow does not drop the registration other callers use', async () => {
  const loaded = loadConfig(`
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${mcp.url}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
oauth:
  loopback_ports: [${await freePort()}]
  token_store:
    backend: file
    path: ./tokens.json
`);
  cleanups.push(loaded.cleanup);
  const store = createTokenStore(loaded.settings.oauth.token_store, {
    cwd: loaded.dir,
    homeDir: loaded.dir,
  });
  cleanups.push(() => store.close());
  const callerAuth = (identity: string) =>
    serverAuthOf(
      new TokenManager({
        store,
        oauth: loaded.settings.oauth,
        fetch: (input, init) => fetch(input, init),
        identity,
      }),
      loaded.settings,
    );
  const handOver = async (auth: ReturnType<typeof callerAuth>) => {
    const error = await auth.authorize().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthorizationRequiredError);
    return new URL((error as AuthorizationRequiredError).authorizationUrl);
  };

  // Alice signs in: the agent registers a client, her tokens are issued to it.
  const alice = callerAuth('https://idp.example alice');
  const aliceUrl = await handOver(alice);
  const redirect = aliceUrl.searchParams.get('redirect_uri') ?? '';
  const walk = await followAuthorization(aliceUrl, { stopAtRedirectUri: redirect });
  await alice.completeAuthorization(walk.finalUrl);
  const registered = await store.registrations.get(as.issuer, redirect);
  expect(registered?.clientId).toBeTruthy();

  // Mallory, another caller, starts her own sign-in and answers it herself.
  const mallory = callerAuth('https://idp.example mallory');
  const malloryUrl = await handOver(mallory);
  const forged = new URL(redirect);
  forged.search = new URLSearchParams({
    error: 'invalid_client',
    state: malloryUrl.searchParams.get('state') ?? '',
    iss: as.issuer,
  }).toString();
  await mallory.completeAuthorization(forged).catch(() => {});

  // The registration Alice's refresh token is bound to is still there.
  expect((await store.registrations.get(as.issuer, redirect))?.clientId).toBe(registered?.clientId);
});
