/**
 * examples/front as its README runs it: `mcp-agent --config examples/front/mcp_agent.config.yaml
 * dev` (in process, free ports) puts the development authorization server in front of
 * `@modelcontextprotocol/server-everything` over stdio. SDK clients (v1 and v2) sign in on its
 * pages and see the server's tools under their own names; `get-env` (tool_scopes by its own name)
 * needs mcp:admin; the server's environment holds its configured setting and no caller's token.
 * Bad input: `--front` naming an unknown server, `--front` with an app module.
 */
import { fileURLToPath } from 'node:url';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError as UnauthorizedV2,
} from '@modelcontextprotocol/client';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningCli, runCli, startCli, tempTree } from '../helpers/cli.js';
import { connectWithLogin, HeadlessOAuthProvider } from '../interop/support.js';
import { textOf, userTokens } from '../server/serve-support.js';
import { EVERYTHING } from '../support/everything.js';
import { waitFor } from '../support/net.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const env = { PATH: process.env.PATH ?? '' };

interface Printed {
  readonly url: string;
  readonly issuer: string;
  readonly resource: string;
  readonly front: string;
}

describe('examples/front: mcp-agent dev in front of server-everything (stdio)', () => {
  let cli: RunningCli;
  let printed: Printed;
  const clients: { close(): Promise<void> }[] = [];
  const tokens: string[] = [];

  beforeAll(async () => {
    cli = startCli(
      [
        '--config',
        'examples/front/mcp_agent.config.yaml',
        '--json',
        'dev',
        '--port',
        '0',
        '--issuer-port',
        '0',
      ],
      { cwd: root, env },
    );
    printed = await waitFor(
      'the JSON line of mcp-agent dev',
      () => {
        try {
          return JSON.parse(cli.stdout()) as Printed;
        } catch {
          return undefined;
        }
      },
      20_000,
    );
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    expect(await cli?.stop()).toBe(0);
  });

  /** A v1 client calling with a token it was given. */
  async function withToken(token: string): Promise<Client> {
    tokens.push(token);
    const client = new Client({ name: 'front-example-static', version: '1.0.0' });
    clients.push(client);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(printed.url), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    return client;
  }

  test('it says what it fronts', () => {
    expect(printed.front).toBe('everything');
    expect(cli.stderr()).not.toContain('not started and not served');
  });

  test('the SDK v1 client signs in, lists the tools under their own names and calls echo', async () => {
    const provider = new HeadlessOAuthProvider('alice', 'front example v1');
    const client = new Client({ name: 'front-example-v1', version: '1.0.0' });
    clients.push(client);
    await connectWithLogin(
      client,
      () => new StreamableHTTPClientTransport(new URL(printed.url), { authProvider: provider }),
      (first) => first.finishAuth(provider.takeCode()),
      UnauthorizedError,
    );
    tokens.push(provider.saved?.access_token ?? '');
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'get-env', 'get-sum']));
    expect(names.filter((name) => name.startsWith('everything'))).toEqual([]);
    const echoed = textOf(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }));
    expect(echoed).toBe('Echo: hi');
    // Prompts and resources keep their own names too, and are reached through them.
    const prompts = (await client.listPrompts()).prompts.map((prompt) => prompt.name);
    expect(prompts).toContain('simple-prompt');
    expect(prompts.filter((name) => name.startsWith('everything'))).toEqual([]);
    const simple = await client.getPrompt({ name: 'simple-prompt' });
    expect(simple.messages.length).toBeGreaterThan(0);
    const [resource] = (await client.listResources()).resources;
    expect(resource?.name.startsWith('everything')).toBe(false);
    const read = await client.readResource({ uri: resource?.uri ?? '' });
    expect(read.contents[0]?.uri).toBe(resource?.uri);
  });

  test('the SDK v2 client signs in and calls get-sum', async () => {
    const provider = new HeadlessOAuthProvider('bob', 'front example v2');
    const client = new ClientV2({ name: 'front-example-v2', version: '1.0.0' });
    clients.push(client);
    await connectWithLogin(
      client,
      () => new TransportV2(new URL(printed.url), { authProvider: provider }),
      (first) => first.finishAuth(provider.takeCallback()),
      UnauthorizedV2,
    );
    tokens.push(provider.saved?.access_token ?? '');
    const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
    expect(textOf(sum)).toContain('42');
  });

  test('get-env needs mcp:admin (403 insufficient_scope); with it, the server’s env has no caller token', async () => {
    const plain = await userTokens(printed.issuer, printed.resource, 'carol');
    const client = await withToken(plain.accessToken);
    await expect(client.callTool({ name: 'get-env', arguments: {} })).rejects.toThrow(
      /insufficient_scope/,
    );
    const admin = await userTokens(printed.issuer, printed.resource, 'dave', 'mcp:tools mcp:admin');
    const allowed = await withToken(admin.accessToken);
    const environment = textOf(await allowed.callTool({ name: 'get-env', arguments: {} }));
    expect(environment).toContain('set-by-the-config');
    expect(tokens.filter(Boolean).length).toBeGreaterThanOrEqual(4);
    for (const token of tokens) if (token) expect(environment).not.toContain(token);
    expect(environment).not.toMatch(/Bearer/i);
  });
});

