/**
 * Service accounts with `private_key_jwt` (RFC 7523 §2.2), through a TokenManager + ServerRegistry
 * (a consent that throws if asked) and through the CLI (a browser opener that throws).
 *
 * The development authorization server does not accept `private_key_jwt` clients (its
 * oidc-provider `clientAuthMethods` are none, client_secret_basic and client_secret_post), so
 * the assertions go to test/support/private-key-jwt-as.ts, which verifies each one with jose
 * (signature, alg, kid, iss = sub = client_id, aud = issuer, at most 60 s, unique jti) and issues
 * JWT access tokens the SDK MCP server of test/support/protected-mcp-server.ts accepts. Bad keys:
 * service-account-bad-input.test.ts.
 */
import { join } from 'node:path';
import { exportJWK, type JWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { runCli, tempTree } from '../helpers/cli.js';
import { manualClock } from '../support/clock.js';
import {
  JWT_BEARER,
  type PrivateKeyJwtServer,
  startPrivateKeyJwtServer,
} from '../support/private-key-jwt-as.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import { openManager, openRegistryWith, resultText, serverAuthOf } from './harness.js';
import {
  keyPair,
  pemLines,
  refusingBrowser,
  refusingConsent,
  SERVER,
  serviceSecrets,
  serviceTree,
  serviceYaml,
} from './service-account-harness.js';

const TTL_S = 3600;
const LEEWAY_MS = 60_000;

let jwtAs: PrivateKeyJwtServer;
let jwtMcp: ProtectedMcpServer;
const cleanups: (() => unknown)[] = [];
let clients = 0;

beforeAll(async () => {
  jwtAs = await startPrivateKeyJwtServer({ accessTokenTtl: TTL_S });
  jwtMcp = await startProtectedMcpServer({ issuer: jwtAs.issuer, requiredScopes: ['mcp:read'] });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await jwtMcp?.close();
  await jwtAs?.close();
});

/** A fresh client id for the fake authorization server. */
function clientId(): string {
  clients += 1;
  return `service-${clients}`;
}

/** The token requests the fake AS received for `id`. */
function requestsOf(id: string) {
  return jwtAs.requests.filter((request) => request.form.client_id === id);
}

/** A manager + registry on a tree for the fake AS's MCP server. */
function open(tree: ReturnType<typeof serviceTree>, options: { now?: () => number } = {}) {
  cleanups.push(tree.cleanup);
  const consent = refusingConsent();
  const { tokens } = openManager(tree.settings, cleanups, {
    consent,
    cwd: tree.dir,
    ...(options.now ? { now: options.now } : {}),
  });
  const registry = openRegistryWith(tree.settings, tokens, cleanups);
  return { consent, registry, auth: serverAuthOf(tokens, tree.settings, SERVER) };
}

/** Config lines for a private_key_jwt client. */
function keyed(id: string, more: readonly string[] = []): string[] {
  return [`client_id: ${id}`, 'token_endpoint_auth_method: private_key_jwt', ...more];
}

/** The whoami result of one call. */
async function whoami(registry: ReturnType<typeof open>['registry']) {
  const connection = await registry.connect(SERVER);
  return JSON.parse(resultText(await connection.callTool('whoami', {}))) as Record<string, string>;
}

/** Every accepted assertion of `id` checked against what RFC 7523 and the config ask for. */
function expectGoodAssertions(id: string, expected: { alg: string; kid?: string }) {
  const requests = requestsOf(id);
  expect(requests.length).toBeGreaterThan(0);
  for (const request of requests) {
    expect(request.refusal).toBeUndefined();
    expect(request.status).toBe(200);
    expect(request.headers.authorization).toBeUndefined();
    expect(request.form.client_secret).toBeUndefined();
    expect(request.form.client_assertion_type).toBe(JWT_BEARER);
    expect(request.form.grant_type).toBe('client_credentials');
    expect(request.form.scope?.split(' ')).toContain('mcp:read');
    expect(request.form.resource).toBe(jwtMcp.url);
    expect(request.header?.alg).toBe(expected.alg);
    expect(request.header?.kid).toBe(expected.kid);
    const claims = request.claims ?? {};
    expect(claims.iss).toBe(id);
    expect(claims.sub).toBe(id);
    expect(claims.aud).toBe(jwtAs.issuer);
    expect(typeof claims.exp).toBe('number');
    expect(typeof claims.iat).toBe('number');
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBeGreaterThan(0);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBeLessThanOrEqual(60);
  }
  const jtis = requests.map((request) => request.claims?.jti);
  expect(new Set(jtis).size).toBe(jtis.length);
}

describe('private_key_jwt: the assertion, the token, the MCP call', () => {
  test('EC P-256 PKCS#8 PEM in the secrets file: ES256 with the configured kid; two requests, two fresh assertions (unique jti)', async () => {
    const id = clientId();
    const key = await keyPair('ES256');
    jwtAs.addClient({ clientId: id, publicKey: key.publicKey, alg: 'ES256', kid: 'ec-key-1' });
    const clock = manualClock(Date.now());
    const { registry, consent } = open(
      serviceTree(
        serviceYaml({ url: jwtMcp.url, oauth: keyed(id, ['private_key_id: ec-key-1']) }),
        { secrets: serviceSecrets({ private_key: key.pem }) },
      ),
      { now: clock.now },
    );
    const seen = await whoami(registry);
    expect(seen).toMatchObject({ client_id: id, sub: id, aud: jwtMcp.url });
    expect(requestsOf(id)).toHaveLength(1);

    // Due: a new token, with a new assertion, before the next call.
    clock.advance(TTL_S * 1000 - LEEWAY_MS + 1_000);
    await whoami(registry);
    expect(requestsOf(id)).toHaveLength(2);
    expectGoodAssertions(id, { alg: 'ES256', kid: 'ec-key-1' });
    expect(consent.asked).toEqual([]);
  });

  test.each([
    ['RS256', undefined],
    ['RS256', 'RS256'],
    ['PS256', 'PS256'],
  ] as const)('RSA PKCS#8 PEM, signing_algorithm %s (configured: %s)', async (alg, configured) => {
    const id = clientId();
    const key = await keyPair(alg);
    jwtAs.addClient({ clientId: id, publicKey: key.publicKey, alg, kid: 'rsa-1' });
    const { registry } = open(
      serviceTree(
        serviceYaml({
          url: jwtMcp.url,
          oauth: keyed(id, [
            'private_key_id: rsa-1',
            ...(configured ? [`signing_algorithm: ${configured}`] : []),
          ]),
        }),
        { secrets: serviceSecrets({ private_key: key.pem }) },
      ),
    );
    expect(await whoami(registry)).toMatchObject({ client_id: id });
    expectGoodAssertions(id, { alg, kid: 'rsa-1' });
  });

  test('a private JWK (JSON) with its own kid: that kid, no token_endpoint_auth_method needed', async () => {
    const id = clientId();
    const key = await keyPair('ES256');
    const jwk: JWK = { ...(await exportJWK(key.privateKey)), kid: 'jwk-kid' };
    jwtAs.addClient({ clientId: id, publicKey: key.publicKey, alg: 'ES256', kid: 'jwk-kid' });
    const { registry } = open(
      serviceTree(serviceYaml({ url: jwtMcp.url, oauth: [`client_id: ${id}`] }), {
        secrets: serviceSecrets({ private_key: JSON.stringify(jwk) }),
      }),
    );
    expect(await whoami(registry)).toMatchObject({ client_id: id });
    expectGoodAssertions(id, { alg: 'ES256', kid: 'jwk-kid' });
  });

  test('a private RSA JWK with private_key_id and signing_algorithm: those win over the JWK', async () => {
    const id = clientId();
    const key = await keyPair('RS256');
    const jwk: JWK = { ...(await exportJWK(key.privateKey)), kid: 'in-the-jwk' };
    // The same RSA key, verified as PS256 (the generated CryptoKey is bound to RS256).
    const { alg: _alg, ...publicJwk } = await exportJWK(key.publicKey);
    jwtAs.addClient({ clientId: id, publicKey: publicJwk, alg: 'PS256', kid: 'configured' });
    const { registry } = open(
      serviceTree(
        serviceYaml({
          url: jwtMcp.url,
          oauth: keyed(id, ['private_key_id: configured', 'signing_algorithm: PS256']),
        }),
        { secrets: serviceSecrets({ private_key: JSON.stringify(jwk) }) },
      ),
    );
    expect(await whoami(registry)).toMatchObject({ client_id: id });
    expectGoodAssertions(id, { alg: 'PS256', kid: 'configured' });
  });

  test('private_key_file (absolute path; EC P-384 → ES384 from the key)', async () => {
    const id = clientId();
    const key = await keyPair('ES384');
    jwtAs.addClient({ clientId: id, publicKey: key.publicKey, alg: 'ES384', kid: 'p384' });
    const keys = tempTree({ 'client.pem': key.pem });
    cleanups.push(keys.cleanup);
    const file = join(keys.dir, 'client.pem');
    const { registry } = open(
      serviceTree(
        serviceYaml({
          url: jwtMcp.url,
          oauth: keyed(id, [`private_key_file: ${JSON.stringify(file)}`, 'private_key_id: p384']),
        }),
      ),
    );
    expect(await whoami(registry)).toMatchObject({ client_id: id });
    expectGoodAssertions(id, { alg: 'ES384', kid: 'p384' });
  });

  test('signing_algorithm EdDSA (Ed25519 key): the assertion says alg EdDSA, as configured', async () => {
    const id = clientId();
    const key = await keyPair('EdDSA');
    jwtAs.addClient({ clientId: id, publicKey: key.publicKey, alg: 'EdDSA', kid: 'ed' });
    const { registry } = open(
      serviceTree(
        serviceYaml({
          url: jwtMcp.url,
          oauth: keyed(id, ['private_key_id: ed', 'signing_algorithm: EdDSA']),
        }),
        { secrets: serviceSecrets({ private_key: key.pem }) },
      ),
    );
    await whoami(registry).catch(() => undefined);
    expect(requestsOf(id)[0]?.header?.alg).toBe('EdDSA');
    expectGoodAssertions(id, { alg: 'EdDSA', kid: 'ed' });
  });
});

describe('private_key_jwt through the CLI', () => {
  test('tools call with the key in the secrets file: no browser, the key in no output', async () => {
    const id = clientId();
    const key = await keyPair('ES256');
    jwtAs.addClient({ clientId: id, publicKey: key.publicKey, alg: 'ES256', kid: 'cli' });
    const tree = serviceTree(
      serviceYaml({
        url: jwtMcp.url,
        backend: 'file',
        oauth: keyed(id, ['private_key_id: cli', 'signing_algorithm: ES256']),
      }),
      { secrets: serviceSecrets({ private_key: key.pem }) },
    );
    cleanups.push(tree.cleanup);
    const browser = refusingBrowser();
    const call = await runCli(['tools', 'call', SERVER, 'whoami'], {
      cwd: tree.dir,
      openBrowser: browser,
    });
    const output = call.stdout + call.stderr;
    expect(call.code, output).toBe(0);
    expect(output).toContain(id);
    for (const line of pemLines(key.pem)) expect(output).not.toContain(line);
    expect(browser.opened).toEqual([]);
    expectGoodAssertions(id, { alg: 'ES256', kid: 'cli' });
  });

  test('a relative private_key_file is read from the working directory the CLI runs in', async () => {
    const id = clientId();
    const key = await keyPair('ES256');
    jwtAs.addClient({ clientId: id, publicKey: key.publicKey, alg: 'ES256', kid: 'rel' });
    const tree = serviceTree(
      serviceYaml({
        url: jwtMcp.url,
        backend: 'file',
        oauth: keyed(id, ['private_key_file: ./keys/client.pem', 'private_key_id: rel']),
      }),
      { files: { 'keys/client.pem': key.pem } },
    );
    cleanups.push(tree.cleanup);
    const call = await runCli(['tools', 'call', SERVER, 'whoami'], {
      cwd: tree.dir,
      openBrowser: refusingBrowser(),
    });
    // The token store's ./tokens.json is resolved against the same working directory.
    expect(call.code, call.stdout + call.stderr).toBe(0);
    expectGoodAssertions(id, { alg: 'ES256', kid: 'rel' });
  });
});
