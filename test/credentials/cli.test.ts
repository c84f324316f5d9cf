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
import { followAuthorization } from '../support/browser.js';

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
    expect(login.stdout).toMatch(/Credential "billing": got a token .* expires in/);

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
    expect(human.stdout).toMatch(
      /billing: oauth2 credential for billing\.example\.com; token expires in/,
    );

    const logout = await runCli(['auth', 'logout', 'billing'], { cwd: tree.dir });
    expect(logout.code).toBe(0);
    expect(logout.stdout).toContain('forgot its token');
    const after = await runCli(['auth', 'status', 'billing'], { cwd: tree.dir });
    expect(after.stdout).toContain('no token yet');

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
    expect(login.stdout).toContain('needs no login');
    expect(login.stdout).toContain('api.weather.example');
    expect(login.stderr + login.stdout).not.toContain(API_KEY);
  });

  test('a name that is neither a server nor a credential is still an unknown server', async () => {
    const tree = project();
    const login = await runCli(['auth', 'login', 'nothing'], { cwd: tree.dir });
    expect(login.code).toBe(2);
  });
});

describe('an authorization_code profile (a person logs in to a third-party API)', () => {
  test('auth login runs the browser login; app.fetch sends that token; status shows it; logout forgets it', async () => {
    const { createServer } = await import('node:http');
    const seen: (string | undefined)[] = [];
    const api = createServer((req, res) => {
      if (req.url?.startsWith('/.well-known/')) {
        res.writeHead(404).end();
        return;
      }
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((done) => api.listen(0, '127.0.0.1', done));
    const apiHost = `127.0.0.1:${(api.address() as { port: number }).port}`;
    const personAs = await startDevAuthorizationServer({
      port: 0,
      resources: [`http://${apiHost}/`],
      scopes: ['notes:read'],
      autoApprove: true,
      devUser: 'pat',
    });
    const tree = tempTree({
      'mcp_agent.config.yaml': `oauth:
  token_store:
    backend: file
    path: ./tokens.json
credentials:
  notes:
    type: oauth2
    grant_type: authorization_code
    authorization_server: ${personAs.issuer}
    scopes: [notes:read]
    hosts: ['${apiHost}']
`,
    });
    trees.push(tree);
    const browser = async (url: URL): Promise<boolean> => {
      await followAuthorization(url);
      return true;
    };
    try {
      const login = await runCli(['auth', 'login', 'notes'], {
        cwd: tree.dir,
        openBrowser: browser,
      });
      if (login.code !== 0) throw new Error(login.stderr);
      expect(login.stdout).toMatch(/Credential "notes": logged in at/);

      const status = await runCli(['auth', 'status', 'notes'], { cwd: tree.dir });
      expect(status.stdout).toMatch(
        /notes: oauth2 credential for 127\.0\.0\.1:\d+; token expires in/,
      );

      const { loadSettings } = await import('../../src/config/load.js');
      const { createApp } = await import('../../src/app/create-app.js');
      const { AppDefinition } = await import('../../src/app/define.js');
      const { settings } = loadSettings({
        cwd: tree.dir,
        env: {},
        homeDir: tree.dir,
        dotenv: false,
      });
      const definition = new AppDefinition();
      const app = await createApp({ settings, definition, env: {}, cwd: tree.dir });
      try {
        const response = await definition.fetch('notes', `http://${apiHost}/notes`);
        expect(response.status).toBe(200);
        expect(seen.at(-1)).toMatch(/^Bearer ey/);
      } finally {
        await app.close();
      }

      const logout = await runCli(['auth', 'logout', 'notes'], { cwd: tree.dir });
      expect(logout.stdout).toContain('forgot its token');
      const after = await runCli(['auth', 'status', 'notes'], { cwd: tree.dir });
      expect(after.stdout).toContain('no token yet');
    } finally {
      await personAs.close();
      await new Promise<void>((done) => api.close(() => done()));
    }
  });
});
