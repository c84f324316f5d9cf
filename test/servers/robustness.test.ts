import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import type { ServerRegistry } from '../../src/servers/registry.js';
import { runCli } from '../helpers/cli.js';
import { openRegistry, q, writeConfig } from '../support/config.js';
import { EVERYTHING } from '../support/everything.js';
import { echoRequest, type Stub, startHttpStub } from '../support/stub-servers.js';

const NODE = process.execPath;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function registryFor(yaml: string, env: Record<string, string> = {}) {
  return openRegistry(yaml, cleanups, { loadEnv: env, env: { PATH: process.env.PATH ?? '' } });
}

async function openError(registry: ServerRegistry, name: string): Promise<McpAgentError> {
  const error = await registry.connect(name).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(McpAgentError);
  return error as McpAgentError;
}

describe('opening has one deadline', () => {
  let silentSse: Stub;
  let silentTcp: TcpServer;
  let tcpPort: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // An event stream that never sends the SSE `endpoint` event.
    silentSse = await startHttpStub((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': nothing to say\n\n');
    });
    // A TCP server that accepts and never answers (a WebSocket handshake that never completes).
    silentTcp = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silentTcp.listen(0, '127.0.0.1', resolve));
    tcpPort = (silentTcp.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await silentSse?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silentTcp?.close(resolve));
  });

  test('an SSE server that never sends its endpoint', async () => {
    const registry = registryFor(
      `mcp:\n  servers:\n    quiet:\n      transport: sse\n      url: ${silentSse.url}/sse\n      read_timeout_seconds: 1\n`,
    );
    const started = Date.now();
    const error = await openError(registry, 'quiet');
    expect(error.code).toBe('SERVER_TIMEOUT');
    expect(error.message).toMatch(/did not finish opening within 1 s/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test('a WebSocket handshake that never completes', async () => {
    const registry = registryFor(
      `mcp:\n  servers:\n    ws:\n      transport: websocket\n      url: ws://127.0.0.1:${tcpPort}/ws\n      read_timeout_seconds: 1\n`,
    );
    const error = await openError(registry, 'ws');
    expect(error.code).toBe('SERVER_TIMEOUT');
  });
});

describe('stdio servers that are a little untidy', () => {
  test('one banner line on stdout before MCP is tolerated', async () => {
    const script = `process.stdout.write('Server ready on stdio\\n'); await import(${q(EVERYTHING)});`;
    const registry = registryFor(
      `mcp:\n  servers:\n    b:\n      command: ${q(NODE)}\n      args: ["--input-type=module", "-e", ${q(script)}, "stdio"]\n`,
    );
    const connection = await registry.connect('b');
    const result = await connection.callTool('echo', { message: 'ok' });
    expect(result.content[0]).toMatchObject({ text: 'Echo: ok' });
  });
});

describe('a url with the wrong scheme', () => {
  test.each([
    [
      'streamable_http',
      'htp://127.0.0.1:9/mcp',
      /scheme "htp:", but transport streamable_http needs http: or https:/,
    ],
    ['sse', 'ws://127.0.0.1:9/sse', /scheme "ws:", but transport sse needs http: or https:/],
    [
      'websocket',
      'http://127.0.0.1:9/ws',
      /scheme "http:", but transport websocket needs ws: or wss:/,
    ],
  ])(
    '%s with %s names the scheme and the transport, not "null"',
    async (transport, url, expected) => {
      const registry = registryFor(
        `mcp:\n  servers:\n    s:\n      transport: ${transport}\n      url: "${url}"\n`,
      );
      const error = await openError(registry, 's');
      expect(error.message).toMatch(expected);
      expect(error.message).not.toContain('null');
    },
  );
});

describe('a registry without authFor, for a server with OAuth enabled', () => {
  test('a 401 says that no token was sent, not "enable auth.oauth"', async () => {
    const server = await startHttpStub(echoRequest(401, { 'www-authenticate': 'Bearer' }));
    cleanups.push(() => server.close());
    const registry = registryFor(
      `mcp:\n  servers:\n    o:\n      transport: streamable_http\n      url: ${server.url}/mcp\n      auth:\n        oauth:\n          enabled: true\n`,
    );
    const error = await openError(registry, 'o');
    expect(error.code).toBe('SERVER_AUTH_REQUIRED');
    expect(error.message).toContain('although mcp.servers.o.auth.oauth is enabled');
    expect(error.message).toContain('without authFor');
    expect(error.message).not.toMatch(/or enable/);
  });
});

describe('credentials in a URL', () => {
  test('are refused before any request, without repeating them', async () => {
    const registry = registryFor(
      'mcp:\n  servers:\n    u:\n      transport: streamable_http\n      url: "http://alice:S3cretPw-canary@127.0.0.1:9/mcp"\n',
    );
    const error = await openError(registry, 'u');
    expect(error.message).toMatch(
      /has credentials in its url, which are never sent; put them in headers/,
    );
    expect(error.message).not.toContain('S3cretPw-canary');
  });

  test('config check warns about them', async () => {
    const tree = writeConfig(
      'mcp:\n  servers:\n    u:\n      transport: sse\n      url: "https://alice:S3cretPw-canary@x.example/sse"\n',
    );
    cleanups.push(tree.cleanup);
    const result = await runCli(['config', 'check'], { cwd: tree.dir });
    expect(result.stderr).toMatch(/mcp\.servers\.u\.url has credentials in it/);
    expect(result.stdout + result.stderr).not.toContain('S3cretPw-canary');
  });
});

describe('many calls on one connection', () => {
  test('do not pile listeners onto a signal (no MaxListenersExceededWarning)', async () => {
    const { startEverything } = await import('../support/everything.js');
    const everything = await startEverything('streamableHttp');
    cleanups.push(() => everything.stop());
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const registry = registryFor(
      `mcp:\n  servers:\n    ev:\n      transport: streamable_http\n      url: ${everything.origin}/mcp\n`,
    );
    const connection = await registry.connect('ev');
    for (let i = 0; i < 30; i++) await connection.callTool('echo', { message: String(i) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });
});

describe('a server without tools', () => {
  test('has none, and does not hide the tools of the others in tools list', async () => {
    const script =
      "import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'; import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'; const s = new McpServer({ name: 'docs', version: '1' }); s.registerResource('readme', 'docs://readme', {}, async () => ({ contents: [{ uri: 'docs://readme', text: 'hi' }] })); await s.connect(new StdioServerTransport());";
    const tree = writeConfig(
      `mcp:\n  servers:\n    docs:\n      command: ${q(NODE)}\n      args: ["--input-type=module", "-e", ${q(script)}]\n      cwd: ${q(process.cwd())}\n    ev:\n      command: ${q(NODE)}\n      args: [${q(EVERYTHING)}, "stdio"]\n    down:\n      command: does-not-exist-canary-cmd\n`,
    );
    cleanups.push(tree.cleanup);
    const result = await runCli(['tools', 'list'], {
      cwd: tree.dir,
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(result.stdout).toContain('ev_echo');
    expect(result.stderr).toMatch(/error: Server "down" cannot be started/);
    expect(result.code).toBe(1);
    const docsOnly = await runCli(['tools', 'list', 'docs'], {
      cwd: tree.dir,
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(docsOnly.code, docsOnly.stderr).toBe(0);
    expect(docsOnly.stdout).toBe('');
    expect(docsOnly.stderr).toContain('No tools.');
  });
});

describe('tool arguments against a JSON Schema 2020-12 input schema', () => {
  test('are checked before the call', async () => {
    const script =
      "import { Server } from '@modelcontextprotocol/sdk/server/index.js'; import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'; import { ListToolsRequestSchema, CallToolRequestSchema } from '@modelcontextprotocol/sdk/types.js'; const s = new Server({ name: 'x', version: '1' }, { capabilities: { tools: {} } }); s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: 'count', inputSchema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } }] })); s.setRequestHandler(CallToolRequestSchema, async (r) => ({ content: [{ type: 'text', text: 'n=' + r.params.arguments.n }] })); await s.connect(new StdioServerTransport());";
    const tree = writeConfig(
      `mcp:\n  servers:\n    x:\n      command: ${q(NODE)}\n      args: ["--input-type=module", "-e", ${q(script)}]\n      cwd: ${q(process.cwd())}\n`,
    );
    cleanups.push(tree.cleanup);
    const env = { PATH: process.env.PATH ?? '' };
    const bad = await runCli(['tools', 'call', 'x', 'count', '{"n": "three"}'], {
      cwd: tree.dir,
      env,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/do not match the input schema of "x_count": "n" must be integer/);
    const good = await runCli(['tools', 'call', 'x', 'count', '{"n": 3}'], { cwd: tree.dir, env });
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toBe('n=3\n');
  });
});
