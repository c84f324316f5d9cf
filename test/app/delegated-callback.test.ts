/**
 * The login of a client that cannot open URLs (the URL-elicitation-required error, -32042, then a
 * retry), and the agent's internal callback route itself: no bearer, once only, the whole state,
 * expiry, GET only, and a page that echoes nothing of what it was given.
 */
import { randomBytes } from 'node:crypto';
import {
  ErrorCode,
  McpError,
  UrlElicitationRequiredError,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ownerCookieName, ownerHash } from '../../src/app/connect-route.js';
import { Secret } from '../../src/config/secret.js';
import { newFlowState } from '../../src/stores/flows.js';
import { userTokens } from '../server/serve-support.js';
import { CookieJar } from '../support/browser.js';
import {
  callbackOf,
  connect,
  delegatedSettings,
  downstreamFlow,
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
} from './delegated-support.js';

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

/** A caller's inbound token. */
async function tokenOf(user: string): Promise<string> {
  return (await userTokens(inbound.as.issuer, inbound.resource, user)).accessToken;
}

/** The URL-elicitation-required error a client without URL support gets for `down_whoami`. */
async function urlRequired(token: string): Promise<UrlElicitationRequiredError> {
  const client = await connect(agent.running.url, token);
  try {
    const error = await client.call('down_whoami').then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(UrlElicitationRequiredError);
    return error as UrlElicitationRequiredError;
  } finally {
    await client.close();
  }
}

/** The authorization URL of a fresh hand-over for `user`. */
async function handOverUrl(user: string): Promise<{ url: string; token: string }> {
  const token = await tokenOf(user);
  const error = await urlRequired(token);
  return { url: error.elicitations[0]?.url ?? '', token };
}

