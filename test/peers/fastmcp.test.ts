/**
 * Our library and CLI log in to a FastMCP (TypeScript) server protected by its OAuth proxy, with
 * the plain config a user writes: discovery (its 401 names the root metadata document, whose
 * `resource` is the origin), registration at the proxy, PKCE login through its consent page and
 * the upstream oidc-provider, tools listed and called, and a refresh.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { runCli, tempTree } from '../helpers/cli.js';
import {
  headlessConsent,
  openManager,
  openRegistryWith,
  resultText,
  tokenRequests,
} from '../oauth/harness.js';
import { manualClock } from '../support/clock.js';
import { freePort } from '../support/net.js';
import { type FastMcpPeer, startFastMcpPeer } from './support/fastmcp-peer.js';
import { cliRound, loadPeerConfig, peerConfigYaml } from './support/peer-config.js';
import { recordingFetch } from './support/recording-fetch.js';

let peer: FastMcpPeer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  peer = await startFastMcpPeer();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await peer?.close();
});

describe('FastMCP (OAuth proxy in front of oidc-provider)', () => {
  test('library: discovery from the root document, DCR at the proxy, PKCE login, tools, refresh', async () => {
    const loaded = await loadPeerConfig('fastmcp', peer.url, cleanups);
    const clock = manualClock(Date.now());
    const consent = headlessConsent({ browse: (url) => peer.approve(url) });
    const http = recordingFetch();
    const { tokens } = openManager(loaded.settings, cleanups, {
      consent,
      now: clock.now,
      fetch: http.fetch,
      cwd: loaded.dir,
    });
    const registry = openRegistryWith(loaded.settings, tokens, cleanups);
    const connection = await registry.connect('fastmcp');
    const names = (await connection.listTools()).map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['whoami', 'echo']));
    const whoami = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(whoami).toEqual({ sub: 'alice', aud: peer.origin });
    expect(resultText(await connection.callTool('echo', { text: 'hello' }))).toBe('hello');
    expect(consent.log.browserErrors).toEqual([]);
    expect(consent.log.outcomes).toEqual(['ok']);

    // Discovery took the root document the challenge named; registration and the code grant
    // went to FastMCP's proxy, with PKCE (S256) and the origin as resource.
    expect(http.log.map((entry) => `${entry.method} ${entry.path}`)).toEqual(
      expect.arrayContaining([
        'GET /.well-known/oauth-protected-resource',
        'GET /.well-known/oauth-authorization-server',
        'POST /oauth/register',
        'POST /oauth/token',
      ]),
    );
    const authorization = consent.log.urls[0];
    expect(authorization?.origin).toBe(peer.origin);
    expect(authorization?.pathname).toBe('/oauth/authorize');
    expect(authorization?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization?.searchParams.get('resource')).toBe(peer.origin);
    expect(tokenRequests(peer.upstream.requests, 'authorization_code')).toHaveLength(1);

    // An hour later on the client's clock: the token is refreshed (FastMCP refreshes upstream).
    const upstreamRefreshes = tokenRequests(peer.upstream.requests, 'refresh_token').length;
    clock.advance(2 * 3600_000);
    const again = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(again.sub).toBe('alice');
    expect(http.log.filter((entry) => entry.grantType === 'refresh_token')).toHaveLength(1);
    expect(tokenRequests(peer.upstream.requests, 'refresh_token')).toHaveLength(
      upstreamRefreshes + 1,
    );
    expect(consent.log.urls).toHaveLength(1);
  });

  test('doctor: discovery finds the root document and names the resource as it is sent', async () => {
    const tree = tempTree({
      'mcp_agent.config.yaml': peerConfigYaml('fastmcp', peer.url, await freePort()),
    });
    cleanups.push(tree.cleanup);
    const doctor = await runCli(['doctor', 'fastmcp'], { cwd: tree.dir });
    const lines = `${doctor.stdout}${doctor.stderr}`.split('\n');
    expect(lines).toContain(
      `ok   discovery: resource ${peer.origin}; protected-resource metadata found; authorization server ${peer.origin}; PKCE S256 advertised`,
    );
  });

  test('CLI: auth login, tools list, tools call in new runs, then a refresh when the token is due', async () => {
    await cliRound('fastmcp', peer.url, {
      approve: (url) => peer.approve(url),
      // FastMCP's own refresh grant refreshes upstream.
      refreshes: () => tokenRequests(peer.upstream.requests, 'refresh_token').length,
      cleanups,
    });
  });
});
