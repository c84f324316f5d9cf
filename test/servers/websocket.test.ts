import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import { ToolAggregator } from '../../src/servers/aggregator.js';
import type { ServerRegistry } from '../../src/servers/registry.js';
import { runCli } from '../helpers/cli.js';
import { openRegistry, writeConfig } from '../support/config.js';
import { waitFor, within } from '../support/net.js';
import { startWsMcpServer, type WsMcpServer } from '../support/ws-mcp-server.js';

const TOKEN = 'ws-canary-token-9c04e1';
const ORG = 'ws-org-canary-2b8f';
const ENV = { GITHUB_TOKEN: TOKEN, ORG_ID: ORG };

let server: WsMcpServer;
beforeAll(async () => {
  server = await startWsMcpServer({
    require: { authorization: `Bearer ${TOKEN}`, 'x-org-id': ORG },
  });
});
afterAll(() => server?.close());

const cleanups: (() => unknown)[] = [];
beforeEach(() => {
  server.handshakes.length = 0;
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function wsYaml(lines: string[]): string {
  return [
    'mcp:',
    '  servers:',
    '    ws:',
    '      transport: websocket',
    `      url: ${server.url}`,
    ...lines.map((line) => `      ${line}`),
  ].join('\n');
}

const HEADERS = [
  'headers:',
  '  Authorization: "Bearer ${GITHUB_TOKEN}"',
  '  X-Org-Id: "${ORG_ID}"',
];

function registryFor(yaml: string, env: Record<string, string> = ENV): ServerRegistry {
  return openRegistry(yaml, cleanups, { loadEnv: env });
}

function text(result: CallToolResult): string {
  return result.content.map((item) => (item.type === 'text' ? item.text : '')).join('');
}

describe('transport: websocket', () => {
  test('sends the configured headers on the handshake; tools are listed and called', async () => {
    const registry = registryFor(wsYaml(HEADERS));
    const aggregator = new ToolAggregator(registry);
    expect((await aggregator.listTools()).map((tool) => tool.name)).toEqual(['ws_whoami']);
    expect(text(await aggregator.callTool('ws_whoami', {}))).toBe(`org ${ORG}`);
    expect(server.handshakes).toHaveLength(1);
    expect(server.handshakes[0]).toMatchObject({
      method: 'GET',
      path: '/ws',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'x-org-id': ORG,
        'sec-websocket-protocol': 'mcp',
        upgrade: 'websocket',
      },
    });
  });

  test('auth.api_key becomes Authorization: Bearer <key> on the handshake', async () => {
    const registry = registryFor(
      wsYaml(['headers:', '  X-Org-Id: "${ORG_ID}"', 'auth:', '  api_key: "${KEY}"']),
      { ...ENV, KEY: TOKEN },
    );
    const connection = await registry.connect('ws');
    expect(text(await connection.callTool('whoami', {}))).toBe(`org ${ORG}`);
    expect(server.handshakes[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test('closeAll() closes the socket', async () => {
    const registry = registryFor(wsYaml(HEADERS));
    await (await registry.connect('ws')).listTools();
    expect(server.openSockets()).toBe(1);
    await within('registry.closeAll()', registry.closeAll(), 5_000);
    await waitFor('the socket to close', () => (server.openSockets() === 0 ? true : undefined));
  });

  test('the CLI calls a tool over a WebSocket', async () => {
    const tree = writeConfig(wsYaml(HEADERS));
    cleanups.push(tree.cleanup);
    const result = await within(
      'mcp-agent tools call',
      runCli(['tools', 'call', 'ws', 'whoami'], { cwd: tree.dir, env: ENV }),
      5_000,
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`org ${ORG}`);
    expect(result.stdout).not.toContain(TOKEN);
  });

  test('a handshake refused with 401: the connection fails without showing a header value', async () => {
    const registry = registryFor(wsYaml(['headers:', '  Authorization: "Bearer ${GITHUB_TOKEN}"']));
    const error = await registry.connect('ws').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    const { message } = error as McpAgentError;
    expect(message).toMatch(/^Server "ws" at ws:\/\/127\.0\.0\.1:\d+\/ws /);
    expect(message).not.toContain(TOKEN);
    expect(server.handshakes.length).toBeGreaterThan(0);
    expect(server.handshakes.every((h) => h.headers['x-org-id'] === undefined)).toBe(true);
  });

  test('a refused handshake says so and points at the url and headers', async () => {
    const registry = registryFor(wsYaml(['headers:', '  Authorization: "Bearer ${GITHUB_TOKEN}"']));
    const error = await registry.connect('ws').catch((caught: unknown) => caught);
    const { message } = error as McpAgentError;
    // undici's WebSocket reports a failed handshake as a TypeError with an empty message and
    // no status; the sentence must still say what went wrong and what to check.
    expect(message).not.toMatch(/: \.$/);
    expect(message).toMatch(/authentication|handshake|refused/i);
    expect(message).toContain('mcp.servers.ws.');
  });
});
