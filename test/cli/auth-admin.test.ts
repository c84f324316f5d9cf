/**
 * The operator's view: `auth status --all-identities` lists every identity's tokens (never a
 * value) and `auth logout --identity ID SERVER` forgets one identity's tokens of one server only.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { oauthSchema } from '../../src/config/schema/oauth.js';
import { Secret } from '../../src/config/secret.js';
import { principalOf } from '../../src/server/identity.js';
import { createTokenStore } from '../../src/stores/token-store.js';
import { runCli, tempTree } from '../helpers/cli.js';

const CONFIG = `mcp:
  servers:
    notion:
      transport: streamable_http
      url: http://127.0.0.1:9/mcp
      auth:
        oauth:
          enabled: true
oauth:
  token_store:
    backend: file
    path: ./tokens.json
`;

const trees: { cleanup(): void }[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});

const alice = principalOf({ issuer: 'https://id.example.com', subject: 'alice' });
const bob = principalOf({ issuer: 'https://id.example.com', subject: 'bob' });

async function seeded() {
  const tree = tempTree({ 'mcp_agent.config.yaml': CONFIG });
  trees.push(tree);
  const settings = oauthSchema.parse({
    token_store: { backend: 'file', path: join(tree.dir, 'tokens.json') },
  });
  const store = createTokenStore(settings.token_store, { cwd: tree.dir });
  for (const identity of ['app', alice, bob]) {
    await store.put(
      {
        identity,
        server: 'notion',
        issuer: 'https://auth.notion.example',
        resource: 'http://127.0.0.1:9/mcp',
        scopes: [],
      },
      {
        accessToken: new Secret(`canary-access-${identity}`),
        refreshToken: new Secret(`canary-refresh-${identity}`),
        tokenType: 'Bearer',
        expiresAt: Date.now() + 3_600_000,
        obtainedAt: Date.now(),
        scopes: ['read'],
        issuer: 'https://auth.notion.example',
        resource: 'http://127.0.0.1:9/mcp',
        server: 'notion',
      },
    );
  }
  await store.close();
  return tree;
}

describe('auth status --all-identities', () => {
  test('every identity, readable, with the id to pass to --identity; never a value', async () => {
    const tree = await seeded();
    const human = await runCli(['auth', 'status', '--all-identities'], { cwd: tree.dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('https://id.example.com alice');
    expect(human.stdout).toContain(`--identity '${alice}'`);
    expect(human.stdout).toContain('https://id.example.com bob');
    expect(human.stdout).toMatch(/^app$/m);
    const json = await runCli(['--json', 'auth', 'status', '--all-identities'], { cwd: tree.dir });
    const data = JSON.parse(json.stdout) as { tokens: { identity: string; server: string }[] };
    expect(data.tokens.map((row) => row.identity).sort()).toEqual(['app', alice, bob].sort());
    for (const output of [human.stdout, human.stderr, json.stdout, json.stderr]) {
      expect(output).not.toContain('canary-');
    }
  });
});

describe('auth logout --identity', () => {
  test("forgets that identity's tokens of that server only (revocation problems reported)", async () => {
    const tree = await seeded();
    const logout = await runCli(['--json', 'auth', 'logout', '--identity', alice, 'notion'], {
      cwd: tree.dir,
    });
    // The server is unreachable, so revocation fails (exit 1); the tokens are forgotten anyway.
    expect(logout.code).toBe(1);
    expect(JSON.parse(logout.stdout)).toMatchObject({
      identity: alice,
      server: 'notion',
      forgotten: 1,
    });
    const after = await runCli(['--json', 'auth', 'status', '--all-identities'], { cwd: tree.dir });
    const identities = (JSON.parse(after.stdout) as { tokens: { identity: string }[] }).tokens.map(
      (row) => row.identity,
    );
    expect(identities.sort()).toEqual(['app', bob].sort());
    expect(logout.stderr + logout.stdout).not.toContain('canary-');
  });

  test('--identity needs exactly one SERVER and no --all', async () => {
    const tree = await seeded();
    expect((await runCli(['auth', 'logout', '--identity', alice], { cwd: tree.dir })).code).toBe(2);
    expect(
      (await runCli(['auth', 'logout', '--identity', alice, '--all'], { cwd: tree.dir })).code,
    ).toBe(2);
  });
});
