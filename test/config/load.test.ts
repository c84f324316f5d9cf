import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ConfigError, formatIssue } from '../../src/config/issues.js';
import { loadSettings } from '../../src/config/load.js';
import { Secret } from '../../src/config/secret.js';
import { tempTree } from '../helpers/cli.js';
import { onPlatform, testWith } from '../support/services.js';

let tree: ReturnType<typeof tempTree>;
afterEach(() => tree?.cleanup());

const MINIMAL = 'mcp:\n  servers:\n    fs:\n      command: npx\n';

function load(options: Parameters<typeof loadSettings>[0] = {}) {
  return loadSettings({ cwd: tree.dir, env: {}, homeDir: join(tree.dir, 'home'), ...options });
}

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.errors.map((issue) => formatIssue(issue));
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('discovery', () => {
  test('finds mcp-agent.config.yaml before mcp_agent.config.yaml in the same directory', () => {
    tree = tempTree({
      'mcp-agent.config.yaml': 'name: hyphen\n',
      'mcp_agent.config.yaml': 'name: underscore\n',
    });
    expect(load().settings.name).toBe('hyphen');
  });

  test('checks <dir>/<name> before <dir>/.mcp-agent/<name>', () => {
    tree = tempTree({
      '.mcp-agent/mcp-agent.config.yaml': 'name: hidden\n',
      'mcp_agent.config.yaml': 'name: plain\n',
    });
    // mcp-agent's order: for each name, the directory and then its .mcp-agent/.
    expect(load().settings.name).toBe('hidden');
    tree.cleanup();
    tree = tempTree({
      '.mcp-agent/mcp_agent.config.yaml': 'name: hidden\n',
      'mcp_agent.config.yaml': 'name: plain\n',
    });
    expect(load().settings.name).toBe('plain');
  });

  test('walks up from the working directory to the root', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': 'name: parent\n' });
    const deep = join(tree.dir, 'a', 'b', 'c');
    mkdirSync(deep, { recursive: true });
    const loaded = load({ cwd: deep });
    expect(loaded.settings.name).toBe('parent');
    expect(loaded.configFile).toBe(join(tree.dir, 'mcp_agent.config.yaml'));
  });

  test('falls back to ~/.mcp-agent/', () => {
    tree = tempTree({ 'home/.mcp-agent/mcp_agent.config.yaml': 'name: home\n' });
    mkdirSync(join(tree.dir, 'work'));
    expect(load({ cwd: join(tree.dir, 'work') }).settings.name).toBe('home');
  });

  test('no file anywhere gives the defaults', () => {
    tree = tempTree();
    const loaded = load();
    expect(loaded.configFile).toBeUndefined();
    expect(loaded.settings.oauth.token_store.backend).toBe('memory');
    expect(loaded.settings.oauth.loopback_ports).toEqual([33418, 33419, 33420]);
    expect(loaded.settings.mcp.servers).toEqual({});
  });

  test('an explicit configPath wins over discovery, and must exist', () => {
    tree = tempTree({
      'mcp_agent.config.yaml': 'name: discovered\n',
      'other/custom.yaml': 'name: explicit\n',
    });
    expect(load({ configPath: 'other/custom.yaml' }).settings.name).toBe('explicit');
    expect(() => load({ configPath: 'missing.yaml' })).toThrow(/does not exist/);
  });

  test('secrets beside the config file win over discovered ones', () => {
    tree = tempTree({
      'mcp_agent.secrets.yaml': 'name: cwd-secrets\n',
      'conf/mcp_agent.config.yaml': 'name: config\n',
      'conf/mcp-agent.secrets.yaml': 'name: beside\n',
    });
    const loaded = load({ configPath: 'conf/mcp_agent.config.yaml' });
    expect(loaded.settings.name).toBe('beside');
    expect(loaded.secretsFile).toBe(join(tree.dir, 'conf', 'mcp-agent.secrets.yaml'));
  });

  test('without secrets beside the config, the discovery walk finds them', () => {
    tree = tempTree({
      'mcp_agent.secrets.yaml': 'name: walked\n',
      'conf/mcp_agent.config.yaml': 'name: config\n',
    });
    expect(load({ configPath: 'conf/mcp_agent.config.yaml' }).settings.name).toBe('walked');
  });
});

