/**
 * mcp-agent's three OAuth examples (`examples/oauth/`), run end to end against stand-ins: GitHub's
 * MCP server is a served app protected by the development authorization server, whose sign-in
 * page the test fills in as a person would.
 */

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { runClient } from '../../examples/oauth/interactive_tool/client.js';
import {
  type InteractiveServer,
  startServer,
} from '../../examples/oauth/interactive_tool/server.js';
import { searchInBackground } from '../../examples/oauth/pre_authorize/main.js';
import { hello, protectedAgent } from '../../examples/oauth/protected_by_oauth/main.js';
import { registerClient } from '../../examples/oauth/protected_by_oauth/registration.js';
import { type ScriptedChat, startScriptedChat, toolThenText } from '../agent/scripted-chat.js';
import { runCli, tempTree } from '../helpers/cli.js';
import type { ServedApp } from '../server/serve-support.js';
import {
  type ServedApp as ProtectedApp,
  signIn,
  startServedApp,
  textOf,
  userTokens,
} from '../server/serve-support.js';
import { freePort } from '../support/net.js';
import {
  githubServer,
  type OAuthApp,
  registerOAuthApp,
  startGithubStandIn,
} from './github-stand-in.js';

let github: ServedApp;
beforeAll(async () => {
  github = await startGithubStandIn();
}, 30_000);
afterAll(async () => {
  await github?.close();
});

/** The interactive example's server for the stand-in, registering dynamically (a store of its own). */
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

