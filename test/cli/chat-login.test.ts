/**
 * `mcp-agent chat --once` when a server needs a login and there is no terminal: the real
 * oidc-provider authorization server and protected MCP server; the authorization URL on stderr,
 * exit 1, nothing on stdout, the model never asked.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ScriptedChat, startScriptedChat } from '../agent/scripted-chat.js';
import { runCli, tempTree } from '../helpers/cli.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;
let chat: ScriptedChat;

beforeAll(async () => {
  as = await startAuthorizationServer();
  mcp = await startProtectedMcpServer({ issuer: as.issuer, requiredScopes: ['mcp:read'] });
  chat = await startScriptedChat();
});

afterAll(async () => {
  await chat?.close();
  await mcp?.close();
  await as?.close();
});

test('a login needed without a terminal: the URL on stderr, exit 1', async () => {
  const tree = tempTree({
    'mcp_agent.config.yaml': `mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${mcp.url}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
oauth:
  loopback_ports: [${await freePort()}]
  token_store:
    backend: file
    path: ./tokens.json
openai:
  default_model: gpt-4o-mini
  base_url: ${chat.url}/v1
  api_key: sk-canary-chat-login
`,
  });
  chat.script = () => ({ text: 'never' });
  try {
    const result = await runCli(['chat', '--once', 'hi', '--no-browser'], { cwd: tree.dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${as.issuer}`);
    expect(result.stderr).toMatch(/https?:\/\/\S+\/auth\?\S*code_challenge=/);
    expect(result.stderr).not.toContain('sk-canary-chat-login');
    expect(result.stderr.match(/error:/g)).toHaveLength(1);
    expect(result.stderr).toContain('auth complete');
    expect(chat.received).toHaveLength(0);
  } finally {
    tree.cleanup();
  }
}, 30_000);