describe('precedence: preload › environment › secrets › config › defaults', () => {
  const CONFIG = `${MINIMAL}oauth:\n  flow_timeout_seconds: 100\n  token_store:\n    refresh_leeway_seconds: 10\n    redis_prefix: from-config\n    backend: memory\n`;
  const SECRETS =
    'oauth:\n  token_store:\n    refresh_leeway_seconds: 20\n    redis_prefix: from-secrets\n';

  test('config over defaults', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': CONFIG });
    const { settings, origins } = load();
    expect(settings.oauth.flow_timeout_seconds).toBe(100);
    expect(settings.oauth.callback_base_url).toBeUndefined();
    expect(origins.own(['oauth', 'flow_timeout_seconds'])).toMatchObject({
      kind: 'file',
      role: 'config',
      position: { line: 6, column: 3 },
    });
  });

  test('secrets over config; maps merge, so untouched config keys stay', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': CONFIG, 'mcp_agent.secrets.yaml': SECRETS });
    const { settings, origins } = load();
    expect(settings.oauth.token_store.refresh_leeway_seconds).toBe(20);
    expect(settings.oauth.token_store.redis_prefix).toBe('from-secrets');
    expect(settings.oauth.flow_timeout_seconds).toBe(100);
    expect(origins.own(['oauth', 'token_store', 'redis_prefix'])).toMatchObject({
      role: 'secrets',
    });
  });

  test('lists from the secrets file replace lists from the config', () => {
    tree = tempTree({
      'mcp_agent.config.yaml': `${MINIMAL}oauth:\n  loopback_ports: [1, 2]\n`,
      'mcp_agent.secrets.yaml': 'oauth:\n  loopback_ports: [3]\n',
    });
    expect(load().settings.oauth.loopback_ports).toEqual([3]);
  });

  test('environment over secrets, with __ nesting and type conversion', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': CONFIG, 'mcp_agent.secrets.yaml': SECRETS });
    const { settings, origins } = load({
      env: {
        OAUTH__TOKEN_STORE__REDIS_PREFIX: 'from-env',
        OAUTH__TOKEN_STORE__REFRESH_LEEWAY_SECONDS: '30',
        OAUTH__LOOPBACK_PORTS: '[4000, 4001]',
      },
    });
    expect(settings.oauth.token_store.redis_prefix).toBe('from-env');
    expect(settings.oauth.token_store.refresh_leeway_seconds).toBe(30);
    expect(settings.oauth.loopback_ports).toEqual([4000, 4001]);
    expect(origins.own(['oauth', 'token_store', 'redis_prefix'])).toEqual({
      kind: 'env',
      variable: 'OAUTH__TOKEN_STORE__REDIS_PREFIX',
    });
  });

  test('environment variables address servers and headers case-insensitively', () => {
    tree = tempTree({
      'mcp_agent.config.yaml':
        'mcp:\n  servers:\n    GitHub:\n      transport: sse\n      url: https://example.com/sse\n      headers:\n        Authorization: Bearer old\n',
    });
    const { settings } = load({
      env: {
        MCP__SERVERS__GITHUB__HEADERS__AUTHORIZATION: 'Bearer new',
        MCP__SERVERS__GITHUB__AUTH__OAUTH__CLIENT_SECRET: 's3cret',
      },
    });
    const server = settings.mcp.servers.GitHub;
    expect(server?.headers?.Authorization?.reveal()).toBe('Bearer new');
    expect(server?.auth?.oauth?.client_secret).toBeInstanceOf(Secret);
    expect(server?.auth?.oauth?.client_secret?.reveal()).toBe('s3cret');
  });

  test('a .env file fills the environment but never overrides it', () => {
    tree = tempTree({
      'mcp_agent.config.yaml': `${MINIMAL}name: \${APP_NAME}\n`,
      '.env':
        'APP_NAME=from-dotenv\nOAUTH__FLOW_TIMEOUT_SECONDS=45\nOAUTH__TOKEN_STORE__REDIS_PREFIX=dotenv\n',
    });
    const loaded = load({ env: { OAUTH__TOKEN_STORE__REDIS_PREFIX: 'real-env' } });
    expect(loaded.settings.name).toBe('from-dotenv');
    expect(loaded.settings.oauth.flow_timeout_seconds).toBe(45);
    expect(loaded.settings.oauth.token_store.redis_prefix).toBe('real-env');
    expect(loaded.dotenvFile).toBe(join(tree.dir, '.env'));
    expect(loaded.origins.own(['oauth', 'flow_timeout_seconds'])).toMatchObject({
      kind: 'env',
      dotenvFile: join(tree.dir, '.env'),
    });
  });

  test('dotenv: false ignores .env', () => {
    tree = tempTree({
      'mcp_agent.config.yaml': MINIMAL,
      '.env': 'OAUTH__FLOW_TIMEOUT_SECONDS=45\n',
    });
    expect(load({ dotenv: false }).settings.oauth.flow_timeout_seconds).toBe(300);
  });

  test('provider aliases fill only what nothing else set', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': `${MINIMAL}anthropic:\n  api_key: from-file\n` });
    const { settings, origins } = load({
      env: { OPENAI_API_KEY: 'alias-openai', ANTHROPIC_API_KEY: 'alias-anthropic' },
    });
    expect(settings.openai?.api_key?.reveal()).toBe('alias-openai');
    expect(origins.own(['openai', 'api_key'])).toEqual({ kind: 'env', variable: 'OPENAI_API_KEY' });
    expect(settings.anthropic?.api_key?.reveal()).toBe('from-file');
  });

  test('a SECTION__KEY variable beats the flat alias', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': MINIMAL });
    const { settings } = load({ env: { OPENAI_API_KEY: 'alias', OPENAI__API_KEY: 'nested' } });
    expect(settings.openai?.api_key?.reveal()).toBe('nested');
  });

  test('generic alias names only fill sections that exist', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': `${MINIMAL}google:\n  default_model: gemini\n` });
    const { settings } = load({ env: { LOCATION: 'europe-west1' } });
    expect(settings.google?.location).toBe('europe-west1');
    expect(settings.anthropic).toBeUndefined();
  });

  test('preload replaces the files and wins over the environment', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': CONFIG, 'mcp_agent.secrets.yaml': SECRETS });
    const loaded = load({
      env: {
        MCP_APP_SETTINGS_PRELOAD: '{"oauth": {"token_store": {"redis_prefix": "from-preload"}}}',
        OAUTH__TOKEN_STORE__REDIS_PREFIX: 'from-env',
        OAUTH__FLOW_TIMEOUT_SECONDS: '77',
      },
    });
    expect(loaded.preloaded).toBe(true);
    expect(loaded.configFile).toBeUndefined();
    expect(loaded.settings.oauth.token_store.redis_prefix).toBe('from-preload');
    // The environment still fills what the preload leaves unset; the files are not read.
    expect(loaded.settings.oauth.flow_timeout_seconds).toBe(77);
    expect(loaded.settings.mcp.servers).toEqual({});
  });

  test('preload as YAML', () => {
    tree = tempTree();
    const loaded = load({
      env: { MCP_APP_SETTINGS_PRELOAD: 'mcp:\n  servers:\n    a:\n      command: x\n' },
    });
    expect(Object.keys(loaded.settings.mcp.servers)).toEqual(['a']);
    expect(loaded.origins.own(['mcp', 'servers', 'a', 'command'])).toEqual({
      kind: 'preload',
      position: { line: 4, column: 7 },
    });
  });

  test('an invalid preload is a warning and the files are used, unless strict', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': `${MINIMAL}name: files\n` });
    const loaded = load({ env: { MCP_APP_SETTINGS_PRELOAD: 'oauth: {flow_timeout_seconds: 5}' } });
    expect(loaded.preloaded).toBe(false);
    expect(loaded.settings.name).toBe('files');
    expect(loaded.warnings.map((w) => w.message).join('\n')).toMatch(
      /MCP_APP_SETTINGS_PRELOAD is invalid/,
    );
    const errors = errorsOf(() =>
      load({
        env: {
          MCP_APP_SETTINGS_PRELOAD: 'oauth: {flow_timeout_seconds: 5}',
          MCP_APP_SETTINGS_PRELOAD_STRICT: 'true',
        },
      }),
    );
    expect(errors).toEqual([
      'MCP_APP_SETTINGS_PRELOAD:1:9: oauth.flow_timeout_seconds must be at least 30',
    ]);
  });
});

