import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import * as z from 'zod';
import { REDACTED } from '../../src/config/secret.js';
import { McpAgentError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { ToolAggregator } from '../../src/servers/aggregator.js';
import type { ServerRegistry } from '../../src/servers/registry.js';
import { runCli } from '../helpers/cli.js';
import { type OpenRegistryOptions, openRegistry, q, writeConfig } from '../support/config.js';
import { EVERYTHING, type EverythingServer, startEverything } from '../support/everything.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';
import { waitFor, within } from '../support/net.js';

type Transport = 'stdio' | 'sse' | 'streamable_http';

let sseServer: EverythingServer | undefined;
let httpServer: EverythingServer | undefined;

beforeAll(async () => {
  [sseServer, httpServer] = await Promise.all([
    startEverything('sse'),
    startEverything('streamableHttp'),
  ]);
});

afterAll(async () => {
  await Promise.all([sseServer?.stop(), httpServer?.stop()]);
});

/** Things to undo after each test (registries to close, directories to remove). */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The YAML of server `ev` on `transport`, plus `extra` lines (indented under the server). */
function evServer(transport: Transport, extra: string[] = []): string {
  const lines =
    transport === 'stdio'
      ? [`command: ${q(process.execPath)}`, `args: [${q(EVERYTHING)}, stdio]`]
      : transport === 'sse'
        ? ['transport: sse', `url: ${sseServer?.origin}/sse`]
        : ['transport: streamable_http', `url: ${httpServer?.origin}/mcp`];
  return ['mcp:', '  servers:', '    ev:', ...[...lines, ...extra].map((l) => `      ${l}`)].join(
    '\n',
  );
}

/** Load `yaml` and open a registry on it; both are cleaned up after the test. */
function registryFor(yaml: string, options: OpenRegistryOptions = {}): ServerRegistry {
  return openRegistry(yaml, cleanups, options);
}

function text(result: CallToolResult): string {
  return result.content.map((item) => (item.type === 'text' ? item.text : '')).join('');
}

/** A logger that keeps every line. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (message: string) => {
    lines.push(message);
  };
  return { lines, debug: add, info: add, warn: add, error: add };
}

describe.each<Transport>(['stdio', 'sse', 'streamable_http'])(
  'server-everything over %s',
  (transport) => {
    test('lists its tools as SERVER_TOOL and calls echo and get-sum by those names', async () => {
      const aggregator = new ToolAggregator(registryFor(evServer(transport)));
      const names = (await aggregator.listTools()).map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(['ev_echo', 'ev_get-sum', 'ev_get-env']));
      expect(names.every((name) => /^ev_[A-Za-z0-9_-]{1,61}$/.test(name))).toBe(true);

      const echo = await aggregator.callTool('ev_echo', { message: 'hi' });
      expect(echo.isError).toBeFalsy();
      expect(text(echo)).toBe('Echo: hi');
      const sum = await aggregator.callTool('ev_get-sum', { a: 2, b: 40 });
      expect(text(sum)).toBe('The sum of 2 and 40 is 42.');
    });
  },
);

async function cliEcho(transport: Transport): Promise<void> {
  const tree = writeConfig(evServer(transport));
  cleanups.push(tree.cleanup);
  const args = ['tools', 'call', 'ev', 'echo', '{"message":"hi"}'];
  // The bound catches a CLI that never exits (an SSE stream left open); it starts two Node
  // processes, which under a loaded CI run took more than 2 s, so it is not a speed check.
  const cli = (argv: string[]) =>
    within(`mcp-agent ${argv.join(' ')}`, runCli(argv, { cwd: tree.dir, env: {} }), 10_000);

  const human = await cli(args);
  expect(human).toMatchObject({ code: 0, stdout: 'Echo: hi\n' });
  expect(human.stderr).not.toContain('Echo: hi');

  const json = await cli([...args, '--json']);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({ content: [{ type: 'text', text: 'Echo: hi' }] });
  expect(json.stderr).not.toContain('Echo');
}

describe('tools call on the CLI', () => {
  test.each<Transport>(['stdio', 'streamable_http'])(
    'over %s: the text on stdout, or the raw result with --json',
    (transport) => cliEcho(transport),
  );

  test('over sse it returns (closing the connection ends its event stream)', () => cliEcho('sse'));
});

describe('tools list on the CLI', () => {
  test('prints the namespaced tools, and with --json their schemas', async () => {
    const tree = writeConfig(evServer('streamable_http'));
    cleanups.push(tree.cleanup);
    const human = await runCli(['tools', 'list', 'ev'], { cwd: tree.dir, env: {} });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ev_echo +Echoes back the input string$/m);

    const json = await runCli(['tools', 'list', '--json'], { cwd: tree.dir, env: {} });
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { tools: { name: string; inputSchema: unknown }[] };
    expect(doc.tools.find((tool) => tool.name === 'ev_get-sum')).toMatchObject({
      server: 'ev',
      tool: 'get-sum',
      inputSchema: { type: 'object', required: ['a', 'b'] },
    });
  });
});

describe('the environment of a stdio server', () => {
  const TOKEN = 'xoxb-canary-env-0f9d2c';
  const PARENT_ONLY = 'parent-only-canary-7b1e';
  const OTHER = 'other-parent-canary-3a5c';
  /** What the registry gets as the parent environment. */
  const parent = { PATH: process.env.PATH ?? '', PARENT_ONLY, OTHER_PARENT: OTHER };

  async function childEnv(extra: string[]): Promise<Record<string, string>> {
    const registry = registryFor(
      evServer('stdio', ['env:', '  SLACK_BOT_TOKEN: "${SLACK_BOT_TOKEN}"', ...extra]),
      { loadEnv: { SLACK_BOT_TOKEN: TOKEN }, env: parent },
    );
    const result = await new ToolAggregator(registry).callTool('ev_get-env', {});
    return JSON.parse(text(result)) as Record<string, string>;
  }

  test('the configured env reaches the child; the parent-only variables do not', async () => {
    expect(process.env.VITEST).toBeDefined(); // so the last assertion means something
    const env = await childEnv([]);
    expect(env.SLACK_BOT_TOKEN).toBe(TOKEN);
    expect(env.PATH).toBe(parent.PATH);
    expect(env).not.toHaveProperty('PARENT_ONLY');
    expect(env).not.toHaveProperty('OTHER_PARENT');
    expect(env).not.toHaveProperty('VITEST');
  });

  test('env_passthrough passes the variables it names, and only those', async () => {
    const env = await childEnv(['env_passthrough: [PARENT_ONLY]']);
    expect(env.PARENT_ONLY).toBe(PARENT_ONLY);
    expect(env.SLACK_BOT_TOKEN).toBe(TOKEN);
    expect(env).not.toHaveProperty('OTHER_PARENT');
  });

  test('inherit_env: true passes the whole parent environment given to the registry', async () => {
    const env = await childEnv(['inherit_env: true']);
    expect(env.PARENT_ONLY).toBe(PARENT_ONLY);
    expect(env.OTHER_PARENT).toBe(OTHER);
    expect(env.SLACK_BOT_TOKEN).toBe(TOKEN);
    expect(env).not.toHaveProperty('VITEST'); // the registry's env, not process.env
  });

  test("the child's stderr reaches the logger line by line, with its secrets redacted", async () => {
    const logger = recordingLogger();
    const script =
      "process.stderr.write('first line\\ntoken is ' + process.env.SLACK_BOT_TOKEN + '\\n')";
    const registry = registryFor(
      [
        'mcp:',
        '  servers:',
        '    noisy:',
        `      command: ${q(process.execPath)}`,
        `      args: ["-e", ${q(script)}]`,
        '      env:',
        '        SLACK_BOT_TOKEN: "${SLACK_BOT_TOKEN}"',
      ].join('\n'),
      { loadEnv: { SLACK_BOT_TOKEN: TOKEN }, logger },
    );
    const error = await registry.connect('noisy').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).message).toContain('exited before it answered');
    expect((error as McpAgentError).message).not.toContain(TOKEN);
    await waitFor('the second stderr line', () =>
      logger.lines.some((line) => line.includes('token is')) ? true : undefined,
    );
    expect(logger.lines).toContain('[noisy] first line');
    expect(logger.lines).toContain(`[noisy] token is ${REDACTED}`);
    expect(logger.lines.join('\n')).not.toContain(TOKEN);
  });
});

