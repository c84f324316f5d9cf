/**
 * Real headless Chromium for the browser tests: Debian's `/usr/bin/chromium` driven through
 * `playwright-core` (no browser download). One browser per test file, one context (a separate
 * cookie jar: a separate person) per user. Every context records console messages, page errors
 * and Content-Security-Policy violations; a test fails on the first `Refused to …` message or
 * `securitypolicyviolation` event, which is how a policy that blocks a real flow shows up (a
 * curl-like client never applies CSP).
 *
 * When Chromium is missing, {@link browserDescribe} fails the file with how to install it when
 * `CI` is set, and otherwise skips it with a line saying so.
 */
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { chromiumBrowser, describeWith } from './services.js';

/** Debian's Chromium (`apt-get install chromium`). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** The command line of every launch: headless, no sandbox (containers), nothing phoning home. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

const chromiumNeed = chromiumBrowser(CHROMIUM_PATH);

/** Whether the browser tests can run here. */
export const chromiumInstalled: boolean = chromiumNeed.available;

/**
 * `describe(name, body)` when Chromium is installed; without it, the rule of every service the
 * tests need (test/support/services.ts): a failure saying how to install it under `CI` (or
 * `MCP_AGENT_TEST_REQUIRE`), elsewhere skipped with a summary line.
 */
export function browserDescribe(name: string, body: () => void): void {
  describeWith(chromiumNeed)(name, body);
}

/** What a context saw that fails a test. */
export class BrowserProblem extends Error {
  override name = 'BrowserProblem';
}

/** One person at the browser: a fresh context (cookies, storage) and its page. */
export interface BrowserUser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every console message, as `type: text`. */
  readonly console: readonly string[];
  /** CSP violations, refusals and page errors seen so far. */
  readonly problems: readonly string[];
  /**
   * `promise`, or a {@link BrowserProblem} as soon as a CSP violation or page error is seen (a
   * blocked form shows nothing at all; without this, the test would just wait for its timeout).
   */
  until<T>(promise: Promise<T>): Promise<T>;
  /**
   * Wait until the page's `<h1>` is `title` (pages that move on by themselves come and go first);
   * fail with the heading and address actually shown, or with the browser's problem.
   */
  expectHeading(title: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A launched Chromium. */
export interface Chromium {
  readonly browser: Browser;
  /** A new context: another person, with no cookies. */
  newUser(): Promise<BrowserUser>;
  close(): Promise<void>;
}

/** Launch Chromium (a fresh temporary profile, removed on close). */
export async function launchChromium(): Promise<Chromium> {
  // playwright-core's launch() always uses a new temporary user-data-dir of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS],
    headless: true,
  });
  const users: BrowserUser[] = [];
  return {
    browser,
    async newUser() {
      const user = await newUser(browser);
      users.push(user);
      return user;
    },
    async close() {
      await Promise.all(users.map((user) => user.close().catch(() => {})));
      await browser.close();
    },
  };
}

/** The name under which pages report `securitypolicyviolation` events to the test. */
const VIOLATION_BINDING = '__mcpAgentCspViolation';

async function newUser(browser: Browser): Promise<BrowserUser> {
  const context = await browser.newContext({ bypassCSP: false, javaScriptEnabled: true });
  const consoleLines: string[] = [];
  const problems: string[] = [];
  let fail: (error: BrowserProblem) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  const problem = (text: string) => {
    problems.push(text);
    fail(new BrowserProblem(`the browser reported: ${text}`));
  };
  context.on('console', (message) => {
    const line = `${message.type()}: ${message.text()}`;
    consoleLines.push(line);
    if (/Refused to|Content Security Policy/i.test(message.text())) problem(line);
  });
  context.on('weberror', (error) => problem(`page error: ${error.error().message}`));
  // Installed by the DevTools protocol, so the pages' own CSP (no scripts) does not stop it.
  await context.exposeBinding(VIOLATION_BINDING, (_source, text: string) =>
    problem(`securitypolicyviolation: ${text}`),
  );
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (event) => {
      globalThis[${JSON.stringify(VIOLATION_BINDING)}]?.(
        event.violatedDirective + ' blocked ' + (event.blockedURI || '(inline)') + ' on ' + event.documentURI,
      );
    });`,
  });
  const page = await context.newPage();
  return {
    context,
    page,
    console: consoleLines,
    problems,
    until: (promise) => Promise.race([promise, failed]),
    async expectHeading(title, timeoutMs = 15_000) {
      const heading = page.getByRole('heading', { level: 1, name: title, exact: true });
      try {
        await Promise.race([heading.waitFor({ timeout: timeoutMs }), failed]);
      } catch (error) {
        if (error instanceof BrowserProblem) throw error;
        const shown = await page
          .locator('h1')
          .first()
          .textContent({ timeout: 1_000 })
          .catch(() => null);
        throw new Error(
          `expected the page "${title}", but the browser shows ${shown === null ? 'no heading' : JSON.stringify(shown)} at ${page.url()}`,
          { cause: error },
        );
      }
    },
    close: () => context.close(),
  };
}
