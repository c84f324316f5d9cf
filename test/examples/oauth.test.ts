/**
 * mcp-agent's three OAuth examples (`examples/oauth/`), run end to end against stand-ins: GitHub's
 * MCP server is a served app protected by the development authorization server, whose sign-in
 * page the test fills in as a person would.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runClient } from '../../examples/oauth/interactive_tool/client.js';
import {
  type InteractiveServer,
  startServer,
} from '../../examples/oauth/interactive_tool/server.js';
import type { ServedApp } from '../server/serve-support.js';
import { signIn, textOf } from '../server/serve-support.js';
import { freePort } from '../support/net.js';
import { githubServer, startGithubStandIn } from './github-stand-in.js';

let github: ServedApp;
beforeAll(async () => {
  github = await startGithubStandIn();
}, 30_000);
afterAll(async () => {
  await github?.close();
});

/** The interactive example's server for the stand-in (a store of its own, in memory). */
async function interactiveServer(): Promise<InteractiveServer> {
  return startServer({
    auth: {
      settings: {
        mcp: { servers: { github: githubServer(github) } },
        oauth: { loopback_ports: [await freePort()] },
      },
      env: {},
    },
    port: 0,
  });
}

describe('interactive_tool', () => {
  let server: InteractiveServer;
  beforeAll(async () => {
    server = await interactiveServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  test('the first call sends the sign-in to the client, then searches as the signed-in person', async () => {
    const lines: string[] = [];
    const opened: string[] = [];
    const text = await runClient(server.url, 'lastmile-ai', {
      browse: async (url) => {
        opened.push(url);
        await signIn(url, 'alice');
      },
      print: (line) => lines.push(line),
    });
    expect(opened).toHaveLength(1);
    expect(new URL(opened[0] ?? '').origin).toBe(new URL(github.as.issuer).origin);
    const repositories = JSON.parse(text) as { full_name: string; searched_by: string }[];
    expect(repositories.map((repository) => repository.full_name)).toEqual([
      'lastmile-ai/mcp-agent',
      'lastmile-ai/mcp-eval',
    ]);
    expect(repositories.every((repository) => repository.searched_by === 'alice')).toBe(true);
    expect(lines[0]).toBe('[client] Invoking github_org_search...');
  });

  test('the next call reuses the stored token: no sign-in', async () => {
    const opened: string[] = [];
    const text = await runClient(server.url, 'modelcontextprotocol', {
      browse: async (url) => {
        opened.push(url);
      },
      print: () => undefined,
    });
    expect(opened).toEqual([]);
    expect(text).toContain('modelcontextprotocol/mcp-agent');
  });
});

test('interactive_tool: a client without URL elicitation gets the sign-in URL, then calls again', async () => {
  const server = await interactiveServer();
  const client = new Client({ name: 'plain-client', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    const call = () =>
      client.callTool({
        name: 'github_org_search',
        arguments: { query: 'acme' },
      }) as Promise<CallToolResult>;
    const first = textOf(await call());
    const url = /\((http[^)\s]+)\)/.exec(first)?.[1] ?? '';
    expect(first).toMatch(/^Sign in to GitHub first \(http/);
    expect(new URL(url).origin).toBe(new URL(github.as.issuer).origin);
    await signIn(url, 'bob');
    const repositories = JSON.parse(textOf(await call())) as { searched_by: string }[];
    expect(repositories.map((repository) => repository.searched_by)).toEqual(['bob', 'bob']);
  } finally {
    await client.close();
    await server.close();
  }
});
