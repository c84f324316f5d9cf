/**
 * OAuth 2.0 client-credentials profiles (`credentials: { type: oauth2 }`) with the real
 * components: the development authorization server (oidc-provider; confidential
 * `client_credentials` clients registered there with RFC 7591) for client secrets, and the
 * `private_key_jwt` authorization server of test/support (it verifies every assertion) for
 * private keys. The token goes as `Bearer` to a stand-in API on a listed host; it is obtained once
 * for concurrent callers, kept until it is due (leeway 60 s, at most half its lifetime) on an
 * injected clock, and never requested for a host outside the profile's list.
 */
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CredentialProfiles } from '../../src/credentials/profiles.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { tempTree } from '../helpers/cli.js';
import { recordingLogger } from '../oauth/harness.js';
import {
  basicCredentials,
  keyPair,
  pemLines,
  type RegisteredClient,
  registerServiceClient,
} from '../oauth/service-account-harness.js';
import { manualClock } from '../support/clock.js';
import {
  type PrivateKeyJwtServer,
  startPrivateKeyJwtServer,
} from '../support/private-key-jwt-as.js';
import {
  everyForm,
  failure,
  profiles,
  recordingFetch,
  type SentRequest,
  type StandIn,
  startStandIn,
} from './harness.js';

const TTL_S = 3600;
const JWT_TTL_S = 100;
const WELL_KNOWN = '/.well-known/oauth-authorization-server';

let api: StandIn;
let other: StandIn;
let as: DevAuthorizationServer;
let jwtAs: PrivateKeyJwtServer;
let basic: RegisteredClient;
let post: RegisteredClient;
let resource: string;
const asLog = recordingLogger();
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  api = await startStandIn('api');
  other = await startStandIn('other');
  resource = `${api.origin}/`;
  as = await startDevAuthorizationServer({
    port: 0,
    resources: [resource],
    scopes: ['weather:read', 'weather:write'],
    accessTokenTtlSeconds: TTL_S,
    logger: asLog,
  });
  jwtAs = await startPrivateKeyJwtServer({ accessTokenTtl: JWT_TTL_S });
  basic = await registerServiceClient(as.issuer, 'client_secret_basic');
  post = await registerServiceClient(as.issuer, 'client_secret_post');
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  api.requests.length = 0;
  other.requests.length = 0;
});

afterAll(async () => {
  await api?.close();
  await other?.close();
  await as?.close();
  await jwtAs?.close();
});

/** Tokens the development AS logged as issued to `clientId` (client credentials). */
function issuedTo(clientId: string) {
  return asLog.calls.filter(
    (call) =>
      call.message.includes('token issued') &&
      call.fields?.grant_type === 'client_credentials' &&
      call.fields?.client_id === clientId,
  );
}

/** The token endpoint requests among `sent`. */
function grants(sent: readonly SentRequest[]): SentRequest[] {
  return sent.filter(
    (request) =>
      request.method === 'POST' && request.form.get('grant_type') === 'client_credentials',
  );
}

/** The bearer token each request to the stand-in API carried. */
function bearers(standIn: StandIn): string[] {
  return standIn.requests.map((request) =>
    (request.headers.authorization ?? '').replace(/^Bearer /, ''),
  );
}

function open(raw: Record<string, unknown>, options: { now?: () => number; cwd?: string } = {}) {
  const recorded = recordingFetch();
  const credentials = new CredentialProfiles(profiles(raw), {
    fetch: recorded.fetch,
    ...options,
  });
  return { credentials, sent: recorded.sent };
}

/** A profile of the client registered with client_secret_basic, discovered from the issuer. */
function svc(more: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    svc: {
      type: 'oauth2',
      authorization_server: as.issuer,
      client_id: basic.clientId,
      client_secret: basic.clientSecret,
      scopes: ['weather:read'],
      resource,
      hosts: [api.host],
      ...more,
    },
  };
}

