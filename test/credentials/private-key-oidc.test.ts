/**
 * `private_key_jwt` against oidc-provider itself (the development authorization server): a client
 * registered with its public key gets client-credentials tokens with the assertions we sign, and a
 * key the server does not know is refused with `invalid_client`, naming the client.
 */
import { decodeJwt, exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credentialProfileSchema } from '../../src/config/schema/credentials.js';
import { CredentialProfiles } from '../../src/credentials/profiles.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';

let as: DevAuthorizationServer;
let clientId: string;
let pem: string;

beforeAll(async () => {
  as = await startDevAuthorizationServer({
    port: 0,
    resources: ['https://api.example.com/'],
    scopes: ['reports:read'],
  });
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  pem = await exportPKCS8(privateKey);
  const metadata = (await (
    await fetch(`${as.issuer}/.well-known/openid-configuration`)
  ).json()) as {
    registration_endpoint: string;
    token_endpoint_auth_methods_supported: string[];
  };
  expect(metadata.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
  const response = await fetch(metadata.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'private key client',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] },
    }),
  });
  expect(response.status).toBe(201);
  clientId = ((await response.json()) as { client_id: string }).client_id;
});

afterAll(async () => {
  await as?.close();
});

function profiles(key: string) {
  return new CredentialProfiles(
    {
      svc: credentialProfileSchema.parse({
        type: 'oauth2',
        authorization_server: as.issuer,
        client_id: clientId,
        private_key: key,
        private_key_id: 'k1',
        scopes: ['reports:read'],
        hosts: ['api.example.com'],
      }),
    },
    { fetch },
  );
}

describe('private_key_jwt at oidc-provider', () => {
  test('the assertion is accepted: a JWT access token for the client', async () => {
    const token = await profiles(pem).token('svc');
    const claims = decodeJwt(token.reveal());
    expect(claims.iss).toBe(as.issuer);
    expect(claims.client_id).toBe(clientId);
    expect(claims.scope).toBe('reports:read');
  });

  test('a key the server does not know: invalid_client, naming the client; no key text', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const other = await exportPKCS8(privateKey);
    const error = await profiles(other)
      .token('svc')
      .then(
        () => undefined,
        (failure: unknown) => failure as Error,
      );
    expect(error?.message).toContain(clientId);
    expect(error?.message).toContain('invalid_client');
    expect(error?.message).not.toContain(other.split('\n')[1] ?? 'no-key-line');
  });
});
