/**
 * A dynamic client registration the authorization server has forgotten (it restarted with its
 * registrations in memory): the real oidc-provider restarted on the same port with a fresh
 * adapter, through the library and through the CLI. The registration is dropped and made again
 * once, the login succeeds; a configured client is never dropped; a pending flow keeps the client
 * it started with; `auth status` shows the registration and `auth logout` forgets it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthorizationServer as AuthorizationServerMetadata } from 'oauth4webapi';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startDevAuthorizationServer } from '../../src/dev/authorization-server.js';
import { AuthorizationRequiredError, McpAgentError } from '../../src/errors.js';
import { resolveClient } from '../../src/oauth/clients.js';
import { prepareAuthorization } from '../../src/oauth/protocol/authorization.js';
import { probeAuthorization } from '../../src/oauth/protocol/authorization-probe.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RegistrationStore } from '../../src/stores/registrations.js';
import { runCli, tempTree } from '../helpers/cli.js';
import {
  type AuthorizationServer,
  type AuthorizationServerRequest,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { manualClock } from '../support/clock.js';
import { loadConfig } from '../support/config.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import {
  field,
  headlessConsent,
  openManager,
  openRegistryWith,
  requestsTo,
  resultText,
  serverAuthOf,
  tokenRequests,
} from './harness.js';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  as = await startAuthorizationServer({ deviceApproval: 'auto' });
  mcp = await startProtectedMcpServer({ issuer: as.issuer, requiredScopes: ['mcp:read'] });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

function configYaml(port: number, oauth: readonly string[] = [], url = mcp.url): string {
  return `
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${url}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
${oauth.map((line) => `          ${line}`).join('\n')}
oauth:
  loopback_ports: [${port}]
  token_store:
    backend: file
    path: ./tokens.json
`;
}

async function settingsFor(oauth: readonly string[] = [], url?: string) {
  const loaded = loadConfig(configYaml(await freePort(), oauth, url));
  cleanups.push(loaded.cleanup);
  return loaded;
}

function since(start: number, server: AuthorizationServer = as): AuthorizationServerRequest[] {
  return server.requests.slice(start);
}

/** The registration requests answered 201. */
function registrations(requests: readonly AuthorizationServerRequest[]) {
  return requestsTo(requests, '/reg', 'POST').filter((request) => request.status === 201);
}

/**
 * The authorization requests: the client_id each named, the answer, and whether it carried a
 * state (the agent's probe of a kept registration does not).
 */
function authorizeClients(requests: readonly AuthorizationServerRequest[]) {
  return requestsTo(requests, '/auth', 'GET').map((request) => ({
    clientId: field(request.query, 'client_id'),
    status: request.status,
    probe: field(request.query, 'state') === undefined,
  }));
}