describe('allowed_tools', () => {
  const yaml = () => evServer('streamable_http', ['allowed_tools: [echo, get-sum]']);

  test('only the allowed tools are listed, and another one cannot be called', async () => {
    const aggregator = new ToolAggregator(registryFor(yaml()));
    expect((await aggregator.listTools()).map((tool) => tool.name).sort()).toEqual([
      'ev_echo',
      'ev_get-sum',
    ]);
    expect(text(await aggregator.callTool('ev_echo', { message: 'ok' }))).toBe('Echo: ok');
    const error = await aggregator.callTool('ev_get-env', {}).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'TOOL_UNKNOWN',
      message: 'Tool "get-env" of server "ev" is not in mcp.servers.ev.allowed_tools.',
    });
  });

  test('the CLI refuses a tool that is not allowed, with exit code 2', async () => {
    const tree = writeConfig(yaml());
    cleanups.push(tree.cleanup);
    const result = await runCli(['tools', 'call', 'ev', 'get-env'], { cwd: tree.dir, env: {} });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: Tool "get-env" of server "ev" is not in mcp.servers.ev.allowed_tools.',
    );
    const list = await runCli(['tools', 'list', 'ev'], { cwd: tree.dir, env: {} });
    expect(list.stdout).not.toContain('ev_get-env');
  });
});

