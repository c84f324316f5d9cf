import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, tempTree } from '../helpers/cli.js';
import {
  approvingBrowser,
  type LoginServers,
  loginConfig,
  startLoginServers,
} from '../support/cli-login.js';

let servers: LoginServers;

beforeAll(async () => {
  servers = await startLoginServers({ accessTokenTtl: 300, toolScopes: { echo: 'mcp:write' } });
});

afterAll(async () => {
  await servers?.close();
});

async function config(backend: 'file' | 'memory'): Promise<ReturnType<typeof tempTree>> {
  return tempTree({ 'mcp_agent.config.yaml': await loginConfig(servers.mcp.url, { backend }) });
}

describe('auth login from the CLI', () => {
  test('logs in with the browser step and a second command reuses the token (file store)', async () => {
    const tree = await config('file');
    try {
      const login = await runCli(['auth', 'login', 'notion'], {
        cwd: tree.dir,
        openBrowser: approvingBrowser,
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