describe('serve --front with two servers configured', () => {
  const tree = tempTree({
    'mcp_agent.config.yaml': [
      'mcp:',
      '  servers:',
      '    ev:',
      `      command: ${JSON.stringify(process.execPath)}`,
      `      args: [${JSON.stringify(EVERYTHING)}, stdio]`,
      '    never:',
      '      command: no-such-command-front-test',
      '',
    ].join('\n'),
  });
  afterAll(() => tree.cleanup());

  test('serves the named one under its own names; the other is not started, and a warning says so', async () => {
    const cli = startCli(['--json', 'serve', '--port', '0', '--front', 'ev'], {
      cwd: tree.dir,
      env,
    });
    const client = new Client({ name: 'front-serve', version: '1.0.0' });
    try {
      const printed = await waitFor('the JSON line of serve', () => {
        try {
          return JSON.parse(cli.stdout()) as { url: string; front: string; protected: boolean };
        } catch {
          return undefined;
        }
      });
      expect(printed).toMatchObject({ front: 'ev', protected: false });
      expect(cli.stderr()).toContain(
        'front mode serves server "ev" only; not started and not served: "never"',
      );
      await client.connect(new StreamableHTTPClientTransport(new URL(printed.url)));
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toContain('echo');
      expect(names.filter((name) => name.startsWith('ev_'))).toEqual([]);
      // The other server's command would fail to start: nothing about it but the warning.
      expect(cli.stderr()).not.toContain('no-such-command-front-test');
    } finally {
      await client.close();
      expect(await cli.stop()).toBe(0);
    }
  });
});

describe('--front bad input', () => {
  const tree = tempTree({
    'mcp_agent.config.yaml': [
      'mcp:',
      '  servers:',
      '    alpha:',
      '      command: node',
      '    beta:',
      '      command: node',
      '',
    ].join('\n'),
    'app.ts': 'export default () => {};\n',
  });
  afterAll(() => tree.cleanup());

  test('an unknown server: the error lists the configured ones, nothing is served', async () => {
    const result = await runCli(['serve', '--port', '0', '--front', 'gamma'], {
      cwd: tree.dir,
      env,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'front: "gamma" is not a configured server; mcp.servers has "alpha", "beta".',
    );
    expect(result.stdout).toBe('');
  });

  test('with an app module: refused before the module is loaded', async () => {
    const result = await runCli(['serve', '--port', '0', '--front', 'alpha', '--app', 'app.ts'], {
      cwd: tree.dir,
      env,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'front mode serves server "alpha" as it is and nothing else, but an app module is given (--app: app.ts)',
    );
    expect(result.stdout).toBe('');
  });
});
