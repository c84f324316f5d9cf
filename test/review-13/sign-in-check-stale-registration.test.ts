/**
 * Review finding (issue 13, items 4 and 5): the agent's own sign-in check
 * (`/internal/oauth/connect`) registers a client with the agent's authorization server once per
 * issuer and keeps it in the token store, but never notices when that server has forgotten it
 * (it restarted with registrations in memory, as `mcp-agent dev`'s does, or expired it). With a
 * file or Redis store every hosted sign-in then ends on the authorization server's
 * `invalid_client` page (RFC 6749 §4.1.2.1: no redirect back), for every caller, until someone
 * deletes the `#registration:` key by hand: `auth logout` does not clear it (its "server" is
 * `#connect`).
 *
 * Fix: treat the check's registration like a downstream one: probe a kept registration before
 * redirecting (`probeAuthorization`), forget it on a back-channel refusal (`clientRefused`) and
 * register once more; and let `auth logout` (or a dedicated command) clear it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CONNECT_PATH, connectRoute } from '../../src/app/connect-route.js';
import { authorizationSchema } from '../../src/config/schema/authorization.js';
import { Secret } from '../../src/config/secret.js';
import { silentLogger } from '../../src/logger.js';
import type { BearerGuard } from '../../src/server/guard.js';
import { newFlowState } from '../../src/stores/flows.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { TokenStore } from '../../src/stores/token-store.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';

let as: AuthorizationServer;
let agent: Server;
let connectUrl: string;
const store = new TokenStore(new MemoryKeyValueStore());

beforeAll(async () => {
  as = await startAuthorizationServer();
  agent = createServer();
  await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
  const port = (agent.address() as AddressInfo).port;
  connectUrl = `http://127.0.0.1:${port}${CONNECT_PATH}`;
  const handler = connectRoute({
    authorization: authorizationSchema.parse({
      enabled: true,
      issuer_url: as.issuer,
      resource_server_url: `http://127.0.0.1:${port}/mcp`,
      expected_audiences: [`http://127.0.0.1:${port}/mcp`],
    }),
    // start() never verifies a token.
    guard: {} as BearerGuard,
    store,
    fetch: (input, init) => fetch(input, init),
    logger: silentLogger,
    clientName: 'review',
    connectUrl: () => connectUrl,
    cookiePath: '/internal/oauth/callback',
  });
  agent.on('request', (req, res) => {
    void handler(req, res, new URL(req.url ?? '/', connectUrl));
  });
});

afterAll(async () => {
  agent?.closeAllConnections();
  await new Promise<void>((resolve) => (agent ? agent.close(() => resolve()) : resolve()));
  await as?.close();
  await store.close();
});

/** Open a sign-in link: where the check sends the browser, and what the AS answers there. */
async function openSignInLink(): Promise<{ clientId: string | null; status: number }> {
  const { flowId, state } = newFlowState();
  await store.flows.put({
    flowId,
    state: new Secret(state),
    codeVerifier: new Secret('v'.repeat(43)),
    server: 'notion',
    identity: 'https://idp.example alice',
    issuer: 'https://downstream.example',
    clientId: 'downstream-client',
    redirectUri: 'http://127.0.0.1:1/internal/oauth/callback',
    scopes: [],
    authorizationUrl: 'https://downstream.example/authorize',
    createdAt: Date.now(),
    expiresAt: Date.now() + 600_000,
  });
  const check = await fetch(`${connectUrl}?flow=${flowId}`, { redirect: 'manual' });
  expect(check.status).toBe(302);
  const location = new URL(check.headers.get('location') ?? '');
  const atAs = await fetch(location, { redirect: 'manual' });
  await atAs.body?.cancel();
  return { clientId: location.searchParams.get('client_id'), status: atAs.status };
}

test('after the authorization server forgot the check client, a sign-in link still reaches its login page', async () => {
  const first = await openSignInLink();
  expect(first.status).toBeLessThan(400);

  await as.restart();
  const second = await openSignInLink();
  // Today: the same client_id again, and the AS's 400 invalid_client page.
  expect(second.status).toBeLessThan(400);
  expect(second.clientId).not.toBe(first.clientId);
});
