/**
 * The hosted per-user sign-in in real headless Chromium: two callers of a served agent (Alice and
 * Bob, each with their own MCP client) call a downstream tool; each is sent a sign-in link
 * (`/internal/oauth/connect?flow=…`) by URL elicitation, and both open it in their own browser at
 * the same moment. The chain is the one users walk: the agent's sign-in check → the callers'
 * authorization server (login, consent) → back to the agent → the downstream realm's
 * authorization server, another origin (login, consent) → the agent's callback. The pages' CSP
 * applies to every hop a form submission leads to, so a `form-action` that does not allow the
 * whole chain stops the browser here (and never a curl-like client).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  delegatedSettings,
  type Inbound,
  type Realm,
  type ServedAgent,
  serveAgent,
  startInbound,
  startRealm,
  subOf,
} from '../app/delegated-support.js';
import { userTokens } from '../server/serve-support.js';
import {
  type BrowserUser,
  browserDescribe,
  type Chromium,
  launchChromium,
} from '../support/chromium.js';

browserDescribe('hosted sign-in in Chromium', () => {
  let chromium: Chromium;
  let inbound: Inbound;
  let realm: Realm;
  let agent: ServedAgent;

  beforeAll(async () => {
    [chromium, inbound, realm] = await Promise.all([
      launchChromium(),
      startInbound(),
      startRealm(),
    ]);
    agent = await serveAgent(delegatedSettings({ realm, inbound }), inbound.port);
  }, 60_000);

  afterAll(async () => {
    await agent?.close();
    await realm?.close();
    await inbound?.as.close();
    await chromium?.close();
  });

  /** Sign in as `user` on the login page in front of `browser`, then approve. */
  async function signInAndApprove(browser: BrowserUser, origin: string, user: string) {
    const { page } = browser;
    await browser.expectHeading('Sign in');
    expect(new URL(page.url()).origin).toBe(origin);
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await browser.expectHeading('Authorize access');
    expect(new URL(page.url()).origin).toBe(origin);
    await page.getByRole('button', { name: 'Approve' }).click();
  }

  /** What one caller's browser does with the link their MCP client was sent: the whole chain. */
  async function walk(browser: BrowserUser, link: string, caller: string): Promise<string> {
    const { page } = browser;
    await browser.until(page.goto(link));
    await signInAndApprove(browser, inbound.as.issuer, caller);
    await signInAndApprove(browser, realm.as.issuer, `${caller}-down`);
    await browser.expectHeading('Signed in');
    return page.url();
  }

  /** A caller's MCP client that accepts a URL elicitation and hands its link to the test. */
  async function caller(name: string) {
    const token = (await userTokens(inbound.as.issuer, inbound.resource, name)).accessToken;
    const client = new Client(
      { name: `browser-test-${name}`, version: '1.0.0' },
      { capabilities: { elicitation: { url: {} } } },
    );
    let received: (url: string) => void = () => {};
    const link = new Promise<string>((resolve) => {
      received = resolve;
    });
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      if (request.params.mode !== 'url') return { action: 'decline' };
      received(request.params.url);
      return { action: 'accept' };
    });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(agent.running.url), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    const call = async (tool: string) =>
      (await client.callTool({ name: tool, arguments: {} })) as CallToolResult;
    return {
      client,
      link,
      call: () => call('down_whoami'),
    };
  }

  test('two callers open their sign-in links at once: each signs in through the agent, their own authorization server and the downstream one, with no CSP violation', async () => {
    const [aliceBrowser, bobBrowser] = await Promise.all([chromium.newUser(), chromium.newUser()]);
    const alice = await caller('alice');
    const bob = await caller('bob');
    try {
      // Each call waits for its caller's sign-in. The hand-overs come one after the other (two at
      // the same instant is the downstream leg of the same race, covered apart); the agent is
      // fresh, so the two browsers opening their links at once also race its sign-in check.
      const aliceCall = alice.call();
      const aliceLink = await alice.link;
      const bobCall = bob.call();
      const bobLink = await bob.link;
      // Awaited below; when a walk fails first, closing the clients ends them.
      for (const call of [aliceCall, bobCall]) call.catch(() => {});
      const ended = await Promise.all([
        walk(aliceBrowser, aliceLink, 'alice'),
        walk(bobBrowser, bobLink, 'bob'),
      ]);
      expect(ended.map((url) => `${new URL(url).origin}${new URL(url).pathname}`)).toEqual([
        `${agent.origin}/internal/oauth/callback`,
        `${agent.origin}/internal/oauth/callback`,
      ]);
      const [aliceResult, bobResult] = await Promise.all([aliceCall, bobCall]);
      expect(aliceResult.isError).toBeFalsy();
      expect(subOf(aliceResult)).toBe('alice-down');
      expect(bobResult.isError).toBeFalsy();
      expect(subOf(bobResult)).toBe('bob-down');
      expect(aliceBrowser.problems).toEqual([]);
      expect(bobBrowser.problems).toEqual([]);
    } finally {
      await alice.client.close();
      await bob.client.close();
    }
  }, 60_000);

  test('an unknown sign-in link shows the agent’s page, in the shared look, with no CSP violation', async () => {
    const browser = await chromium.newUser();
    await browser.until(browser.page.goto(`${agent.origin}/internal/oauth/connect?flow=unknown`));
    await browser.expectHeading('Unknown sign-in');
    const font = await browser.page
      .locator('body')
      .evaluate((body) => body.ownerDocument.defaultView?.getComputedStyle(body).fontFamily ?? '');
    expect(font).toContain('system-ui');
    await browser.until(browser.page.goto(`${agent.origin}/internal/oauth/callback?state=x.y`));
    await browser.expectHeading('Unknown sign-in');
    expect(browser.problems).toEqual([]);
  });
});