describe('interactive_tool, with a GitHub-style OAuth app (configured client, no resource)', () => {
  let server: InteractiveServer;
  let app: OAuthApp;
  beforeAll(async () => {
    const port = await freePort();
    app = await registerOAuthApp(github, `http://127.0.0.1:${port}/callback`);
    server = await startServer({
      auth: {
        settings: {
          mcp: { servers: { github: githubServer(github, app) } },
          oauth: { loopback_ports: [port] },
        },
        env: {},
      },
      port: 0,
    });
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
    const authorization = new URL(opened[0] ?? '');
    expect(authorization.origin).toBe(new URL(github.as.issuer).origin);
    expect(authorization.searchParams.get('client_id')).toBe(app.client_id);
    expect(authorization.searchParams.has('resource')).toBe(false);
    expect(`${lines.join('\n')}\n${text}`).not.toContain(app.client_secret);
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

describe('pre_authorize', () => {
  /** The example's configuration for the stand-in, in a folder of its own; `secrets` beside it. */
  async function folder(backend: 'file' | 'memory', secrets?: string) {
    const tree = tempTree();
    const store =
      backend === 'file' ? `\n    path: ${JSON.stringify(join(tree.dir, 'tokens.json'))}` : '';
    tree.write(
      'mcp_agent.config.yaml',
      `oauth:
  loopback_ports: [${await freePort()}]
  token_store:
    backend: ${backend}${store}
mcp:
  servers:
    github:
      transport: streamable_http
      url: ${github.resource}
      auth:
        oauth:
          enabled: true
`,
    );
    if (secrets) tree.write('mcp_agent.secrets.yaml', secrets, 0o600);
    const auth = {
      configPath: join(tree.dir, 'mcp_agent.config.yaml'),
      env: {},
      homeDir: tree.dir,
    };
    return { tree, auth };
  }

  test('`mcp-agent auth login github` first; the background run then searches with that token', async () => {
    const { tree, auth } = await folder('file');
    try {
      const login = await runCli(['auth', 'login', 'github'], {
        cwd: tree.dir,
        homeDir: tree.dir,
        openBrowser: async (url) => {
          await signIn(url, 'carol');
          return true;
        },
      });
      expect(login.code).toBe(0);
      const lines: string[] = [];
      const text = await searchInBackground('acme', { auth, print: (line) => lines.push(line) });
      const repositories = JSON.parse(text) as { full_name: string; searched_by: string }[];
      expect(repositories.map((repository) => repository.full_name)).toEqual([
        'acme/mcp-agent',
        'acme/mcp-eval',
      ]);
      expect(repositories.map((repository) => repository.searched_by)).toEqual(['carol', 'carol']);
      expect(lines).toEqual([text]);
    } finally {
      tree.cleanup();
    }
  });

  test('a token in mcp_agent.secrets.yaml works the same, and never reaches the output', async () => {
    const token = (await userTokens(github.as.issuer, github.resource, 'dave')).accessToken;
    const secrets = `mcp:\n  servers:\n    github:\n      auth:\n        oauth:\n          access_token: "${token}"\n`;
    const { tree, auth } = await folder('memory', secrets);
    try {
      const lines: string[] = [];
      const text = await searchInBackground('acme', { auth, print: (line) => lines.push(line) });
      expect(text).toContain('"searched_by": "dave"');
      expect(lines.join('\n')).not.toContain(token);
    } finally {
      tree.cleanup();
    }
  });

  test('without a token the run fails at once, naming `mcp-agent auth login`', async () => {
    const { tree, auth } = await folder('memory');
    try {
      const failure = await searchInBackground('acme', { auth, print: () => undefined }).catch(
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: 'OAUTH_LOGIN_REQUIRED' });
      expect((failure as Error).message).toContain('`npx mcp-agent auth login github`');
    } finally {
      tree.cleanup();
    }
  });
});

describe('protected_by_oauth', () => {
  const OPENAI_KEY = 'sk-canary-protected';
  const pageServer = fileURLToPath(new URL('../agent/page-server.mjs', import.meta.url));
  let chat: ScriptedChat;
  let served: ProtectedApp;
  beforeAll(async () => {
    chat = await startScriptedChat();
    served = await startServedApp({
      setup: protectedAgent,
      servers: { fetch: { command: process.execPath, args: [pageServer, 'fetch'] } },
      sections: {
        openai: { api_key: OPENAI_KEY, base_url: `${chat.url}/v1`, default_model: 'gpt-4o-mini' },
      },
    });
  }, 30_000);
  afterAll(async () => {
    await served?.close();
    await chat?.close();
  });

  /** An MCP client of the served agent with `token` (none: anonymous). */
  async function clientWith(token?: string): Promise<Client> {
    const client = new Client({ name: 'protected-client', version: '1.0.0' });
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    await client.connect(
      new StreamableHTTPClientTransport(new URL(served.resource), { requestInit: { headers } }),
    );
    return client;
  }

  test('a caller without a token is refused with the challenge naming the metadata', async () => {
    const response = await fetch(served.resource, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    await response.body?.cancel();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain(
      'resource_metadata="http://127.0.0.1:',
    );
  });

  test('hello_world greets each signed-in caller by their own identity', async () => {
    for (const user of ['alice', 'bob']) {
      const { accessToken } = await userTokens(served.as.issuer, served.resource, user);
      const client = await clientWith(accessToken);
      try {
        const result = await client.callTool({ name: 'hello_world', arguments: {} });
        expect(textOf(result)).toBe(`Hello, user with ID ${user}!`);
      } finally {
        await client.close();
      }
    }
    expect(hello({ subject: 'x', claims: { username: 'Ada' } } as never)).toBe('Hello, Ada!');
  });

  test('registration.ts registers an introspection client and keeps it in the secrets file only', async () => {
    const tree = tempTree({ 'mcp_agent.secrets.yaml': 'openai:\n  api_key: sk-kept # mine\n' });
    try {
      const secretsPath = join(tree.dir, 'mcp_agent.secrets.yaml');
      const issuer = served.as.issuer;
      const clientId = await registerClient({ issuer, secretsPath, scope: 'mcp:tools' });
      const kept = readFileSync(secretsPath, 'utf8');
      expect(kept).toContain('api_key: sk-kept # mine');
      expect(statSync(secretsPath).mode & 0o777).toBe(0o600);
      const secrets = parse(kept) as {
        authorization: { introspection_client_id: string; introspection_client_secret: string };
      };
      expect(secrets.authorization.introspection_client_id).toBe(clientId);
      // The client authenticates with what was kept (the development server introspects only
      // its own opaque tokens: any answer but invalid_client will do), and not with another secret.
      const metadata = (await (
        await fetch(`${issuer}/.well-known/oauth-authorization-server`)
      ).json()) as { introspection_endpoint: string };
      const introspect = async (secret: string) => {
        const basic = Buffer.from(`${clientId}:${secret}`).toString('base64');
        const response = await fetch(metadata.introspection_endpoint, {
          method: 'POST',
          headers: {
            authorization: `Basic ${basic}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({ token: 'not-a-token' }).toString(),
        });
        await response.body?.cancel();
        return response.status;
      };
      expect(await introspect(secrets.authorization.introspection_client_secret)).toBe(200);
      expect(await introspect('another-secret')).toBe(401);
    } finally {
      tree.cleanup();
    }
  });

  test('finder runs the agent for the caller: the model calls fetch, the answer comes back', async () => {
    chat.script = toolThenText(
      'fetch_fetch',
      { url: 'https://example.com' },
      (page) => `Found: ${page}`,
    );
    const { accessToken } = await userTokens(served.as.issuer, served.resource, 'carol');
    const client = await clientWith(accessToken);
    try {
      const result = await client.callTool({
        name: 'finder',
        arguments: { prompt: 'What does https://example.com say?' },
      });
      expect(textOf(result)).toBe('Found: MCP is an open protocol. It standardizes context.');
      expect(chat.received.at(-1)?.authorization).toBe(`Bearer ${OPENAI_KEY}`);
      const seen = JSON.stringify(chat.received.map((request) => request.body));
      expect(seen).not.toContain(accessToken);
      expect(JSON.stringify(result)).not.toMatch(/canary/);
    } finally {
      await client.close();
    }
  });
});
