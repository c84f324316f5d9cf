/**
 * `mcp-agent dev` as users run it (`npm start`: the built bin on examples/agent, here on free
 * ports), a child process: the SDK v1 client and `mcp-remote` sign in on its development
 * authorization server's pages and call the example agent's tools, its own and the aggregated
 * `clock` server's; Ctrl-C (SIGTERM) stops both servers with exit code 0.
 */
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { textOf } from '../server/serve-support.js';
import { waitFor } from '../support/net.js';
import {
  connectWithLogin,
  type DevCommand,
  HeadlessOAuthProvider,
  type McpRemote,
  startDevCommand,
  startMcpRemote,
} from './support.js';

/** The aggregated `now` tool of the example's `clock` server, however names are joined. */
function clockTool(names: readonly string[]): string {
  const name = names.find((each) => each.startsWith('clock') && each.endsWith('now'));
  if (!name) throw new Error(`no clock tool in ${names.join(', ')}`);
  return name;
}

describe('mcp-agent dev (the bin, as npm start runs it) with third-party clients', () => {
  let dev: DevCommand;
  let client: Client | undefined;
  let remote: McpRemote | undefined;

  beforeAll(async () => {
    dev = await startDevCommand();
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    await remote?.close();
    if (!dev) return;
    expect(await dev.stop()).toBe(0);
    expect(dev.stderr()).toContain('Stopping.');
  });

  test('prints the app, the issuer and the resource as JSON; the hint for people on stderr', async () => {
    expect(dev.printed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(dev.printed.resource).toBe(dev.printed.url);
    expect(dev.printed.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // stderr is another pipe: its line may arrive after the JSON document.
    await waitFor(
      'the hint on stderr',
      () => dev.stderr().includes('Connect an MCP client') || undefined,
      5_000,
    );
  });

  test('the SDK v1 client signs in and calls the app’s tool and an aggregated one', async () => {
    const provider = new HeadlessOAuthProvider('alice', 'SDK v1 against mcp-agent dev');
    client = new Client({ name: 'cli-dev-interop', version: '1.0.0' });
    const url = new URL(dev.printed.url);
    await connectWithLogin(
      client,
      () => new StreamableHTTPClientTransport(url, { authProvider: provider }),
      (first) => first.finishAuth(provider.takeCode()),
      UnauthorizedError,
    );
    expect(provider.authorizationUrls[0]?.origin).toBe(dev.printed.issuer);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['whoami', 'add', 'admin_report']));
    const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(whoami).toMatchObject({ subject: 'alice', issuer: dev.printed.issuer });
    const now = textOf(await client.callTool({ name: clockTool(names), arguments: {} }));
    expect(Number.isNaN(Date.parse(now))).toBe(false);
    // Whoever runs `dev` sees the sign-in, without --verbose.
    expect(dev.stderr()).toMatch(/development authorization server: alice signed in \(client /);
  });

  test('mcp-remote signs in (its localhost callback) and calls tools over stdio', async () => {
    remote = await startMcpRemote(dev.printed.url, { user: 'bob' });
    expect(remote.authorizationUrls()).toHaveLength(1);
    const names = (await remote.client.listTools()).tools.map((tool) => tool.name);
    const whoami = JSON.parse(
      textOf(await remote.client.callTool({ name: 'whoami', arguments: {} })),
    );
    expect(whoami).toMatchObject({ subject: 'bob', issuer: dev.printed.issuer });
    const now = textOf(await remote.client.callTool({ name: clockTool(names), arguments: {} }));
    expect(Number.isNaN(Date.parse(now))).toBe(false);
    expect(remote.browserErrors()).toEqual([]);
  });
});