describe('substitution in files', () => {
  test('substitutes in every string of both files, with defaults and $$', () => {
    tree = tempTree({
      'mcp_agent.config.yaml':
        'mcp:\n  servers:\n    gh:\n      transport: sse\n      url: "${BASE:-https://example.com}/sse"\n      args: ["${ARG}", "$$HOME", "cost: $$5"]\n',
      'mcp_agent.secrets.yaml':
        'mcp:\n  servers:\n    gh:\n      headers:\n        Authorization: "Bearer ${TOKEN}"\n',
    });
    const server = load({ env: { ARG: 'one', TOKEN: 't0k' } }).settings.mcp.servers.gh;
    expect(server?.url).toBe('https://example.com/sse');
    expect(server?.args).toEqual(['one', '$HOME', 'cost: $5']);
    expect(server?.headers?.Authorization?.reveal()).toBe('Bearer t0k');
  });

  test('every unset variable is reported with its key path and file:line:col', () => {
    tree = tempTree({
      'mcp_agent.config.yaml':
        'mcp:\n  servers:\n    gh:\n      command: "${CMD}"\n      args: ["${A1}"]\n',
      'mcp_agent.secrets.yaml': 'oauth:\n  callback_base_url: ${CALLBACK}\n',
    });
    const errors = errorsOf(() => load());
    expect(errors).toHaveLength(3);
    expect(errors[0]).toBe(
      'mcp_agent.config.yaml:4:7: mcp.servers.gh.command uses ${CMD} but CMD is not set; set it in the environment or .env, or write ${CMD:-default} (or "$${" if the text is meant literally)'.replace(
        'mcp_agent.config.yaml',
        join(tree.dir, 'mcp_agent.config.yaml'),
      ),
    );
    expect(errors[1]).toContain('mcp.servers.gh.args[0] uses ${A1}');
    expect(errors[2]).toContain(
      `${join(tree.dir, 'mcp_agent.secrets.yaml')}:2:3: oauth.callback_base_url uses \${CALLBACK}`,
    );
  });

  test('environment override values are taken literally', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': MINIMAL });
    expect(
      load({ env: { OAUTH__TOKEN_STORE__REDIS_PREFIX: '${NOT_EXPANDED}' } }).settings.oauth
        .token_store.redis_prefix,
    ).toBe('${NOT_EXPANDED}');
  });
});

