/**
 * Bad service-account input (`grant_type: client_credentials`): keys that do not parse or are
 * public, keys the authorization server refuses (401 invalid_client from the verifying fake of
 * test/support/private-key-jwt-as.ts), a wrong client secret (the development authorization
 * server), and missing client_id / secret / key. Each error has the documented code, names the
 * server or client, and never carries a key or secret (canaries), in the error, the log or the
 * CLI's output.
 */
import { exportJWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../support/net.js';
import {
  type PrivateKeyJwtServer,
  startPrivateKeyJwtServer,
} from '../support/private-key-jwt-as.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import { openManager, recordingLogger, serverAuthOf } from './harness.js';
import {
  failure,
  grantRequests,
  keyPair,
  pemLines,
  recordingFetch,
  refusingBrowser,
  refusingConsent,
  registerServiceClient,
  SERVER,
  serviceSecrets,
  serviceTree,
  serviceYaml,
} from './service-account-harness.js';

/** Canary text put where a key or secret goes; it must never come out. */
const CANARY = 'CANARYc4n4ryZZq9Xw7Lk2Pm5Nv8Rt3Yb6';

let jwtAs: PrivateKeyJwtServer;
let jwtMcp: ProtectedMcpServer;
let devAs: DevAuthorizationServer;
let devMcp: ProtectedMcpServer;
const cleanups: (() => unknown)[] = [];
let clients = 0;

beforeAll(async () => {
  jwtAs = await startPrivateKeyJwtServer();
  jwtMcp = await startProtectedMcpServer({ issuer: jwtAs.issuer, requiredScopes: ['mcp:read'] });
  const port = await freePort();
  devMcp = await startProtectedMcpServer({
    issuer: `http://127.0.0.1:${port}`,
    requiredScopes: ['mcp:read'],
  });
  devAs = await startDevAuthorizationServer({
    port,
    resources: [devMcp.url],
    scopes: ['mcp:read', 'mcp:write'],
  });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await jwtMcp?.close();
  await jwtAs?.close();
  await devMcp?.close();
  await devAs?.close();
});

function clientId(): string {
  clients += 1;
  return `bad-input-${clients}`;
}

/** The ServerAuth of {@link SERVER} for `oauth` lines (and secrets), with a recording fetch and logger. */
function serviceAuth(url: string, oauth: readonly string[], secrets?: Record<string, string>) {
  const tree = serviceTree(serviceYaml({ url, oauth }), {
    ...(secrets ? { secrets: serviceSecrets(secrets) } : {}),
  });
  cleanups.push(tree.cleanup);
  const recorded = recordingFetch();
  const logger = recordingLogger();
  const consent = refusingConsent();
  const { tokens } = openManager(tree.settings, cleanups, {
    consent,
    fetch: recorded.fetch,
    logger,
    cwd: tree.dir,
  });
  return { auth: serverAuthOf(tokens, tree.settings, SERVER), recorded, logger, consent, tree };
}

/** Nothing of `secrets` in the error (message, stack, cause) nor in the log. */
function expectNoneOf(
  secrets: readonly string[],
  error: Error,
  logger: ReturnType<typeof recordingLogger>,
): void {
  const cause = (error as { cause?: unknown }).cause;
  const text = [
    error.message,
    error.stack ?? '',
    cause instanceof Error ? `${cause.message} ${cause.stack ?? ''}` : String(cause ?? ''),
    JSON.stringify(error),
    JSON.stringify(logger.calls),
  ].join('\n');
  for (const secret of secrets) expect(text).not.toContain(secret);
}

/** A PEM-looking key that does not parse, carrying the canary. */
const BROKEN_PEM = `-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg${CANARY}\n-----END PRIVATE KEY-----\n`;

describe('private keys that cannot be used: CONFIG_INVALID before any request', () => {
  test.each([
    ['a PEM that does not parse', BROKEN_PEM],
    ['text that is neither PEM nor JSON', `just-some-text-${CANARY}`],
    ['JSON that does not parse', `{"kty":"EC","crv":"P-256","d":"${CANARY}"`],
    [
      'a private JWK whose d is garbage',
      JSON.stringify({ kty: 'EC', crv: 'P-256', x: CANARY, y: CANARY, d: CANARY }),
    ],
  ])('%s: names the server, never the key', async (_what, privateKey) => {
    const id = clientId();
    const { auth, recorded, logger, consent } = serviceAuth(
      jwtMcp.url,
      [`client_id: ${id}`, 'token_endpoint_auth_method: private_key_jwt'],
      { private_key: privateKey },
    );
    const error = await failure(auth.authorize());
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`"${SERVER}"`);
    expect(error.message).toContain('private_key');
    expectNoneOf([CANARY, privateKey], error, logger);
    expect(grantRequests(recorded.requests)).toEqual([]);
    expect(consent.asked).toEqual([]);
  });

  test('a public JWK instead of the private one: the same error, no coordinates echoed', async () => {
    const id = clientId();
    const key = await keyPair('ES256');
    const publicJwk = await exportJWK(key.publicKey);
    const { auth, recorded, logger } = serviceAuth(jwtMcp.url, [`client_id: ${id}`], {
      private_key: JSON.stringify(publicJwk),
    });
    const error = await failure(auth.authorize());
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`"${SERVER}"`);
    expect(error.message).toMatch(/private JWK/);
    expectNoneOf([String(publicJwk.x), String(publicJwk.y)], error, logger);
    expect(grantRequests(recorded.requests)).toEqual([]);
  });

  test('an EC key with signing_algorithm RS256: CONFIG_INVALID naming RS256, not the key', async () => {
    const id = clientId();
    const key = await keyPair('ES256');
    const { auth, recorded, logger } = serviceAuth(
      jwtMcp.url,
      [`client_id: ${id}`, 'signing_algorithm: RS256'],
      { private_key: key.pem },
    );
    const error = await failure(auth.authorize());
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('RS256');
    expectNoneOf(pemLines(key.pem), error, logger);
    expect(grantRequests(recorded.requests)).toEqual([]);
  });

  test('a private_key_file that does not exist: CONFIG_INVALID naming the file', async () => {
    const id = clientId();
    const { auth, recorded } = serviceAuth(jwtMcp.url, [
      `client_id: ${id}`,
      'private_key_file: /nonexistent/service-account/key.pem',
    ]);
    const error = await failure(auth.authorize());
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('/nonexistent/service-account/key.pem');
    expect(error.message).toContain(`"${SERVER}"`);
    expect(grantRequests(recorded.requests)).toEqual([]);
  });

  test('private_key_jwt configured without a key: CONFIG_INVALID (the client secret is not used instead)', async () => {
    const id = clientId();
    const { auth, recorded, logger } = serviceAuth(
      jwtMcp.url,
      [`client_id: ${id}`, 'token_endpoint_auth_method: private_key_jwt'],
      { client_secret: CANARY },
    );
    const error = await failure(auth.authorize());
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('not configured');
    expectNoneOf([CANARY], error, logger);
    expect(grantRequests(recorded.requests)).toEqual([]);
  });

  test('through the CLI: tools call fails with the server named, the key text in no output, no browser', async () => {
    const tree = serviceTree(
      serviceYaml({
        url: jwtMcp.url,
        backend: 'file',
        oauth: [`client_id: ${clientId()}`, 'token_endpoint_auth_method: private_key_jwt'],
      }),
      { secrets: serviceSecrets({ private_key: BROKEN_PEM }) },
    );
    cleanups.push(tree.cleanup);
    const browser = refusingBrowser();
    const before = jwtAs.requests.length;
    const call = await runCli(['tools', 'call', SERVER, 'whoami'], {
      cwd: tree.dir,
      openBrowser: browser,
    });
    const output = call.stdout + call.stderr;
    expect(call.code).not.toBe(0);
    expect(output).toContain(SERVER);
    expect(output).toMatch(/private key/i);
    expect(output).not.toContain(CANARY);
    expect(browser.opened).toEqual([]);
    expect(jwtAs.requests.length).toBe(before);
  });
});

