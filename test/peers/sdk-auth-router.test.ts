/**
 * Our library and CLI log in to an MCP server built with the MCP TypeScript SDK v1's
 * `mcpAuthRouter` (its own authorization server over an in-memory provider) and
 * `requireBearerAuth` on express, with the plain config a user writes: path-inserted metadata,
 * DCR, PKCE login, the resource the server insists on, tools, refresh with rotation.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { headlessConsent, openManager, openRegistryWith, resultText } from '../oauth/harness.js';
import { followAuthorization } from '../support/browser.js';
import { manualClock } from '../support/clock.js';
import { cliRound, loadPeerConfig } from './support/peer-config.js';
import { recordingFetch } from './support/recording-fetch.js';
import {
  SDK_PEER_SCOPE,
  type SdkAuthRouterPeer,
  startSdkAuthRouterPeer,
} from './support/sdk-auth-router-peer.js';

let peer: SdkAuthRouterPeer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  peer = await startSdkAuthRouterPeer();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await peer?.close();
});

const refreshes = () =>
  peer.tokenRequests.filter((request) => request.grantType === 'refresh_token').length;

describe('MCP SDK v1 mcpAuthRouter + requireBearerAuth on express', () => {
  test('library: path-inserted metadata, DCR, PKCE login, tools, refresh', async () => {
    const loaded = await loadPeerConfig('sdk', peer.url, cleanups);
    const clock = manualClock(Date.now());
    const consent = headlessConsent();
    const http = recordingFetch();
    const { tokens } = openManager(loaded.settings, cleanups, {
      consent,
      now: clock.now,
      fetch: http.fetch,
      cwd: loaded.dir,
    });
    const registered = peer.registered.length;
    const registry = openRegistryWith(loaded.settings, tokens, cleanups);
    const connection = await registry.connect('sdk');
    const names = (await connection.listTools()).map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['whoami', 'echo']));
    const whoami = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(whoami).toEqual({ sub: 'alice', scopes: [SDK_PEER_SCOPE], resource: peer.url });
    expect(resultText(await connection.callTool('echo', { text: 'hello' }))).toBe('hello');
    expect(consent.log.browserErrors).toEqual([]);
    expect(consent.log.outcomes).toEqual(['ok']);

    expect(http.log.map((entry) => `${entry.method} ${entry.path}`)).toEqual(
      expect.arrayContaining([
        'GET /.well-known/oauth-protected-resource/mcp',
        'GET /.well-known/oauth-authorization-server',
        'POST /register',
        'POST /token',
      ]),
    );
    expect(peer.registered).toHaveLength(registered + 1);
    const authorization = peer.authorizations.at(-1);
    expect(authorization?.scopes).toEqual([SDK_PEER_SCOPE]);
    expect(authorization?.resource?.href).toBe(peer.url);
    expect(consent.log.urls[0]?.searchParams.get('code_challenge_method')).toBe('S256');

    const before = refreshes();
    clock.advance(2 * 3600_000);
    expect(JSON.parse(resultText(await connection.callTool('whoami', {}))).sub).toBe('alice');
    expect(refreshes()).toBe(before + 1);
    expect(peer.tokenRequests.at(-1)?.resource).toBe(peer.url);
    expect(consent.log.urls).toHaveLength(1);
  });

  test('CLI: auth login, tools list, tools call in new runs, then a refresh when the token is due', async () => {
    await cliRound('sdk', peer.url, {
      approve: (url) => followAuthorization(url),
      refreshes,
      cleanups,
    });
  });
});
