/**
 * `auth login/status/logout` on credential profiles: an OAuth 2.0 profile's token is obtained,
 * kept in the token store (another process sees it), shown by expiry only, and forgotten; a
 * static profile needs no login. No secret value in any output.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { runCli, tempTree } from '../helpers/cli.js';
import { type RegisteredClient, registerServiceClient } from '../oauth/service-account-harness.js';

let as: DevAuthorizationServer;
let client: RegisteredClient;
const RESOURCE = 'https://billing.example.com/';
const API_KEY = 'CANARY-cli-apikey';
const trees: { cleanup(): void }[] = [];

beforeAll(async () => {
  as = await startDevAuthorizationServer({
    port: 0,
    resources: [RESOURCE],
    scopes: ['invoices:read'],
    accessTokenTtlSeconds: 3600,
  });
  client = await registerServiceClient(as.issuer, 'client_secret_basic');
});
afterAll(async () => {
  await as?.close();
});
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});

function project() {
  const tree = tempTree({
    'mcp_agent.config.yaml': `oauth:
  token_store:
    backend: file
    path: ./tokens.json
credentials:
  billing:
    type: oauth2
    authorization_server: ${as.issuer}
    client_id: ${client.clientId}
    scopes: [invoices:read]
    resource: ${RESOURCE}
    hosts: [billing.example.com]
  weather:
    type: api_key
    hosts: [api.weather.example]
`,
    'mcp_agent.secrets.yaml': `credentials:
  billing:
    client_secret: ${client.clientSecret}
  weather:
    api_key: ${API_KEY}
`,
  });
  trees.push(tree);
  return tree;
}

describe('auth commands on credential profiles', () => {
  test('login gets and keeps the token; status in another process shows its expiry; logout forgets it', async () => {
    const tree = project();
    const login = await runCli(['auth', 'login', 'billing'], { cwd: tree.dir });
    expect(login.code).toBe(0);
    expect(login.stderr).toMatch(/Credential "billing": got a token .* expires in/);

    const status = await runCli(['--json', 'auth', 'status'], { cwd: tree.dir });
    expect(status.code).toBe(0);
    const data = JSON.parse(status.stdout) as {
      credentials: { name: string; type: string; token?: { expires_at: string | null } | null }[];
    };
    const billing = data.credentials.find((row) => row.name === 'billing');
    expect(billing?.type).toBe('oauth2');
    expect(billing?.token?.expires_at).toMatch(/^\d{4}-/);
    expect(data.credentials.find((row) => row.name === 'weather')?.type).toBe('api_key');

    const human = await runCli(['auth', 'status', 'billing'], { cwd: tree.dir });
    expect(human.stderr).toMatch(
      /billing: oauth2 credential for billing\.example\.com; token expires in/,
    );

    const logout = await runCli(['auth', 'logout', 'billing'], { cwd: tree.dir });
    expect(logout.code).toBe(0);
    expect(logout.stderr).toContain('forgot its token');
    const after = await runCli(['auth', 'status', 'billing'], { cwd: tree.dir });
    expect(after.stderr).toContain('no token yet');

    for (const output of [login, status, human, logout, after]) {
      const text = output.stdout + output.stderr;
      expect(text).not.toContain(client.clientSecret);
      expect(text).not.toContain(API_KEY);
    }
  });

  test('a static profile needs no login and says where it is sent', async () => {
    const tree = project();
    const login = await runCli(['auth', 'login', 'weather'], { cwd: tree.dir });
    expect(login.code).toBe(0);
    expect(login.stderr).toContain('needs no login');
    expect(login.stderr).toContain('api.weather.example');
    expect(login.stderr + login.stdout).not.toContain(API_KEY);
  });

  test('a name that is neither a server nor a credential is still an unknown server', async () => {
    const tree = project();
    const login = await runCli(['auth', 'login', 'nothing'], { cwd: tree.dir });
    expect(login.code).toBe(2);
  });
});
