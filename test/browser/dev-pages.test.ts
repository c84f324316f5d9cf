/**
 * The development authorization server's own pages in real headless Chromium, with the flows that
 * lead through them: a CLI login (login page, consent page, then the loopback redirect's result
 * page), a denied one, the device flow (code entry, confirmation, login, consent, success; and its
 * complete URI, which submits itself), a `response_mode=form_post` response, and an error page.
 * Every page must do its job with no CSP violation and in the shared look (its stylesheet
 * applied, which the CSP allows by hash only).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DOWN_SCOPE, type Realm, startRealm } from '../app/delegated-support.js';
import { runCli, tempTree } from '../helpers/cli.js';
import {
  type BrowserUser,
  browserDescribe,
  type Chromium,
  launchChromium,
} from '../support/chromium.js';
import { freePort } from '../support/net.js';

type Json = Record<string, unknown>;

browserDescribe('development authorization server pages in Chromium', () => {
  let chromium: Chromium;
  let realm: Realm;

  beforeAll(async () => {
    [chromium, realm] = await Promise.all([launchChromium(), startRealm()]);
  }, 60_000);

  afterAll(async () => {
    await realm?.close();
    await chromium?.close();
  });

  /** The computed `font-family` of the page's body: the shared stylesheet is applied. */
  async function expectSharedLook(browser: BrowserUser): Promise<void> {
    const font = await browser.page.locator('body').evaluate((body) => {
      const view = body.ownerDocument.defaultView;
      return view ? view.getComputedStyle(body).fontFamily : '';
    });
    expect(font).toContain('system-ui');
  }

  /** Sign in as `user` and press `button` on the consent page. */
  async function signIn(browser: BrowserUser, user: string, button: 'Approve' | 'Deny') {
    const { page } = browser;
    await browser.expectHeading('Sign in');
    await expectSharedLook(browser);
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await browser.expectHeading('Authorize access');
    await expectSharedLook(browser);
    await page.getByRole('button', { name: button }).click();
  }

  /** `mcp-agent auth login down`, its browser step done in `browser`. */
  async function cliLogin(browser: BrowserUser, user: string, button: 'Approve' | 'Deny') {
    const tree = tempTree({
      'mcp_agent.config.yaml': `
mcp:
  servers:
    down:
      transport: streamable_http
      url: ${realm.server.url}
      auth:
        oauth:
          enabled: true
          scopes: [${DOWN_SCOPE}]
oauth:
  loopback_ports: [${await freePort()}]
  token_store:
    backend: memory
`,
    });
    // The CLI goes on as soon as the redirect arrives: the walk may still be reading the page.
    let walked: Promise<string> | undefined;
    const walk = async (url: URL) => {
      await browser.until(browser.page.goto(url.href));
      await signIn(browser, user, button);
      await browser.expectHeading(button === 'Approve' ? 'Signed in' : 'Sign-in did not complete');
      await expectSharedLook(browser);
      return browser.page.url();
    };
    try {
      const result = await runCli(['auth', 'login', 'down'], {
        cwd: tree.dir,
        openBrowser: async (url) => {
          walked = walk(url);
          walked.catch(() => {});
          return true;
        },
      });
      return {
        ...result,
        landed: await (walked ?? Promise.reject(new Error('no browser opened'))),
      };
    } finally {
      tree.cleanup();
    }
  }

  test('a CLI login: login and consent pages, then the loopback result page in the shared look', async () => {
    const browser = await chromium.newUser();
    const login = await cliLogin(browser, 'erin', 'Approve');
    expect(new URL(login.landed).hostname).toBe('127.0.0.1');
    expect(new URL(login.landed).pathname).toBe('/callback');
    expect(login.stdout).toContain('Logged in to "down"');
    expect(login.code).toBe(0);
    expect(browser.problems).toEqual([]);
  });

  test('Deny: the loopback page says the sign-in did not complete, and the CLI says why', async () => {
    const browser = await chromium.newUser();
    const login = await cliLogin(browser, 'fred', 'Deny');
    expect(new URL(login.landed).pathname).toBe('/callback');
    expect(login.code).toBe(1);
    expect(login.stderr).toMatch(/denied/i);
    expect(browser.problems).toEqual([]);
  });

  /** A public device-grant client and a fresh device authorization. */
  async function deviceAuthorization(): Promise<Json> {
    const { issuer } = realm.as;
    const client = (await post(`${issuer}/reg`, {
      client_name: 'browser device test',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'none',
    })) as Json;
    const started = await post(`${issuer}/device/auth`, undefined, {
      client_id: String(client.client_id),
      scope: DOWN_SCOPE,
      resource: realm.server.url,
    });
    return { ...started, client_id: client.client_id };
  }

  /** The device code's token once approved (one request: the approval is already done). */
  async function deviceToken(device: Json): Promise<Json> {
    return post(`${realm.as.issuer}/token`, undefined, {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: String(device.device_code),
      client_id: String(device.client_id),
      resource: realm.server.url,
    });
  }

  test('the device flow: code entry, confirmation, login, consent, success', async () => {
    const browser = await chromium.newUser();
    const { page } = browser;
    const device = await deviceAuthorization();
    await browser.until(page.goto(String(device.verification_uri)));
    await browser.expectHeading('Connect a device');
    await expectSharedLook(browser);
    await page.locator('input[name="user_code"]').fill(String(device.user_code));
    await page.getByRole('button', { name: 'Continue' }).click();
    await browser.expectHeading('Confirm the device');
    await page.getByRole('button', { name: 'Continue' }).click();
    await signIn(browser, 'gina', 'Approve');
    await browser.expectHeading('Device connected');
    await expectSharedLook(browser);
    expect(typeof (await deviceToken(device)).access_token).toBe('string');
    expect(browser.problems).toEqual([]);
  });

  test('the device flow’s complete URI submits itself (its script allowed by hash) to the confirmation', async () => {
    const browser = await chromium.newUser();
    const device = await deviceAuthorization();
    await browser.until(browser.page.goto(String(device.verification_uri_complete)));
    await browser.expectHeading('Confirm the device');
    await expectSharedLook(browser);
    expect(browser.problems).toEqual([]);
  });

  test('response_mode=form_post: the response page posts itself to the client', async () => {
    const browser = await chromium.newUser();
    const client = await formPostClient();
    try {
      const verifier = randomBytes(32).toString('base64url');
      const registered = (await post(`${realm.as.issuer}/reg`, {
        client_name: 'browser form_post test',
        redirect_uris: [client.redirectUri],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'none',
      })) as Json;
      const url = new URL(`${realm.as.issuer}/auth`);
      url.search = new URLSearchParams({
        response_type: 'code',
        response_mode: 'form_post',
        client_id: String(registered.client_id),
        redirect_uri: client.redirectUri,
        scope: DOWN_SCOPE,
        resource: realm.server.url,
        state: 'form-post-state',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      await browser.until(browser.page.goto(url.href));
      await signIn(browser, 'hank', 'Approve');
      await browser.expectHeading('Received');
      const form = await client.received;
      expect(form.get('state')).toBe('form-post-state');
      expect(form.get('code')).toBeTruthy();
      expect(browser.problems).toEqual([]);
    } finally {
      await client.close();
    }
  });

  test('an error page', async () => {
    const browser = await chromium.newUser();
    await browser.until(browser.page.goto(`${realm.as.issuer}/auth?client_id=nobody`));
    await browser.expectHeading('Something went wrong');
    await expectSharedLook(browser);
    expect(browser.problems).toEqual([]);
  });
});

/** POST JSON (`body`) or a form (`form`); the JSON answer. */
async function post(url: string, body?: Json, form?: Record<string, string>): Promise<Json> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
    body: form ? new URLSearchParams(form).toString() : JSON.stringify(body),
  });
  return (await response.json()) as Json;
}

/** A client's redirect URI that takes a form post and answers a plain page. */
async function formPostClient(): Promise<{
  redirectUri: string;
  received: Promise<URLSearchParams>;
  close(): Promise<void>;
}> {
  let receive: (form: URLSearchParams) => void = () => {};
  const received = new Promise<URLSearchParams>((resolve) => {
    receive = resolve;
  });
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    if (req.method === 'POST') receive(new URLSearchParams(body));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!DOCTYPE html><title>Received</title><h1>Received</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    redirectUri: `http://127.0.0.1:${port}/cb`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
