import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { openRegistry, writeConfig } from '../support/config.js';
import { type ForwardProxy, startForwardProxy } from '../support/forward-proxy.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';
import { within } from '../support/net.js';
import { startWsMcpServer, type WsMcpServer } from '../support/ws-mcp-server.js';

type RemoteTransport = 'sse' | 'streamable_http' | 'websocket';

/** Proxy variables of this process; undici falls back to them, so they are set aside here. */
const PROXY_VARIABLES = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'NO_PROXY',
  'no_proxy',
];
const saved = new Map<string, string | undefined>();

let proxy: ForwardProxy;
let http: McpHttpServer;
let ws: WsMcpServer;

beforeAll(async () => {
  for (const name of PROXY_VARIABLES) {
    saved.set(name, process.env[name]);
    delete process.env[name];
  }
  [proxy, http, ws] = await Promise.all([
    startForwardProxy(),
    startMcpHttpServer(),
    startWsMcpServer(),
  ]);
});
afterAll(async () => {
  await Promise.all([proxy?.close(), http?.close(), ws?.close()]);
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const cleanups: (() => unknown)[] = [];
beforeEach(() => {
  proxy.requests.length = 0;
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function yamlFor(transport: RemoteTransport): string {
  const url =
    transport === 'websocket' ? ws.url : `${http.origin}${transport === 'sse' ? '/sse' : '/mcp'}`;
  return `mcp:\n  servers:\n    own:\n      transport: ${transport}\n      url: ${url}\n`;
}

function portOf(transport: RemoteTransport): number {
  return transport === 'websocket' ? ws.port : http.port;
}

/** Connect to `own` with `env` as the registry's environment and call `whoami`. */
async function callThrough(
  transport: RemoteTransport,
  env: Record<string, string>,
): Promise<CallToolResult> {
  const registry = openRegistry(yamlFor(transport), cleanups, { env });
  const connection = await registry.connect('own');
  return connection.callTool('whoami', {});
}

/** Whether `request` went to the MCP server on `port` (a CONNECT tunnel or an absolute URI). */
function toPort(port: number) {
  return (request: { target: string }) =>
    request.target === `127.0.0.1:${port}` ||
    request.target.startsWith(`http://127.0.0.1:${port}/`);
}

describe.each<RemoteTransport>(['sse', 'streamable_http', 'websocket'])('over %s', (transport) => {
  test('HTTP_PROXY in the environment: the connection goes through the proxy', async () => {
    const result = await callThrough(transport, { HTTP_PROXY: proxy.url });
    expect(result.content).toEqual([{ type: 'text', text: 'org -' }]);
    expect(proxy.requests.length).toBeGreaterThan(0);
    expect(proxy.requests.every(toPort(portOf(transport)))).toBe(true);
  });

  test('NO_PROXY covering the host: nothing goes through the proxy', async () => {
    const result = await callThrough(transport, {
      HTTP_PROXY: proxy.url,
      NO_PROXY: 'example.com,127.0.0.1',
    });
    expect(result.content).toEqual([{ type: 'text', text: 'org -' }]);
    expect(proxy.requests).toEqual([]);
  });
});

describe('proxy variables', () => {
  test('lower-case http_proxy is honoured too', async () => {
    await callThrough('streamable_http', { http_proxy: proxy.url });
    expect(proxy.requests.filter(toPort(http.port)).length).toBeGreaterThan(0);
  });

  test('NO_PROXY with the port of another server does not cover this one', async () => {
    await callThrough('streamable_http', {
      HTTP_PROXY: proxy.url,
      NO_PROXY: '127.0.0.1:1',
    });
    expect(proxy.requests.filter(toPort(http.port)).length).toBeGreaterThan(0);
  });

  test('the CLI uses the proxy of its environment', async () => {
    const tree = writeConfig(yamlFor('streamable_http'));
    cleanups.push(tree.cleanup);
    const result = await within(
      'mcp-agent tools call',
      runCli(['tools', 'call', 'own', 'whoami'], { cwd: tree.dir, env: { HTTP_PROXY: proxy.url } }),
      5_000,
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('org -');
    expect(proxy.requests.filter(toPort(http.port)).length).toBeGreaterThan(0);
  });

  test('HTTP_PROXY of process.env is not used when the registry is given an env without it', async () => {
    process.env.HTTP_PROXY = proxy.url;
    try {
      await callThrough('streamable_http', {});
    } finally {
      delete process.env.HTTP_PROXY;
    }
    expect(proxy.requests).toEqual([]);
  });

  test('NO_PROXY of process.env does not override the HTTP_PROXY of the registry env', async () => {
    process.env.NO_PROXY = '127.0.0.1';
    try {
      await callThrough('streamable_http', { HTTP_PROXY: proxy.url });
    } finally {
      delete process.env.NO_PROXY;
    }
    expect(proxy.requests.filter(toPort(http.port)).length).toBeGreaterThan(0);
  });
});
