/**
 * The names `serve` gives its tools, as real MCP clients (SDK v1 and v2) list and call them:
 * every name matches `^[A-Za-z0-9_-]{1,64}$` and passes the SDK's SEP-986 check without a
 * warning, downstream tools are `SERVER_TOOL` (hashed where a name would break the rule), and the
 * name a client lists is the name that calls that tool.
 */
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { validateToolName } from '@modelcontextprotocol/sdk/shared/toolNameValidation.js';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { type App, createApp, type RunningApp } from '../../src/app/create-app.js';
import { AppDefinition, type AppSetup } from '../../src/app/define.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { TOOL_NAME_PATTERN, ToolNames } from '../../src/config/tool-names.js';
import type { Logger } from '../../src/logger.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';

const LONG = `summarise-${'x'.repeat(70)}`;
/** Tool names of `down` that break the rule, and a plain one. */
const AWKWARD = ['files.read', 'a/b', 'café', LONG, 'plain_tool'];

let down: McpHttpServer;
let dotted: McpHttpServer;
let app: App;
let running: RunningApp;
const warnings: string[] = [];
const names = new ToolNames(['down', 'down.v2']);

const logger: Logger = {
  debug() {},
  info() {},
  warn: (message) => warnings.push(message),
  error() {},
};

/** The downstream SDK warns on the console about its own awkward names, in each new session. */
const quiet = vi.spyOn(console, 'warn').mockImplementation(() => {});

beforeAll(async () => {
  down = await startMcpHttpServer({
    setup: (server) => {
      for (const tool of AWKWARD) {
        server.registerTool(tool, {}, () => ({
          content: [{ type: 'text', text: `down ${tool}` }],
        }));
      }
    },
  });
  dotted = await startMcpHttpServer({
    setup: (server) =>
      server.registerTool('echo', {}, () => ({ content: [{ type: 'text', text: 'v2 echo' }] })),
  });
  const settings = settingsSchema.parse({
    name: 'names',
    mcp: {
      servers: {
        down: { transport: 'streamable_http', url: `${down.origin}/mcp` },
        'down.v2': { transport: 'streamable_http', url: `${dotted.origin}/mcp` },
      },
    },
  });
  const setup: AppSetup = (builder) => {
    builder.tool('greet', {}, () => 'hello');
    // Same name as the downstream whoami: the app's own tool wins, the other is left out.
    builder.tool('down_whoami', {}, () => 'the app itself');
    builder.workflow('report', async () => ({ pages: 3 }));
  };
  app = await createApp({ settings, setup, env: {}, logger });
  running = await app.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  quiet.mockRestore();
  await running?.close();
  await app?.close();
  await dotted?.close();
  await down?.close();
});

const expected = () => [
  'greet',
  'down_whoami',
  'workflows-report-run',
  'workflows-get_status',
  'workflows-cancel',
  ...AWKWARD.map((tool) => names.name('down', tool)),
  names.name('down.v2', 'whoami'),
  names.name('down.v2', 'echo'),
];

describe.each([
  [
    'SDK v1',
    async (url: string) => {
      const client = new Client({ name: 'names-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      return client;
    },
  ],
  [
    'SDK v2',
    async (url: string) => {
      const client = new ClientV2({ name: 'names-test', version: '1.0.0' });
      await client.connect(new TransportV2(new URL(url)));
      return client;
    },
  ],
] as const)('served tool names seen by the %s client', (_label, connect) => {
  test('every listed name is inside the rule, and downstream tools are SERVER_TOOL', async () => {
    const client = await connect(running.url);
    try {
      const listed = (await client.listTools()).tools.map((tool) => tool.name);
      expect([...listed].sort()).toEqual(expected().sort());
      for (const name of listed) {
        expect(name).toMatch(TOOL_NAME_PATTERN);
        expect(validateToolName(name)).toEqual({ isValid: true, warnings: [] });
      }
      expect(listed).toContain('down_plain_tool');
      expect(listed).toContain('down_v2_echo');
      expect(names.name('down', 'files.read')).toMatch(/^down_files_read_[0-9a-f]{10}$/);
      expect(names.name('down', LONG)).toHaveLength(64);
    } finally {
      await client.close();
    }
  });

  test('the name listed is the name that calls that tool', async () => {
    const client = await connect(running.url);
    try {
      for (const tool of AWKWARD) {
        const result = await client.callTool({ name: names.name('down', tool), arguments: {} });
        expect(result.content).toEqual([{ type: 'text', text: `down ${tool}` }]);
      }
      const echo = await client.callTool({ name: 'down_v2_echo', arguments: {} });
      expect(echo.content).toEqual([{ type: 'text', text: 'v2 echo' }]);
      const own = await client.callTool({ name: 'down_whoami', arguments: {} });
      expect(own.content).toEqual([{ type: 'text', text: 'the app itself' }]);
      // The old spelling is no tool.
      const old = await client.callTool({ name: 'down/files.read', arguments: {} });
      expect(old.isError).toBe(true);
    } finally {
      await client.close();
    }
  });
});

test('a downstream tool an app tool shadows is left out, with one warning however often it is listed', () => {
  expect(warnings.filter((warning) => warning.includes('is not offered'))).toEqual([
    'the tool "whoami" of server "down" is not offered: the app has a tool named "down_whoami"',
  ]);
});

test('app tool and workflow names must be inside the rule', () => {
  const builder = new AppDefinition();
  expect(() => builder.tool('files.read', {}, () => '')).toThrow(
    'tool name "files.read" must be 1-64 letters, digits, "_" or "-"',
  );
  expect(() => builder.workflow('w'.repeat(51), async () => '')).toThrow(
    /workflow name "w+" must be 1-50 letters/,
  );
  expect(() => builder.workflow('w'.repeat(50), async () => '')).not.toThrow();
});
