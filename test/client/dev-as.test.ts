/**
 * `createAgentAuth` against the real development authorization server (oidc-provider, with its
 * login and consent pages) protecting the interop app: the exported interactive consent (the
 * CLI's, as a library) with the person's browser played headlessly, then `connect()`, `status()`
 * and `logout()`; a login that a framework's request timeout gave up on goes on, and the next
 * request uses its token; and a handed-over login started in one `AgentAuth` and completed in
 * another that shares the token file (another process, as `mcp-agent auth complete` would be).
 */
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { createAgentAuth } from '../../src/client/agent-auth.js';
import { interactiveConsent } from '../../src/client/consent-interactive.js';
import type { SettingsInput } from '../../src/config/schema/settings.js';
import { AuthorizationRequiredError } from '../../src/errors.js';
import { tempTree } from '../helpers/cli.js';
import { startInteropApp } from '../interop/support.js';
import { type ServedApp, signIn, textOf } from '../server/serve-support.js';
import { freePort } from '../support/net.js';

let served: ServedApp;
const tree = tempTree();
const closing: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  served = await startInteropApp();
}, 30_000);

afterAll(async () => {
  await Promise.all(closing.map((each) => each.close()));
  await served?.close();
  tree.cleanup();
});

async function settings(store: Record<string, unknown>): Promise<SettingsInput> {
  return {
    mcp: {
      servers: {
        served: {
          transport: 'streamable_http',
          url: served.resource,
          auth: { oauth: { enabled: true } },
        },
      },
    },
    oauth: { token_store: store, loopback_ports: [await freePort()] },
  } as SettingsInput;
}

describe('the interactive consent with a real authorization server', () => {
  test('login through the pages, then connect(), status() and logout(); the output shows no token', async () => {
    let written = '';
    const auth = createAgentAuth({
      settings: await settings({ backend: 'memory' }),
      env: {},
      consent: interactiveConsent({
        output: { write: (text: string) => (written += text) },
        openBrowser: async (url) => {
          // The person signs in; the browser then loads the loopback callback.
          void signIn(url, 'alice');
          return true;
        },
      }),
    });
    closing.push(auth);
    const login = await auth.login('served');
    expect(login).toMatchObject({ identity: 'app', loggedIn: true, hasRefreshToken: true });
    expect(login.scopes).toContain('mcp:tools');
    expect(written).toMatch(/To authorize server "served" \(scopes: [^)]*mcp:tools[^)]*\) at /);
    expect(written).toContain('Authorization received.');

    const client = await auth.connect('served');
    const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(whoami).toMatchObject({ subject: 'alice', issuer: served.as.issuer });

    const status = await auth.status();
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({ server: 'served', identity: 'app', expired: false });
    const [logout] = await auth.logout('served');
    expect(logout).toMatchObject({ server: 'served', forgotten: 1 });
    expect(await auth.status()).toEqual([]);
    expect(written + JSON.stringify({ login, status })).not.toMatch(/eyJ|"access_token"/);
  });
});

describe("a framework's request timeout", () => {
  test('does not cut a login off: it goes on, and the next connection uses its token', async () => {
    let openTheBrowser: () => void = () => {};
    const browserOpened = new Promise<void>((resolve) => {
      openTheBrowser = resolve;
    });
    const urls: URL[] = [];
    const auth = createAgentAuth({
      settings: await settings({ backend: 'memory' }),
      env: {},
      consent: interactiveConsent({
        output: { write: () => true },
        openBrowser: async (url) => {
          urls.push(url);
          // The person takes longer than the framework waits.
          void browserOpened.then(() => signIn(url, 'frank'));
          return true;
        },
      }),
    });
    closing.push(auth);
    const server = auth.server('served');
    const impatient = new Client({ name: 'impatient', version: '1.0.0' });
    const gaveUp = await impatient
      .connect(new StreamableHTTPClientTransport(server.url, { fetch: server.fetch }), {
        timeout: 300,
      })
      .catch((error: unknown) => error);
    expect(String(gaveUp)).toMatch(/timed out|timeout/i);
    await impatient.close();

    openTheBrowser();
    await vi.waitFor(async () => expect(await auth.status('served')).toHaveLength(1), {
      timeout: 10_000,
    });
    const client = new Client({ name: 'after the login', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(server.url, { fetch: server.fetch }));
    const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(whoami.subject).toBe('frank');
    expect(urls).toHaveLength(1);
    await client.close();
  });
});

describe('a handed-over login completed by another AgentAuth sharing the token file', () => {
  test('started in one, completed in the other, used by the first', async () => {
    const store = { backend: 'file', path: join(tree.dir, 'tokens.json') };
    const first = createAgentAuth({ settings: await settings(store), env: {}, cwd: tree.dir });
    const second = createAgentAuth({ settings: await settings(store), env: {}, cwd: tree.dir });
    closing.push(first, second);

    const handed = await first
      .forUser('erin')
      .login('served')
      .catch((error: unknown) => error);
    expect(handed).toBeInstanceOf(AuthorizationRequiredError);
    const { authorizationUrl } = handed as AuthorizationRequiredError;
    const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri') ?? '';
    const browser = await signIn(authorizationUrl, 'erin', { stopAtRedirectUri: redirectUri });
    const result = await second.forUser('erin').completeLogin('served', browser.finalUrl);
    expect(result).toMatchObject({ identity: 'erin', loggedIn: true });

    const client = await first.forUser('erin').connect('served');
    const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(whoami.subject).toBe('erin');
    expect(await first.status()).toEqual([]);
  });
});
