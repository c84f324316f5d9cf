/**
 * Review follow-up: token confusion against the `mcp-agent dev` setup (JWKS + introspection with
 * the pre-registered client), and the development server's Host check (DNS rebinding: only its
 * loopback names with its port are answered).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type App, createApp, type RunningApp } from '../../../src/app/create-app.js';
import { settingsSchema } from '../../../src/config/schema/settings.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../../src/dev/authorization-server.js';
import { freePort } from '../../support/net.js';
import { initialize, mcpHeaders, raw, userTokens } from '../serve-support.js';

let as: DevAuthorizationServer;
let app: App;
let running: RunningApp;
let resource: string;

beforeAll(async () => {
  const port = await freePort();
  resource = `http://127.0.0.1:${port}/mcp`;
  as = await startDevAuthorizationServer({ port: 0, resources: [resource], scopes: ['mcp:tools'] });
  app = await createApp({
    settings: settingsSchema.parse({
      name: 'review',
      authorization: {
        enabled: true,
        issuer_url: as.issuer,
        resource_server_url: resource,
        expected_audiences: [resource],
        required_scopes: ['mcp:tools'],
        introspection_client_id: as.introspection.clientId,
        introspection_client_secret: as.introspection.clientSecret,
      },
    }),
    env: {},
  });
  running = await app.listen({ host: '127.0.0.1', port });
}, 60_000);

afterAll(async () => {
  await running?.close();
  await app?.close();
  await as?.close();
});

const post = (token: string) =>
  raw(resource, { method: 'POST', headers: mcpHeaders(token), body: initialize() });

describe('review: dev token confusion', () => {
  test('a refresh token presented as a bearer token is refused (introspected, no aud)', async () => {
    const tokens = await userTokens(as.issuer, resource, 'alice');
    expect((await post(tokens.accessToken)).status).toBe(200);
    expect((await post(tokens.refreshToken)).status).toBe(401);
  }, 30_000);

  test('the development server refuses a foreign Host (DNS rebinding); loopback names work', async () => {
    const port = new URL(as.issuer).port;
    const register = (host: string) =>
      raw(`${as.issuer}/reg`, {
        method: 'POST',
        headers: { host, 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: ['http://127.0.0.1:1/cb'],
          token_endpoint_auth_method: 'none',
        }),
      });
    const metadata = (host: string) =>
      raw(`${as.issuer}/.well-known/openid-configuration`, { headers: { host } });
    for (const host of [
      `rebind.attacker.example:${port}`,
      'rebind.attacker.example',
      '127.0.0.1:1',
    ]) {
      expect((await metadata(host)).status).toBe(403);
      expect((await register(host)).status).toBe(403);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect((await metadata(host)).status).toBe(200);
    }
    expect((await register(`127.0.0.1:${port}`)).status).toBe(201);
  });
});
