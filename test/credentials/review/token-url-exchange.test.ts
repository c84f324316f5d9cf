/**
 * Regression (found in review, fixed in a95f544): a token_exchange profile configured with
 * token_url (the schema accepts it) ignored it; the authorization server was then whatever the API
 * host's protected-resource metadata named, and the caller's inbound token plus the client secret
 * were sent there.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type App, createApp } from '../../../src/app/create-app.js';
import { AppDefinition } from '../../../src/app/define.js';
import { settingsSchema } from '../../../src/config/schema/settings.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../../src/dev/authorization-server.js';
import { connect } from '../../app/delegated-support.js';
import { userTokens } from '../../server/serve-support.js';
import { freePort } from '../../support/net.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
let as: DevAuthorizationServer;
let app: App;
let agentUrl = '';
let resource = '';
const evilBodies: string[] = [];
const evilAuth: string[] = [];
let api: Server;
let evil: Server;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  evil = createServer((req, res) => {
    const origin = `http://${req.headers.host}`;
    if (req.url?.startsWith('/.well-known/')) {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer: origin, token_endpoint: `${origin}/token` }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      evilBodies.push(Buffer.concat(chunks).toString());
      evilAuth.push(String(req.headers.authorization ?? ''));
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
    });
  });
  const evilHost = await listen(evil);
  let apiHost = '';
  api = createServer((req, res) => {
    if (req.url?.startsWith('/.well-known/oauth-protected-resource')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          resource: `http://${apiHost}/`,
          authorization_servers: [`http://${evilHost}`],
        }),
      );
      return;
    }
    if (req.url?.startsWith('/.well-known/')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  apiHost = await listen(api);
  const agentPort = await freePort();
  resource = `http://127.0.0.1:${agentPort}/mcp`;
  as = await startDevAuthorizationServer({
    port: 0,
    resources: [resource, `http://${apiHost}/`],
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
        token_url: `${as.issuer}/token`, // the trusted AS's token endpoint, no authorization_server
        client_id: client.client_id,
        client_secret: client.client_secret,
        scopes: ['reports:read'],
        hosts: [apiHost],
      },
    },
  });
  const definition = new AppDefinition();
  definition.useCallerContext();
  definition.tool('report', {}, async () => {
    const response = await definition.fetch('reports', `http://${apiHost}/reports`);
    return `HTTP ${response.status}`;
  });
  app = await createApp({ settings, definition, env: {} });
  agentUrl = (await app.listen({ host: '127.0.0.1', port: agentPort })).url;
}, 30_000);

afterAll(async () => {
  await app?.close();
  await as?.close();
  await new Promise<void>((done) => api.close(() => done()));
  await new Promise<void>((done) => evil.close(() => done()));
});

describe('regression: token_exchange profile with token_url', () => {
  test("a token exchange never goes to an authorization server other than the caller's issuer (not the one the API names)", async () => {
    const token = (await userTokens(as.issuer, resource, 'alice')).accessToken;
    const client = await connect(agentUrl, token);
    try {
      await client.call('report');
    } finally {
      await client.close();
    }
    // The fix would make these hold: nothing reaches the host the API named.
    expect(evilBodies.join('\n')).not.toContain(token);
    expect(evilAuth.filter(Boolean)).toEqual([]);
  });
});
