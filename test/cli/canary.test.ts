/**
 * A canary secret placed in every secret-bearing field never appears in any CLI output or log.
 *
 * Each secret-bearing field (parsed with `secretString`, `optionalSecret` or `secretMap`) gets a
 * unique canary, set in the config file, in the secrets file, through `${VAR}` from the
 * environment or `.env`, through `SECTION__KEY` overrides and through provider aliases. Values
 * written in the secrets file that are not secrets by type (a client_id, a url, a list) are
 * canaries too: `config show` must redact everything from the secrets file.
 */
import { inspect } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { ConfigError, formatIssue } from '../../src/config/issues.js';
import { loadSettings } from '../../src/config/load.js';
import { REDACTED, Secret } from '../../src/config/secret.js';
import { type CliResult, runCli, tempTree } from '../helpers/cli.js';

const CONFIG = 'mcp_agent.config.yaml';
const SECRETS = 'mcp_agent.secrets.yaml';
const STACK_FRAME = /\n\s+at /;

/** The unique canary of field `n`. */
const canary = (n: number): string => `CANARY-${n}-x9q`;

type Path = readonly (string | number)[];

/** How a canary reaches its field. */
type Route =
  | 'config'
  | 'secrets'
  | 'env ${VAR}'
  | '.env ${VAR}'
  | 'env override'
  | '.env override'
  | 'alias'
  | '.env alias';

interface Field {
  readonly n: number;
  readonly path: Path;
  readonly route: Route;
  /** Whether the schema parses the field into a `Secret` (false: a plain value from the secrets file). */
  readonly secret: boolean;
  /** The source `config show --json` reports for it. */
  readonly source: string | RegExp;
}

const FROM_CONFIG = /^mcp_agent\.config\.yaml:\d+:\d+$/;
const FROM_SECRETS = /^mcp_agent\.secrets\.yaml:\d+:\d+$/;
const GH = ['mcp', 'servers', 'gh'] as const;
const GH_OAUTH = [...GH, 'auth', 'oauth'] as const;

