/**
 * What the development authorization server fetches itself is bounded (issue 13 item 8): a
 * `private_key_jwt` client registered with a `jwks_uri` that answers without end makes the server
 * close that connection after 256 KiB, not read for the whole 2.5 s of its deadline.
 */
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { endless, type HostileServer, startHostileServer } from '../support/hostile-server.js';
import { within } from '../support/net.js';

let as: DevAuthorizationServer;
let hostile: HostileServer;

beforeAll(async () => {
  hostile = await startHostileServer({ '/jwks': endless('application/json', '{"keys":[') });
  as = await startDevAuthorizationServer({ port: 0, resources: ['http://127.0.0.1:1/mcp'] });
});

afterAll(async () => {
  await as?.close();
  await hostile?.close();
});

test("a client's jwks_uri that never ends is cut at 256 KiB", async () => {
  const registered = await fetch(`${as.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'hostile',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: hostile.url('/jwks'),
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    }),
  });
  expect(registered.status).toBe(201);
  const { client_id: clientId } = (await registered.json()) as { client_id: string };
  const { privateKey } = await generateKeyPair('ES256');
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(as.issuer)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(privateKey);
  const started = performance.now();
  const token = await fetch(`${as.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  expect(token.status).toBeGreaterThanOrEqual(400);
  const answer = hostile.answers.find((entry) => entry.path === '/jwks');
  expect(answer).toBeDefined();
  await within('the JWKS connection closing', answer?.closed ?? Promise.resolve(), 5_000);
  // Unbounded, a fast endless body reaches hundreds of MiB in the 2.5 s deadline; cut at
  // 256 KiB, what was written is that plus what the sockets buffer.
  expect(answer?.bytes).toBeLessThan(32 * 1024 * 1024);
  expect(performance.now() - started).toBeLessThan(2_000);
});
