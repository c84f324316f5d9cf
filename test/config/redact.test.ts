import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import { formatPath } from '../../src/config/paths.js';
import { redactSettings } from '../../src/config/redact.js';
import { tempTree } from '../helpers/cli.js';

let tree: ReturnType<typeof tempTree>;
afterEach(() => tree?.cleanup());

const CANARY = 'canary-71c2-secret';

function show(files: Record<string, string>, env: Record<string, string> = {}) {
  tree = tempTree(files);
  const loaded = loadSettings({ cwd: tree.dir, env, homeDir: join(tree.dir, 'home') });
  const { value, sources } = redactSettings(loaded);
  const text = JSON.stringify(value);
  expect(text).not.toContain(CANARY);
  const sourceOf = (path: (string | number)[]) =>
    sources.find((entry) => formatPath(entry.path) === formatPath(path))?.origin;
  // biome-ignore lint/suspicious/noExplicitAny: the tests walk a JSON tree of known shape
  return { value: value as Record<string, any>, sourceOf };
}

describe('redactSettings', () => {
  test('strings substituted from ${VAR} are shown as written, not with the value', () => {
    const { value } = show(
      {
        'mcp_agent.config.yaml':
          'mcp:\n  servers:\n    gh:\n      command: npx\n      args: ["--token", "${GH_TOKEN}"]\n      url: "https://x.example/sse?api_key=${GH_TOKEN}"\n',
      },
      { GH_TOKEN: CANARY },
    );
    expect(value.mcp.servers.gh.args).toEqual(['--token', '${GH_TOKEN}']);
    expect(value.mcp.servers.gh.url).toBe('https://x.example/sse?api_key=[redacted]');
  });

  test('strings from SECTION__KEY variables show the variable; numbers, booleans and enum words show as they are', () => {
    const { value, sourceOf } = show(
      { 'mcp_agent.config.yaml': 'mcp:\n  servers:\n    gh:\n      command: npx\n' },
      {
        MCP__SERVERS__GH__ARGS: `["--token", "${CANARY}"]`,
        MCP__SERVERS__GH__CWD: CANARY,
        OAUTH__TOKEN_STORE__BACKEND: 'file',
        OAUTH__FLOW_TIMEOUT_SECONDS: '90',
        MCP__SERVERS__GH__TERMINATE_ON_CLOSE: 'false',
      },
    );
    expect(value.mcp.servers.gh.args).toBe('${MCP__SERVERS__GH__ARGS}');
    expect(value.mcp.servers.gh.cwd).toBe('${MCP__SERVERS__GH__CWD}');
    expect(value.oauth.token_store.backend).toBe('file');
    expect(value.oauth.flow_timeout_seconds).toBe(90);
    expect(value.mcp.servers.gh.terminate_on_close).toBe(false);
    expect(sourceOf(['oauth', 'token_store', 'backend'])).toEqual({
      kind: 'env',
      variable: 'OAUTH__TOKEN_STORE__BACKEND',
    });
  });

  test('every value of the preload is redacted, like the secrets file', () => {
    const { value } = show(
      {},
      {
        MCP_APP_SETTINGS_PRELOAD: `mcp:\n  servers:\n    gh:\n      command: ${CANARY}\n      args: [${CANARY}]\n`,
      },
    );
    expect(value.mcp.servers.gh.command).toBe('[redacted]');
    expect(value.mcp.servers.gh.args).toEqual(['[redacted]']);
    expect(value.mcp.servers.gh.transport).toBe('stdio');
  });

  test('defaults under a section the secrets file introduced are defaults, not secrets', () => {
    const { value, sourceOf } = show({
      'mcp_agent.config.yaml': 'mcp:\n  servers:\n    fs:\n      command: npx\n',
      'mcp_agent.secrets.yaml': `oauth:\n  token_store:\n    redis_url: redis://:${CANARY}@h:6379\n`,
    });
    expect(value.oauth.token_store.redis_url).toBe('[redacted]');
    expect(value.oauth.flow_timeout_seconds).toBe(300);
    expect(sourceOf(['oauth', 'flow_timeout_seconds'])).toEqual({ kind: 'default' });
    expect(value.oauth.loopback_ports).toEqual([33418, 33419, 33420]);
  });

  test('URL credentials in any shown string are masked', () => {
    const { value } = show({
      'mcp_agent.config.yaml': `mcp:\n  servers:\n    gh:\n      command: git\n      args: ["clone", "https://${CANARY}@github.com/o/r.git"]\n      url: "redis://u:${CANARY}/x@h:1/0"\n`,
    });
    expect(value.mcp.servers.gh.args[1]).toBe('https://[redacted]@github.com/o/r.git');
    expect(value.mcp.servers.gh.url).toBe('redis://u:[redacted]@h:1/0');
  });
});

describe('secrets that contain "${" by chance', () => {
  test('a syntax error in such a value does not quote any of it', () => {
    tree = tempTree({
      'mcp_agent.config.yaml': 'mcp:\n  servers:\n    fs:\n      command: npx\n',
      'mcp_agent.secrets.yaml':
        'mcp:\n  servers:\n    fs:\n      env:\n        DB_PASSWORD: "Zq8${Kx7SecretTail!"\n',
    });
    let message = '';
    try {
      loadSettings({ cwd: tree.dir, env: {}, homeDir: join(tree.dir, 'home') });
    } catch (error) {
      message = `${(error as Error).message}\n${JSON.stringify(error)}`;
    }
    expect(message).toMatch(/unterminated "\$\{" at character 4/);
    expect(message).not.toContain('Kx7SecretTail');
  });
});