describe('validation', () => {
  test('all errors of both files are reported at once, with suggestions', () => {
    tree = tempTree({
      'mcp_agent.config.yaml': `${MINIMAL}oauth:\n  token_stor: {}\n  flow_timeout_seconds: "60"\nauthorisation: {}\n`,
      'mcp_agent.secrets.yaml': 'mcp:\n  servers:\n    fs:\n      enviroment: {}\n',
    });
    const errors = errorsOf(() => load()).map((line) => line.replace(`${tree.dir}/`, ''));
    expect(errors).toEqual(
      expect.arrayContaining([
        'mcp_agent.config.yaml:6:3: oauth.token_stor is not a known key; did you mean "token_store"?',
        'mcp_agent.config.yaml:7:3: oauth.flow_timeout_seconds must be a number, not a string (remove the quotes)',
        'mcp_agent.config.yaml:8:1: authorisation is not a known section; did you mean "authorization"?',
        'mcp_agent.secrets.yaml:4:7: mcp.servers.fs.enviroment is not a known key; did you mean "env"?',
      ]),
    );
    expect(errors).toHaveLength(4);
  });

  test('authorization.enabled needs issuer_url, resource_server_url and expected_audiences in one message', () => {
    tree = tempTree({
      'mcp_agent.config.yaml': `${MINIMAL}authorization:\n  enabled: true\n  issuer_url: https://issuer.example\n`,
    });
    const errors = errorsOf(() => load());
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /authorization needs resource_server_url, expected_audiences when enabled is true/,
    );
  });

  test('transport aliases become the canonical name', () => {
    tree = tempTree({
      'mcp_agent.config.yaml':
        'mcp:\n  servers:\n    a: {transport: http, url: "https://a.example/mcp"}\n    b: {transport: streamable-http, url: "https://b.example/mcp"}\n',
    });
    const servers = load().settings.mcp.servers;
    expect(servers.a?.transport).toBe('streamable_http');
    expect(servers.b?.transport).toBe('streamable_http');
  });

  test('YAML 1.1 booleans (yes/no), as PyYAML reads them', () => {
    tree = tempTree({
      'mcp_agent.config.yaml':
        'mcp:\n  servers:\n    a: {transport: sse, url: "https://a.example", terminate_on_close: no}\n',
    });
    expect(load().settings.mcp.servers.a?.terminate_on_close).toBe(false);
  });

  test('the settings are frozen', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': MINIMAL });
    const { settings } = load();
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.oauth.token_store)).toBe(true);
  });

  test('a world-readable secrets file gives a warning', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': MINIMAL });
    tree.write('mcp_agent.secrets.yaml', 'name: x\n', 0o644);
    const warnings = load().warnings.map((w) => w.message);
    expect(warnings.join('\n')).toMatch(/can be read by other users \(mode 0644\); run chmod 600/);
  });

  test('sections mcp-agent-ts does not use are warnings, not errors', () => {
    tree = tempTree({
      'mcp_agent.config.yaml': `${MINIMAL}logger:\n  level: debug\n  show_progress: true\nexecution_engine: temporal\n`,
    });
    const warnings = load().warnings.map((w) => formatIssue(w));
    expect(
      warnings.some((w) =>
        w.includes('logger is an mcp-agent setting that mcp-agent-ts does not use'),
      ),
    ).toBe(true);
    expect(warnings.some((w) => w.includes('execution_engine is an mcp-agent setting'))).toBe(true);
  });
});

