/**
 * A credential profile with `grant_type: token_exchange`: a tool of a served agent calls
 * `app.fetch('reports', …)`; the agent exchanges the caller's token (RFC 8693, at the development
 * AS) for one for the API, per caller; the API sees each caller as themselves and never their
 * inbound token. Without the caller context, a clear error.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type App, createApp } from '../../src/app/create-app.js';
import { AppDefinition } from '../../src/app/define.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { connect, textOf } from '../app/delegated-support.js';
import { userTokens } from '../server/serve-support.js';
import { freePort } from '../support/net.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
let as: DevAuthorizationServer;
let app: App;
let agentUrl = '';
let resource = '';
let apiResource = '';
const seen: string[] = [];
let api: ReturnType<typeof createServer>;

beforeAll(async () => {
  api = createServer((req, res) => {
    // Like most APIs: no protected-resource metadata.
    if (req.url?.startsWith('/.well-known/')) {
      res.writeHead(404).end();
      return;
    }
    seen.push(String(req.headers.authorization ?? ''));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((done) => api.listen(0, '127.0.0.1', done));
  const apiHost = `127.0.0.1:${(api.address() as AddressInfo).port}`;
  apiResource = `http://${apiHost}/`;
  const agentPort = await freePort();
  resource = `http://127.0.0.1:${agentPort}/mcp`;
  as = await startDevAuthorizationServer({
    port: 0,
    resources: [resource, apiResource],
    scopes: ['mcp:tools', 'reports:read'],
  });
  const registration = await fetch(`${as.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_types: [TOKEN_EXCHANGE],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }),
  });
  const client = (await registration.json()) as { client_id: string; client_secret: string };
  const settings = settingsSchema.parse({
    authorization: {
      enabled: true,
      issuer_url: as.issuer,
      resource_server_url: resource,
      expected_audiences: [resource],
      required_scopes: ['mcp:tools'],
    },
    credentials: {
      reports: {
        type: 'oauth2',
        grant_type: 'token_exchange',
        authorization_server: as.issuer,
        client_id: client.client_id,
        client_secret: client.client_secret,
        scopes: ['reports:read'],
        resource: apiResource,
        hosts: [apiHost],
      },
    },
  });
  const definition = new AppDefinition();
  definition.useCallerContext();
  definition.tool('report', {}, async () => {
    const response = await definition.fetch('reports', `${apiResource}reports`);
    return `HTTP ${response.status}`;
  });
  app = await createApp({ settings, definition, env: {} });
  agentUrl = (await app.listen({ host: '127.0.0.1', port: agentPort })).url;
}, 30_000);

afterAll(async () => {
  await app?.close();
  await as?.close();
  await new Promise<void>((done) => api.close(() => done()));
});

describe('a token_exchange credential profile', () => {
  test("each caller's token is exchanged for one for the API; the API never sees an inbound token", async () => {
    const inbound: string[] = [];
    for (const user of ['alice', 'bob']) {
      const token = (await userTokens(as.issuer, resource, user)).accessToken;
      inbound.push(token);
      const client = await connect(agentUrl, token);
      try {
        expect(textOf(await client.call('report'))).toBe('HTTP 200');
      } finally {
        await client.close();
      }
      const sent = seen.at(-1)?.replace(/^Bearer /, '') ?? '';
      const claims = decodeJwt(sent);
      expect(claims.sub).toBe(user);
      expect(claims.aud).toBe(apiResource);
      expect((claims.act as { sub?: string } | undefined)?.sub).toBeTruthy();
    }
    for (const token of inbound) expect(seen.join('\n')).not.toContain(token);
  });
});