/** Every canary, where it ends up, and how it gets there. */
const FIELDS: readonly Field[] = [
  // mcp.servers.gh (streamable_http)
  {
    n: 1,
    path: [...GH, 'headers', 'X-Api-Key'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
  {
    n: 2,
    path: [...GH, 'headers', 'authorization'],
    route: 'env override',
    secret: true,
    source: 'environment variable MCP__SERVERS__GH__HEADERS__AUTHORIZATION',
  },
  { n: 3, path: [...GH, 'auth', 'api_key'], route: 'secrets', secret: true, source: FROM_SECRETS },
  { n: 4, path: [...GH, 'auth', 'token'], route: 'env ${VAR}', secret: true, source: FROM_CONFIG },
  {
    n: 5,
    path: [...GH, 'auth', 'headers', 'X-Extra'],
    route: '.env ${VAR}',
    secret: true,
    source: FROM_CONFIG,
  },
  {
    n: 6,
    path: [...GH_OAUTH, 'client_secret'],
    route: 'secrets',
    secret: true,
    source: FROM_SECRETS,
  },
  { n: 7, path: [...GH_OAUTH, 'access_token'], route: 'config', secret: true, source: FROM_CONFIG },
  {
    n: 8,
    path: [...GH_OAUTH, 'refresh_token'],
    route: '.env override',
    secret: true,
    source: 'MCP__SERVERS__GH__AUTH__OAUTH__REFRESH_TOKEN in .env',
  },
  // Plain values written in the secrets file.
  { n: 9, path: [...GH_OAUTH, 'client_id'], route: 'secrets', secret: false, source: FROM_SECRETS },
  {
    n: 10,
    path: [...GH_OAUTH, 'scopes', 0],
    route: 'secrets',
    secret: false,
    source: FROM_SECRETS,
  },
  {
    n: 11,
    path: ['mcp', 'servers', 'remote', 'url'],
    route: 'secrets',
    secret: false,
    source: FROM_SECRETS,
  },
  // mcp.servers.fs (stdio)
  {
    n: 12,
    path: ['mcp', 'servers', 'fs', 'env', 'API_TOKEN'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
  {
    n: 13,
    path: ['mcp', 'servers', 'fs', 'env', 'FROM_DEFAULT'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
  {
    n: 14,
    path: ['mcp', 'servers', 'fs', 'env', 'FROM_SECRETS'],
    route: 'secrets',
    secret: true,
    source: FROM_SECRETS,
  },
  // authorization
  {
    n: 15,
    path: ['authorization', 'client_secret'],
    route: 'secrets',
    secret: true,
    source: FROM_SECRETS,
  },
  {
    n: 16,
    path: ['authorization', 'introspection_client_secret'],
    route: 'env override',
    secret: true,
    source: 'environment variable AUTHORIZATION__INTROSPECTION_CLIENT_SECRET',
  },
  {
    n: 17,
    path: ['authorization', 'client_id'],
    route: 'secrets',
    secret: false,
    source: FROM_SECRETS,
  },
  // providers
  {
    n: 18,
    path: ['openai', 'api_key'],
    route: 'alias',
    secret: true,
    source: 'environment variable OPENAI_API_KEY',
  },
  {
    n: 19,
    path: ['openai', 'default_headers', 'X-Org'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
  { n: 20, path: ['anthropic', 'api_key'], route: 'secrets', secret: true, source: FROM_SECRETS },
  {
    n: 21,
    path: ['azure', 'api_key'],
    route: '.env alias',
    secret: true,
    source: 'AZURE_OPENAI_API_KEY in .env',
  },
  { n: 22, path: ['azure', 'azure_ad_token'], route: 'config', secret: true, source: FROM_CONFIG },
  {
    n: 23,
    path: ['google', 'api_key'],
    route: 'env override',
    secret: true,
    source: 'environment variable GOOGLE__API_KEY',
  },
  { n: 24, path: ['cohere', 'api_key'], route: 'env ${VAR}', secret: true, source: FROM_SECRETS },
  { n: 25, path: ['lm_studio', 'api_key'], route: 'config', secret: true, source: FROM_CONFIG },
  { n: 26, path: ['ollama', 'api_key'], route: 'secrets', secret: true, source: FROM_SECRETS },
  {
    n: 27,
    path: ['bedrock', 'aws_access_key_id'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
  {
    n: 28,
    path: ['bedrock', 'aws_secret_access_key'],
    route: 'secrets',
    secret: true,
    source: FROM_SECRETS,
  },
  {
    n: 29,
    path: ['bedrock', 'aws_session_token'],
    route: 'alias',
    secret: true,
    source: 'environment variable AWS_SESSION_TOKEN',
  },
  {
    n: 29,
    path: ['anthropic', 'aws_session_token'],
    route: 'alias',
    secret: true,
    source: 'environment variable AWS_SESSION_TOKEN',
  },
  {
    n: 30,
    path: ['anthropic', 'aws_secret_access_key'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
  // ecosystem sections
  {
    n: 31,
    path: ['logger', 'http_headers', 'Authorization'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
  { n: 32, path: ['temporal', 'api_key'], route: 'config', secret: true, source: FROM_CONFIG },
  {
    n: 33,
    path: ['temporal', 'rpc_metadata', 'x-key'],
    route: 'secrets',
    secret: true,
    source: FROM_SECRETS,
  },
  {
    n: 34,
    path: ['otel', 'otlp_settings', 'headers', 'Authorization'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
  {
    n: 35,
    path: ['otel', 'exporters', 0, 'otlp', 'headers', 'X-Otel'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
  // A plain top-level value and a password in a URL.
  { n: 36, path: ['description'], route: 'secrets', secret: false, source: FROM_SECRETS },
  {
    n: 37,
    path: ['oauth', 'token_store', 'redis_url'],
    route: 'config',
    secret: true,
    source: FROM_CONFIG,
  },
];

const c = canary;

/** The config file; `extra` is appended (to add an error elsewhere). */
function configText(extra = ''): string {
  return `name: canary-app
mcp:
  servers:
    gh:
      transport: streamable_http
      url: https://gh.example/mcp
      headers:
        X-Api-Key: ${c(1)}
      auth:
        token: \${GH_TOKEN}
        headers:
          X-Extra: "\${DOTENV_EXTRA}"
        oauth:
          enabled: true
          access_token: ${c(7)}
    fs:
      command: npx
      args: [-y, some-server]
      env:
        API_TOKEN: ${c(12)}
        FROM_DEFAULT: \${UNSET_FOR_DEFAULT:-${c(13)}}
oauth:
  token_store:
    backend: redis
    redis_url: redis://user:${c(37)}@localhost:6379/0
authorization:
  enabled: true
  issuer_url: https://issuer.example
  resource_server_url: https://agent.example/mcp
  expected_audiences: [agent]
openai:
  default_model: gpt-x
  default_headers:
    X-Org: ${c(19)}
azure:
  endpoint: https://azure.example
  azure_ad_token: ${c(22)}
lm_studio:
  api_key: ${c(25)}
bedrock:
  aws_access_key_id: ${c(27)}
anthropic:
  aws_secret_access_key: ${c(30)}
logger:
  http_headers:
    Authorization: ${c(31)}
temporal:
  host: localhost:7233
  task_queue: queue
  api_key: ${c(32)}
otel:
  enabled: false
  exporters:
    - otlp:
        endpoint: https://otel.example
        headers:
          X-Otel: ${c(35)}
  otlp_settings:
    endpoint: https://otel.example
    headers:
      Authorization: ${c(34)}
${extra}`;
}

/** The secrets file; `replace` swaps lines for the error cases. */
function secretsText(replace: Record<string, string> = {}): string {
  const text = `description: ${c(36)}
mcp:
  servers:
    gh:
      auth:
        api_key: ${c(3)}
        oauth:
          client_secret: ${c(6)}
          client_id: ${c(9)}
          scopes: [${c(10)}]
    remote:
      transport: sse
      url: ${c(11)}
    fs:
      env:
        FROM_SECRETS: ${c(14)}
authorization:
  client_secret: ${c(15)}
  client_id: ${c(17)}
anthropic:
  api_key: ${c(20)}
cohere:
  api_key: \${COHERE_VAR}
ollama:
  api_key: ${c(26)}
bedrock:
  aws_secret_access_key: ${c(28)}
temporal:
  rpc_metadata:
    x-key: ${c(33)}
`;
  let out = text;
  for (const [from, to] of Object.entries(replace)) {
    expect(out).toContain(from);
    out = out.replace(from, to);
  }
  return out;
}

const DOTENV = `DOTENV_EXTRA=${c(5)}
MCP__SERVERS__GH__AUTH__OAUTH__REFRESH_TOKEN=${c(8)}
AZURE_OPENAI_API_KEY=${c(21)}
`;

const ENV: Record<string, string> = {
  GH_TOKEN: c(4),
  MCP__SERVERS__GH__HEADERS__AUTHORIZATION: c(2),
  AUTHORIZATION__INTROSPECTION_CLIENT_SECRET: c(16),
  OPENAI_API_KEY: c(18),
  GOOGLE__API_KEY: c(23),
  COHERE_VAR: c(24),
  AWS_SESSION_TOKEN: c(29),
  // An alias whose value cannot be used: a warning that must not quote the value.
  GOOGLE_VERTEXAI: c(38),
};

const ALL_CANARIES = [...new Set([...FIELDS.map((field) => field.n), 38])].map(canary);
const SECRET_FIELD_CANARIES = [
  ...new Set(FIELDS.filter((field) => field.secret).map((field) => canary(field.n))),
];

let trees: ReturnType<typeof tempTree>[] = [];
afterEach(() => {
  for (const tree of trees) tree.cleanup();
  trees = [];
});

interface Project {
  config?: string;
  secrets?: string;
  dotenv?: string;
}

function project(files: Project = {}): ReturnType<typeof tempTree> {
  const tree = tempTree();
  trees.push(tree);
  tree.write(CONFIG, files.config ?? configText());
  tree.write(SECRETS, files.secrets ?? secretsText(), 0o600);
  tree.write('.env', files.dotenv ?? DOTENV);
  return tree;
}

/** Assert that no canary, nor any part of one, is in `text`. */
function expectNoCanary(text: string, label: string): void {
  const found = text.match(/CANARY[-\w]*/g);
  expect(found, `${label} leaks ${found?.join(', ')}:\n${text}`).toBeNull();
}

/** Run `argv` and assert no canary reached stdout or stderr. */
async function runClean(
  tree: ReturnType<typeof tempTree>,
  argv: string[],
  env: Record<string, string> = ENV,
): Promise<CliResult> {
  const result = await runCli(argv, { cwd: tree.dir, env });
  expectNoCanary(result.stdout, `stdout of ${argv.join(' ')}`);
  expectNoCanary(result.stderr, `stderr of ${argv.join(' ')}`);
  return result;
}

function valueAt(root: unknown, path: Path): unknown {
  let current = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function formatPath(path: Path): string {
  return path
    .map((segment, i) =>
      typeof segment === 'number'
        ? `[${segment}]`
        : /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)
          ? `${i === 0 ? '' : '.'}${segment}`
          : `[${JSON.stringify(segment)}]`,
    )
    .join('');
}

describe('every secret-bearing field, from every route, is redacted in CLI output', () => {
  test('the fixture sets every field it claims to (each secret reveals its canary)', () => {
    const tree = project();
    const loaded = loadSettings({ cwd: tree.dir, env: ENV, homeDir: tree.dir });
    for (const field of FIELDS) {
      const value = valueAt(loaded.settings, field.path);
      if (field.n === 37) {
        expect(value).toBeInstanceOf(Secret);
        expect((value as Secret).reveal()).toBe(`redis://user:${canary(37)}@localhost:6379/0`);
      } else if (field.secret) {
        expect(value, formatPath(field.path)).toBeInstanceOf(Secret);
        expect((value as Secret).reveal(), formatPath(field.path)).toBe(canary(field.n));
      } else {
        expect(value, formatPath(field.path)).toBe(canary(field.n));
      }
    }
    // Every route is exercised.
    expect(new Set(FIELDS.map((field) => field.route)).size).toBe(8);
  });

  test.each([
    [['config', 'check']],
    [['--json', 'config', 'check']],
    [['--verbose', 'config', 'check']],
    [['config', 'show']],
    [['config', 'show', '--verbose']],
    [['--json', 'config', 'show']],
    [['--json', '--verbose', 'config', 'show']],
    [['servers', 'list']],
    [['--json', 'servers', 'list']],
  ])('%j succeeds without printing a canary', async (argv) => {
    const tree = project();
    const result = await runClean(tree, argv);
    expect(result.code, result.stderr).toBe(0);
    if (argv.includes('show')) {
      expect(`${result.stdout}${result.stderr}`).toContain(REDACTED);
    }
  });

  test('config show --json shows [redacted] at every field, with the route it came by', async () => {
    const tree = project();
    const result = await runClean(tree, ['--json', 'config', 'show']);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as {
      settings: Record<string, unknown>;
      sources: Record<string, string>;
    };
    for (const field of FIELDS) {
      const path = formatPath(field.path);
      const shown = valueAt(doc.settings, field.path);
      if (field.n === 37) expect(shown).toBe(`redis://user:${REDACTED}@localhost:6379/0`);
      else expect(shown, path).toBe(REDACTED);
      const source = doc.sources[path];
      if (typeof field.source === 'string') expect(source, path).toBe(field.source);
      else expect(source, path).toMatch(field.source);
    }
  });

  test('config show (YAML) shows [redacted] for every canary', async () => {
    const tree = project();
    const plain = await runClean(tree, ['config', 'show']);
    const verbose = await runClean(tree, ['config', 'show', '--verbose']);
    for (const result of [plain, verbose]) {
      expect(result.code).toBe(0);
      // One [redacted] per field (the redis password is masked inside its URL).
      const count = result.stdout.split(REDACTED).length - 1;
      expect(count).toBeGreaterThanOrEqual(FIELDS.length);
    }
    expect(verbose.stdout).toContain('environment variable OPENAI_API_KEY');
    expect(verbose.stdout).toContain('AZURE_OPENAI_API_KEY in .env');
  });
});

describe('error runs never print a canary', () => {
  test('the same files with an invalid key elsewhere', async () => {
    const tree = project({
      config: configText('execution_engine: asyncio\nbogus_section: 1\n'),
      secrets: secretsText({
        'authorization:\n': 'authorization:\n  token_cache_ttl_seconds: -1\n',
      }),
    });
    for (const argv of [
      ['config', 'check'],
      ['--json', 'config', 'check'],
      ['config', 'show'],
      ['--json', 'config', 'show'],
    ]) {
      const result = await runClean(tree, argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('bogus_section is not a known section');
      expect(result.stderr).toContain('authorization.token_cache_ttl_seconds must be at least 0');
      expect(result.stderr).not.toMatch(STACK_FRAME);
    }
    // --verbose adds a stack trace, which must not carry a canary either.
    for (const argv of [
      ['--verbose', 'config', 'check'],
      ['--json', '--verbose', 'config', 'show'],
    ]) {
      const verbose = await runClean(tree, argv);
      expect(verbose.code).toBe(2);
      expect(verbose.stderr).toMatch(STACK_FRAME);
    }
  });

  test('wrong types on secret fields are described, not echoed', async () => {
    const tree = project({
      secrets: secretsText({
        [`client_secret: ${c(6)}`]: `client_secret: [${c(6)}, ${c(6)}]`,
        [`api_key: ${c(3)}`]: `api_key: {nested: ${c(3)}}`,
        [`FROM_SECRETS: ${c(14)}`]: `FROM_SECRETS: [${c(14)}]`,
        [`client_secret: ${c(15)}`]: `client_secret: {${c(15)}: ${c(15)}x}`,
        [`api_key: ${c(20)}`]: `api_key: !!binary ${Buffer.from(c(20)).toString('base64')}`,
        'transport: sse': `transport: ${c(40)}`,
        [`x-key: ${c(33)}`]: `x-key: 12345`,
      }),
    });
    const result = await runClean(tree, ['config', 'check']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'mcp.servers.gh.auth.oauth.client_secret must be a string, not a list',
    );
    expect(result.stderr).toContain('mcp.servers.gh.auth.api_key must be a string, not a mapping');
    expect(result.stderr).toContain('mcp.servers.remote.transport must be one of');
    const json = await runClean(tree, ['--json', 'config', 'check']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
  });

  test('a number or boolean key given a canary string', async () => {
    const tree = project({
      config: configText(''),
      secrets: secretsText({
        'authorization:\n': `authorization:\n  token_cache_ttl_seconds: ${c(41)}\n  enabled: "${c(42)}"\n`,
      }),
    });
    const result = await runClean(tree, ['config', 'check']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('authorization.token_cache_ttl_seconds must be a number');
  });

  test.each([
    ['a compact mapping', `client_secret: ${c(6)}: [`],
    ['an unterminated quote', `client_secret: "${c(6)}`],
    ['an unterminated flow sequence', `client_secret: [${c(6)}, ${c(9)}`],
    ['a reserved indicator', `client_secret: @${c(6)}`],
    ['a backtick', `client_secret: \`${c(6)}`],
    ['a duplicate key', `client_secret: ${c(6)}\n          client_secret: ${c(9)}`],
    ['an unknown local tag', `client_secret: !${c(6)} value`],
    ['a verbatim tag', `client_secret: !<${c(6)}> value`],
    ['an undefined alias', `client_secret: *${c(6)}`],
    ['a short escape', `client_secret: "\\q${c(6)}"`],
  ])(
    'a YAML syntax error on the same line as a canary in the secrets file: %s',
    async (_, line) => {
      const tree = project({ secrets: secretsText({ [`client_secret: ${c(6)}`]: line }) });
      for (const argv of [
        ['config', 'check'],
        ['--json', 'config', 'show'],
      ]) {
        const result = await runClean(tree, argv);
        expect(result.code).toBe(2);
        expect(result.stderr).toContain('mcp_agent.secrets.yaml:');
      }
    },
  );

  test.each([
    ['a block scalar header', `client_secret: >${c(6)}\n            more`],
    ['a tag with an undeclared handle', `client_secret: !a!${c(6)}`],
    ['a \\U escape in a double-quoted string', `client_secret: "\\U${c(6)}"`],
  ])('the YAML error message for %s does not echo the secret', async (_, line) => {
    const tree = project({ secrets: secretsText({ [`client_secret: ${c(6)}`]: line }) });
    const result = await runClean(tree, ['config', 'check']);
    expect(result.code).toBe(2);
  });

  test('unusable environment overrides are reported without their values', async () => {
    const tree = project();
    const result = await runClean(tree, ['config', 'check'], {
      ...ENV,
      OAUTH__FLOW_TIMEOUT_SECONDS: c(43),
      MCP__SERVERS__GH__HEADERS: `not json ${c(44)}`,
      MCP__SERVERS__GH__URL__DEEPER: c(45),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('oauth.flow_timeout_seconds expects a number');
    expect(result.stderr).toContain('mcp.servers.gh.headers expects a JSON object');
  });

  test('an unset ${VAR} beside a canary in the same string', async () => {
    const tree = project({
      secrets: secretsText({ [`api_key: ${c(3)}`]: `api_key: "${c(3)} \${NOT_SET_ANYWHERE}"` }),
    });
    const result = await runClean(tree, ['--json', 'config', 'check']);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('NOT_SET_ANYWHERE is not set');
  });

  test('an invalid preload carrying canaries, strict and not strict', async () => {
    const tree = project();
    const preloads = [
      // Valid YAML, invalid schema.
      `mcp:\n  servers:\n    gh:\n      transport: sse\n      url: https://gh.example\n      headers:\n        Authorization: ${c(50)}\n      auth:\n        oauth:\n          client_secret: ${c(51)}\n          client_id: ${c(52)}\n          bogus: ${c(53)}\noauth:\n  flow_timeout_seconds: ${c(54)}\n`,
      // A YAML error on the same line as a canary.
      `openai:\n  api_key: ${c(55)}: [\n`,
      `openai: {api_key: "${c(56)}`,
    ];
    for (const preload of preloads) {
      const strict = await runClean(tree, ['config', 'check'], {
        ...ENV,
        MCP_APP_SETTINGS_PRELOAD: preload,
        MCP_APP_SETTINGS_PRELOAD_STRICT: 'true',
      });
      expect(strict.code, preload).toBe(2);
      expect(strict.stderr).toContain('MCP_APP_SETTINGS_PRELOAD:');

      for (const argv of [
        ['config', 'check'],
        ['--json', 'config', 'check'],
        ['config', 'show', '--verbose'],
        ['--json', 'config', 'show'],
      ]) {
        const lax = await runClean(tree, argv, { ...ENV, MCP_APP_SETTINGS_PRELOAD: preload });
        expect(lax.code, lax.stderr).toBe(0);
        if (argv[0] === '--json') {
          expect(JSON.parse(lax.stdout)).toMatchObject({ preloaded: false });
        } else {
          expect(lax.stderr).toContain('warning: MCP_APP_SETTINGS_PRELOAD is invalid');
        }
      }
    }
  });

  test('a valid preload: its secret fields are redacted in config show', async () => {
    const tree = project();
    const preload = `mcp:\n  servers:\n    gh:\n      transport: sse\n      url: https://gh.example\n      headers:\n        Authorization: ${c(60)}\n      env:\n        K: ${c(61)}\nopenai:\n  api_key: ${c(62)}\n`;
    for (const argv of [
      ['config', 'show'],
      ['--json', '--verbose', 'config', 'show'],
    ]) {
      const result = await runClean(tree, argv, { ...ENV, MCP_APP_SETTINGS_PRELOAD: preload });
      expect(result.code, result.stderr).toBe(0);
      expect(`${result.stdout}${result.stderr}`).toContain(REDACTED);
    }
  });
});

describe('passwords in URLs written in the config file', () => {
  test('a plain URL password is masked', async () => {
    const tree = project({
      config: configText().replace(
        `redis://user:${c(37)}@localhost:6379/0`,
        `rediss://:${c(37)}@[::1]:6380/0`,
      ),
    });
    const result = await runClean(tree, ['config', 'show']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`rediss://:${REDACTED}@[::1]:6380/0`);
  });

  test.each([
    ['a "/"', `redis://user:${c(80)}/ab@localhost:6379/0`],
    ['a "#"', `redis://user:${c(81)}#ab@localhost:6379/0`],
    ['a "?"', `redis://user:${c(82)}?ab@localhost:6379/0`],
  ])('a URL password containing %s is masked', async (_, url) => {
    const tree = project({
      config: configText().replace(`redis://user:${c(37)}@localhost:6379/0`, url),
    });
    const result = await runClean(tree, ['config', 'show']);
    expect(result.code).toBe(0);
  });
});

describe('values reached through YAML anchors in the secrets file', () => {
  const config = `mcp:
  servers:
    gh:
      transport: sse
      url: https://gh.example/sse
      auth:
        oauth:
          enabled: true
    gh2:
      transport: sse
      url: https://gh2.example/sse
      auth:
        oauth:
          enabled: true
`;

  test('an alias in the secrets file into a mapping the config file also has is redacted', async () => {
    const tree = project({
      config,
      dotenv: '',
      secrets: `mcp:
  servers:
    gh:
      auth:
        oauth: &creds
          client_id: ${c(70)}
    gh2:
      auth:
        oauth: *creds
`,
    });
    const result = await runClean(tree, ['config', 'show'], {});
    expect(result.code).toBe(0);
  });

  test('a merge key (<<) in the secrets file into a mapping the config file also has is redacted', async () => {
    const tree = project({
      config,
      dotenv: '',
      secrets: `mcp:
  servers:
    gh:
      auth:
        oauth: &creds
          client_id: ${c(71)}
    gh2:
      auth:
        oauth:
          <<: *creds
          scopes: [read]
`,
    });
    const result = await runClean(tree, ['--json', 'config', 'show'], {});
    expect(result.code).toBe(0);
  });

  test('an alias in the secrets file to a mapping only the secrets file has is redacted', async () => {
    const tree = project({
      config:
        'mcp:\n  servers:\n    gh:\n      transport: sse\n      url: https://gh.example/sse\n',
      dotenv: '',
      secrets: `mcp:
  servers:
    gh:
      auth:
        oauth: &creds
          client_id: ${c(72)}
    gh2:
      transport: sse
      url: https://gh2.example/sse
      auth:
        oauth: *creds
`,
    });
    const result = await runClean(tree, ['config', 'show'], {});
    expect(result.code).toBe(0);
  });
});

describe('in the library', () => {
  test('util.inspect, JSON.stringify and String() of the settings never show a secret', () => {
    const tree = project();
    const loaded = loadSettings({ cwd: tree.dir, env: ENV, homeDir: tree.dir });
    const renderings = [
      inspect(loaded.settings, { depth: null }),
      inspect(loaded.settings, { depth: null, showHidden: true }),
      JSON.stringify(loaded.settings),
      JSON.stringify(loaded.settings, null, 2),
    ];
    for (const text of renderings) {
      for (const secret of SECRET_FIELD_CANARIES) expect(text).not.toContain(secret);
      expect(text).toContain(REDACTED);
    }
    for (const field of FIELDS.filter((f) => f.secret)) {
      const value = valueAt(loaded.settings, field.path);
      expect(value).toBeInstanceOf(Secret);
      const secret = value as Secret;
      for (const text of [
        String(secret),
        `${secret}`,
        `x${secret}`,
        secret.toString(),
        JSON.stringify(secret),
        JSON.stringify({ secret }),
        inspect(secret),
        inspect(secret, { customInspect: false, showHidden: true }),
        inspect({ secret }, { depth: null }),
        Object.keys(secret).join(','),
      ]) {
        expect(text).not.toContain(canary(field.n));
      }
    }
  });

  test('ConfigError.message and .issues never contain a canary', () => {
    const cases: { name: string; project: Project; env?: Record<string, string> }[] = [
      {
        name: 'an invalid key elsewhere',
        project: { config: configText('bogus_section: 1\n') },
      },
      {
        name: 'wrong types on secret fields',
        project: {
          secrets: secretsText({
            [`client_secret: ${c(6)}`]: `client_secret: [${c(6)}]`,
            [`api_key: ${c(3)}`]: `api_key: {k: ${c(3)}}`,
          }),
        },
      },
      {
        name: 'a YAML error beside a canary',
        project: {
          secrets: secretsText({ [`client_secret: ${c(6)}`]: `client_secret: ${c(6)}: [` }),
        },
      },
      {
        name: 'an unusable override',
        project: {},
        env: { ...ENV, OAUTH__FLOW_TIMEOUT_SECONDS: c(43) },
      },
      {
        name: 'a strict invalid preload',
        project: {},
        env: {
          ...ENV,
          MCP_APP_SETTINGS_PRELOAD: `openai:\n  api_key: ${c(55)}\n  bogus: ${c(56)}\n`,
          MCP_APP_SETTINGS_PRELOAD_STRICT: 'true',
        },
      },
    ];
    for (const { name, project: files, env } of cases) {
      const tree = project(files);
      let caught: unknown;
      try {
        loadSettings({ cwd: tree.dir, env: env ?? ENV, homeDir: tree.dir });
      } catch (error) {
        caught = error;
      }
      expect(caught, name).toBeInstanceOf(ConfigError);
      const error = caught as ConfigError;
      expect(error.errors.length, name).toBeGreaterThan(0);
      for (const text of [
        error.message,
        String(error.stack),
        JSON.stringify(error.issues),
        error.issues.map((issue) => formatIssue(issue)).join('\n'),
        inspect(error, { depth: null }),
      ]) {
        expectNoCanary(text, name);
      }
    }
  });

  test('warnings of a successful load never contain a canary', () => {
    const tree = project();
    const loaded = loadSettings({ cwd: tree.dir, env: ENV, homeDir: tree.dir });
    // The remote url from the secrets file is not a URL, and GOOGLE_VERTEXAI is not a boolean.
    expect(loaded.warnings.length).toBeGreaterThanOrEqual(2);
    expectNoCanary(JSON.stringify(loaded.warnings), 'warnings');
    expectNoCanary(loaded.warnings.map((issue) => formatIssue(issue)).join('\n'), 'warnings');
  });
});

test('the canaries are all distinct and none contains another', () => {
  for (const a of ALL_CANARIES) {
    for (const b of ALL_CANARIES) if (a !== b) expect(b.includes(a)).toBe(false);
  }
});