describe('through the library', () => {
  test('a login after the AS forgot the registration: refused when probed, registered again once, the login succeeds', async () => {
    const { settings, dir } = await settingsFor();
    const consent = headlessConsent();
    const { tokens, store } = openManager(settings, cleanups, { consent, cwd: dir });
    const auth = serverAuthOf(tokens, settings);
    await auth.authorize();
    const issuer = (await auth.target()).key.issuer;
    const redirect = consent.log.urls[0]?.searchParams.get('redirect_uri') ?? '';
    const first = await store.registrations.get(issuer, redirect);
    expect(first?.clientId).toBeTruthy();

    await as.restart();
    const start = as.requests.length;
    const record = await auth.authorize();
    expect(record.issuer).toBe(as.issuer);
    const second = await store.registrations.get(issuer, redirect);
    expect(second?.clientId).toBeTruthy();
    expect(second?.clientId).not.toBe(first?.clientId);
    // One probe with the forgotten client (400 invalid_client), one registration, one
    // authorization with the new client; the person was shown only the working URL.
    expect(registrations(since(start))).toHaveLength(1);
    expect(authorizeClients(since(start))).toEqual([
      { clientId: first?.clientId, status: 400, probe: true },
      { clientId: second?.clientId, status: 303, probe: false },
    ]);
    expect(consent.log.urls.map((url) => url.searchParams.get('client_id'))).toEqual([
      first?.clientId,
      second?.clientId,
    ]);
    expect(field(tokenRequests(since(start), 'authorization_code')[0]?.body, 'client_id')).toBe(
      second?.clientId,
    );

    // The next login reuses the new registration: a probe that passes, no registration.
    const again = as.requests.length;
    await auth.authorize();
    expect(registrations(since(again))).toEqual([]);
    expect(authorizeClients(since(again))).toEqual([
      { clientId: second?.clientId, status: 303, probe: true },
      { clientId: second?.clientId, status: 303, probe: false },
    ]);
  });

  test('a refresh refused with invalid_client forgets the grant and the registration; the next call logs in with a new one', async () => {
    const { settings, dir } = await settingsFor();
    const clock = manualClock(Date.now());
    const consent = headlessConsent();
    const { tokens, store } = openManager(settings, cleanups, {
      consent,
      now: clock.now,
      cwd: dir,
    });
    const auth = serverAuthOf(tokens, settings);
    const first = await auth.authorize();
    const key = (await auth.target()).key;
    const redirect = first.redirectUri ?? '';
    const before = await store.registrations.get(key.issuer, redirect);

    await as.restart();
    clock.advance(2 * 3600_000);
    const start = as.requests.length;
    const registry = openRegistryWith(settings, tokens, cleanups);
    const whoami = JSON.parse(
      resultText(await (await registry.connect('notion')).callTool('whoami', {})),
    );
    expect(whoami.sub).toBe('alice');
    const refresh = tokenRequests(since(start), 'refresh_token');
    expect(refresh.map((request) => request.status)).toEqual([401]);
    expect(registrations(since(start))).toHaveLength(1);
    const after = await store.registrations.get(key.issuer, redirect);
    expect(after?.clientId).not.toBe(before?.clientId);
    // A registration made in this very login is not probed: one authorization only.
    expect(authorizeClients(since(start))).toEqual([
      { clientId: after?.clientId, status: 303, probe: false },
    ]);
    expect(whoami.client_id).toBe(after?.clientId);
  });

  test('a handed-over login after the restart carries a new registration and completes', async () => {
    const { settings, dir } = await settingsFor();
    const { tokens, store } = openManager(settings, cleanups, { cwd: dir });
    const auth = serverAuthOf(tokens, settings);
    const handOver = async () => {
      const error = await auth.authorize().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AuthorizationRequiredError);
      return error as AuthorizationRequiredError;
    };
    const first = await handOver();
    const firstUrl = new URL(first.authorizationUrl);
    const redirect = firstUrl.searchParams.get('redirect_uri') ?? '';
    const walk = await followAuthorization(firstUrl, { stopAtRedirectUri: redirect });
    await auth.completeAuthorization(walk.finalUrl);

    await as.restart();
    const start = as.requests.length;
    const second = await handOver();
    const secondUrl = new URL(second.authorizationUrl);
    const clientId = secondUrl.searchParams.get('client_id');
    expect(clientId).not.toBe(firstUrl.searchParams.get('client_id'));
    expect(registrations(since(start))).toHaveLength(1);
    expect(authorizeClients(since(start))).toEqual([
      { clientId: firstUrl.searchParams.get('client_id'), status: 400, probe: true },
    ]);
    const back = await followAuthorization(secondUrl, { stopAtRedirectUri: redirect });
    const record = await auth.completeAuthorization(back.finalUrl);
    expect(record.issuer).toBe(as.issuer);
    expect((await store.registrations.get(as.issuer, redirect))?.clientId).toBe(clientId);
  });

  test('a pending flow is completed with the client it started with, though the registration was replaced meanwhile', async () => {
    const { settings, dir } = await settingsFor();
    const { tokens, store } = openManager(settings, cleanups, { cwd: dir });
    const auth = serverAuthOf(tokens, settings);
    const handed = await auth.authorize().catch((caught: unknown) => caught);
    expect(handed).toBeInstanceOf(AuthorizationRequiredError);
    const url = new URL((handed as AuthorizationRequiredError).authorizationUrl);
    const started = url.searchParams.get('client_id') ?? '';
    const redirect = url.searchParams.get('redirect_uri') ?? '';

    // Meanwhile another login dropped that registration and registered a new client.
    const target = await auth.target();
    expect(await store.registrations.forget(as.issuer, redirect, started)).toBe(true);
    const replaced = await resolveClient({
      as: target.discovery.authorizationServer,
      redirectUri: redirect,
      registrations: store.registrations,
      fetch: (input, init) => fetch(input, init),
      clientName: 'another caller',
      configPath: 'mcp.servers.notion.auth.oauth',
      server: 'notion',
    });
    expect(replaced.clientId).not.toBe(started);

    const start = as.requests.length;
    const back = await followAuthorization(url, { stopAtRedirectUri: redirect });
    const record = await auth.completeAuthorization(back.finalUrl);
    expect(record.issuer).toBe(as.issuer);
    const exchange = tokenRequests(since(start), 'authorization_code');
    expect(exchange.map((request) => [field(request.body, 'client_id'), request.status])).toEqual([
      [started, 200],
    ]);
    // The registration in the store is the new one, untouched.
    expect((await store.registrations.get(as.issuer, redirect))?.clientId).toBe(replaced.clientId);
  });

  test('an error that arrives at the redirect URI (unauthorized_client) is reported; the registration is kept (front channel)', async () => {
    const { settings, dir } = await settingsFor();
    const base = headlessConsent();
    let shown = 0;
    const consent: typeof base = {
      ...base,
      async showAuthorizationUrl(url, info) {
        shown += 1;
        // The second login's authorization: an error comes back at the redirect URI.
        if (shown !== 2) return base.showAuthorizationUrl(url, info);
        const back = new URL(url.searchParams.get('redirect_uri') ?? '');
        back.search = new URLSearchParams({
          error: 'unauthorized_client',
          state: url.searchParams.get('state') ?? '',
          iss: as.issuer,
        }).toString();
        void fetch(back).catch(() => {});
      },
    };
    const { tokens, store } = openManager(settings, cleanups, { consent, cwd: dir });
    const auth = serverAuthOf(tokens, settings);
    const first = await auth.authorize();
    const redirect = first.redirectUri ?? '';
    const before = await store.registrations.get(as.issuer, redirect);
    const start = as.requests.length;
    const error = await auth.authorize().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).message).toContain('unauthorized_client');
    expect(shown).toBe(2);
    // Anyone holding the flow's state could have sent that: the probe said the client is known.
    expect(registrations(since(start))).toHaveLength(0);
    expect((await store.registrations.get(as.issuer, redirect))?.clientId).toBe(before?.clientId);
  });

  test('a handed-over login whose redirect back says invalid_client keeps the registration; the next hand-over reuses it', async () => {
    const { settings, dir } = await settingsFor();
    const { tokens, store } = openManager(settings, cleanups, { cwd: dir });
    const auth = serverAuthOf(tokens, settings);
    const handed = (await auth.authorize().catch((caught: unknown) => caught)) as Error;
    expect(handed).toBeInstanceOf(AuthorizationRequiredError);
    const url = new URL((handed as AuthorizationRequiredError).authorizationUrl);
    const redirect = url.searchParams.get('redirect_uri') ?? '';
    const kept = await store.registrations.get(as.issuer, redirect);
    const back = new URL(redirect);
    back.search = new URLSearchParams({
      error: 'invalid_client',
      state: url.searchParams.get('state') ?? '',
      iss: as.issuer,
    }).toString();
    const error = await auth.completeAuthorization(back).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).code).toBe('OAUTH_AUTHORIZATION');
    expect((await store.registrations.get(as.issuer, redirect))?.clientId).toBe(kept?.clientId);
    const start = as.requests.length;
    const next = (await auth.authorize().catch((caught: unknown) => caught)) as Error;
    expect(next).toBeInstanceOf(AuthorizationRequiredError);
    expect(registrations(since(start))).toHaveLength(0);
  });

  test('the device endpoint refusing a kept registration: registered again once, the device login completes', async () => {
    const { settings, dir } = await settingsFor(['flow: device']);
    const clock = manualClock(Date.now());
    const { tokens } = openManager(settings, cleanups, {
      consent: headlessConsent({ approveDevices: false }),
      cwd: dir,
      now: clock.now,
      sleep: async (ms) => {
        clock.advance(ms);
        // Let the automatic approval (started by the device authorization) land first.
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    const auth = serverAuthOf(tokens, settings);
    await auth.authorize();
    const firstClient = field(
      requestsTo(as.requests, '/device/auth', 'POST').at(-1)?.body,
      'client_id',
    );

    await as.restart();
    const start = as.requests.length;
    const record = await auth.authorize();
    expect(record.issuer).toBe(as.issuer);
    const device = requestsTo(since(start), '/device/auth', 'POST').map((request) => [
      field(request.body, 'client_id'),
      request.status,
    ]);
    expect(device).toHaveLength(2);
    expect(device[0]).toEqual([firstClient, 401]);
    expect(device[1]?.[0]).not.toBe(firstClient);
    expect(device[1]?.[1]).toBe(200);
    expect(registrations(since(start))).toHaveLength(1);
  });

  test('a configured client the AS refuses is kept, not retried, and the error says to fix client_id and client_secret', async () => {
    const port = await freePort();
    const redirect = `http://127.0.0.1:${port}/callback`;
    const wrongSecret = 'CANARY-wrong-client-secret-9c1d';
    const github = await startAuthorizationServer({
      clients: [
        {
          application_type: 'native',
          redirect_uris: [redirect],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          client_id: 'configured-client',
          client_secret: 'the-right-secret-of-the-configured-client',
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
    });
    const server = await startProtectedMcpServer({ issuer: github.issuer });
    cleanups.push(
      () => github.close(),
      () => server.close(),
    );
    const loaded = loadConfig(
      configYaml(
        port,
        ['client_id: configured-client', `client_secret: ${wrongSecret}`],
        server.url,
      ),
    );
    cleanups.push(loaded.cleanup);
    const { tokens, store } = openManager(loaded.settings, cleanups, {
      consent: headlessConsent(),
      cwd: loaded.dir,
    });
    const auth = serverAuthOf(tokens, loaded.settings);
    const error = await auth.authorize().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    const failure = error as McpAgentError;
    expect(failure.code).toBe('OAUTH_REGISTRATION');
    expect(failure.message).toContain('invalid_client');
    expect(failure.message).toContain('mcp.servers.notion.auth.oauth.client_id');
    expect(failure.message).toContain('client_secret');
    expect(failure.message).not.toContain(wrongSecret);
    // No retry, no registration; the configured client stays bound to its issuer.
    expect(requestsTo(github.requests, '/auth')).toHaveLength(1);
    expect(requestsTo(github.requests, '/reg')).toEqual([]);
    expect(await store.registrations.boundIssuer('notion', 'configured-client')).toBe(
      github.issuer,
    );
    expect(await auth.clients()).toEqual([
      { clientId: 'configured-client', source: 'configured', issuer: github.issuer },
    ]);
  });
});

describe('the development authorization server', () => {
  test('its HTML error page for a client it forgot (restarted) is recognised by the probe', async () => {
    const resources = ['http://127.0.0.1:9/mcp'];
    let dev = await startDevAuthorizationServer({ port: 0, resources });
    cleanups.push(() => dev.close());
    const port = Number(new URL(dev.issuer).port);
    const plainFetch = (input: string | URL, init?: RequestInit) => fetch(input, init);
    const metadata = (await (
      await fetch(`${dev.issuer}/.well-known/oauth-authorization-server`)
    ).json()) as AuthorizationServerMetadata;
    const redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const client = await resolveClient({
      as: metadata,
      redirectUri: redirect,
      registrations: new RegistrationStore(new MemoryKeyValueStore()),
      fetch: plainFetch,
      clientName: 'probe test',
      configPath: 'mcp.servers.notion.auth.oauth',
      server: 'notion',
    });
    const { url } = await prepareAuthorization({
      as: metadata,
      clientId: client.clientId,
      redirectUri: redirect,
      scopes: ['mcp:tools'],
      resource: resources[0],
    });
    expect(await probeAuthorization(url, redirect, plainFetch)).toBeUndefined();

    await dev.close();
    dev = await startDevAuthorizationServer({ port, resources });
    const refused = await probeAuthorization(url, redirect, plainFetch);
    expect(refused?.error).toBe('invalid_client');
  });
});

describe('through the CLI', () => {
  test('auth login after the AS restart succeeds; auth status shows the registration; auth logout forgets it', async () => {
    const tree = tempTree({ 'mcp_agent.config.yaml': configYaml(await freePort()) });
    cleanups.push(tree.cleanup);
    const browser = async (url: URL) => {
      await followAuthorization(url);
      return true;
    };
    const cli = (argv: string[]) =>
      runCli(argv, { cwd: tree.dir, openBrowser: browser }).then((result) => ({
        ...result,
        output: `${result.stdout}\n${result.stderr}`,
      }));
    expect((await cli(['auth', 'login', 'notion'])).code).toBe(0);
    const before = JSON.parse((await cli(['--json', 'auth', 'status', 'notion'])).stdout);
    const firstClient = before.servers[0].clients[0].client_id;

    await as.restart();
    const start = as.requests.length;
    const login = await cli(['auth', 'login', 'notion']);
    expect(login.output).toContain('Logged in to "notion"');
    expect(login.code).toBe(0);
    expect(registrations(since(start))).toHaveLength(1);

    const status = await cli(['--json', 'auth', 'status', 'notion']);
    const clients = JSON.parse(status.stdout).servers[0].clients;
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatchObject({
      obtained: 'dcr',
      issuer: as.issuer,
      redirect_uri: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/callback$/),
    });
    expect(clients[0].client_id).not.toBe(firstClient);
    expect(Date.parse(clients[0].since)).toBeGreaterThan(Date.now() - 60_000);
    const text = await cli(['auth', 'status', 'notion']);
    expect(text.output).toContain(
      `client: ${clients[0].client_id} (registered dynamically at ${as.issuer}`,
    );
    // Never a secret: the file holds none for a public client, and no token value shows.
    expect(text.output).not.toMatch(/secret/i);

    const logout = await cli(['auth', 'logout', 'notion']);
    expect(logout.code).toBe(0);
    expect(logout.output).toContain('the dynamic client registration it used');
    const after = await cli(['--json', 'auth', 'status', 'notion']);
    expect(JSON.parse(after.stdout).servers[0]).toMatchObject({ clients: [], tokens: [] });
    expect((await cli(['auth', 'status', 'notion'])).output).toContain('notion: not logged in');
    const file = join(tree.dir, 'tokens.json');
    const keys = existsSync(file)
      ? Object.keys(JSON.parse(readFileSync(file, 'utf8')).entries as Record<string, unknown>)
      : [];
    expect(keys.filter((key) => key.startsWith('#registration:'))).toEqual([]);
    expect(keys.filter((key) => key.startsWith('#client-use:'))).toEqual([]);

    // And the next login registers afresh.
    const next = as.requests.length;
    expect((await cli(['auth', 'login', 'notion'])).code).toBe(0);
    expect(registrations(since(next))).toHaveLength(1);
  });
});
