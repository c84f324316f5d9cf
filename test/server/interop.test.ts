/**
 * `mcp-agent serve` run in process: with authorization off (tools served without a token), and
 * its listen errors. Third-party clients logging in to `serve`/`dev`: test/interop/.
 */
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningCli, startCli } from '../helpers/cli.js';
import { waitFor } from '../support/net.js';
import { textOf } from './serve-support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = ['--config', 'examples/agent/mcp_agent.config.yaml'];
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };

function startCommand(argv: string[]): RunningCli {
  return startCli(argv, { cwd: root, env, homeDir: `${root}/.home-that-does-not-exist` });
}

describe('mcp-agent serve', () => {
  test('with authorization off: says so, and serves tools without a token', async () => {
    const cli = startCommand([...CONFIG, 'serve', '--port', '0']);
    let client: Client | undefined;
    try {
      const line = await waitFor(
        'the serving line',
        () => cli.stdout().match(/Serving MCP at (\S+) \(authorization is off[^\n]*/) ?? undefined,
        15_000,
      );
      expect(line[0]).toContain('anyone who can reach it may call its tools');
      const url = new URL(line[1] as string);
      expect((await fetch(new URL('/.well-known/oauth-protected-resource', url))).status).toBe(404);
      client = new Client({ name: 'serve-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(url));
      const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
      expect(whoami).toEqual({ subject: 'anonymous', issuer: null, scopes: [] });
      // No scopes when authorization is off: admin_report is served too.
      expect(textOf(await client.callTool({ name: 'admin_report', arguments: {} }))).toContain(
        'all good',
      );
      const now = textOf(await client.callTool({ name: 'clock_now', arguments: {} }));
      expect(Number.isNaN(Date.parse(now))).toBe(false);
    } finally {
      await client?.close();
      expect(await cli.stop()).toBe(0);
    }
  }, 30_000);

  describe('listen errors', () => {
    let taken: Server;
    let port: number;
    beforeAll(async () => {
      taken = createServer();
      await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
      port = (taken.address() as { port: number }).port;
    });
    afterAll(() => new Promise((done) => taken.close(done)));

    test('a port in use: a clear error, exit code 2', async () => {
      const cli = startCommand([...CONFIG, 'serve', '--port', String(port)]);
      const code = await cli.done;
      expect(code).toBe(2);
      expect(cli.stderr()).toContain(`Port 127.0.0.1:${port} is in use; pick another with --port.`);
      expect(cli.stderr()).not.toContain('This is a bug');
    }, 30_000);

    test('dev with its --issuer-port in use: the same clear error, naming --issuer-port', async () => {
      const cli = startCommand([...CONFIG, 'dev', '--port', '0', '--issuer-port', String(port)]);
      expect(await cli.done).toBe(2);
      expect(cli.stderr()).toContain(
        `Port 127.0.0.1:${port} is in use; pick another with --issuer-port.`,
      );
      expect(cli.stderr()).not.toContain('This is a bug');
    }, 30_000);

    test('--port abc: a usage error, exit code 2', async () => {
      const cli = startCommand([...CONFIG, 'serve', '--port', 'abc']);
      expect(await cli.done).toBe(2);
      expect(cli.stderr()).toContain('--port must be a port number (0-65535), not "abc".');
    });
  });
});
