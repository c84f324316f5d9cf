/**
 * Our library and CLI log in to an MCP server built with Vercel's `mcp-handler` 2.x (its
 * `withMcpAuth` and `protectedResourceHandler`, on `@modelcontextprotocol/server` v2), served from
 * node:http, with oidc-provider as its authorization server and the plain config a user writes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  headlessConsent,
  openManager,
  openRegistryWith,
  requestsTo,
  resultText,
  tokenRequests,
} from '../oauth/harness.js';
import { followAuthorization } from '../support/browser.js';
import { manualClock } from '../support/clock.js';
import {
  MCP_HANDLER_SCOPE,
  type McpHandlerPeer,
  startMcpHandlerPeer,
} from './support/mcp-handler-peer.js';
import { cliRound, loadPeerConfig } from './support/peer-config.js';
import { recordingFetch } from './support/recording-fetch.js';

let peer: McpHandlerPeer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  peer = await startMcpHandlerPeer();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await peer?.close();
});

describe('mcp-handler (withMcpAuth + protectedResourceHandler, oidc-provider)', () => {
  test('library: discovery from the root document, DCR, PKCE login with the challenged scope, tools, refresh', async () => {
    const loaded = await loadPeerConfig('vercel', peer.url, cleanups);
    const clock = manualClock(Date.now());
    const consent = headlessConsent();
    const http = recordingFetch();
    const { tokens } = openManager(loaded.settings, cleanups, {
      consent,
      now: clock.now,
      fetch: http.fetch,
      cwd: loaded.dir,
    });
    const start = peer.as.requests.length;
    const registry = openRegistryWith(loaded.settings, tokens, cleanups);
    const connection = await registry.connect('vercel');
    const names = (await connection.listTools()).map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['whoami', 'echo']));
    const whoami = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(whoami.sub).toBe('alice');
    expect(whoami.scopes).toContain(MCP_HANDLER_SCOPE);
    expect(resultText(await connection.callTool('echo', { text: 'hello' }))).toBe('hello');
    expect(consent.log.browserErrors).toEqual([]);
    expect(consent.log.outcomes).toEqual(['ok']);

    expect(http.log.map((entry) => `${entry.method} ${entry.path}`)).toEqual(
      expect.arrayContaining(['GET /.well-known/oauth-protected-resource', 'POST /reg']),
    );
    // The scope of the challenge, PKCE, and the origin (the metadata's resource) as resource.
    const authorization = consent.log.urls[0];
    expect(authorization?.searchParams.get('scope')?.split(' ')).toContain(MCP_HANDLER_SCOPE);
    expect(authorization?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization?.searchParams.get('resource')).toBe(peer.origin);
    expect(requestsTo(peer.as.requests.slice(start), '/reg', 'POST')).toHaveLength(1);
    expect(tokenRequests(peer.as.requests.slice(start), 'authorization_code')).toHaveLength(1);

    clock.advance(2 * 3600_000);
    const again = JSON.parse(resultText(await connection.callTool('whoami', {})));
    expect(again.sub).toBe('alice');
    expect(tokenRequests(peer.as.requests.slice(start), 'refresh_token')).toHaveLength(1);
    expect(consent.log.urls).toHaveLength(1);
    // Every request the wrapper let through carried alice's token.
    const passed = peer.requests.filter((request) => request.status < 400);
    expect(passed.length).toBeGreaterThan(0);
    expect(passed.every((request) => request.sub === 'alice')).toBe(true);
  });

  test('CLI: auth login, tools list, tools call in new runs, then a refresh when the token is due', async () => {
    await cliRound('vercel', peer.url, {
      approve: (url) => followAuthorization(url),
      refreshes: () => tokenRequests(peer.as.requests, 'refresh_token').length,
      cleanups,
    });
  });
});