describe('client secret (development authorization server)', () => {
  test('one token for 20 concurrent fetch calls; scope and resource sent; Basic client auth', async () => {
    const before = issuedTo(basic.clientId).length;
    const { credentials, sent } = open(svc());
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => credentials.fetch('svc', `${api.origin}/v1/${i}`)),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));

    // At the AS: one token issued. On the wire: one metadata read, one token request.
    expect(issuedTo(basic.clientId).length - before).toBe(1);
    expect(grants(sent)).toHaveLength(1);
    expect(sent.filter((request) => new URL(request.url).pathname === WELL_KNOWN)).toHaveLength(1);
    const [grant] = grants(sent);
    expect(grant?.url).toBe(`${as.issuer}/token`);
    expect(grant?.headers.get('authorization')).toBe(
      basicCredentials(basic.clientId, basic.clientSecret),
    );
    expect(grant?.form.get('client_secret')).toBeNull();
    expect(grant?.form.get('scope')).toBe('weather:read');
    expect(grant?.form.get('resource')).toBe(resource);

    // At the API: 20 requests, each with the same bearer token for this resource.
    const tokens = bearers(api);
    expect(tokens).toHaveLength(20);
    expect(new Set(tokens).size).toBe(1);
    const claims = decodeJwt(tokens[0] ?? '');
    expect(claims.aud).toBe(resource);
    expect(claims.client_id).toBe(basic.clientId);
    expect(String(claims.scope).split(' ')).toEqual(['weather:read']);
    const issued = issuedTo(basic.clientId).at(-1);
    expect(issued?.fields?.aud).toBe(resource);
    expect(issued?.fields?.scope).toBe('weather:read');

    // Later calls (and token()) reuse it.
    await credentials.fetch('svc', `${api.origin}/again`);
    expect((await credentials.token('svc')).reveal()).toBe(tokens[0]);
    expect(grants(sent)).toHaveLength(1);
    expect(other.requests).toHaveLength(0);
  });

  test('renewed when due on the injected clock: 60 s before expiry, one request for concurrent callers', async () => {
    const clock = manualClock(Date.now());
    const { credentials, sent } = open(svc(), { now: clock.now });
    const first = (await credentials.token('svc')).reveal();
    expect(grants(sent)).toHaveLength(1);

    clock.advance(TTL_S * 1000 - 60_000 - 1);
    await credentials.fetch('svc', `${api.origin}/still`);
    expect(grants(sent)).toHaveLength(1);
    expect(bearers(api)).toEqual([first]);

    clock.advance(1);
    await Promise.all(
      Array.from({ length: 20 }, () => credentials.fetch('svc', `${api.origin}/renewed`)),
    );
    expect(grants(sent)).toHaveLength(2);
    const renewed = bearers(api).slice(1);
    expect(renewed).toHaveLength(20);
    expect(new Set(renewed).size).toBe(1);
    expect(renewed[0]).not.toBe(first);
    expect((await credentials.token('svc')).reveal()).toBe(renewed[0]);
    expect(grants(sent)).toHaveLength(2);
  });

  test('token_url and client_secret_post, two scopes: no discovery; the secret in the form', async () => {
    const before = issuedTo(post.clientId).length;
    const { credentials, sent } = open({
      svc: {
        type: 'oauth2',
        token_url: `${as.issuer}/token`,
        client_id: post.clientId,
        client_secret: post.clientSecret,
        token_endpoint_auth_method: 'client_secret_post',
        scopes: ['weather:read', 'weather:write'],
        hosts: [api.host],
      },
    });
    const response = await credentials.fetch('svc', `${api.origin}/v1`);
    expect(response.status).toBe(200);
    expect(sent.map((request) => `${request.method} ${new URL(request.url).pathname}`)).toEqual([
      'POST /token',
      'GET /v1',
    ]);
    const [grant] = grants(sent);
    expect(grant?.headers.get('authorization')).toBeNull();
    expect(grant?.form.get('client_id')).toBe(post.clientId);
    expect(grant?.form.get('client_secret')).toBe(post.clientSecret);
    expect(grant?.form.get('scope')?.split(' ')).toEqual(['weather:read', 'weather:write']);
    // No resource configured: none sent (the AS gives its one resource).
    expect(grant?.form.get('resource')).toBeNull();
    expect(issuedTo(post.clientId).length - before).toBe(1);
    const claims = decodeJwt(bearers(api)[0] ?? '');
    expect(String(claims.scope).split(' ').sort()).toEqual(['weather:read', 'weather:write']);
  });

  test('a host outside the list: USAGE, and no token is even requested', async () => {
    const before = issuedTo(basic.clientId).length;
    const { credentials, sent } = open(svc());
    const error = await failure(credentials.fetch('svc', `${other.origin}/`));
    expect(error.code).toBe('USAGE');
    expect(sent).toHaveLength(0);
    expect(other.requests).toHaveLength(0);
    expect(issuedTo(basic.clientId).length).toBe(before);
  });

  test('a wrong client secret: OAUTH_TOKEN, nothing sent to the API, not cached, no secret in the error', async () => {
    const wrong = 'CANARY-wrong-secret-9d2k';
    const { credentials, sent } = open(svc({ client_secret: wrong }));
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const error = await failure(credentials.fetch('svc', `${api.origin}/v1`));
      expect(error.code).toBe('OAUTH_TOKEN');
      const text = everyForm(error);
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(basic.clientSecret);
    }
    expect(grants(sent)).toHaveLength(2);
    expect(api.requests).toHaveLength(0);
  });

  test('a resource the AS does not serve is sent, and refused: OAUTH_TOKEN', async () => {
    const { credentials, sent } = open(svc({ resource: 'https://elsewhere.example/' }));
    const error = await failure(credentials.token('svc'));
    expect(error.code).toBe('OAUTH_TOKEN');
    expect(grants(sent)[0]?.form.get('resource')).toBe('https://elsewhere.example/');
    expect(everyForm(error)).not.toContain(basic.clientSecret);
  });

  test('no client_secret and no private key: CONFIG_INVALID before any token request', async () => {
    const { credentials, sent } = open(svc({ client_secret: undefined }));
    const error = await failure(credentials.fetch('svc', `${api.origin}/`));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`Credential "svc" needs a client_secret or a private_key`);
    expect(grants(sent)).toHaveLength(0);
    expect(api.requests).toHaveLength(0);
  });

  test('an authorization_server without metadata: OAUTH_DISCOVERY, nothing sent to the API', async () => {
    const nowhere = await startStandIn('no-metadata');
    cleanups.push(() => nowhere.close());
    const { credentials, sent } = open(svc({ authorization_server: nowhere.origin }));
    const error = await failure(credentials.fetch('svc', `${api.origin}/`));
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(error.message).toContain(nowhere.origin);
    expect(grants(sent)).toHaveLength(0);
    expect(api.requests).toHaveLength(0);
    expect(everyForm(error)).not.toContain(basic.clientSecret);
  });

  test('token() is a Secret: redacted in its string and JSON forms', async () => {
    const { credentials } = open(svc());
    const token = await credentials.token('svc');
    expect(token.reveal()).toMatch(/^ey/);
    expect(String(token)).toBe('[redacted]');
    expect(JSON.stringify({ token })).not.toContain(token.reveal());
  });
});