describe('servers list', () => {
  const c = (n: number) => `canary-servers-list-${n}-e4d1`;
  const yaml = [
    'mcp:',
    '  servers:',
    '    plain:',
    '      command: npx',
    '      args: [-y, some-server]',
    '    slack:',
    '      command: npx',
    '      env:',
    `        SLACK_BOT_TOKEN: ${c(1)}`,
    '    github:',
    '      transport: sse',
    '      url: https://api.example.com/sse?key=query-canary',
    '      headers:',
    `        Authorization: "Bearer ${c(2)}"`,
    '    keyed:',
    '      transport: http',
    '      url: https://keyed.example.com/mcp',
    '      auth:',
    `        api_key: ${c(3)}`,
    '    oauthy:',
    '      transport: streamable_http',
    '      url: https://oauth.example.com/mcp',
    '      headers:',
    `        X-Extra: ${c(4)}`,
    '      auth:',
    '        oauth:',
    '          enabled: true',
    `          client_secret: ${c(5)}`,
    '    open:',
    '      transport: websocket',
    '      url: ws://127.0.0.1:9/ws',
  ].join('\n');

  test('shows name, transport, auth mode and endpoint, never a credential', async () => {
    const tree = writeConfig(yaml);
    cleanups.push(tree.cleanup);
    const human = await runCli(['servers', 'list'], { cwd: tree.dir, env: {} });
    expect(human.code).toBe(0);
    const rows = human.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s{2,}/));
    expect(rows).toEqual([
      ['NAME', 'TRANSPORT', 'AUTH', 'ENDPOINT'],
      ['plain', 'stdio', 'none', 'command "npx"'],
      ['slack', 'stdio', 'env', 'command "npx"'],
      ['github', 'sse', 'headers', 'https://api.example.com/sse'],
      ['keyed', 'streamable_http', 'headers', 'https://keyed.example.com/mcp'],
      ['oauthy', 'streamable_http', 'oauth', 'https://oauth.example.com/mcp'],
      ['open', 'websocket', 'none', 'ws://127.0.0.1:9/ws'],
    ]);

    const json = await runCli(['servers', 'list', '--json'], { cwd: tree.dir, env: {} });
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { servers: { name: string; auth: string }[] };
    expect(doc.servers.map((row) => [row.name, row.auth])).toEqual([
      ['plain', 'none'],
      ['slack', 'env'],
      ['github', 'headers'],
      ['keyed', 'headers'],
      ['oauthy', 'oauth'],
      ['open', 'none'],
    ]);
    for (const output of [human.stdout, human.stderr, json.stdout, json.stderr]) {
      expect(output).not.toMatch(/canary/);
    }
  });
});

describe('notifications/tools/list_changed', () => {
  let server: McpHttpServer;
  beforeAll(async () => {
    server = await startMcpHttpServer({
      setup: (mcp) => {
        let grown = false;
        mcp.registerTool(
          'grow',
          {
            description: 'Adds the tool "new-tool"',
            inputSchema: { label: z.string().optional() },
          },
          () => {
            if (!grown) {
              grown = true;
              mcp.registerTool('new-tool', { description: 'Added by grow' }, () => ({
                content: [{ type: 'text', text: 'new' }],
              }));
            }
            return { content: [{ type: 'text', text: 'grown' }] };
          },
        );
      },
    });
  });
  afterAll(() => server.close());

  test.each<['sse' | 'streamable_http', string]>([
    ['sse', '/sse'],
    ['streamable_http', '/mcp'],
  ])(
    'over %s: onToolsChanged fires and listTools() then has the new tool',
    async (transport, path) => {
      const registry = registryFor(
        `mcp:\n  servers:\n    own:\n      transport: ${transport}\n      url: ${server.origin}${path}\n`,
      );
      const connection = await registry.connect('own');
      expect((await connection.listTools()).map((tool) => tool.name).sort()).toEqual([
        'grow',
        'whoami',
      ]);
      if (transport === 'streamable_http') {
        // Notifications outside a request travel on the GET stream the client opens after
        // initialising; wait until it is there, or the server has nowhere to send them.
        await waitFor('the standalone GET stream', () =>
          server.openStreams('/mcp') > 0 ? true : undefined,
        );
      }
      const aggregator = new ToolAggregator(registry);
      const changedServers: string[] = [];
      const unsubscribe = await aggregator.onToolsChanged((name) => changedServers.push(name));
      const changed = new Promise<void>((resolve) => connection.onToolsChanged(resolve));

      expect(text(await connection.callTool('grow', {}))).toBe('grown');
      await within('notifications/tools/list_changed', changed, 5_000);
      expect(changedServers).toEqual(['own']);
      expect((await connection.listTools()).map((tool) => tool.name).sort()).toEqual([
        'grow',
        'new-tool',
        'whoami',
      ]);
      expect((await aggregator.listTools()).map((tool) => tool.name)).toContain('own_new-tool');
      expect(text(await aggregator.callTool('own_new-tool', {}))).toBe('new');
      unsubscribe();
    },
  );
});