describe('assertions the authorization server refuses: OAUTH_TOKEN with the client and invalid_client', () => {
  test('a wrong kid', async () => {
    const id = clientId();
    const key = await keyPair('ES256');
    jwtAs.addClient({ clientId: id, publicKey: key.publicKey, alg: 'ES256', kid: 'the-right-kid' });
    const { auth, logger, consent } = serviceAuth(
      jwtMcp.url,
      [`client_id: ${id}`, 'private_key_id: a-wrong-kid'],
      { private_key: key.pem },
    );
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_TOKEN');
    expect(error.message).toContain(`"${id}"`);
    expect(error.message).toContain('invalid_client');
    const refused = jwtAs.requests.filter((request) => request.form.client_id === id);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.refusal).toMatch(/kid/);
    const assertion = refused[0]?.form.client_assertion ?? '';
    expect(assertion).not.toBe('');
    expectNoneOf([...pemLines(key.pem), assertion], error, logger);
    expect(consent.asked).toEqual([]);
  });

  test('a key the authorization server does not know (the signature does not verify)', async () => {
    const id = clientId();
    const registered = await keyPair('ES256');
    const other = await keyPair('ES256');
    jwtAs.addClient({ clientId: id, publicKey: registered.publicKey, alg: 'ES256' });
    const { auth, logger } = serviceAuth(jwtMcp.url, [`client_id: ${id}`], {
      private_key: other.pem,
    });
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_TOKEN');
    expect(error.message).toContain(`"${id}"`);
    expect(error.message).toContain('invalid_client');
    const refused = jwtAs.requests.filter((request) => request.form.client_id === id);
    expect(refused[0]?.refusal).toMatch(/does not verify/);
    expectNoneOf(pemLines(other.pem), error, logger);
  });

  test('a wrong client secret at the development AS: OAUTH_TOKEN invalid_client, the secret (canary) nowhere', async () => {
    const client = await registerServiceClient(devAs.issuer, 'client_secret_basic');
    const { auth, recorded, logger } = serviceAuth(devMcp.url, [`client_id: ${client.clientId}`], {
      client_secret: CANARY,
    });
    const error = await failure(auth.authorize());
    expect(error.code).toBe('OAUTH_TOKEN');
    expect(error.message).toContain(`"${client.clientId}"`);
    expect(error.message).toContain('invalid_client');
    expect(grantRequests(recorded.requests)).toHaveLength(1);
    expectNoneOf([CANARY, client.clientSecret], error, logger);
  });

  test('the same through the CLI: exit code, client named, the secret in no output', async () => {
    const client = await registerServiceClient(devAs.issuer, 'client_secret_post');
    const tree = serviceTree(
      serviceYaml({
        url: devMcp.url,
        backend: 'file',
        oauth: [`client_id: ${client.clientId}`, 'token_endpoint_auth_method: client_secret_post'],
      }),
      { secrets: serviceSecrets({ client_secret: CANARY }) },
    );
    cleanups.push(tree.cleanup);
    const browser = refusingBrowser();
    const call = await runCli(['tools', 'call', SERVER, 'whoami'], {
      cwd: tree.dir,
      openBrowser: browser,
    });
    const output = call.stdout + call.stderr;
    expect(call.code).not.toBe(0);
    expect(output).toContain(client.clientId);
    expect(output).toContain('invalid_client');
    expect(output).not.toContain(CANARY);
    expect(browser.opened).toEqual([]);
  });
});

