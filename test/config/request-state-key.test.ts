/**
 * `authorization.request_state_key` (ADR 0004, point 4): a secret, so `config show` (YAML and
 * `--json`, with and without `--verbose`) never prints it, from the config file, the secrets
 * file, `${VAR}` or a `SECTION__KEY` override; a key under 32 bytes is a configuration error that
 * names the rule, never the value.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import { REDACTED, Secret } from '../../src/config/secret.js';
import { runCli, tempTree } from '../helpers/cli.js';

const CANARY = 'CANARY-request-state-key-5f2a-0123456789abcdef';
const SHORT_CANARY = 'CANARY-short-7d';

const trees: ReturnType<typeof tempTree>[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});

function project(files: Record<string, string>): ReturnType<typeof tempTree> {
  const tree = tempTree(files);
  trees.push(tree);
  return tree;
}

const ROUTES: readonly {
  name: string;
  files: Record<string, string>;
  env: Record<string, string>;
}[] = [
  {
    name: 'the config file',
    files: { 'mcp_agent.config.yaml': `authorization:\n  request_state_key: ${CANARY}\n` },
    env: {},
  },
  {
    name: 'the secrets file',
    files: {
      'mcp_agent.config.yaml': 'authorization:\n  enabled: false\n',
      'mcp_agent.secrets.yaml': `authorization:\n  request_state_key: ${CANARY}\n`,
    },
    env: {},
  },
  {
    name: '${VAR}',
    files: {
      'mcp_agent.config.yaml': 'authorization:\n  request_state_key: ${REQUEST_STATE_KEY}\n',
    },
    env: { REQUEST_STATE_KEY: CANARY },
  },
  {
    name: 'a SECTION__KEY override',
    files: { 'mcp_agent.config.yaml': 'authorization:\n  enabled: false\n' },
    env: { AUTHORIZATION__REQUEST_STATE_KEY: CANARY },
  },
];

describe('authorization.request_state_key', () => {
  test.each(ROUTES)(
    'from $name: loaded as a Secret, never printed by config show',
    async (route) => {
      const tree = project(route.files);
      const loaded = loadSettings({ cwd: tree.dir, env: route.env, homeDir: `${tree.dir}/home` });
      const key = loaded.settings.authorization?.request_state_key;
      expect(key).toBeInstanceOf(Secret);
      expect(key?.reveal()).toBe(CANARY);

      for (const argv of [
        ['config', 'show'],
        ['--verbose', 'config', 'show'],
        ['--json', 'config', 'show'],
        ['--json', '--verbose', 'config', 'show'],
      ]) {
        const result = await runCli(argv, { cwd: tree.dir, env: route.env });
        expect(result.code, result.stderr).toBe(0);
        expect(`${result.stdout}${result.stderr}`, argv.join(' ')).not.toContain('CANARY');
        if (argv.includes('--json')) {
          const doc = JSON.parse(result.stdout) as {
            settings: { authorization: Record<string, unknown> };
          };
          expect(doc.settings.authorization.request_state_key).toBe(REDACTED);
        } else {
          expect(result.stdout).toContain(`request_state_key: "${REDACTED}"`);
        }
      }
    },
  );

  test('a key under 32 bytes is a configuration error that does not echo it', async () => {
    const tree = project({
      'mcp_agent.config.yaml': 'authorization:\n  enabled: false\n',
      'mcp_agent.secrets.yaml': `authorization:\n  request_state_key: ${SHORT_CANARY}\n`,
    });
    for (const argv of [
      ['config', 'check'],
      ['--json', 'config', 'check'],
      ['--verbose', 'config', 'show'],
    ]) {
      const result = await runCli(argv, { cwd: tree.dir, env: {} });
      expect(result.code, argv.join(' ')).toBe(2);
      expect(`${result.stdout}${result.stderr}`).toContain(
        'authorization.request_state_key must be at least 32 bytes',
      );
      expect(`${result.stdout}${result.stderr}`, argv.join(' ')).not.toContain('CANARY');
    }
  });

  test('absent, it is not set (serve then draws a random key)', () => {
    const tree = project({ 'mcp_agent.config.yaml': 'authorization:\n  enabled: false\n' });
    const loaded = loadSettings({ cwd: tree.dir, env: {}, homeDir: `${tree.dir}/home` });
    expect(loaded.settings.authorization?.request_state_key).toBeUndefined();
  });
});
