/**
 * The life of a dynamic client registration beyond its first use: one registration at a time per
 * (issuer, redirect URI), in a process and across stores sharing a backend; forgotten when the
 * authorization server refuses it (never a configured client); what `auth status` shows and
 * `auth logout` forgets; and the probe that asks the authorization server whether it still knows
 * a client before a person is sent there.
 */
import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { clientRefused, isKeptRegistration, resolveClient } from '../../src/oauth/clients.js';
import { clientStatus, forgetRegistrations } from '../../src/oauth/grants.js';
import { probeAuthorization } from '../../src/oauth/protocol/authorization-probe.js';
import { OAuthServerError } from '../../src/oauth/protocol/failures.js';
import type { OAuthFetch } from '../../src/oauth/protocol/registration.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import type { TokenRecord } from '../../src/stores/record.js';
import { type ClientRegistration, RegistrationStore } from '../../src/stores/registrations.js';
import { TokenStore } from '../../src/stores/token-store.js';
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
  options,
  registrar,
  store,
} from './registration-fixtures.js';

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Let every pending promise callback and I/O callback run once. */
async function turns(count = 10): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

function refusal(code = 'invalid_client'): OAuthServerError {
  return new OAuthServerError('OAUTH_TOKEN', 'refused', { error: code, status: 401 });
}

describe('one registration per (issuer, redirect URI) at a time', () => {
  test('concurrent first logins in one process share one registration request', async () => {
    const registrations = store();
    const held = gate();
    const { fetch, sent } = registrar(async (entry, index) => {
      await held.opened;
      return json({ client_id: `dcr-${index}`, ...entry.body }, 201);
    });
    const clock = manualClock();
    const logins = Array.from({ length: 8 }, () =>
      resolveClient(options({ registrations, fetch, now: clock.now })),
    );
    await turns();
    held.open();
    const clients = await Promise.all(logins);
    expect(sent).toHaveLength(1);
    expect(new Set(clients.map((client) => client.clientId))).toEqual(new Set(['dcr-0']));
    expect(clients.every((client) => !isKeptRegistration(client))).toBe(true);
    const kept = await registrations.get(ISSUER, LOOPBACK);
    expect(kept?.registeredAt).toBe(clock.now());
    expect(kept && isKeptRegistration(kept)).toBe(true);
  });

  test('two stores on one backend (two processes): the second waits for the first one’s lease and uses its registration', async () => {
    const backend = new MemoryKeyValueStore();
    const first = new RegistrationStore(backend);
    const second = new RegistrationStore(backend);
    const held = gate();
    const { fetch, sent } = registrar(async (entry, index) => {
      await held.opened;
      return json({ client_id: `dcr-${index}`, ...entry.body }, 201);
    });
    const a = resolveClient(options({ registrations: first, fetch }));
    await turns();
    expect(sent).toHaveLength(1);
    const b = resolveClient(options({ registrations: second, fetch }));
    await turns();
    held.open();
    const [clientA, clientB] = await Promise.all([a, b]);
    expect(sent).toHaveLength(1);
    expect(clientB.clientId).toBe(clientA.clientId);
  });

  test('a registration that failed under the lease leaves it free: the waiting store registers', async () => {
    const backend = new MemoryKeyValueStore();
    const held = gate();
    const { fetch, sent } = registrar(async (entry, index) => {
      if (index === 0) {
        await held.opened;
        return json({ error: 'temporarily_unavailable' }, 400);
      }
      return json({ client_id: `dcr-${index}`, ...entry.body }, 201);
    });
    const a = resolveClient(options({ registrations: new RegistrationStore(backend), fetch }));
    await turns();
    const b = resolveClient(options({ registrations: new RegistrationStore(backend), fetch }));
    await turns();
    held.open();
    await expect(a).rejects.toMatchObject({ code: 'OAUTH_REGISTRATION' });
    expect((await b).clientId).toBe('dcr-1');
    expect(sent).toHaveLength(2);
  });
});

