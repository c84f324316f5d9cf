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
import { Secret } from '../../src/config/secret.js';
import { newFlowState } from '../../src/stores/flows.js';
import { userTokens } from '../server/serve-support.js';
import {
  callbackOf,
  confirmConnection,
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

/** The URL-elicitation-required error a client without URL support gets for `down/whoami`. */
async function urlRequired(token: string): Promise<UrlElicitationRequiredError> {
  const client = await connect(agent.running.url, token);
  try {
    const error = await client.call('down/whoami').then(
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

/** GET the callback address with no credentials; the status and page. */
async function open(address: string | URL, method = 'GET') {
  const response = await fetch(address, { method, redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Open the callback address, then answer the agent's confirmation page with `decision`. */
async function openAndConfirm(address: URL, decision: 'connect' | 'cancel' = 'connect') {
  const shown = await open(address);
  expect(shown.status).toBe(200);
  expect(shown.body).toContain('Connect your');
  return confirmConnection({ finalUrl: address, status: shown.status, body: shown.body }, decision);
}

describe('a client without URL elicitation', () => {
  test('gets -32042 with the URL; the browser lands on the callback ("Signed in"); the retry succeeds', async () => {
    const token = await tokenOf('erin');
    const client = await connect(agent.running.url, token);
    try {
      const error = await client.call('down/whoami').then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(McpError);
      expect((error as McpError).code).toBe(-32042);
      expect((error as McpError).code).toBe(ErrorCode.UrlElicitationRequired);
      const data = (error as McpError).data as {
        elicitations: { mode: string; url: string; elicitationId: string; message: string }[];
      };
      expect(data.elicitations).toHaveLength(1);
      const elicitation = data.elicitations[0];
      expect(elicitation?.mode).toBe('url');
      expect(elicitation?.message).toContain('down');
      expect(new URL(elicitation?.url ?? '').origin).toBe(realm.as.issuer);

      const landed = await signIn(elicitation?.url ?? '', 'erin-down');
      expect(landed.finalUrl.origin + landed.finalUrl.pathname).toBe(callbackOf(agent.origin));
      expect(landed.status).toBe(200);
      expect(landed.body).toContain('Signed in');

      const retried = await client.call('down/whoami');
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
    const stopped = await signIn(url, 'gus-down', { stopAt: callback });
    const address = stopped.finalUrl;
    const code = address.searchParams.get('code') ?? '';
    const state = address.searchParams.get('state') ?? '';
    expect(code).not.toBe('');
    expect(address.searchParams.get('iss')).toBe(realm.as.issuer);

    // First a confirmation naming the agent user the account will serve; it carries the response
    // back (a POST), and is never cached or referred.
    const confirmation = await open(address);
    expect(confirmation.status).toBe(200);
    expect(confirmation.body).toContain('Connect your down account?');
    expect(confirmation.body).toContain('on behalf of gus');
    expect(confirmation.headers.get('cache-control')).toBe('no-store');
    expect(confirmation.headers.get('referrer-policy')).toBe('no-referrer');
    expect(confirmation.headers.get('content-security-policy')).toContain("form-action 'self'");
    expect(confirmation.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const first = await confirmConnection(
      { finalUrl: address, status: confirmation.status, body: confirmation.body },
      'connect',
    );
    expect(first.status).toBe(200);
    expect(first.body).toContain('Signed in');
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
      expect(subOf(await client.call('down/whoami'))).toBe('gus-down');
    } finally {
      await client.close();
    }
  });

  test('a state with a wrong secret is a 404 and does not use the flow up', async () => {
    const { url } = await handOverUrl('hal');
    const callback = callbackOf(agent.origin);
    const address = (await signIn(url, 'hal-down', { stopAt: callback })).finalUrl;
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
    expect((await open(address)).status).toBe(200);
  });

  test('an expired flow is a 404; the same flow unexpired is taken (a bad code then fails with 400, echoing nothing)', async () => {
    // A real registration and flow shape for Ivy, copied under new ids with other expiries.
    const { url } = await handOverUrl('ivy');
    const reader = openStore(storeDir.path);
    const real = await reader.flows.peek(new URL(url).searchParams.get('state') ?? '');
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
      const failed = await openAndConfirm(aliveAt);
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

  test('GET shows the confirmation, POST answers it; other methods are 405; none uses the flow up unanswered', async () => {
    const { url } = await handOverUrl('jo');
    const callback = callbackOf(agent.origin);
    const address = (await signIn(url, 'jo-down', { stopAt: callback })).finalUrl;
    for (const method of ['PUT', 'DELETE']) {
      const refused = await open(address, method);
      expect(refused.status).toBe(405);
      expect(refused.headers.get('allow')).toBe('GET, POST');
    }
    // A POST without an answer (no decision, no state): nothing is taken.
    expect((await open(address, 'POST')).status).toBe(404);
    expect((await openAndConfirm(address)).body).toContain('Signed in');
  });

  test('Cancel on the confirmation: nothing is connected and the flow is gone', async () => {
    const { url, token } = await handOverUrl('kit');
    const callback = callbackOf(agent.origin);
    const address = (await signIn(url, 'kit-down', { stopAt: callback })).finalUrl;
    const cancelled = await openAndConfirm(address, 'cancel');
    expect(cancelled.body).toContain('Nothing was connected');
    expect((await open(address)).status).toBe(404);
    const reader = openStore(storeDir.path);
    try {
      expect((await recordsByIdentity(reader)).has(inbound.identity('kit'))).toBe(false);
    } finally {
      await reader.close();
    }
    const client = await connect(agent.running.url, token);
    try {
      await expect(client.call('down/whoami')).rejects.toMatchObject({ code: -32042 });
    } finally {
      await client.close();
    }
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
