/**
 * Review proofs for the per-user delegated access (cde4cab..f4ce7d3): each test asserts the
 * behaviour a review found missing, and has passed since the fix.
 */
import { UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { withDelegatedLogin } from '../../../src/app/delegated-login.js';
import { CallerScopes } from '../../../src/client/caller-scopes.js';
import { settingsSchema } from '../../../src/config/schema/settings.js';
import { AuthorizationRequiredError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import { RefreshScheduler } from '../../../src/oauth/scheduler.js';
import type { ServerAuth } from '../../../src/oauth/server-auth.js';
import type { ToolCallContext } from '../../../src/server/mcp-server.js';
import { createHttpStack } from '../../../src/servers/http.js';
import { createTokenStore } from '../../../src/stores/token-store.js';
import { userTokens } from '../../server/serve-support.js';
import { within } from '../../support/net.js';
import {
  connect,
  delegatedSettings,
  type Inbound,
  openStore,
  type Realm,
  recordsByIdentity,
  type ServedAgent,
  serveAgent,
  signIn,
  startInbound,
  startRealm,
  subOf,
  tempStoreDir,
} from '../delegated-support.js';

let inbound: Inbound;
let realm: Realm;
let agent: ServedAgent;
let storeDir: ReturnType<typeof tempStoreDir>;

beforeAll(async () => {
  inbound = await startInbound();
  realm = await startRealm();
  storeDir = tempStoreDir();
  agent = await serveAgent(
    delegatedSettings({
      realm,
      inbound,
      oauth: { token_store: { backend: 'file', path: storeDir.path } },
    }),
    inbound.port,
  );
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
  storeDir?.cleanup();
});

const tokenOf = async (user: string) =>
  (await userTokens(inbound.as.issuer, inbound.resource, user)).accessToken;

describe('review: callback binding', () => {
  test("Mallory's sign-in URL opened by Alice: the check finds Alice at the browser, not Mallory, and stops it; nothing is connected", async () => {
    const mallory = await tokenOf('mallory');
    const client = await connect(agent.running.url, mallory);
    try {
      const error = await client.call('down_whoami').then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(UrlElicitationRequiredError);
      const url = (error as UrlElicitationRequiredError).elicitations[0]?.url ?? '';
      // The link is the agent's sign-in check, not the downstream server's page.
      expect(new URL(url).pathname).toBe('/internal/oauth/connect');
      // Mallory sends the link to Alice. Alice's browser signs in to the callers' authorization
      // server as alice: the check compares her with the caller who started it and stops.
      const landed = await signIn(url, 'alice-down', { inboundUser: 'alice' });
      expect(landed.status).toBe(403);
      expect(landed.body).toContain('Not your sign-in');

      const store = openStore(storeDir.path);
      const byIdentity = await recordsByIdentity(store);
      await store.close();
      expect(byIdentity.has(inbound.identity('mallory'))).toBe(false);
      // Mallory is asked again; she never acts as alice-down.
      await expect(client.call('down_whoami')).rejects.toBeInstanceOf(UrlElicitationRequiredError);
    } finally {
      await client.close();
    }
  });
});

describe('review: shared_preconfigured_token', () => {
  test("when the shared token is refused, no caller is handed the app's sign-in (their account would become every caller's)", async () => {
    const dir = tempStoreDir();
    const shared = await serveAgent(
      delegatedSettings({
        realm,
        inbound,
        oauth: { token_store: { backend: 'file', path: dir.path } },
        serverOAuth: { access_token: 'revoked-service-token', shared_preconfigured_token: true },
      }),
    );
    try {
      const mallory = await connect(shared.running.url, await tokenOf('mallory'), {
        signInAs: 'mallory-down',
      });
      const asMallory = await mallory.call('down_whoami');
      await mallory.close();
      const bob = await connect(shared.running.url, await tokenOf('bob'));
      const asBob = await bob.call('down_whoami').catch(() => undefined);
      await bob.close();
      // Docs (hosting.md): on a shared server "no caller is asked to log in"; every caller acts
      // as the configured service account, never as another caller's personal account.
      expect({
        malloryAsked: mallory.log.requests.length,
        malloryActsAs: asMallory.isError ? undefined : subOf(asMallory),
        bobActsAs: asBob && !asBob.isError ? subOf(asBob) : undefined,
      }).toEqual({ malloryAsked: 0, malloryActsAs: undefined, bobActsAs: undefined });
    } finally {
      await shared.close();
      dir.cleanup();
    }
  });
});

function scopesFor(now: () => number) {
  const settings = settingsSchema.parse({
    mcp: {
      servers: {
        down: {
          transport: 'streamable_http',
          url: 'http://127.0.0.1:9/mcp',
          auth: { oauth: { enabled: true } },
        },
      },
    },
  });
  const http = createHttpStack({});
  const store = createTokenStore(settings.oauth.token_store);
  const scopes = new CallerScopes({
    settings,
    store,
    http,
    env: {},
    logger: silentLogger,
    clientName: 'review',
    callbackUrl: () => undefined,
    backgroundRefresh: true,
    idleMs: 1_000,
    now,
  });
  return {
    scopes,
    close: async () => {
      await scopes.close();
      await http.close();
    },
  };
}

describe('review: background refresh shared with callers', () => {
  test("closing an idle caller's scope leaves the app's refresh scheduler running", async () => {
    let t = 1_000_000;
    const { scopes, close } = scopesFor(() => t);
    try {
      const scheduler = scopes.app.tokens.scheduler as RefreshScheduler;
      expect(scheduler).toBeDefined();
      const alice = scopes.forIdentity('iss#alice');
      const closed = vi.spyOn(alice.tokens, 'close');
      t += 5_000; // alice idle beyond idleMs
      scopes.forIdentity('iss#bob'); // the sweep closes alice's scope → tokens.close()
      expect(closed).toHaveBeenCalled();
      await scheduler.watch({
        name: 'down',
        nextRefreshAt: async () => Date.now() + 60_000,
        refreshIfDue: async () => 'not-needed',
      } as never);
      expect(scheduler.isWatching('down')).toBe(true);
    } finally {
      await close();
    }
  });

  test('a scheduler shared by several identities keeps one entry per identity and server', async () => {
    const timers: { fn: () => void; ms: number }[] = [];
    const scheduler = new RefreshScheduler({
      now: () => 0,
      timers: {
        set: (fn: () => void, ms: number) => {
          timers.push({ fn, ms });
          return timers.length;
        },
        clear: () => {},
      } as never,
    });
    const refreshed: string[] = [];
    const bothRefreshed = new Promise<void>((resolve) => {
      let count = 0;
      scheduler.on((event) => {
        if (event.type === 'refreshed' && ++count === 2) resolve();
      });
    });
    const target = (who: string, at: number) =>
      ({
        name: 'down',
        identity: who,
        nextRefreshAt: async () => at,
        refreshIfDue: async () => {
          refreshed.push(who);
          return 'refreshed';
        },
      }) as never;
    await scheduler.watch(target('alice', 100));
    await scheduler.watch(target('bob', 200));
    for (const timer of timers) timer.fn();
    await within('both refreshes', bothRefreshed, 5_000);
    scheduler.stop();
    expect(refreshed.sort()).toEqual(['alice', 'bob']);
  });
});

describe('review: the wait for a sign-in', () => {
  test('a sign-in whose callback failed ends the wait at once, with one status read per poll (no store scan)', async () => {
    const loginTimeoutMs = 1_500;
    const handed = new AuthorizationRequiredError({
      server: 'down',
      issuer: 'https://as.example',
      authorizationUrl: 'https://as.example/authorize?state=x',
      flowId: 'x'.repeat(22),
      expiresAt: Date.now() + loginTimeoutMs,
    });
    let reads = 0;
    const auth = {
      loginTimeoutMs,
      // The callback came (error=access_denied, or a bad code) and recorded the failure.
      signInStatus: async () => {
        reads += 1;
        return 'failed';
      },
    } as unknown as ServerAuth;
    const context: ToolCallContext = {
      caller: undefined,
      signal: new AbortController().signal,
      elicitUrl: async () => 'accept',
    };
    const started = Date.now();
    const result = await withDelegatedLogin(
      'down',
      auth,
      context,
      () => undefined,
      async () => {
        throw handed;
      },
      { pollMs: 50 },
    );
    expect(result.isError).toBe(true);
    // The failed sign-in is reported at once (one status read), not after the flow timeout.
    expect({ elapsed: Date.now() - started < 500, reads }).toEqual({ elapsed: true, reads: 1 });
  });
});