describe('a refused client', () => {
  test('forget() drops a registration only while it is still that client', async () => {
    const registrations = store();
    const { fetch } = registrar();
    const client = await resolveClient(options({ registrations, fetch }));
    expect(await registrations.forget(ISSUER, LOOPBACK, 'another-client')).toBe(false);
    expect((await registrations.get(ISSUER, LOOPBACK))?.clientId).toBe(client.clientId);
    expect(await registrations.forget(ISSUER, LOOPBACK, client.clientId)).toBe(true);
    expect(await registrations.get(ISSUER, LOOPBACK)).toBeUndefined();
  });

  test('a dynamic registration is forgotten, and the error says to log in again', async () => {
    const registrations = store();
    const { fetch, sent } = registrar((entry) =>
      json({ client_id: 'dcr', client_secret: DCR_SECRET, ...entry.body }, 201),
    );
    const client = await resolveClient(options({ registrations, fetch }));
    const error = await clientRefused(client, refusal(), {
      server: 'github',
      configPath: CONFIG_PATH,
      registrations,
    });
    expect(error.code).toBe('OAUTH_REGISTRATION');
    expect(error.message).toContain('invalid_client');
    expect(error.message).toContain('mcp-agent auth login github');
    expect(error.message).not.toContain(DCR_SECRET);
    expect(await registrations.get(ISSUER, LOOPBACK)).toBeUndefined();
    // The next resolve registers again.
    await resolveClient(options({ registrations, fetch }));
    expect(sent).toHaveLength(2);
  });

  test('a configured client is never forgotten; the error names client_id and client_secret, never the secret', async () => {
    const registrations = store();
    const client = await resolveClient(
      options({
        registrations,
        clientId: 'configured-client',
        clientSecret: new Secret(CONFIGURED_SECRET),
      }),
    );
    await registrations.put({ ...client, clientId: 'dcr-beside', source: 'dynamic' });
    const error = await clientRefused(client, refusal('unauthorized_client'), {
      server: 'github',
      configPath: CONFIG_PATH,
      registrations,
    });
    expect(error.message).toContain(`${CONFIG_PATH}.client_id`);
    expect(error.message).toContain('client_secret');
    expect(error.message).toContain('unauthorized_client');
    expect(error.message).not.toContain(CONFIGURED_SECRET);
    expect(await registrations.boundIssuer('github', 'configured-client')).toBe(ISSUER);
    expect((await registrations.get(ISSUER, LOOPBACK))?.clientId).toBe('dcr-beside');
  });

  test('a metadata-document client: the error names the document and the redirect URI', async () => {
    const registrations = store();
    const client = await resolveClient(
      options({
        registrations,
        clientMetadataUrl: CIMD,
        as: metadata({ client_id_metadata_document_supported: true }),
      }),
    );
    const error = await clientRefused(client, refusal(), {
      server: 'github',
      configPath: CONFIG_PATH,
      registrations,
    });
    expect(error.message).toContain(CIMD);
    expect(error.message).toContain(LOOPBACK);
  });
});

