import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, tempTree } from '../helpers/cli.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';

let as: AuthorizationServer;
let mcp: ProtectedMcpServer;

beforeAll(async () => {
  as = await startAuthorizationServer({ accessTokenTtl: 300 });
  mcp = await startProtectedMcpServer({
    issuer: as.issuer,
    requiredScopes: ['mcp:read'],
    toolScopes: { echo: 'mcp:write' },
  });
});

afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

async function config(
  backend: 'file' | 'memory',
  extra = '',
): Promise<ReturnType<typeof tempTree>> {
  const port = await freePort();
  return tempTree({
    'mcp_agent.config.yaml': `
mcp:
  servers:
    notion:
      transport: streamable_http
      url: ${mcp.url}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
${extra}
oauth:
  loopback_ports: [${port}]
  token_store:
    backend: ${backend}
    path: ./tokens.json
`,
  });
}

const browser = async (url: URL) => {
  await followAuthorization(url);
  return true;
};

describe('auth login from the CLI', () => {
  test('logs in with the browser step and a second command reuses the token (file store)', async () => {
    const tree = await config('file');
    try {
      const login = await runCli(['auth', 'login', 'notion'], {
        cwd: tree.dir,
        openBrowser: browser,
      });
      expect(login.stdout).toContain('Logged in to "notion"');
      expect(login.code).toBe(0);
      const call = await runCli(['tools', 'call', 'notion', 'whoami'], { cwd: tree.dir });
      expect(call.stdout).toContain('alice');
      expect(call.code).toBe(0);
      const status = await runCli(['--json', 'auth', 'status'], { cwd: tree.dir });
      expect(JSON.parse(status.stdout).servers[0].tokens[0].refresh_token).toBe(true);
      const logout = await runCli(['auth', 'logout', 'notion'], { cwd: tree.dir });
      expect(logout.code).toBe(0);
      expect(logout.stdout).toContain('revoked');
    } finally {
      tree.cleanup();
    }
  });
});
