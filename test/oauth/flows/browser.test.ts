import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { isMcpAgentError } from '../../../src/errors.js';
import {
  assertOpenableUrl,
  browserAvailability,
  openBrowser,
  type Spawn,
} from '../../../src/oauth/flows/browser.js';

const AUTHORIZE =
  'https://as.example/oauth/authorize?response_type=code&client_id=abc&code_challenge=x-Y_z&state=s';

interface Call {
  command: string;
  args: readonly string[];
  options: SpawnOptions;
}

/** A fake `spawn` that records its calls and then emits `outcome` ('spawn', 'error' or 'throw'). */
function fakeSpawn(outcome: 'spawn' | 'error' | 'throw' = 'spawn') {
  const calls: Call[] = [];
  let unrefs = 0;
  const spawn = ((command: string, args: readonly string[], options: SpawnOptions) => {
    calls.push({ command, args, options });
    if (outcome === 'throw') throw new Error('EINVAL');
    const child = Object.assign(new EventEmitter(), {
      unref: () => {
        unrefs++;
      },
    });
    process.nextTick(() =>
      outcome === 'spawn'
        ? child.emit('spawn')
        : child.emit('error', Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' })),
    );
    return child as unknown as ChildProcess;
  }) as unknown as Spawn;
  return { spawn, calls, unrefs: () => unrefs };
}

describe('assertOpenableUrl', () => {
  test.each([
    AUTHORIZE,
    'HTTPS://AS.EXAMPLE/authorize',
    'https://as.example:8443/a/b?x=%3B%7C',
    'http://localhost:8080/authorize?a=1&b=2',
    'http://127.0.0.5/authorize',
    'http://[::1]:9000/authorize',
  ])('accepts %s', (url) => {
    expect(assertOpenableUrl(url)).toBeInstanceOf(URL);
  });

  test.each([
    'javascript:alert(1)',
    'JavaScript://as.example/%0Aalert(1)',
    'data:text/html,<script>alert(1)</script>',
    'data:text/html;base64,PHNjcmlwdD4=',
    'file:///etc/passwd',
    'vbscript:msgbox(1)',
    'ftp://as.example/authorize',
    'ms-settings:',
    'http://as.example/authorize',
    'http://127.0.0.1.nip.io/authorize',
    'http://localhost.evil.example/authorize',
    'https://user:pass@as.example/authorize',
    'https://user@as.example/authorize',
    'https://as.example/authorize?x=$(calc)',
    'https://as.example/authorize?x=`calc`',
    'https://as.example/a;calc',
    'https://as.example/a|calc',
    'https://as.example/a&calc',
    'https://as.example/a"b',
    "https://as.example/a'b",
    'https://as.example/a\\b',
    'https://as.example/<a>',
    ' https://as.example/authorize',
    'https://as.example/authorize\n',
    'https://as.example/auth\torize',
    'https://as.example/auth\u202Eorize',
    'https://as.example/auth\u0000orize',
    'not a url',
    '/relative/authorize',
    '',
  ])('refuses %j with OAUTH_AUTHORIZATION, without echoing it', (url) => {
    let error: unknown;
    try {
      assertOpenableUrl(url);
    } catch (caught) {
      error = caught;
    }
    expect(isMcpAgentError(error, 'OAUTH_AUTHORIZATION')).toBe(true);
    if (url.length > 3) expect((error as Error).message).not.toContain(url);
  });

  const anyUrl = fc.oneof(
    fc.string(),
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9+.-]{0,8}$/), fc.webUrl())
      .map(([scheme, url]) => url.replace(/^https?/, scheme)),
    fc
      .tuple(fc.webUrl(), fc.nat(), fc.constantFrom(...';|&$<>`"\'\\ \t\n\r\u0000\u007f'))
      .map(([url, at, char]) => {
        const i = at % (url.length + 1);
        return url.slice(0, i) + char + url.slice(i);
      }),
  );

  test('never accepts a scheme other than https:, or http: on a loopback host', () => {
    fc.assert(
      fc.property(anyUrl, (url) => {
        let parsed: URL;
        try {
          parsed = assertOpenableUrl(url);
        } catch (error) {
          expect(isMcpAgentError(error, 'OAUTH_AUTHORIZATION')).toBe(true);
          return;
        }
        expect(['https:', 'http:']).toContain(parsed.protocol);
        if (parsed.protocol === 'http:') {
          expect(['localhost', '[::1]']).toContain(
            /^127\./.test(parsed.hostname) ? 'localhost' : parsed.hostname,
          );
        }
        expect(parsed.username + parsed.password).toBe('');
      }),
      { numRuns: 2_000 },
    );
  });

  test('never accepts a string with whitespace, a control character or a shell metacharacter', () => {
    fc.assert(
      fc.property(anyUrl, (url) => {
        let href: string;
        try {
          href = assertOpenableUrl(url).href;
        } catch {
          return;
        }
        for (const text of [url, href]) {
          expect(text).not.toMatch(/[\s\p{Cc};|$<>`"'\\]/u);
        }
        // `&` only as the query's separator.
        const query = new URL(href).search;
        expect(href.replace(query, '')).not.toContain('&');
      }),
      { numRuns: 2_000 },
    );
  });

  test('accepts ordinary https authorization URLs built with URLSearchParams', () => {
    fc.assert(
      fc.property(
        fc.domain(),
        fc.dictionary(fc.string({ minLength: 1 }), fc.string()),
        (host, params) => {
          const url = new URL(`https://${host}/authorize`);
          url.search = new URLSearchParams(params).toString();
          expect(assertOpenableUrl(url.href).href).toBe(url.href);
        },
      ),
    );
  });
});

describe('browserAvailability', () => {
  const desktop = { DISPLAY: ':0' };
  test.each([
    [{}, 'darwin', true],
    [{}, 'win32', true],
    [desktop, 'linux', true],
    [{ WAYLAND_DISPLAY: 'wayland-0' }, 'linux', true],
    [desktop, 'freebsd', true],
    [{}, 'linux', false],
    [{}, 'openbsd', false],
    [{ DISPLAY: '' }, 'netbsd', false],
    [{ BROWSER: 'wslview' }, 'linux', true],
    [{ BROWSER: 'firefox %s' }, 'linux', false],
    [{ CI: 'true' }, 'darwin', false],
    [{ CI: '1' }, 'win32', false],
    [{ CI: 'false' }, 'darwin', true],
    [{ CI: '0' }, 'darwin', true],
    [{ CI: '' }, 'darwin', true],
    [{ SSH_CONNECTION: '10.0.0.1 5000 10.0.0.2 22' }, 'darwin', false],
    [{ SSH_CLIENT: '10.0.0.1 5000 22', ...desktop }, 'linux', false],
    [{ SSH_TTY: '/dev/pts/1' }, 'win32', false],
    [{ BROWSER: 'none' }, 'darwin', false],
    [{ BROWSER: 'FALSE' }, 'win32', false],
  ] as const)('%j on %s → %s', (env, platform, ok) => {
    const result = browserAvailability(env, platform);
    expect(result.ok).toBe(ok);
    if (!result.ok) expect(result.reason).toMatch(/\w/);
  });
});

describe('openBrowser', () => {
  const url = new URL(AUTHORIZE);

  test.each([
    ['darwin', 'open', [AUTHORIZE]],
    ['linux', 'xdg-open', [AUTHORIZE]],
    ['freebsd', 'xdg-open', [AUTHORIZE]],
    ['win32', 'rundll32', ['url.dll,FileProtocolHandler', AUTHORIZE]],
  ] as const)('%s: %s, no shell, the URL one argv element', async (platform, command, args) => {
    const fake = fakeSpawn();
    await expect(openBrowser(url, { platform, env: {}, spawn: fake.spawn })).resolves.toBe(true);
    expect(fake.calls).toHaveLength(1);
    const [call] = fake.calls;
    expect(call?.command).toBe(command);
    expect(call?.args).toEqual(args);
    expect(call?.options.shell === false || call?.options.shell === undefined).toBe(true);
    expect(call?.options).toMatchObject({ stdio: 'ignore', detached: true, windowsHide: true });
    expect(call?.args.filter((arg) => arg === url.href)).toHaveLength(1);
    expect(fake.unrefs()).toBe(1);
  });

  test('win32: rundll32 by full path when SystemRoot is known (no current-directory lookup)', async () => {
    const fake = fakeSpawn();
    await openBrowser(url, {
      platform: 'win32',
      env: { SystemRoot: 'C:\\Windows' },
      spawn: fake.spawn,
    });
    expect(fake.calls[0]?.command).toBe('C:\\Windows\\System32\\rundll32.exe');
    expect(fake.calls[0]?.command).not.toMatch(/cmd|powershell/i);
  });

  test.each([
    ['/usr/bin/firefox', 'linux', '/usr/bin/firefox'],
    ['wslview', 'linux', 'wslview'],
    ['C:\\Tools\\browser.exe', 'win32', 'C:\\Tools\\browser.exe'],
    ['firefox %s', 'linux', 'xdg-open'],
    ['firefox --new-window', 'darwin', 'open'],
    ['firefox;calc', 'linux', 'xdg-open'],
    ['$(calc)', 'linux', 'xdg-open'],
    ['firefox:chromium', 'linux', 'xdg-open'],
    ['C:\\Program Files\\b.exe', 'win32', 'rundll32'],
  ] as const)('BROWSER=%j on %s → %s', async (browser, platform, command) => {
    const fake = fakeSpawn();
    await openBrowser(url, { platform, env: { BROWSER: browser }, spawn: fake.spawn });
    expect(fake.calls[0]?.command).toBe(command);
    expect(fake.calls[0]?.args.at(-1)).toBe(AUTHORIZE);
  });

  test('BROWSER=none: nothing is spawned', async () => {
    const fake = fakeSpawn();
    await expect(
      openBrowser(url, { platform: 'linux', env: { BROWSER: 'none' }, spawn: fake.spawn }),
    ).resolves.toBe(false);
    expect(fake.calls).toHaveLength(0);
  });

  test('a missing launcher resolves false, never throws', async () => {
    for (const outcome of ['error', 'throw'] as const) {
      const fake = fakeSpawn(outcome);
      await expect(
        openBrowser(url, { platform: 'linux', env: {}, spawn: fake.spawn }),
      ).resolves.toBe(false);
    }
  });

  test('the real spawn with a launcher that does not exist resolves false', async () => {
    await expect(
      openBrowser(url, { platform: 'linux', env: { BROWSER: '/nonexistent/launcher-xyz' } }),
    ).resolves.toBe(false);
  });

  test('an unsafe URL is refused before anything is spawned', async () => {
    const fake = fakeSpawn();
    const error = await openBrowser(new URL('file:///etc/passwd'), { spawn: fake.spawn }).catch(
      (e) => e,
    );
    expect(isMcpAgentError(error, 'OAUTH_AUTHORIZATION')).toBe(true);
    expect(fake.calls).toHaveLength(0);
  });
});