describe('private_key_jwt (an authorization server that verifies each assertion)', () => {
  test('ES256 key inline with private_key_id: a verified assertion, scope and resource; one token for 20 calls', async () => {
    const key = await keyPair('ES256');
    const clientId = 'weather-es256';
    jwtAs.addClient({ clientId, publicKey: key.publicKey, alg: 'ES256', kid: 'k1' });
    const before = jwtAs.requests.length;
    const { credentials, sent } = open({
      svc: {
        type: 'oauth2',
        authorization_server: jwtAs.issuer,
        client_id: clientId,
        private_key: key.pem,
        private_key_id: 'k1',
        scopes: ['mcp:read'],
        resource,
        hosts: [api.host],
      },
    });
    await Promise.all(Array.from({ length: 20 }, () => credentials.fetch('svc', `${api.origin}/`)));
    const requests = jwtAs.requests.slice(before);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.refusal).toBeUndefined();
    expect(request?.status).toBe(200);
    expect(request?.header).toMatchObject({ alg: 'ES256', kid: 'k1' });
    expect(request?.claims).toMatchObject({ iss: clientId, sub: clientId, aud: jwtAs.issuer });
    expect(request?.form.scope).toBe('mcp:read');
    expect(request?.form.resource).toBe(resource);
    expect(request?.form.client_secret).toBeUndefined();
    expect(request?.headers.authorization).toBeUndefined();
    const tokens = bearers(api);
    expect(tokens).toHaveLength(20);
    expect(new Set(tokens).size).toBe(1);
    expect(decodeJwt(tokens[0] ?? '')).toMatchObject({ aud: resource, client_id: clientId });
    // The key itself is never sent.
    for (const line of pemLines(key.pem)) {
      expect(sent.some((entry) => entry.body.includes(line))).toBe(false);
    }
  });

  test('private_key_file relative to cwd, EdDSA, via token_url', async () => {
    const key = await keyPair('EdDSA');
    const clientId = 'weather-ed25519';
    jwtAs.addClient({ clientId, publicKey: key.publicKey, alg: 'EdDSA' });
    const tree = tempTree({ 'keys/weather.pem': key.pem });
    cleanups.push(tree.cleanup);
    const before = jwtAs.requests.length;
    const { credentials } = open(
      {
        svc: {
          type: 'oauth2',
          token_url: jwtAs.tokenEndpoint,
          authorization_server: jwtAs.issuer,
          client_id: clientId,
          private_key_file: 'keys/weather.pem',
          signing_algorithm: 'EdDSA',
          hosts: [api.host],
        },
      },
      { cwd: tree.dir },
    );
    const response = await credentials.fetch('svc', `${api.origin}/`);
    expect(response.status).toBe(200);
    const [request] = jwtAs.requests.slice(before);
    expect(request?.refusal).toBeUndefined();
    expect(request?.header?.alg).toBe('EdDSA');
    expect(bearers(api)[0]).toMatch(/^ey/);
  });

  test('a short lifetime: renewed at half of it (100 s token → after 50 s)', async () => {
    const key = await keyPair('ES256');
    const clientId = 'weather-short';
    jwtAs.addClient({ clientId, publicKey: key.publicKey, alg: 'ES256' });
    const clock = manualClock(Date.now());
    const before = jwtAs.requests.length;
    const { credentials } = open(
      {
        svc: {
          type: 'oauth2',
          authorization_server: jwtAs.issuer,
          client_id: clientId,
          private_key: key.pem,
          hosts: [api.host],
        },
      },
      { now: clock.now },
    );
    const first = (await credentials.token('svc')).reveal();
    clock.advance((JWT_TTL_S * 1000) / 2 - 1);
    expect((await credentials.token('svc')).reveal()).toBe(first);
    expect(jwtAs.requests.length - before).toBe(1);
    clock.advance(1);
    const second = (await credentials.token('svc')).reveal();
    expect(second).not.toBe(first);
    expect(jwtAs.requests.length - before).toBe(2);
    expect(jwtAs.requests.slice(before).every((request) => request.refusal === undefined)).toBe(
      true,
    );
  });

  test('a broken private key: CONFIG_INVALID, no token request, no key material in the error', async () => {
    const key = await keyPair('ES256');
    const broken = key.pem.replace(/\n[A-Za-z0-9+/]{8}/, '\n!!!!!!!!');
    const before = jwtAs.requests.length;
    const { credentials } = open({
      svc: {
        type: 'oauth2',
        authorization_server: jwtAs.issuer,
        client_id: 'broken',
        private_key: broken,
        hosts: [api.host],
      },
    });
    const error = await failure(credentials.fetch('svc', `${api.origin}/`));
    expect(error.code).toBe('CONFIG_INVALID');
    const text = everyForm(error);
    for (const line of pemLines(broken)) expect(text).not.toContain(line);
    expect(jwtAs.requests.length).toBe(before);
    expect(api.requests).toHaveLength(0);
  });
});