describe('files that are not regular files', () => {
  testWith(onPlatform(process.platform !== 'win32', 'Windows has no /dev/zero and no FIFOs'))(
    'a device or a FIFO is refused without reading it',
    () => {
      tree = tempTree();
      expect(() => load({ configPath: '/dev/zero' })).toThrow(/is not a regular file/);
      const fifo = join(tree.dir, 'mcp_agent.config.yaml');
      execFileSync('mkfifo', [fifo]);
      expect(() => load({ configPath: fifo })).toThrow(/is not a regular file/);
      // Discovery skips it as well: it is not a config file.
      expect(load().configFile).toBeUndefined();
    },
  );
});

describe('warnings', () => {
  test('a named config file must exist even when a preload replaces it', () => {
    tree = tempTree({ 'mine.yaml': MINIMAL });
    const env = { MCP_APP_SETTINGS_PRELOAD: 'name: preloaded\n' };
    expect(() => load({ env, configPath: 'missing.yaml' })).toThrow(/does not exist/);
    const loaded = load({ env, configPath: 'mine.yaml' });
    expect(loaded.preloaded).toBe(true);
    expect(loaded.warnings.map((w) => w.message).join('\n')).toMatch(
      /MCP_APP_SETTINGS_PRELOAD is set, so .*mine\.yaml is not read/,
    );
  });

  test('no config file anywhere is a warning', () => {
    tree = tempTree();
    expect(
      load()
        .warnings.map((w) => w.message)
        .join('\n'),
    ).toMatch(/no mcp-agent\.config\.yaml or mcp_agent\.config\.yaml found/);
  });

  test('name and description are accepted and reported as not used', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': `${MINIMAL}name: app\ndescription: text\n` });
    const paths = load().warnings.map((w) => w.path?.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['name', 'description']));
  });
});

describe('mcp-agent forms that must keep loading', () => {
  test('otel exporters in every form mcp-agent accepts', () => {
    tree = tempTree({
      'mcp_agent.config.yaml': `${MINIMAL}otel:\n  exporters:\n    - console\n    - {file: {path: trace.jsonl}}\n    - {type: otlp, endpoint: "http://127.0.0.1:4318"}\n`,
    });
    expect(load().settings.otel?.exporters).toHaveLength(3);
  });

  test('a timeout of 0 loads, with a warning', () => {
    tree = tempTree({
      'mcp_agent.config.yaml':
        'mcp:\n  servers:\n    a: {transport: sse, url: "https://a.example", http_timeout_seconds: 0}\n',
    });
    const loaded = load();
    expect(loaded.settings.mcp.servers.a?.http_timeout_seconds).toBe(0);
    expect(loaded.warnings.map((w) => formatIssue(w)).join('\n')).toMatch(
      /mcp\.servers\.a\.http_timeout_seconds is 0, so every request would time out at once/,
    );
  });

  test('bounds that exclude their limit say so', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': `${MINIMAL}otel:\n  sample_rate: 1.5\n` });
    expect(errorsOf(() => load())[0]).toMatch(/otel\.sample_rate must be at most 1$/);
  });
});

describe('error order', () => {
  test('errors are listed as they stand in the file, config before secrets', () => {
    tree = tempTree({
      'mcp_agent.config.yaml':
        'execution_engine: bogus\nmcp:\n  servers:\n    a:\n      transport: sse\n      bogus_key: 1\n    b:\n      transport: what\nlogger:\n  level: loud\noauth:\n  token_store:\n    backend: nope\n',
      'mcp_agent.secrets.yaml': 'openai:\n  bogus: 1\n',
    });
    const lines = errorsOf(() => load()).map((line) => line.replace(/^.*\//, ''));
    expect(lines.map((line) => line.split(' ')[0])).toEqual([
      'mcp_agent.config.yaml:1:1:',
      'mcp_agent.config.yaml:6:7:',
      'mcp_agent.config.yaml:8:7:',
      'mcp_agent.config.yaml:10:3:',
      'mcp_agent.config.yaml:13:5:',
      'mcp_agent.secrets.yaml:2:3:',
    ]);
  });
});
