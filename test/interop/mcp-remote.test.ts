/**
 * `mcp-remote` (npm, run as MCP hosts run it: `mcp-remote URL PORT`, a child process on stdio)
 * against the app served by `createApp`, protected by the development authorization server. It
 * discovers, registers (DCR) with its `http://localhost:PORT/oauth/callback`, prints the
 * authorization URL, which the test follows as the person at the browser (login and consent
 * pages), and proxies MCP between its stdio and our Streamable HTTP endpoint. Its tokens live
 * under `MCP_REMOTE_CONFIG_DIR`; a second run reuses them; an expired access token is refreshed.
 * With `--device-code` it signs in through the device grant instead (RFC 8628).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ServedApp, startServedApp, textOf } from '../server/serve-support.js';
import {
  ADMIN_SCOPE,
  interopApp,
  type McpRemote,
  movableClock,
  PAST_EXPIRY_MS,
  scopesOf,
  startInteropApp,
  startMcpRemote,
} from './support.js';

describe('mcp-remote logs in to the served app and proxies its tools', () => {
  let clock: ReturnType<typeof movableClock>;
  let served: ServedApp;
  let configDir: string;
  let remote: McpRemote | undefined;

  beforeAll(async () => {
    clock = movableClock();
    served = await startInteropApp();
    configDir = mkdtempSync(join(tmpdir(), 'mcp-remote-tokens-'));
  }, 30_000);

  afterAll(async () => {
    await remote?.close();
    await served?.close();
    rmSync(configDir, { recursive: true, force: true });
    clock?.restore();
  });

  test('first run: the printed URL is signed in to, then tools/list and tools/call over stdio', async () => {
    remote = await startMcpRemote(served.resource, { user: 'alice', configDir });
    const [authorization] = remote.authorizationUrls();
    expect(authorization?.origin).toBe(served.as.issuer);
    expect(authorization?.searchParams.get('redirect_uri')).toBe(
      `http://localhost:${remote.callbackPort}/oauth/callback`,
    );
    expect(authorization?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization?.searchParams.get('resource')).toBe(served.resource);
    expect(scopesOf(authorization?.searchParams.get('scope'))).toContain('mcp:tools');

    const names = (await remote.client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['whoami', 'add', 'admin_report']));
    const whoami = JSON.parse(
      textOf(await remote.client.callTool({ name: 'whoami', arguments: {} })),
    );
    expect(whoami).toMatchObject({ subject: 'alice', issuer: served.as.issuer });
    expect(readdirSync(join(configDir, 'mcp-remote-v1'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/_tokens\.json$/)]),
    );
  });

  test('after the access token expired, the next call refreshes without a new sign-in', async () => {
    if (!remote) throw new Error('the first run did not start');
    clock.advance(PAST_EXPIRY_MS);
    const sum = textOf(await remote.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }));
    expect(sum).toBe('42');
    expect(remote.authorizationUrls()).toHaveLength(1);
  });

  test('a tool that needs mcp:admin: mcp-remote steps up with a new sign-in and retries', async () => {
    if (!remote) throw new Error('the first run did not start');
    const report = await remote.client.callTool({ name: 'admin_report', arguments: {} });
    expect(textOf(report)).toBe('Report for alice: all good.');
    const urls = remote.authorizationUrls();
    expect(urls).toHaveLength(2);
    expect(scopesOf(urls[1]?.searchParams.get('scope'))).toEqual(
      expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]),
    );
  });

  test('a second run reuses the stored tokens: no sign-in', async () => {
    await remote?.close();
    remote = await startMcpRemote(served.resource, { user: 'alice', configDir });
    expect(remote.authorizationUrls()).toEqual([]);
    const whoami = JSON.parse(
      textOf(await remote.client.callTool({ name: 'whoami', arguments: {} })),
    );
    expect(whoami.subject).toBe('alice');
  });
});

describe('mcp-remote --device-code (no browser on this machine)', () => {
  let served: ServedApp;
  let remote: McpRemote | undefined;

  beforeAll(async () => {
    served = await startServedApp({ setup: interopApp, autoApprove: true });
  }, 30_000);

  afterAll(async () => {
    await remote?.close();
    await served?.close();
  });

  test('registers for the device grant, prints the verification URL, and calls tools once approved', async () => {
    // mcp-remote waits the grant's polling interval (5 s) before it asks for the token.
    remote = await startMcpRemote(served.resource, { deviceCode: true });
    const [verification] = remote.authorizationUrls();
    expect(verification?.origin).toBe(served.as.issuer);
    expect(verification?.searchParams.get('user_code')).toBeTruthy();
    expect(remote.stderr()).not.toContain('Please authorize this client by visiting');
    const whoami = JSON.parse(
      textOf(await remote.client.callTool({ name: 'whoami', arguments: {} })),
    );
    expect(whoami).toMatchObject({ subject: 'dev', issuer: served.as.issuer });
  }, 30_000);
});
