/**
 * Two callers of one served agent (Alice and Bob, tokens from the inbound authorization server)
 * call the same downstream tool of a protected MCP server in another realm: each is asked, by a
 * URL elicitation, to sign in there as their own downstream user; the call then completes with
 * that user's token, the next call needs no sign-in, and the token store keeps one record per
 * caller and none for the app. Nothing of the PKCE verifier, the client secret or the inbound
 * token leaves the agent.
 */
import { readFileSync } from 'node:fs';
import { UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { userTokens } from '../server/serve-support.js';
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
  startInbound,
  startRealm,
  subOf,
  tempStoreDir,
  textOf,
} from './delegated-support.js';

let inbound: Inbound;
let realm: Realm;
let agent: ServedAgent;
let storeDir: ReturnType<typeof tempStoreDir>;
let alice: string;
let bob: string;

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
  alice = (await userTokens(inbound.as.issuer, inbound.resource, 'alice')).accessToken;
  bob = (await userTokens(inbound.as.issuer, inbound.resource, 'bob')).accessToken;
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
  storeDir?.cleanup();
});

describe('two callers, one downstream tool', () => {
  test('each signs in as their own downstream user through a URL elicitation; the downstream sees each one', async () => {
    const aliceClient = await connect(agent.running.url, alice, { signInAs: 'alice-down' });
    const bobClient = await connect(agent.running.url, bob, { signInAs: 'bob-down' });
    try {
      const first = await aliceClient.call('down_whoami');
      expect(first.isError).toBeFalsy();
      expect(subOf(first)).toBe('alice-down');
      expect(aliceClient.log.requests).toHaveLength(1);
      expect(aliceClient.log.requests[0]).toMatchObject({ mode: 'url' });
      expect(aliceClient.log.pages[0]?.status).toBe(200);
      expect(aliceClient.log.pages[0]?.finalUrl.href.startsWith(callbackOf(agent.origin))).toBe(
        true,
      );
      expect(aliceClient.log.pages[0]?.body).toContain('Signed in');

      const bobFirst = await bobClient.call('down_whoami');
      expect(bobFirst.isError).toBeFalsy();
      expect(subOf(bobFirst)).toBe('bob-down');
      expect(bobClient.log.requests).toHaveLength(1);

      // Second calls: no elicitation, each caller's own token again.
      expect(subOf(await aliceClient.call('down_whoami'))).toBe('alice-down');
      expect(subOf(await bobClient.call('down_whoami'))).toBe('bob-down');
      expect(aliceClient.log.requests).toHaveLength(1);
      expect(bobClient.log.requests).toHaveLength(1);

      // The downstream's own record of each call.
      expect(realm.server.calls.map((call) => call.sub)).toEqual([
        'alice-down',
        'bob-down',
        'alice-down',
        'bob-down',
      ]);
    } finally {
      await aliceClient.close();
      await bobClient.close();
    }

    const store = openStore(storeDir.path);
    try {
      const byIdentity = await recordsByIdentity(store);
      expect([...byIdentity.keys()].sort()).toEqual(
        [inbound.identity('alice'), inbound.identity('bob')].sort(),
      );
      expect(byIdentity.get(inbound.identity('alice'))).toHaveLength(1);
      expect(byIdentity.get(inbound.identity('bob'))).toHaveLength(1);
      expect(byIdentity.has('app')).toBe(false);
      for (const records of byIdentity.values()) {
        expect(records[0]?.issuer).toBe(realm.as.issuer);
        expect(records[0]?.resource).toBe(realm.server.url);
      }
    } finally {
      await store.close();
    }
  });

  test('the sign-in URL carries a PKCE challenge but no verifier and no client secret; the downstream never sees an inbound token', async () => {
    const carol = (await userTokens(inbound.as.issuer, inbound.resource, 'carol')).accessToken;
    // A client without URL elicitation: the URL comes back in the error while the flow waits.
    const plain = await connect(agent.running.url, carol);
    const store = openStore(storeDir.path);
    let url: URL;
    try {
      const error = await plain.call('down_whoami').then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(UrlElicitationRequiredError);
      const elicitation = (error as UrlElicitationRequiredError).elicitations[0];
      // The link is the agent's sign-in check; the downstream login behind it is in the store.
      const link = new URL(elicitation?.url ?? '');
      expect(link.origin + link.pathname).toBe(`${agent.origin}/internal/oauth/connect`);
      const flow = await downstreamFlow(store, link);
      url = new URL(flow?.authorizationUrl ?? '');
      expect(flow?.identity).toBe(inbound.identity('carol'));
      const verifier = flow?.codeVerifier.reveal() ?? '';
      expect(verifier.length).toBeGreaterThanOrEqual(43);
      const registrations = readFileSync(storeDir.path, 'utf8');
      const clientSecrets = [...registrations.matchAll(/\\"client_secret\\":\\"([^"\\]+)\\"/g)].map(
        (match) => match[1] as string,
      );
      const shown = JSON.stringify({
        error: (error as Error).message,
        data: (error as UrlElicitationRequiredError).data,
      });
      for (const secret of [verifier, ...clientSecrets]) {
        expect(url.href).not.toContain(secret);
        expect(link.href).not.toContain(secret);
        expect(shown).not.toContain(secret);
      }
      expect(url.origin).toBe(realm.as.issuer);
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(url.searchParams.get('code_challenge')).toBeTruthy();
      expect(url.searchParams.get('redirect_uri')).toBe(callbackOf(agent.origin));
      expect(url.searchParams.has('code_verifier')).toBe(false);
      expect(url.searchParams.has('client_secret')).toBe(false);
      expect(elicitation?.elicitationId).toBe(flow?.flowId);
    } finally {
      await plain.close();
      await store.close();
    }

    // Completed through the elicitation path this time: the same checks on what the client saw.
    const client = await connect(agent.running.url, carol, { signInAs: 'carol-down' });
    try {
      expect(subOf(await client.call('down_whoami'))).toBe('carol-down');
    } finally {
      await client.close();
    }
    const request = client.log.requests[0];
    const elicited = new URL(request?.mode === 'url' ? request.url : '');
    expect(elicited.searchParams.has('code_verifier')).toBe(false);
    expect(elicited.searchParams.has('client_secret')).toBe(false);
    // The elicited link is the sign-in check; it carries only the flow id.
    expect([...elicited.searchParams.keys()]).toEqual(['flow']);

    const inboundTokens = [alice, bob, carol];
    const seen = realm.server.requests.map((entry) => entry.token).filter(Boolean);
    expect(seen.length).toBeGreaterThan(0);
    for (const token of inboundTokens) expect(seen).not.toContain(token);
    for (const call of realm.server.calls) expect(inboundTokens).not.toContain(call.token);
  });
});

