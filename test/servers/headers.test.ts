import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import type { ServerRegistry } from '../../src/servers/registry.js';
import { runCli } from '../helpers/cli.js';
import { openRegistry, writeConfig } from '../support/config.js';
import {
  type McpHttpServer,
  type RecordedRequest,
  startMcpHttpServer,
} from '../support/mcp-http-server.js';
import { waitFor, within } from '../support/net.js';

type HttpTransport = 'sse' | 'streamable_http';
const TRANSPORTS: HttpTransport[] = ['sse', 'streamable_http'];

const TOKEN = 'ghp-canary-token-5d1f0a9e';
const ORG = 'org-canary-77c3b2';
/** The variables the config files refer to. */
const ENV = { GITHUB_TOKEN: TOKEN, ORG_ID: ORG };

/** Requires both headers; records every request. */
let server: McpHttpServer;
/** Another origin, reached only by redirect; records every request. */
let other: McpHttpServer;

beforeAll(async () => {
  [server, other] = await Promise.all([
    startMcpHttpServer({ require: { authorization: `Bearer ${TOKEN}`, 'x-org-id': ORG } }),
    startMcpHttpServer(),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.close(), other?.close()]);
});

const cleanups: (() => unknown)[] = [];
beforeEach(() => {
  server.requests.length = 0;
  other.requests.length = 0;
  server.redirectTo = undefined;
});
afterEach(async () => {
  server.redirectTo = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function endpoint(transport: HttpTransport): string {
  return `${server.origin}${transport === 'sse' ? '/sse' : '/mcp'}`;
}

/** Server `github` on `transport`, with `lines` (indented under it), as a config file. */
function githubYaml(transport: HttpTransport, lines: string[]): string {
  return [
    'mcp:',
    '  servers:',
    '    github:',
    `      transport: ${transport}`,
    `      url: ${endpoint(transport)}`,
    ...lines.map((line) => `      ${line}`),
  ].join('\n');
}

/** The seed's GitHub example: both headers from variables. */
const SEED_HEADERS = [
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

function carriesCredentials(request: RecordedRequest): boolean {
  return (
    request.headers.authorization !== undefined ||
    request.headers['x-org-id'] !== undefined ||
    JSON.stringify(request.headers).includes(TOKEN) ||
    JSON.stringify(request.headers).includes(ORG)
  );
}

function summary(requests: readonly RecordedRequest[]): string[] {
  return [...new Set(requests.map((request) => `${request.method} ${request.path}`))].sort();
}

describe.each(TRANSPORTS)('static headers over %s', (transport) => {
  test('the headers of the config file arrive on every request, the event stream GET too', async () => {
    const registry = registryFor(githubYaml(transport, SEED_HEADERS));
    const connection = await registry.connect('github');
    expect((await connection.listTools()).map((tool) => tool.name)).toEqual(['whoami']);
    expect(text(await connection.callTool('whoami', {}))).toBe(`org ${ORG}`);
    if (transport === 'streamable_http') {
      // The GET stream opens after initialisation; closing sends DELETE (terminate_on_close).
      await waitFor('the GET stream', () => (server.openStreams('/mcp') > 0 ? true : undefined));
      await within('registry.closeAll()', registry.closeAll(), 5_000);
    }

    expect(summary(server.requests)).toEqual(
      transport === 'sse'
        ? ['GET /sse', 'POST /messages']
        : ['DELETE /mcp', 'GET /mcp', 'POST /mcp'],
    );
    for (const request of server.requests) {
      expect(request.headers, `${request.method} ${request.path}`).toMatchObject({
        authorization: `Bearer ${TOKEN}`,
        'x-org-id': ORG,
      });
    }
  });

  test('auth.api_key becomes Authorization: Bearer <key>', async () => {
    const registry = registryFor(
      githubYaml(transport, [
        'headers:',
        '  X-Org-Id: "${ORG_ID}"',
        'auth:',
        '  api_key: "${KEY}"',
      ]),
      { ...ENV, KEY: TOKEN },
    );
    const connection = await registry.connect('github');
    expect(text(await connection.callTool('whoami', {}))).toBe(`org ${ORG}`);
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  test('headers.Authorization wins over auth.api_key, which is then not sent', async () => {
    const wrongKey = 'api-key-canary-never-sent-41e9';
    const registry = registryFor(
      githubYaml(transport, [...SEED_HEADERS, 'auth:', `  api_key: ${wrongKey}`]),
    );
    const connection = await registry.connect('github');
    expect(text(await connection.callTool('whoami', {}))).toBe(`org ${ORG}`);
    expect(server.requests.length).toBeGreaterThan(0);
    expect(JSON.stringify(server.requests)).not.toContain(wrongKey);
  });

  test('auth.headers is merged with headers, and wins on the same name', async () => {
    const registry = registryFor(
      githubYaml(transport, [
        'headers:',
        '  Authorization: "Bearer ${GITHUB_TOKEN}"',
        '  X-Org-Id: not-this-org',
        'auth:',
        '  headers:',
        '    X-Org-Id: "${ORG_ID}"',
      ]),
    );
    const connection = await registry.connect('github');
    expect(text(await connection.callTool('whoami', {}))).toBe(`org ${ORG}`);
    expect(server.requests.every((r) => r.headers['x-org-id'] === ORG)).toBe(true);
  });

  test('a redirect to another origin is not followed, and the headers never get there', async () => {
    server.redirectTo = other.origin;
    const registry = registryFor(githubYaml(transport, SEED_HEADERS));
    const error = await registry.connect('github').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    const { message } = error as McpAgentError;
    expect(message).toMatch(/^Server "github" at http:\/\/127\.0\.0\.1:\d+\/(sse|mcp) /);
    expect(message).toMatch(/redirects to another origin, which is not followed/);
    expect(message).not.toContain(TOKEN);
    expect(message).not.toContain(ORG);
    expect(server.requests.length).toBeGreaterThan(0); // it was asked, and answered 307
    expect(other.requests.filter(carriesCredentials)).toEqual([]);
  });

  test('a redirect to another origin in the middle of a session is not followed either', async () => {
    const registry = registryFor(githubYaml(transport, SEED_HEADERS));
    const connection = await registry.connect('github');
    expect(text(await connection.callTool('whoami', {}))).toBe(`org ${ORG}`);

    server.redirectTo = other.origin;
    const error = await connection.callTool('whoami', {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).message).toMatch(
      /redirects to another origin, which is not followed/,
    );
    expect((error as McpAgentError).message).not.toContain(TOKEN);
    // Closing (DELETE for Streamable HTTP) is redirected too, and must not carry them there either.
    await within('registry.closeAll()', registry.closeAll(), 5_000);
    expect(other.requests.filter(carriesCredentials)).toEqual([]);
  });

  test('a missing header: the server needs authentication, and no header value is shown', async () => {
    const registry = registryFor(
      githubYaml(transport, ['headers:', '  Authorization: "Bearer ${GITHUB_TOKEN}"']),
    );
    const error = await registry.connect('github').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).code).toBe('SERVER_AUTH_REQUIRED');
    const { message } = error as McpAgentError;
    expect(message).toContain('Server "github"');
    expect(message).toContain('needs authentication (HTTP 401)');
    expect(message).toContain('mcp.servers.github.headers');
    expect(message).toContain('mcp.servers.github.auth.oauth');
    expect(message).not.toContain(TOKEN);
    expect(message).not.toContain(ORG);
  });

  test('a missing header on the CLI: exit code 1, one sentence, no header value', async () => {
    const tree = writeConfig(
      githubYaml(transport, ['headers:', '  Authorization: "Bearer ${GITHUB_TOKEN}"']),
    );
    cleanups.push(tree.cleanup);
    const result = await within(
      'mcp-agent tools call',
      runCli(['tools', 'call', 'github', 'whoami'], { cwd: tree.dir, env: ENV }),
      5_000,
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^error: Server "github" at \S+ needs authentication \(HTTP 401\)/,
    );
    expect(result.stderr).not.toContain(TOKEN);
  });
});

describe('terminate_on_close (Streamable HTTP)', () => {
  async function openAndClose(terminate: boolean): Promise<void> {
    const registry = registryFor(
      githubYaml('streamable_http', [...SEED_HEADERS, `terminate_on_close: ${terminate}`]),
    );
    await (await registry.connect('github')).listTools();
    // closeAll() must end the GET stream itself, with or without the DELETE.
    await within('registry.closeAll()', registry.closeAll(), 5_000);
  }

  test('true: closeAll() ends the session with a DELETE that carries the headers', async () => {
    await openAndClose(true);
    const deletes = server.requests.filter((r) => r.method === 'DELETE');
    expect(deletes).toHaveLength(1);
    expect(deletes[0]?.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      'x-org-id': ORG,
    });
    expect(deletes[0]?.headers['mcp-session-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('false: closeAll() sends no DELETE', async () => {
    await openAndClose(false);
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
  });
});

describe('closing a connection ends its event stream', () => {
  test.each<[string, HttpTransport, string]>([
    ['sse', 'sse', ''],
    ['streamable_http with terminate_on_close: false', 'streamable_http', 'false'],
    ['streamable_http with terminate_on_close: true', 'streamable_http', 'true'],
  ])(
    '%s: closeAll() returns and the server sees the stream close',
    async (_, transport, terminate) => {
      // A server of its own, so that streams other tests left open do not count.
      const own = await startMcpHttpServer();
      cleanups.push(() => own.close());
      const registry = registryFor(
        [
          'mcp:',
          '  servers:',
          '    own:',
          `      transport: ${transport}`,
          `      url: ${own.origin}${transport === 'sse' ? '/sse' : '/mcp'}`,
          ...(terminate ? [`      terminate_on_close: ${terminate}`] : []),
        ].join('\n'),
      );
      await (await registry.connect('own')).listTools();
      await waitFor('the event stream to open', () => (own.openStreams() > 0 ? true : undefined));
      await within('registry.closeAll()', registry.closeAll(), 5_000);
      await waitFor('the event stream to close', () =>
        own.openStreams() === 0 ? true : undefined,
      );
    },
  );

  test('a second closeAll() does nothing', async () => {
    const own = await startMcpHttpServer();
    cleanups.push(() => own.close());
    const registry = registryFor(
      `mcp:\n  servers:\n    own:\n      transport: streamable_http\n      url: ${own.origin}/mcp\n`,
    );
    await (await registry.connect('own')).listTools();
    await within('registry.closeAll()', registry.closeAll(), 5_000);
    await expect(registry.closeAll()).resolves.toBeUndefined();
  });
});