/** GET the callback address (with the cookies of `jar`, the browser that went through the check). */
async function open(address: string | URL, method = 'GET', jar?: CookieJar) {
  const url = new URL(address);
  const cookie = jar?.header(url);
  const response = await fetch(url, {
    method,
    redirect: 'manual',
    ...(cookie ? { headers: { cookie } } : {}),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

describe('a client without URL elicitation', () => {
  test('gets -32042 with the URL; the browser lands on the callback ("Signed in"); the retry succeeds', async () => {
    const token = await tokenOf('erin');
    const client = await connect(agent.running.url, token);
    try {
      const error = await client.call('down_whoami').then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(McpError);
      expect((error as McpError).code).toBe(-32042);
      expect((error as McpError).code).toBe(ErrorCode.UrlElicitationRequired);
      // One prefix, the client's own (the SDK's server would otherwise send its prefix too).
      expect((error as McpError).message).toBe(
        'MCP error -32042: Sign in to down so that the agent can use it on your behalf.',
      );
      const data = (error as McpError).data as {
        elicitations: { mode: string; url: string; elicitationId: string; message: string }[];
      };
      expect(data.elicitations).toHaveLength(1);
      const elicitation = data.elicitations[0];
      expect(elicitation?.mode).toBe('url');
      expect(elicitation?.message).toContain('down');
      // The link is the agent's sign-in check (who is at the browser?), then the realm's login.
      const link = new URL(elicitation?.url ?? '');
      expect(link.origin + link.pathname).toBe(`${agent.origin}/internal/oauth/connect`);

      const landed = await signIn(elicitation?.url ?? '', 'erin-down');
      expect(landed.finalUrl.origin + landed.finalUrl.pathname).toBe(callbackOf(agent.origin));
      expect(landed.status).toBe(200);
      expect(landed.body).toContain('Signed in');

      const retried = await client.call('down_whoami');
      expect(retried.isError).toBeFalsy();
      expect(subOf(retried)).toBe('erin-down');
    } finally {
      await client.close();
    }
  });

  test('calling again before signing in hands over the same pending sign-in', async () => {
    const token = await tokenOf('fay');
    const first = await urlRequired(token);
    const second = await urlRequired(token);
    expect(second.elicitations[0]?.url).toBe(first.elicitations[0]?.url);
  });
});

describe('the internal callback route', () => {
  test('needs no bearer, works once, and a replay is a 404 page; the page echoes neither code nor state', async () => {
    const { url, token } = await handOverUrl('gus');
    const callback = callbackOf(agent.origin);
    const jar = new CookieJar();
    const stopped = await signIn(url, 'gus-down', { stopAt: callback, jar });
    const address = stopped.finalUrl;
    const code = address.searchParams.get('code') ?? '';
    const state = address.searchParams.get('state') ?? '';
    expect(code).not.toBe('');
    expect(address.searchParams.get('iss')).toBe(realm.as.issuer);

    // Another browser (no cookie from the sign-in check) cannot complete it, and uses nothing up.
    const stranger = await open(address);
    expect(stranger.status).toBe(403);
    expect(stranger.body).toContain('Not your sign-in');
    const first = await open(address, 'GET', jar);
    expect(first.status).toBe(200);
    expect(first.body).toContain('Signed in');
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    for (const secret of [code, state, ...state.split('.')])
      expect(first.body).not.toContain(secret);

    const replay = await open(address);
    expect(replay.status).toBe(404);
    expect(replay.body).toContain('Unknown sign-in');
    for (const secret of [code, state, ...state.split('.')]) {
      expect(replay.body).not.toContain(secret);
    }

    // The first landing stored Gus's token: his call goes through without another sign-in.
    const client = await connect(agent.running.url, token);
    try {
      expect(subOf(await client.call('down_whoami'))).toBe('gus-down');
    } finally {
      await client.close();
    }
  });

  test('a state with a wrong secret is a 404 and does not use the flow up', async () => {
    const { url } = await handOverUrl('hal');
    const callback = callbackOf(agent.origin);
    const jar = new CookieJar();
    const address = (await signIn(url, 'hal-down', { stopAt: callback, jar })).finalUrl;
    const state = address.searchParams.get('state') ?? '';
    const [flowId] = state.split('.');
    const forged = new URL(address);
    forged.searchParams.set('state', `${flowId}.${randomBytes(32).toString('base64url')}`);
    const refused = await open(forged);
    expect(refused.status).toBe(404);
    expect(refused.body).not.toContain(address.searchParams.get('code') ?? '');

    const bare = new URL(address);
    bare.searchParams.set('state', flowId ?? '');
    expect((await open(bare)).status).toBe(404);
    const none = new URL(address);
    none.searchParams.delete('state');
    expect((await open(none)).status).toBe(404);

    // The real address still completes the flow.
    expect((await open(address, 'GET', jar)).status).toBe(200);
  });

  test('an expired flow is a 404; the same flow unexpired is taken (a bad code then fails with 400, echoing nothing)', async () => {
    // A real registration and flow shape for Ivy, copied under new ids with other expiries.
    const { url } = await handOverUrl('ivy');
    const reader = openStore(storeDir.path);
    const real = await downstreamFlow(reader, url);
    await reader.close();
    expect(real).toBeDefined();
    if (!real) return;

    const past = Date.now() - 10 * 60_000;
    const pastStore = openStore(storeDir.path, () => past);
    const expired = newFlowState();
    try {
      await pastStore.flows.put({
        ...real,
        flowId: expired.flowId,
        state: new Secret(expired.state),
        createdAt: past,
        expiresAt: past + 5 * 60_000,
      });
      // Stored, and good at its own time.
      expect((await pastStore.flows.peek(expired.state))?.flowId).toBe(expired.flowId);
    } finally {
      await pastStore.close();
    }
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    const expiredAt = new URL(callbackOf(agent.origin));
    expiredAt.search = new URLSearchParams({
      code: canary,
      state: expired.state,
      iss: realm.as.issuer,
    }).toString();
    const gone = await open(expiredAt);
    expect(gone.status).toBe(404);
    expect(gone.body).not.toContain(canary);
    expect(gone.body).not.toContain(expired.state.split('.')[1]);

    // The same flow, not expired: the route takes it, and the exchange of the canary code fails.
    const alive = newFlowState();
    const writer = openStore(storeDir.path);
    try {
      await writer.flows.put({
        ...real,
        flowId: alive.flowId,
        state: new Secret(alive.state),
        createdAt: Date.now(),
        expiresAt: Date.now() + 5 * 60_000,
      });
      const aliveAt = new URL(expiredAt);
      aliveAt.searchParams.set('state', alive.state);
      // This browser passed the sign-in check (its cookie is the flow's owner).
      const owner = randomBytes(16).toString('base64url');
      await writer.flows.bindOwner(alive.flowId, ownerHash(owner), Date.now() + 5 * 60_000);
      const browser = new CookieJar();
      browser.store(
        aliveAt,
        new Response(null, {
          headers: { 'set-cookie': `${ownerCookieName(alive.flowId)}=${owner}` },
        }),
      );
      const failed = await open(aliveAt, 'GET', browser);
      expect(failed.status).toBe(400);
      expect(failed.body).toContain('Sign-in failed');
      expect(failed.body).not.toContain(canary);
      expect(failed.body).not.toContain(alive.state.split('.')[1]);
      // Taken once: it is gone now.
      expect(await writer.flows.peek(alive.state)).toBeUndefined();
      expect((await open(aliveAt)).status).toBe(404);
      expect((await recordsByIdentity(writer)).has(inbound.identity('ivy'))).toBe(false);
    } finally {
      await writer.close();
    }
  });

  test('only GET: other methods are 405 and leave the flow in place for its browser', async () => {
    const { url } = await handOverUrl('jo');
    const callback = callbackOf(agent.origin);
    const jar = new CookieJar();
    const address = (await signIn(url, 'jo-down', { stopAt: callback, jar })).finalUrl;
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const refused = await open(address, method, jar);
      expect(refused.status).toBe(405);
      expect(refused.headers.get('allow')).toBe('GET');
    }
    expect((await open(address, 'GET', jar)).body).toContain('Signed in');
  });

  test('the page is the same for an unknown state, a garbage state and no parameters at all', async () => {
    const callback = callbackOf(agent.origin);
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    for (const query of [
      '',
      `?code=${canary}`,
      `?code=${canary}&state=${canary}`,
      `?state=${newFlowState().state}&code=${canary}`,
      `?error=access_denied&state=${canary}`,
    ]) {
      const page = await open(`${callback}${query}`);
      expect(page.status).toBe(404);
      expect(page.body).not.toContain(canary);
      expect(page.headers.get('content-type')).toContain('text/html');
    }
  });
});