describe('missing configuration: CONFIG_INVALID', () => {
  test('a client_secret (canary) but no client_id, at the development AS: CONFIG_INVALID before any request', async () => {
    const { auth, logger, consent } = serviceAuth(devMcp.url, [], { client_secret: CANARY });
    const error = await failure(auth.authorize());
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`"${SERVER}"`);
    expect(error.message).toContain('client_id');
    expectNoneOf([CANARY], error, logger);
    expect(consent.asked).toEqual([]);
  });

  test('no client_id: nothing is registered dynamically', async () => {
    const { auth, recorded } = serviceAuth(devMcp.url, [], { client_secret: CANARY });
    await auth.authorize().catch(() => undefined);
    const registrations = recorded.requests.filter(
      (request) => request.method === 'POST' && new URL(request.url).pathname === '/reg',
    );
    expect(registrations).toEqual([]);
  });

  test('a private key but no client_id, at an AS without dynamic registration: CONFIG_INVALID', async () => {
    const key = await keyPair('ES256');
    const { auth, logger } = serviceAuth(jwtMcp.url, [], { private_key: key.pem });
    const error = await failure(auth.authorize());
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('client_id');
    expectNoneOf(pemLines(key.pem), error, logger);
  });

  test('a client_id with neither a secret nor a key: CONFIG_INVALID naming the server and the client', async () => {
    const id = clientId();
    const { auth, recorded } = serviceAuth(jwtMcp.url, [`client_id: ${id}`]);
    const error = await failure(auth.authorize());
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`"${SERVER}"`);
    expect(error.message).toContain(`"${id}"`);
    expect(grantRequests(recorded.requests)).toEqual([]);
  });

  test('through the CLI: a client_id with neither a secret nor a key fails at once, no browser', async () => {
    const tree = serviceTree(
      serviceYaml({ url: devMcp.url, backend: 'file', oauth: ['client_id: lonely-client'] }),
    );
    cleanups.push(tree.cleanup);
    const browser = refusingBrowser();
    const call = await runCli(['tools', 'call', SERVER, 'whoami'], {
      cwd: tree.dir,
      openBrowser: browser,
    });
    const output = call.stdout + call.stderr;
    expect(call.code).not.toBe(0);
    expect(output).toContain('lonely-client');
    expect(output).toMatch(/client_secret or a private_key/);
    expect(browser.opened).toEqual([]);
  });
});
