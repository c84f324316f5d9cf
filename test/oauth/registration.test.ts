import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { McpAgentError } from '../../src/errors.js';
import { resolveClient } from '../../src/oauth/clients.js';
import { chooseAuthMethod, DEVICE_REDIRECT } from '../../src/oauth/protocol/registration.js';
import type { RegistrationStore } from '../../src/stores/registrations.js';
import { manualClock } from '../support/clock.js';
import {
  CIMD,
  CONFIG_PATH,
  CONFIGURED_SECRET,
  DCR_SECRET,
  ISSUER,
  json,
  LOOPBACK,
  metadata,
  noFetch,
  OTHER_ISSUER,
  options,
  registrar,
  store,
  WEB,
} from './registration-fixtures.js';

async function failure(promise: Promise<unknown>): Promise<McpAgentError> {
  const error = await promise.catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(McpAgentError);
  return error as McpAgentError;
}

/** Everything an error could show: message, inspect form (with cause), JSON. */
function shown(error: unknown): string {
  return `${String(error)}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
}

describe('chooseAuthMethod', () => {
  test.each([
    [undefined, true, 'client_secret_basic'],
    [['client_secret_basic', 'client_secret_post'], true, 'client_secret_basic'],
    [['client_secret_post', 'client_secret_basic'], true, 'client_secret_basic'],
    [['client_secret_post'], true, 'client_secret_post'],
    [['private_key_jwt'], true, 'client_secret_basic'],
    [['client_secret_basic'], false, 'none'],
    [undefined, false, 'none'],
  ] as const)('supported %j, secret %s → %s', (supported, hasSecret, expected) => {
    const as = metadata(supported ? { token_endpoint_auth_methods_supported: [...supported] } : {});
    expect(chooseAuthMethod(as, hasSecret)).toBe(expected);
  });
});

describe('resolveClient: a configured client_id comes first', () => {
  test.each([
    [undefined, 'client_secret_basic'],
    [['client_secret_post'], 'client_secret_post'],
    [['client_secret_basic', 'client_secret_post'], 'client_secret_basic'],
    [['none', 'client_secret_post'], 'client_secret_post'],
  ] as const)('with a secret, AS methods %j → %s', async (supported, method) => {
    const client = await resolveClient(
      options({
        as: metadata(supported ? { token_endpoint_auth_methods_supported: [...supported] } : {}),
        clientId: 'configured-id',
        clientSecret: new Secret(CONFIGURED_SECRET),
      }),
    );
    expect(client).toMatchObject({
      clientId: 'configured-id',
      tokenEndpointAuthMethod: method,
      issuer: ISSUER,
      redirectUri: LOOPBACK,
      source: 'configured',
    });
    expect(client.clientSecret?.reveal()).toBe(CONFIGURED_SECRET);
  });

  test('without a secret, or with an empty one, the client is public (none)', async () => {
    for (const clientSecret of [undefined, new Secret('')]) {
      const client = await resolveClient(
        options({ clientId: 'configured-id', clientSecret, registrations: store() }),
      );
      expect(client.tokenEndpointAuthMethod).toBe('none');
      expect(client.clientSecret).toBeUndefined();
      expect(client.source).toBe('configured');
    }
  });

  test('is used even when CIMD and DCR are offered, without any request', async () => {
    const client = await resolveClient(
      options({
        as: metadata({ client_id_metadata_document_supported: true }),
        clientId: 'configured-id',
        clientMetadataUrl: CIMD,
        fetch: noFetch,
      }),
    );
    expect(client.clientId).toBe('configured-id');
  });
});

describe('resolveClient: client ID metadata document', () => {
  test('used when the AS advertises client_id_metadata_document_supported: true', async () => {
    const client = await resolveClient(
      options({
        as: metadata({ client_id_metadata_document_supported: true }),
        clientMetadataUrl: CIMD,
      }),
    );
    expect(client).toEqual({
      clientId: CIMD,
      tokenEndpointAuthMethod: 'none',
      issuer: ISSUER,
      redirectUri: LOOPBACK,
      source: 'metadata-document',
    });
  });

  test.each([
    ['absent', {}],
    ['false', { client_id_metadata_document_supported: false }],
    ['the string "true"', { client_id_metadata_document_supported: 'true' }],
  ])('not used when the flag is %s (DCR instead)', async (_label, extra) => {
    const { fetch, sent } = registrar();
    const client = await resolveClient(
      options({ as: metadata(extra), clientMetadataUrl: CIMD, fetch }),
    );
    expect(client.source).toBe('dynamic');
    expect(client.clientId).not.toBe(CIMD);
    expect(sent).toHaveLength(1);
  });

  test('never used for the device redirect', async () => {
    const { fetch, sent } = registrar();
    const client = await resolveClient(
      options({
        as: metadata({ client_id_metadata_document_supported: true }),
        clientMetadataUrl: CIMD,
        redirectUri: DEVICE_REDIRECT,
        fetch,
      }),
    );
    expect(client.source).toBe('dynamic');
    expect(client.clientId).toBe('dcr-client-1');
    expect(sent).toHaveLength(1);
  });
});

describe('resolveClient: dynamic client registration', () => {
  test('the request for a loopback redirect: native, code + refresh_token, public when allowed', async () => {
    const { fetch, sent } = registrar();
    const client = await resolveClient(
      options({
        as: metadata({ token_endpoint_auth_methods_supported: ['client_secret_basic', 'none'] }),
        fetch,
      }),
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]?.url).toBe(`${ISSUER}/register`);
    expect(sent[0]?.method).toBe('POST');
    expect(sent[0]?.body).toEqual({
      client_name: 'mcp-agent-ts test',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: [LOOPBACK],
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    expect(client).toMatchObject({
      clientId: 'dcr-client-1',
      tokenEndpointAuthMethod: 'none',
      issuer: ISSUER,
      redirectUri: LOOPBACK,
      source: 'dynamic',
    });
  });

  test.each([
    'http://localhost:33418/callback',
    'http://[::1]:33418/callback',
    'http://127.0.0.2:9/callback',
  ])('%s is a loopback redirect (native)', async (redirectUri) => {
    const { fetch, sent } = registrar();
    await resolveClient(options({ redirectUri, fetch }));
    expect(sent[0]?.body.application_type).toBe('native');
    expect(sent[0]?.body.redirect_uris).toEqual([redirectUri]);
  });

  test('a web redirect registers a web client', async () => {
    const { fetch, sent } = registrar();
    await resolveClient(options({ redirectUri: WEB, fetch }));
    expect(sent[0]?.body.application_type).toBe('web');
  });

  test('the device redirect registers the device grant and no redirect URI', async () => {
    const { fetch, sent } = registrar();
    await resolveClient(options({ redirectUri: DEVICE_REDIRECT, fetch }));
    expect(sent[0]?.body).toMatchObject({
      application_type: 'native',
      redirect_uris: [],
      response_types: [],
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    });
  });

  test('a confidential client when the AS does not allow none', async () => {
    const { fetch, sent } = registrar((_sent, index) =>
      json(
        {
          client_id: `dcr-${index}`,
          client_secret: DCR_SECRET,
          client_secret_expires_at: 0,
          token_endpoint_auth_method: 'client_secret_post',
        },
        201,
      ),
    );
    const client = await resolveClient(
      options({
        as: metadata({ token_endpoint_auth_methods_supported: ['client_secret_post'] }),
        fetch,
      }),
    );
    expect(sent[0]?.body.token_endpoint_auth_method).toBe('client_secret_post');
    expect(client.tokenEndpointAuthMethod).toBe('client_secret_post');
    expect(client.clientSecret?.reveal()).toBe(DCR_SECRET);
    expect(client.clientSecretExpiresAt).toBeUndefined();
  });

  test('a granted secret without a method means client_secret_basic; expiry kept in ms', async () => {
    const { fetch } = registrar(() =>
      json(
        {
          client_id: 'dcr',
          client_secret: DCR_SECRET,
          client_secret_expires_at: 1_800_000_000,
        },
        201,
      ),
    );
    const client = await resolveClient(options({ fetch }));
    expect(client.tokenEndpointAuthMethod).toBe('client_secret_basic');
    expect(client.clientSecretExpiresAt).toBe(1_800_000_000_000);
  });

  test('a secret without client_secret_expires_at is taken as never expiring', async () => {
    const { fetch } = registrar(() => json({ client_id: 'dcr', client_secret: DCR_SECRET }, 201));
    const client = await resolveClient(options({ fetch }));
    expect(client.clientSecret?.reveal()).toBe(DCR_SECRET);
    expect(client.clientSecretExpiresAt).toBeUndefined();
  });

  test('kept in the store under issuer + redirect URI and reused', async () => {
    const registrations = store();
    const { fetch, sent } = registrar();
    const first = await resolveClient(options({ registrations, fetch }));
    const second = await resolveClient(options({ registrations, fetch }));
    expect(sent).toHaveLength(1);
    expect(second.clientId).toBe(first.clientId);
    expect(second.source).toBe('dynamic');
    expect((await registrations.get(ISSUER, LOOPBACK))?.clientId).toBe(first.clientId);
    expect(await registrations.get(ISSUER, WEB)).toBeUndefined();
    expect(await registrations.get(OTHER_ISSUER, LOOPBACK)).toBeUndefined();
  });

  test('not reused for another redirect URI', async () => {
    const registrations = store();
    const { fetch, sent } = registrar();
    const first = await resolveClient(options({ registrations, fetch }));
    const other = await resolveClient(
      options({ registrations, fetch, redirectUri: 'http://127.0.0.1:33419/callback' }),
    );
    expect(sent).toHaveLength(2);
    expect(other.clientId).not.toBe(first.clientId);
    expect(other.redirectUri).toBe('http://127.0.0.1:33419/callback');
  });

  test('not reused for another issuer', async () => {
    const registrations = store();
    const { fetch, sent } = registrar();
    const first = await resolveClient(options({ registrations, fetch }));
    const other = await resolveClient(
      options({ registrations, fetch, as: metadata({}, OTHER_ISSUER) }),
    );
    expect(sent.map((entry) => entry.url)).toEqual([
      `${ISSUER}/register`,
      `${OTHER_ISSUER}/register`,
    ]);
    expect(other.clientId).not.toBe(first.clientId);
    expect(other.issuer).toBe(OTHER_ISSUER);
  });

  test('re-registered when client_secret_expires_at is past (or within a minute)', async () => {
    const clock = manualClock();
    const registrations = store();
    const { fetch, sent } = registrar((_sent, index) =>
      json(
        {
          client_id: `dcr-${index}`,
          client_secret: DCR_SECRET,
          // One hour after the current time.
          client_secret_expires_at: Math.floor(clock.now() / 1000) + 3600,
        },
        201,
      ),
    );
    const run = () => resolveClient(options({ registrations, fetch, now: clock.now }));
    expect((await run()).clientId).toBe('dcr-0');
    clock.advance(30 * 60_000);
    expect((await run()).clientId).toBe('dcr-0');
    expect(sent).toHaveLength(1);
    // 30 seconds before expiry: too close, a new client is registered.
    clock.advance(29 * 60_000 + 30_000);
    expect((await run()).clientId).toBe('dcr-1');
    expect(sent).toHaveLength(2);
    // Past the expiry of the second.
    clock.advance(2 * 3600_000);
    expect((await run()).clientId).toBe('dcr-2');
    expect((await registrations.get(ISSUER, LOOPBACK))?.clientId).toBe('dcr-2');
  });

  test('client_secret_expires_at 0 means the secret never expires', async () => {
    const clock = manualClock();
    const registrations = store();
    const { fetch, sent } = registrar(() =>
      json({ client_id: 'dcr', client_secret: DCR_SECRET, client_secret_expires_at: 0 }, 201),
    );
    await resolveClient(options({ registrations, fetch, now: clock.now }));
    clock.advance(10 * 365 * 24 * 3600_000);
    await resolveClient(options({ registrations, fetch, now: clock.now }));
    expect(sent).toHaveLength(1);
  });

  test('invalid_redirect_uri is retried once as a web client', async () => {
    const { fetch, sent } = registrar((entry, index) =>
      index === 0
        ? json({ error: 'invalid_redirect_uri', error_description: 'native not allowed' }, 400)
        : json({ client_id: 'web-client', ...entry.body }, 201),
    );
    const client = await resolveClient(options({ fetch }));
    expect(client.clientId).toBe('web-client');
    expect(sent.map((entry) => entry.body.application_type)).toEqual(['native', 'web']);
    expect(sent[1]?.body.redirect_uris).toEqual([LOOPBACK]);
  });

  test('a second invalid_redirect_uri is not retried again', async () => {
    const { fetch, sent } = registrar(() => json({ error: 'invalid_redirect_uri' }, 400));
    const error = await failure(resolveClient(options({ fetch })));
    expect(error.code).toBe('OAUTH_REGISTRATION');
    expect(sent).toHaveLength(2);
    expect(error.message).toContain(ISSUER);
    expect(error.message).toContain('invalid_redirect_uri');
  });

  test.each([
    ['another OAuth error', () => json({ error: 'invalid_request' }, 400)],
    ['a server error', () => new Response('oops', { status: 500 })],
    ['a 200 instead of 201', () => json({ client_id: 'x' }, 200)],
  ])('%s is not retried', async (_label, answer) => {
    const { fetch, sent } = registrar(answer);
    const error = await failure(resolveClient(options({ fetch })));
    expect(error.code).toBe('OAUTH_REGISTRATION');
    expect(sent).toHaveLength(1);
  });

  test('a failed registration is not kept', async () => {
    const registrations = store();
    const { fetch } = registrar(() => json({ error: 'invalid_request' }, 400));
    await failure(resolveClient(options({ registrations, fetch })));
    expect(await registrations.get(ISSUER, LOOPBACK)).toBeUndefined();
  });
});

describe('resolveClient: nothing works', () => {
  test('no DCR and no CIMD: one sentence naming the issuer, the redirect URI and client_id', async () => {
    const error = await failure(
      resolveClient(options({ as: metadata({ registration_endpoint: undefined }) })),
    );
    expect(error.code).toBe('OAUTH_REGISTRATION');
    expect(error.message).toContain(ISSUER);
    expect(error.message).toContain(LOOPBACK);
    expect(error.message).toContain(`${CONFIG_PATH}.client_id`);
  });

  test('a CIMD URL the AS does not support is mentioned', async () => {
    const error = await failure(
      resolveClient(
        options({ as: metadata({ registration_endpoint: undefined }), clientMetadataUrl: CIMD }),
      ),
    );
    expect(error.message).toMatch(/client ID metadata documents/);
  });

  test('the device flow names the device grant', async () => {
    const error = await failure(
      resolveClient(
        options({
          as: metadata({ registration_endpoint: undefined }),
          redirectUri: DEVICE_REDIRECT,
        }),
      ),
    );
    expect(error.code).toBe('OAUTH_REGISTRATION');
    expect(error.message).toContain(ISSUER);
    expect(error.message).toMatch(/device authorization grant/);
    expect(error.message).toContain(`${CONFIG_PATH}.client_id`);
  });

  test('a refused DCR names the redirect URI to register by hand', async () => {
    const { fetch } = registrar(() => json({ error: 'invalid_redirect_uri' }, 400));
    const error = await failure(resolveClient(options({ fetch })));
    expect(error.code).toBe('OAUTH_REGISTRATION');
    expect(error.message).toContain(ISSUER);
    expect(error.message).toContain(`${CONFIG_PATH}.client_id`);
    expect(error.message).toContain(LOOPBACK);
  });
});

describe('resolveClient: DCR client secrets never reach an error', () => {
  test.each([
    ['no client_id', () => json({ client_secret: DCR_SECRET, client_secret_expires_at: 0 }, 201)],
    [
      'a 200 status',
      () => json({ client_id: 'dcr', client_secret: DCR_SECRET, client_secret_expires_at: 0 }, 200),
    ],
    [
      'a non-string client_secret_expires_at',
      () =>
        json(
          { client_id: 'dcr', client_secret: DCR_SECRET, client_secret_expires_at: 'soon' },
          201,
        ),
    ],
    [
      'an error body that also carries a secret',
      () =>
        json({ error: 'invalid_client_metadata', client_secret: DCR_SECRET, client_id: 'x' }, 400),
    ],
  ])('%s', async (_label, answer) => {
    const { fetch } = registrar(answer);
    const error = await failure(resolveClient(options({ fetch })));
    expect(error.code).toBe('OAUTH_REGISTRATION');
    expect(error.message).toContain(ISSUER);
    expect(shown(error)).not.toContain(DCR_SECRET);
  });
});

describe('resolveClient: a configured client is bound to its first issuer', () => {
  const configured = (registrations: RegistrationStore, issuer: string, extra = {}) =>
    resolveClient(
      options({
        as: metadata({}, issuer),
        clientId: 'configured-id',
        clientSecret: new Secret(CONFIGURED_SECRET),
        registrations,
        ...extra,
      }),
    );

  test('the first use binds it; the same issuer keeps working', async () => {
    const registrations = store();
    await configured(registrations, ISSUER);
    expect(await registrations.boundIssuer('github', 'configured-id')).toBe(ISSUER);
    expect((await configured(registrations, ISSUER)).issuer).toBe(ISSUER);
  });

  test('another issuer later is refused, without sending anything', async () => {
    const registrations = store();
    await configured(registrations, ISSUER);
    const error = await failure(configured(registrations, OTHER_ISSUER));
    expect(error.code).toBe('OAUTH_REGISTRATION');
    expect(error.message).toContain(OTHER_ISSUER);
    expect(error.message).toContain(ISSUER);
    expect(error.message).toContain(`${CONFIG_PATH}.authorization_server`);
    expect(shown(error)).not.toContain(CONFIGURED_SECRET);
    expect(await registrations.boundIssuer('github', 'configured-id')).toBe(ISSUER);
  });

  test('another issuer is accepted (and rebinds) when the issuer is configured', async () => {
    const registrations = store();
    await configured(registrations, ISSUER);
    const client = await configured(registrations, OTHER_ISSUER, { issuerConfigured: true });
    expect(client.issuer).toBe(OTHER_ISSUER);
    expect(await registrations.boundIssuer('github', 'configured-id')).toBe(OTHER_ISSUER);
  });

  test('unbind releases the binding', async () => {
    const registrations = store();
    await configured(registrations, ISSUER);
    await registrations.unbind('github', 'configured-id');
    expect(await registrations.boundIssuer('github', 'configured-id')).toBeUndefined();
    expect((await configured(registrations, OTHER_ISSUER)).issuer).toBe(OTHER_ISSUER);
    expect(await registrations.boundIssuer('github', 'configured-id')).toBe(OTHER_ISSUER);
  });

  test('the binding is per server and per client_id', async () => {
    const registrations = store();
    await configured(registrations, ISSUER);
    expect((await configured(registrations, OTHER_ISSUER, { server: 'gitlab' })).issuer).toBe(
      OTHER_ISSUER,
    );
    expect((await configured(registrations, OTHER_ISSUER, { clientId: 'another-id' })).issuer).toBe(
      OTHER_ISSUER,
    );
  });
});