describe('what auth status shows and auth logout forgets', () => {
  const record = (redirectUri: string, server: string): TokenRecord => ({
    accessToken: new Secret('access'),
    tokenType: 'Bearer',
    obtainedAt: 0,
    scopes: [],
    issuer: ISSUER,
    resource: 'https://mcp.example.com/mcp',
    server,
    redirectUri,
  });

  test('the clients a server used, with how and when; a forgotten registration is not shown', async () => {
    const tokens = new TokenStore(new MemoryKeyValueStore());
    const registrations = tokens.registrations;
    const clock = manualClock();
    const { fetch } = registrar((entry) =>
      json({ client_id: 'dcr', client_secret: DCR_SECRET, ...entry.body }, 201),
    );
    await resolveClient(options({ registrations, fetch, now: clock.now }));
    const cimdAs = metadata(
      { client_id_metadata_document_supported: true },
      'https://cimd-as.example.com',
    );
    clock.advance(1000);
    await resolveClient(
      options({ registrations, as: cimdAs, clientMetadataUrl: CIMD, now: clock.now }),
    );
    const oauth = { client_id: undefined, authorization_server: undefined };
    const shown = await clientStatus('github', oauth as never, registrations);
    expect(shown).toEqual([
      {
        clientId: 'dcr',
        source: 'dynamic',
        issuer: ISSUER,
        redirectUri: LOOPBACK,
        since: clock.now() - 1000,
      },
      {
        clientId: CIMD,
        source: 'metadata-document',
        issuer: 'https://cimd-as.example.com',
        redirectUri: LOOPBACK,
        since: clock.now(),
      },
    ]);
    expect(JSON.stringify(shown)).not.toContain(DCR_SECRET);
    expect(await clientStatus('other-server', oauth as never, registrations)).toEqual([]);
    await registrations.forget(ISSUER, LOOPBACK, 'dcr');
    expect(
      (await clientStatus('github', oauth as never, registrations)).map((c) => c.source),
    ).toEqual(['metadata-document']);
  });

  test('a configured client: its client_id and the issuer it is bound to', async () => {
    const registrations = store();
    await resolveClient(options({ registrations, clientId: 'configured-client' }));
    const oauth = { client_id: 'configured-client', authorization_server: undefined };
    expect(await clientStatus('github', oauth as never, registrations)).toEqual([
      { clientId: 'configured-client', source: 'configured', issuer: ISSUER },
    ]);
  });

  test('logout forgets a registration only when no stored grant (of any server) still uses it', async () => {
    const tokens = new TokenStore(new MemoryKeyValueStore());
    const { fetch } = registrar();
    const client: ClientRegistration = await resolveClient(
      options({ registrations: tokens.registrations, fetch }),
    );
    // Another server behind the same authorization server shares the registration.
    await resolveClient(options({ registrations: tokens.registrations, fetch, server: 'linear' }));
    const key = {
      identity: 'app',
      issuer: ISSUER,
      resource: 'https://linear/mcp',
      server: 'linear',
      scopes: [],
    };
    await tokens.put(key, record(LOOPBACK, 'linear'));
    expect(await forgetRegistrations('github', tokens)).toBe(0);
    expect((await tokens.registrations.get(ISSUER, LOOPBACK))?.clientId).toBe(client.clientId);
    await tokens.delete(key);
    expect(await forgetRegistrations('linear', tokens)).toBe(1);
    expect(await tokens.registrations.get(ISSUER, LOOPBACK)).toBeUndefined();
    expect(await tokens.registrations.usesOf('linear')).toEqual([]);
  });
});

describe('a store written before uses were noted', () => {
  test('status and logout find a registration through the grants issued under it', async () => {
    const tokens = new TokenStore(new MemoryKeyValueStore());
    await tokens.registrations.put({
      clientId: 'older-dcr',
      tokenEndpointAuthMethod: 'none',
      issuer: ISSUER,
      redirectUri: LOOPBACK,
      source: 'dynamic',
    });
    const grant: TokenRecord = {
      accessToken: new Secret('access'),
      tokenType: 'Bearer',
      obtainedAt: 42,
      scopes: [],
      issuer: ISSUER,
      resource: 'https://mcp.example.com/mcp',
      server: 'github',
      redirectUri: LOOPBACK,
    };
    const oauth = { client_id: undefined, authorization_server: undefined };
    expect(await clientStatus('github', oauth as never, tokens.registrations, [grant])).toEqual([
      {
        clientId: 'older-dcr',
        source: 'dynamic',
        issuer: ISSUER,
        redirectUri: LOOPBACK,
        since: 42,
      },
    ]);
    expect(await forgetRegistrations('github', tokens, [grant])).toBe(1);
    expect(await tokens.registrations.get(ISSUER, LOOPBACK)).toBeUndefined();
  });
});

