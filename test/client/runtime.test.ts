/**
 * What `openClientRuntime` (behind `createAgentAuth` and the CLI's session) shares between the
 * agent's own scope and its end users': the token store, the discovery cache, the HTTP stack and,
 * when asked, the background refresh scheduler; an end user's scope pushed out of the cache leaves
 * the scheduler (its servers unwatched) while the scheduler goes on for the others.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { type ClientRuntime, openClientRuntime } from '../../src/client/runtime.js';
import { resolveSettings } from '../../src/client/settings.js';
import { Secret } from '../../src/config/secret.js';
import { silentLogger } from '../../src/logger.js';
import { APP_IDENTITY } from '../../src/oauth/server-auth.js';
import { fakeSettings, fakeWorld } from './fake-world.js';

const runtimes: ClientRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
});

function open(options: { usersRefreshInBackground?: boolean; maxUsers?: number } = {}) {
  const world = fakeWorld();
  const runtime = openClientRuntime(resolveSettings({ settings: fakeSettings() }).settings, {
    env: {},
    logger: silentLogger,
    clientName: 'runtime test',
    clientInfo: { name: 'runtime test', version: '1' },
    fetch: world.fetch,
    ...options,
  });
  runtimes.push(runtime);
  return { runtime, world };
}

describe('what the scopes share', () => {
  test('one store, one discovery cache, one HTTP stack; with background refresh, one scheduler', () => {
    const { runtime } = open({ usersRefreshInBackground: true });
    const app = runtime.scopes.app;
    const alice = runtime.scopes.forIdentity('alice');
    expect(alice.tokens.discoveryCache).toBe(app.tokens.discoveryCache);
    expect(app.tokens.scheduler).toBeDefined();
    expect(alice.tokens.scheduler).toBe(app.tokens.scheduler);
  });

  test('without it (the CLI, createApp), end users are refreshed before use only', () => {
    const { runtime } = open();
    expect(runtime.scopes.forIdentity('alice').tokens.scheduler).toBeUndefined();
  });

  test('a user pushed out of the cache leaves the shared scheduler; the app stays watched', async () => {
    const { runtime } = open({ usersRefreshInBackground: true, maxUsers: 1 });
    const settings = runtime.settings.mcp.servers.docs;
    if (!settings) throw new Error('no docs server');
    const scheduler = runtime.scopes.app.tokens.scheduler;
    // The configured token is the app's; a user adopts one of their own.
    await runtime.scopes.app.tokens.forServer('docs', settings)?.token();
    const alice = runtime.scopes.forIdentity('alice').tokens.forServer('docs', settings);
    await alice?.adoptToken({
      accessToken: new Secret('alice-token'),
      refreshToken: new Secret('alice-refresh'),
      expiresAt: Date.now() + 3_600_000,
    });
    await vi.waitFor(() => {
      expect(scheduler?.isWatching('docs', 'alice')).toBe(true);
      expect(scheduler?.isWatching('docs', APP_IDENTITY)).toBe(true);
    });
    runtime.scopes.forIdentity('bob');
    expect(scheduler?.isWatching('docs', 'alice')).toBe(false);
    expect(scheduler?.isWatching('docs', APP_IDENTITY)).toBe(true);
  });

  test('a user pushed out while a request of theirs is in flight is not watched again when it gets its token', async () => {
    const { runtime } = open({ usersRefreshInBackground: true, maxUsers: 1 });
    const settings = runtime.settings.mcp.servers.docs;
    if (!settings) throw new Error('no docs server');
    const scheduler = runtime.scopes.app.tokens.scheduler;
    // Alice's request holds her ServerAuth while bob pushes her out (her scope closed) ...
    const alice = runtime.scopes.forIdentity('alice').tokens.forServer('docs', settings);
    runtime.scopes.forIdentity('bob');
    // ... then her request obtains its token: it is used, but not scheduled for refresh.
    await alice?.adoptToken({
      accessToken: new Secret('alice-token'),
      refreshToken: new Secret('alice-refresh'),
      expiresAt: Date.now() + 3_600_000,
    });
    expect((await alice?.token())?.reveal()).toBe('alice-token');
    await scheduler?.watch(alice as NonNullable<typeof alice>);
    expect(scheduler?.isWatching('docs', 'alice')).toBe(false);
    expect(alice?.closed).toBe(true);
    // Back again, alice gets a new scope, which is watched as usual.
    const again = runtime.scopes.forIdentity('alice').tokens.forServer('docs', settings);
    expect(again).not.toBe(alice);
    await again?.token();
    await vi.waitFor(() => expect(scheduler?.isWatching('docs', 'alice')).toBe(true));
  });
});

describe('identities the token store cannot keep apart', () => {
  test('two identities that differ by a lone surrogate never share tokens: the store refuses them', async () => {
    const { runtime } = open();
    const settings = runtime.settings.mcp.servers.docs;
    if (!settings) throw new Error('no docs server');
    const a = runtime.scopes.forIdentity('user-\uD800').tokens.forServer('docs', settings);
    const b = runtime.scopes.forIdentity('user-\uDBFF').tokens.forServer('docs', settings);
    const adopted = a?.adoptToken({
      accessToken: new Secret('canary-user-a-token'),
      expiresAt: Date.now() + 3_600_000,
    });
    await expect(adopted).rejects.toMatchObject({ code: 'USAGE' });
    const got = await b?.token().then(
      (token) => token?.reveal(),
      (error: unknown) => error,
    );
    expect(got).not.toBe('canary-user-a-token');
    expect(got).toMatchObject({ code: 'USAGE' });
  });
});