describe('isolation between callers', () => {
  test('after others signed in, a new caller is still asked (never given their token); declining stores nothing', async () => {
    const dave = (await userTokens(inbound.as.issuer, inbound.resource, 'dave')).accessToken;
    const declining = await connect(agent.running.url, dave, {
      signInAs: 'dave-down',
      answer: 'decline',
    });
    const callsBefore = realm.server.calls.length;
    try {
      const result = await declining.call('down_whoami');
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain('not accepted');
      expect(declining.log.requests).toHaveLength(1);
      expect(declining.log.pages).toHaveLength(0);
    } finally {
      await declining.close();
    }
    // The downstream ran nothing for Dave: no other caller's token stood in.
    expect(realm.server.calls.length).toBe(callsBefore);
    const store = openStore(storeDir.path);
    try {
      expect((await recordsByIdentity(store)).has(inbound.identity('dave'))).toBe(false);
    } finally {
      await store.close();
    }

    const accepting = await connect(agent.running.url, dave, { signInAs: 'dave-down' });
    try {
      const result = await accepting.call('down_whoami');
      expect(subOf(result)).toBe('dave-down');
      expect(accepting.log.requests).toHaveLength(1);
    } finally {
      await accepting.close();
    }
    const daveCalls = realm.server.calls.slice(callsBefore);
    expect(daveCalls.map((call) => call.sub)).toEqual(['dave-down']);
    const others = realm.server.calls.slice(0, callsBefore).map((call) => call.token);
    expect(others).not.toContain(daveCalls[0]?.token);
  });

  test("two concurrent calls of one caller who is not signed in both complete with that caller's token", async () => {
    const ned = (await userTokens(inbound.as.issuer, inbound.resource, 'ned')).accessToken;
    const client = await connect(agent.running.url, ned, { signInAs: 'ned-down' });
    try {
      const results = await Promise.all([client.call('down_whoami'), client.call('down_whoami')]);
      expect(results.map((result) => [result.isError ?? false, subOf(result)])).toEqual([
        [false, 'ned-down'],
        [false, 'ned-down'],
      ]);
      // One pending sign-in between them: the same URL, whatever the number of elicitations.
      const urls = new Set(
        client.log.requests.map((request) => (request.mode === 'url' ? request.url : '')),
      );
      expect(urls.size).toBe(1);
    } finally {
      await client.close();
    }
  });
});