describe('probeAuthorization', () => {
  const REDIRECT = 'http://127.0.0.1:33418/callback';
  const url = new URL(
    `${ISSUER}/authorize?response_type=code&client_id=kept-client&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=mcp%3Aread&resource=https%3A%2F%2Fmcp.example.com%2Fmcp&state=the-real-state&code_challenge=the-real-challenge&code_challenge_method=S256`,
  );

  function answering(response: () => Response): { fetch: OAuthFetch; sent: Request[] } {
    const sent: Request[] = [];
    const fetch: OAuthFetch = async (input, init) => {
      sent.push(new Request(input, init));
      return response();
    };
    return { fetch, sent };
  }

  test.each([
    ['a JSON error page', () => json({ error: 'invalid_client' }, 400), 'invalid_client'],
    [
      'an HTML error page naming the code',
      () =>
        new Response('<html><body><p><code>invalid_client</code></p></body></html>', {
          status: 400,
          headers: { 'content-type': 'text/html' },
        }),
      'invalid_client',
    ],
    [
      'a redirect back with the error',
      () =>
        new Response(null, {
          status: 302,
          headers: { location: `${REDIRECT}?error=unauthorized_client` },
        }),
      'unauthorized_client',
    ],
  ])('%s: refused', async (_label, response, code) => {
    const { fetch } = answering(response);
    const refused = await probeAuthorization(url, REDIRECT, fetch);
    expect(refused).toBeInstanceOf(OAuthServerError);
    expect(refused?.error).toBe(code);
  });

  test.each([
    [
      'a login page (303 to the interaction)',
      () => new Response(null, { status: 303, headers: { location: '/interaction/abc' } }),
    ],
    ['a login page (200)', () => new Response('<form>Sign in</form>', { status: 200 })],
    ['another OAuth error', () => json({ error: 'invalid_request' }, 400)],
    [
      'a redirect elsewhere carrying invalid_client',
      () =>
        new Response(null, {
          status: 302,
          headers: { location: 'https://elsewhere.example.com/callback?error=invalid_client' },
        }),
    ],
    ['a server error', () => new Response('invalid_client', { status: 500 })],
    ['a word that only contains the code', () => new Response('xinvalid_clientx', { status: 400 })],
  ])('%s: not refused', async (_label, response) => {
    const { fetch } = answering(response);
    expect(await probeAuthorization(url, REDIRECT, fetch)).toBeUndefined();
  });

  test('an unreachable server is not a refusal', async () => {
    const fetch: OAuthFetch = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    expect(await probeAuthorization(url, REDIRECT, fetch)).toBeUndefined();
  });

  test('sends the same request without state and with another challenge, following no redirect', async () => {
    const { fetch, sent } = answering(
      () => new Response(null, { status: 303, headers: { location: '/x' } }),
    );
    await probeAuthorization(url, REDIRECT, fetch);
    expect(sent).toHaveLength(1);
    const probe = new URL(sent[0]?.url ?? '');
    expect(sent[0]?.redirect).toBe('manual');
    expect(probe.searchParams.has('state')).toBe(false);
    expect(probe.searchParams.get('code_challenge')).not.toBe('the-real-challenge');
    for (const name of ['client_id', 'redirect_uri', 'scope', 'resource', 'response_type']) {
      expect(probe.searchParams.get(name)).toBe(url.searchParams.get(name));
    }
  });

  test('an HTML page is not read as a refusal when the request carries the code (an echo)', async () => {
    const echoing = new URL(url);
    echoing.searchParams.set('scope', 'mcp:read invalid_client');
    const { fetch } = answering(
      () => new Response('<p>scope invalid_client is not allowed</p>', { status: 400 }),
    );
    expect(await probeAuthorization(echoing, REDIRECT, fetch)).toBeUndefined();
    // A JSON error still counts: it is the server's own code, not an echo.
    const json = answering(() => Response.json({ error: 'invalid_client' }, { status: 400 }));
    expect((await probeAuthorization(echoing, REDIRECT, json.fetch))?.error).toBe('invalid_client');
  });

  test('reads a bounded prefix of an endless error page', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
      },
    });
    const { fetch } = answering(() => new Response(endless, { status: 400 }));
    expect(await probeAuthorization(url, REDIRECT, fetch)).toBeUndefined();
    expect(pulled).toBeLessThan(64);
  });
});
