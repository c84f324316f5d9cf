/**
 * Every kind of bad input `mcp-agent config check` can meet: each error exits 2, prints no stack
 * trace, names the problem clearly and points at file:line:col; with --json the error is one JSON
 * document on stdout.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { commandHelp } from '../../src/cli/help.js';
import { type CliResult, runCli, tempTree } from '../helpers/cli.js';

const CONFIG = 'mcp_agent.config.yaml';
const SECRETS = 'mcp_agent.secrets.yaml';
const VALID_CONFIG = 'mcp:\n  servers:\n    fs:\n      command: npx\n';
const STACK_FRAME = /\n\s+at /;

interface JsonIssue {
  severity: 'error' | 'warning';
  path?: string;
  source?: string;
  message: string;
  text: string;
}

interface JsonError {
  code: string;
  message: string;
  issues?: JsonIssue[];
}

let trees: ReturnType<typeof tempTree>[] = [];
afterEach(() => {
  for (const tree of trees) tree.cleanup();
  trees = [];
});

/** A temporary directory with `files`; a secrets file is written with mode 0600. */
function project(files: Record<string, string>): ReturnType<typeof tempTree> {
  const tree = tempTree();
  trees.push(tree);
  for (const [path, text] of Object.entries(files)) {
    tree.write(path, text, path.endsWith('secrets.yaml') ? 0o600 : undefined);
  }
  return tree;
}

/** Run `argv` (default `config check`) in a project made of `files`. */
async function check(
  files: Record<string, string>,
  options: { argv?: string[]; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const tree = project(files);
  return runCli(options.argv ?? ['config', 'check'], {
    cwd: tree.dir,
    ...(options.env ? { env: options.env } : {}),
  });
}

/** The result of a failed run: the exit code, no stack trace, nothing on stdout without --json. */
function expectFailure(result: CliResult, code = 2, json = false): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).not.toMatch(STACK_FRAME);
  expect(result.stdout).not.toMatch(STACK_FRAME);
  if (!json) expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^(warning: .*\n)*error: /);
}

/** The JSON error document of a failed --json run. */
function jsonError(result: CliResult): JsonError {
  expectFailure(result, 2, true);
  const doc = JSON.parse(result.stdout) as { ok: boolean; error: JsonError };
  expect(doc.ok).toBe(false);
  expect(typeof doc.error.code).toBe('string');
  expect(typeof doc.error.message).toBe('string');
  return doc.error;
}

/** The error issues of a failed --json `config check`, checked for the documented shape. */
function jsonIssues(result: CliResult): JsonIssue[] {
  const error = jsonError(result);
  expect(error.code).toBe('CONFIG_INVALID');
  expect(Array.isArray(error.issues)).toBe(true);
  const errors = (error.issues ?? []).filter((issue) => issue.severity === 'error');
  expect(error.message).toBe(
    `${errors.length} configuration error${errors.length === 1 ? '' : 's'}`,
  );
  for (const issue of error.issues ?? []) {
    expect(typeof issue.message).toBe('string');
    expect(issue.text).toContain(issue.message);
    if (issue.source) expect(issue.text.startsWith(`${issue.source}: `)).toBe(true);
    if (issue.path) expect(issue.text).toContain(`${issue.path} ${issue.message}`);
  }
  return errors;
}

/** The error lines of a human-readable `config check` failure. */
function errorLines(result: CliResult): string[] {
  return result.stderr
    .split('\n')
    .filter((line) => line.startsWith('  '))
    .map((line) => line.trim());
}

describe('config check: malformed files', () => {
  test('malformed YAML is reported with the line and column of the error', async () => {
    const files = { [CONFIG]: 'mcp:\n  servers:\n    fs:\n      command: a: b\n' };
    const result = await check(files);
    expectFailure(result);
    expect(result.stderr).toContain('error: the configuration has 1 error:');
    expect(errorLines(result)).toEqual([
      'mcp_agent.config.yaml:4:16: invalid YAML: a nested mapping cannot start on the same line as its key (is a ": " inside an unquoted value? quote it)',
    ]);

    const issues = jsonIssues(await check(files, { argv: ['--json', 'config', 'check'] }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      source: 'mcp_agent.config.yaml:4:16',
      message: expect.stringMatching(/^invalid YAML: /),
    });
  });

  test('a tab used for indentation is reported on its line', async () => {
    const result = await check({ [CONFIG]: `${VALID_CONFIG}\t  args: []\n` });
    expectFailure(result);
    expect(result.stderr).toContain(
      'mcp_agent.config.yaml:5:1: invalid YAML: a tab is used for indentation; use spaces',
    );
  });

  test('an unterminated quoted string is located where it opens, not past the end of the file', async () => {
    // The quote opens on line 2, column 25; the file has two lines.
    const result = await check({ [CONFIG]: 'oauth:\n  flow_timeout_seconds: "60\n' });
    expectFailure(result);
    expect(result.stderr).toContain(
      'mcp_agent.config.yaml:2:25: invalid YAML: a quote or bracket is not closed',
    );
  });

  test('an alias to an undefined anchor is reported as such, not as a "billion laughs" document', async () => {
    // An unquoted value that starts with `*` (a password, say) is a YAML alias.
    const result = await check({
      [CONFIG]: 'oauth:\n  token_store:\n    backend: memory\n    path: *not-an-anchor\n',
    });
    expectFailure(result);
    expect(result.stderr).toMatch(/alias/i);
    expect(result.stderr).not.toContain('billion laughs');
    expect(result.stderr).toContain('mcp_agent.config.yaml:4:');
  });

  test('duplicate keys are reported at the second key', async () => {
    const files = {
      [CONFIG]:
        'oauth:\n  flow_timeout_seconds: 60\n  loopback_ports: []\n  flow_timeout_seconds: 90\n',
    };
    const result = await check(files);
    expectFailure(result);
    expect(errorLines(result)).toEqual([
      'mcp_agent.config.yaml:4:3: duplicate key: each key may appear only once in a mapping',
    ]);
    const issues = jsonIssues(await check(files, { argv: ['--json', 'config', 'check'] }));
    expect(issues.map((issue) => issue.source)).toEqual(['mcp_agent.config.yaml:4:3']);
  });

  test('a config file that is a list is refused', async () => {
    const result = await check({ [CONFIG]: '- mcp\n- oauth\n' });
    expectFailure(result);
    expect(errorLines(result)).toEqual([
      'mcp_agent.config.yaml:1:1: the configuration file must be a mapping of sections (such as `mcp:` and `oauth:`), not a list',
    ]);
  });

  test('a config file that is a single scalar is refused', async () => {
    const result = await check({ [CONFIG]: 'just some text\n' });
    expectFailure(result);
    expect(result.stderr).toContain(
      'mcp_agent.config.yaml:1:1: the configuration file must be a mapping of sections',
    );
  });

  test('an empty config file is refused with a hint', async () => {
    for (const text of ['', '# only a comment\n', '\n\n']) {
      const result = await check({ [CONFIG]: text });
      expectFailure(result);
      expect(result.stderr).toContain('mcp_agent.config.yaml:1:1: the configuration file is empty');
      expect(result.stderr).toContain('mcp-agent init');
    }
  });

  test('a secrets file that is a list is refused', async () => {
    const files = { [CONFIG]: VALID_CONFIG, [SECRETS]: '- a\n- b\n' };
    const result = await check(files);
    expectFailure(result);
    expect(errorLines(result)).toEqual([
      'mcp_agent.secrets.yaml:1:1: the secrets file must be a mapping of sections (such as `mcp:` and `oauth:`), not a list',
    ]);
    const issues = jsonIssues(await check(files, { argv: ['--json', 'config', 'check'] }));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.source).toBe('mcp_agent.secrets.yaml:1:1');
  });

  test('YAML errors in the config and the secrets file are reported together', async () => {
    const result = await check({
      [CONFIG]: 'mcp:\n  servers:\n    fs:\n      command: a: b\n',
      [SECRETS]: 'oauth:\n  flow_timeout_seconds: 60\n  flow_timeout_seconds: 90\n',
    });
    expectFailure(result);
    expect(result.stderr).toContain('error: the configuration has 2 errors:');
    expect(result.stderr).toContain('mcp_agent.config.yaml:4:16: invalid YAML');
    expect(result.stderr).toContain('mcp_agent.secrets.yaml:3:3: duplicate key');
  });
});

describe('config check: unusable files', () => {
  test('a directory passed as --config is refused', async () => {
    const files = { 'configs/placeholder': '' };
    const result = await check(files, { argv: ['--config', 'configs', 'config', 'check'] });
    expectFailure(result);
    expect(result.stderr).toMatch(/^error: The configuration file .*configs is a directory/);
    const error = jsonError(
      await check(files, { argv: ['--json', '--config', 'configs', 'config', 'check'] }),
    );
    expect(error.code).toBe('CONFIG_UNREADABLE');
    expect(error.message).toContain('is a directory');
  });

  test('a missing --config file is refused', async () => {
    const result = await check({}, { argv: ['config', 'check', '--config', 'nope.yaml'] });
    expectFailure(result);
    expect(result.stderr).toMatch(/^error: The configuration file .*nope\.yaml does not exist/);
    expect(result.stderr).toContain('mcp-agent init');
    const error = jsonError(
      await check({}, { argv: ['--json', 'config', 'check', '-c', 'nope.yaml'] }),
    );
    expect(error.code).toBe('CONFIG_NOT_FOUND');
  });

  test('a 10 MB config file is refused by its size, without being parsed', async () => {
    const line = `# ${'x'.repeat(97)}\n`;
    const big = `${VALID_CONFIG}${line.repeat(100_000)}`;
    expect(big.length).toBeGreaterThan(10_000_000);
    const started = performance.now();
    const result = await check({ [CONFIG]: big });
    const elapsed = performance.now() - started;
    expectFailure(result);
    expect(result.stderr).toMatch(
      /^error: The configuration file .*mcp_agent\.config\.yaml is 9\.\d MiB, over the 1\.0 MiB limit/,
    );
    // The run completes (no timing assertion; the test timeout bounds a hang).
    expect(Number.isFinite(elapsed)).toBe(true);

    const error = jsonError(
      await check({ [CONFIG]: big }, { argv: ['--json', 'config', 'check'] }),
    );
    expect(error.code).toBe('CONFIG_UNREADABLE');
    expect(error.message).toContain('limit');
  });

  test('a 10 MB secrets file is refused by its size', async () => {
    const big = `mcp: {}\n${`# ${'y'.repeat(97)}\n`.repeat(100_000)}`;
    const result = await check({ [CONFIG]: VALID_CONFIG, [SECRETS]: big });
    expectFailure(result);
    expect(result.stderr).toMatch(/The secrets file .* is 9\.\d MiB, over the 1\.0 MiB limit/);
  });

  test('YAML aliases expanding exponentially ("billion laughs") are refused', async () => {
    let text = `a0: &a0 [${Array(9).fill('"lol"').join(', ')}]\n`;
    for (let level = 1; level <= 9; level++) {
      text += `a${level}: &a${level} [${Array(9)
        .fill(`*a${level - 1}`)
        .join(', ')}]\n`;
    }
    const result = await check({ [CONFIG]: text });
    expectFailure(result);
    expect(errorLines(result)).toEqual([
      'mcp_agent.config.yaml:1:1: YAML aliases expand too far or refer to themselves (a "billion laughs" document?); aliases may add at most 100,000 values',
    ]);
    const issues = jsonIssues(
      await check({ [CONFIG]: text }, { argv: ['--json', 'config', 'check'] }),
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toMatch(/aliases/);
  });

  test('a few ordinary aliases are accepted', async () => {
    const result = await check({
      [CONFIG]:
        'mcp:\n  servers:\n    a:\n      command: npx\n      args: &args [x, y]\n    b:\n      command: npx\n      args: *args\n',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('2 servers (a, b)');
  });
});

describe('config check: schema errors', () => {
  test('a wrong type names the key path and file:line:col', async () => {
    const files = { [CONFIG]: 'oauth:\n  flow_timeout_seconds: "abc"\n' };
    const result = await check(files);
    expectFailure(result);
    expect(errorLines(result)).toEqual([
      'mcp_agent.config.yaml:2:3: oauth.flow_timeout_seconds must be a number, not a string',
    ]);
    const issues = jsonIssues(await check(files, { argv: ['--json', 'config', 'check'] }));
    expect(issues).toEqual([
      expect.objectContaining({
        path: 'oauth.flow_timeout_seconds',
        source: 'mcp_agent.config.yaml:2:3',
        message: 'must be a number, not a string',
      }),
    ]);
  });

  test('a quoted number gets a "remove the quotes" hint', async () => {
    const result = await check({ [CONFIG]: 'oauth:\n  flow_timeout_seconds: "60"\n' });
    expectFailure(result);
    expect(result.stderr).toContain('oauth.flow_timeout_seconds must be a number');
    expect(result.stderr).toContain('remove the quotes');
  });

  test('an unknown key suggests the key that was meant', async () => {
    const files = { [CONFIG]: 'oauth:\n  token_stor: {}\n' };
    const result = await check(files);
    expectFailure(result);
    expect(errorLines(result)).toEqual([
      'mcp_agent.config.yaml:2:3: oauth.token_stor is not a known key; did you mean "token_store"?',
    ]);
    const issues = jsonIssues(await check(files, { argv: ['--json', 'config', 'check'] }));
    expect(issues[0]).toMatchObject({
      path: 'oauth.token_stor',
      source: 'mcp_agent.config.yaml:2:3',
    });
    expect(issues[0]?.message).toContain('did you mean "token_store"');
  });

  test('an unknown key without a near match lists the known keys', async () => {
    const result = await check({ [CONFIG]: 'oauth:\n  zzz: 1\n' });
    expectFailure(result);
    expect(result.stderr).toContain('mcp_agent.config.yaml:2:3: oauth.zzz is not a known key');
    expect(result.stderr).toContain('token_store');
  });

  test('an unknown top-level section is reported', async () => {
    const result = await check({ [CONFIG]: `${VALID_CONFIG}bogus_section:\n  x: 1\n` });
    expectFailure(result);
    expect(errorLines(result)).toEqual([
      'mcp_agent.config.yaml:5:1: bogus_section is not a known section',
    ]);
  });

  test('a misspelt top-level section suggests the section that was meant', async () => {
    const result = await check({ [CONFIG]: `${VALID_CONFIG}athorization:\n  enabled: false\n` });
    expectFailure(result);
    expect(result.stderr).toContain(
      'mcp_agent.config.yaml:5:1: athorization is not a known section; did you mean "authorization"?',
    );
  });

  test('an unset ${VAR} names the variable, the key path and file:line', async () => {
    const files = {
      [CONFIG]: 'mcp:\n  servers:\n    gh:\n      transport: sse\n      url: ${GH_URL}\n',
    };
    const result = await check(files);
    expectFailure(result);
    const lines = errorLines(result);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mcp_agent\.config\.yaml:5:\d+: mcp\.servers\.gh\.url /);
    expect(lines[0]).toContain('GH_URL is not set');
    // Reported once: not again as a missing url.
    expect(result.stderr).not.toContain('is required');

    const issues = jsonIssues(await check(files, { argv: ['--json', 'config', 'check'] }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'mcp.servers.gh.url' });
    expect(issues[0]?.source).toMatch(/^mcp_agent\.config\.yaml:5:/);
    expect(issues[0]?.message).toContain('${GH_URL}');
  });

  test('a ${VAR} set in the environment or .env is accepted', async () => {
    const files = {
      [CONFIG]: 'mcp:\n  servers:\n    gh:\n      transport: sse\n      url: ${GH_URL}\n',
    };
    const viaEnv = await check(files, { env: { GH_URL: 'https://gh.example/sse' } });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    const viaDotenv = await check({ ...files, '.env': 'GH_URL=https://gh.example/sse\n' });
    expect(viaDotenv.code, viaDotenv.stderr).toBe(0);
  });

  test('authorization enabled without its required keys is ONE message naming all three', async () => {
    const files = { [CONFIG]: `${VALID_CONFIG}authorization:\n  enabled: true\n` };
    const result = await check(files);
    expectFailure(result);
    expect(result.stderr).toContain('error: the configuration has 1 error:');
    const lines = errorLines(result);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mcp_agent\.config\.yaml:5:1: authorization /);
    for (const key of ['issuer_url', 'resource_server_url', 'expected_audiences']) {
      expect(lines[0]).toContain(key);
    }
    const issues = jsonIssues(await check(files, { argv: ['--json', 'config', 'check'] }));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('authorization');
  });

  test('authorization enabled names only the keys that are missing', async () => {
    const result = await check({
      [CONFIG]: `${VALID_CONFIG}authorization:\n  enabled: true\n  issuer_url: https://issuer.example\n  expected_audiences: [api]\n`,
    });
    expectFailure(result);
    const lines = errorLines(result);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/authorization needs resource_server_url when enabled/);
  });

  test('a redis token store without redis_url is refused', async () => {
    const files = { [CONFIG]: 'oauth:\n  token_store:\n    backend: redis\n' };
    const result = await check(files);
    expectFailure(result);
    expect(errorLines(result)).toEqual([
      'mcp_agent.config.yaml:2:3: oauth.token_store.redis_url is required when backend is "redis" (for example redis://127.0.0.1:6379)',
    ]);
    const issues = jsonIssues(await check(files, { argv: ['--json', 'config', 'check'] }));
    expect(issues[0]?.path).toBe('oauth.token_store.redis_url');
  });

  test('flow_timeout_seconds below the minimum of 30 is refused', async () => {
    const result = await check({ [CONFIG]: 'oauth:\n  flow_timeout_seconds: 10\n' });
    expectFailure(result);
    expect(errorLines(result)).toEqual([
      'mcp_agent.config.yaml:2:3: oauth.flow_timeout_seconds must be at least 30',
    ]);
  });

  // A server that cannot be started or reached still loads (as in mcp-agent); `config check`
  // warns, with the key path and file:line:col.
  test('a stdio server without command is a warning naming the key and file:line:col', async () => {
    const files = { [CONFIG]: 'mcp:\n  servers:\n    fs:\n      args: [x]\n' };
    const result = await check(files);
    expect(result.code, result.stderr).toBe(0);
    // The warning on stderr; the verdict, the result, on stdout.
    expect(result.stdout).not.toContain('warning');
    expect(result.stdout).toMatch(/^Configuration OK: /);
    expect(result.stderr).toContain(
      'warning: mcp_agent.config.yaml:3:5: mcp.servers.fs.command is not set, so this stdio server cannot be started',
    );
    const json = await check(files, { argv: ['--json', 'config', 'check'] });
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { ok: boolean; warnings: JsonIssue[] };
    expect(doc.ok).toBe(true);
    expect(doc.warnings).toEqual([
      expect.objectContaining({
        severity: 'warning',
        path: 'mcp.servers.fs.command',
        source: 'mcp_agent.config.yaml:3:5',
      }),
    ]);
  });

  test('an sse server without url is a warning naming the key and file:line:col', async () => {
    const result = await check({
      [CONFIG]: 'mcp:\n  servers:\n    remote:\n      transport: sse\n',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      'warning: mcp_agent.config.yaml:3:5: mcp.servers.remote.url is not set, so this sse server cannot be reached',
    );
  });

  test('an sse server whose url is not a URL is a warning', async () => {
    const result = await check({
      [CONFIG]: 'mcp:\n  servers:\n    remote:\n      transport: sse\n      url: not a url\n',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      'warning: mcp_agent.config.yaml:5:7: mcp.servers.remote.url is not a valid http(s) URL',
    );
  });

  test('an invalid transport lists the accepted ones', async () => {
    const result = await check({
      [CONFIG]:
        'mcp:\n  servers:\n    remote:\n      transport: carrier-pigeon\n      url: https://x.example\n',
    });
    expectFailure(result);
    expect(result.stderr).toContain(
      'mcp_agent.config.yaml:4:7: mcp.servers.remote.transport must be one of',
    );
    expect(result.stderr).toContain('"streamable_http"');
  });

  test('several errors in the config and the secrets file are all reported in one run', async () => {
    const files = {
      [CONFIG]: [
        'mcp:', //                              1
        '  servers:', //                        2
        '    gh:', //                           3
        '      transport: sse', //              4
        '      url: https://gh.example/sse', // 5
        'oauth:', //                            6
        '  flow_timeout_seconds: 10', //        7  below 30
        '  token_stor: {}', //                  8  unknown key
        'authorization:', //                    9  enabled without its keys
        '  enabled: true', //                   10
        'bogus: 1', //                          11 unknown section
        '',
      ].join('\n'),
      [SECRETS]: [
        'mcp:', //                              1
        '  servers:', //                        2
        '    gh:', //                           3
        '      headers:', //                    4
        '        Authorization: [a, b]', //     5 a list, not a string
        '      auth:', //                       6
        '        api_kye: x', //                7 unknown key
        'oauth:', //                            8
        '  loopback_ports: [0]', //             9 port 0
        '  token_store:', //                    10
        '    backend: redis', //                11 no redis_url
        '',
      ].join('\n'),
    };
    const expected = [
      'mcp_agent.config.yaml:7:3: oauth.flow_timeout_seconds must be at least 30',
      'mcp_agent.config.yaml:8:3: oauth.token_stor is not a known key; did you mean "token_store"?',
      'mcp_agent.config.yaml:9:1: authorization needs issuer_url, resource_server_url, expected_audiences',
      'mcp_agent.config.yaml:11:1: bogus is not a known section',
      'mcp_agent.secrets.yaml:5:9: mcp.servers.gh.headers.Authorization must be a string, not a list',
      'mcp_agent.secrets.yaml:7:9: mcp.servers.gh.auth.api_kye is not a known key; did you mean "api_key"?',
      'mcp_agent.secrets.yaml:9:20: oauth.loopback_ports[0] must be at least 1',
      'mcp_agent.secrets.yaml:10:3: oauth.token_store.redis_url is required when backend is "redis"',
    ];
    const result = await check(files);
    expectFailure(result);
    expect(result.stderr).toContain(`error: the configuration has ${expected.length} errors:`);
    const lines = errorLines(result);
    expect(lines).toHaveLength(expected.length);
    for (const start of expected) {
      expect(
        lines.some((line) => line.startsWith(start)),
        `${start}\n${lines.join('\n')}`,
      ).toBe(true);
    }

    const issues = jsonIssues(await check(files, { argv: ['--json', 'config', 'check'] }));
    expect(issues).toHaveLength(expected.length);
    expect(issues.filter((issue) => issue.source?.startsWith(SECRETS))).toHaveLength(4);
    expect(issues.filter((issue) => issue.source?.startsWith(CONFIG))).toHaveLength(4);
  });
});

describe('config check: MCP_APP_SETTINGS_PRELOAD', () => {
  test('a preload that does not parse is fatal with MCP_APP_SETTINGS_PRELOAD_STRICT=true', async () => {
    const env = { MCP_APP_SETTINGS_PRELOAD: 'a: [', MCP_APP_SETTINGS_PRELOAD_STRICT: 'true' };
    const files = { [CONFIG]: VALID_CONFIG };
    const result = await check(files, { env });
    expectFailure(result);
    expect(result.stderr).toContain('error: the configuration has 1 error:');
    expect(result.stderr).toMatch(/ {2}MCP_APP_SETTINGS_PRELOAD:1:\d+: invalid YAML: /);

    const issues = jsonIssues(await check(files, { env, argv: ['--json', 'config', 'check'] }));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.source).toMatch(/^MCP_APP_SETTINGS_PRELOAD:1:/);
  });

  test('a preload that does not parse is a warning when not strict, and the files are used', async () => {
    const env = { MCP_APP_SETTINGS_PRELOAD: 'a: [' };
    const files = { [CONFIG]: VALID_CONFIG };
    const result = await check(files, { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(result.stderr).toContain('warning: MCP_APP_SETTINGS_PRELOAD is invalid and was ignored');
    expect(result.stderr).toMatch(/warning: MCP_APP_SETTINGS_PRELOAD:1:\d+: invalid YAML: /);
    expect(result.stdout).not.toContain('warning');
    expect(result.stdout).toContain('Configuration OK: mcp_agent.config.yaml');
    expect(result.stdout).toContain('1 server (fs)');

    const json = await check(files, { env, argv: ['--json', 'config', 'check'] });
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as {
      ok: boolean;
      preloaded: boolean;
      servers: string[];
      warnings: JsonIssue[];
    };
    expect(doc).toMatchObject({ ok: true, preloaded: false, servers: ['fs'] });
    expect(doc.warnings.length).toBeGreaterThanOrEqual(2);
    expect(json.stderr).toContain('warning: MCP_APP_SETTINGS_PRELOAD is invalid');
  });

  test('--json config show still reports on stderr that the preload was ignored', async () => {
    const result = await check(
      { [CONFIG]: VALID_CONFIG },
      { env: { MCP_APP_SETTINGS_PRELOAD: 'a: [' }, argv: ['--json', 'config', 'show'] },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ preloaded: false });
    // `config check --json` and `config show` (without --json) print this warning; here it is lost.
    expect(result.stderr).toContain('warning: MCP_APP_SETTINGS_PRELOAD is invalid');
  });

  test('a preload that does not parse, not strict, over invalid files: the file errors decide', async () => {
    const result = await check(
      { [CONFIG]: 'oauth:\n  flow_timeout_seconds: 10\n' },
      { env: { MCP_APP_SETTINGS_PRELOAD: 'a: [', MCP_APP_SETTINGS_PRELOAD_STRICT: 'false' } },
    );
    expectFailure(result);
    expect(result.stderr).toContain('warning: MCP_APP_SETTINGS_PRELOAD is invalid');
    expect(result.stderr).toContain(
      'mcp_agent.config.yaml:2:3: oauth.flow_timeout_seconds must be at least 30',
    );
  });

  test('a preload larger than 1 MiB is refused when strict', async () => {
    const env = {
      MCP_APP_SETTINGS_PRELOAD: `mcp: {}\n${'# padding\n'.repeat(200_000)}`,
      MCP_APP_SETTINGS_PRELOAD_STRICT: 'true',
    };
    const result = await check({ [CONFIG]: VALID_CONFIG }, { env });
    expectFailure(result);
    expect(result.stderr).toContain(
      'MCP_APP_SETTINGS_PRELOAD:1:1: the MCP_APP_SETTINGS_PRELOAD value is over the 1.0 MiB limit for configuration',
    );
  });
});

describe('usage errors', () => {
  const files = { [CONFIG]: VALID_CONFIG };

  /** A usage error: exit 2, the message, and the "Run `mcp-agent … --help`" hint. */
  async function usage(argv: string[], message: string | RegExp, hint: string): Promise<void> {
    const result = await check(files, { argv });
    expectFailure(result);
    if (typeof message === 'string') expect(result.stderr).toContain(message);
    else expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain(`Run \`${hint}\` for usage.`);

    const json = jsonError(await check(files, { argv: ['--json', ...argv] }));
    expect(json.code).toBe('USAGE');
    expect(json.issues).toBeUndefined();
  }

  test('an unknown command', async () => {
    await usage(['frobnicate'], 'error: Unknown command "frobnicate".', 'mcp-agent --help');
    await usage(['config', 'frob'], 'error: Unknown command "config frob".', 'mcp-agent --help');
  });

  test('an unknown option', async () => {
    await usage(['config', 'check', '--frob'], 'error: Unknown option --frob.', 'mcp-agent --help');
    await usage(['config', 'check', '-Z'], 'error: Unknown option -Z.', 'mcp-agent --help');
  });

  test('an option of another command', async () => {
    await usage(
      ['config', 'check', '--force'],
      'error: Option --force does not apply to "config check".',
      'mcp-agent config check --help',
    );
    await usage(
      ['config', 'show', '--dir', 'x'],
      'error: Option --dir does not apply to "config show".',
      'mcp-agent config show --help',
    );
  });

  test('extra arguments', async () => {
    await usage(
      ['config', 'check', 'extra'],
      'error: "config check" takes no arguments, but got "extra".',
      'mcp-agent config check --help',
    );
    await usage(
      ['config', 'show', 'a', 'b'],
      'error: "config show" takes no arguments, but got "a b".',
      'mcp-agent config show --help',
    );
  });

  test('an option without its value', async () => {
    await usage(
      ['config', 'check', '--config'],
      /error: Option .*--config.* needs a value/,
      'mcp-agent --help',
    );
  });

  test('no command prints the help on stderr and exits 2', async () => {
    const result = await check(files, { argv: [] });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Usage: mcp-agent');
  });

  test('--json without a command still writes a JSON error on stdout', async () => {
    const result = await check(files, { argv: ['--json'] });
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    // The --json contract: the result or error is one JSON document on stdout.
    const doc = JSON.parse(result.stdout || 'null') as { ok: boolean; error: JsonError } | null;
    expect(doc?.ok).toBe(false);
    expect(doc?.error.code).toBe('USAGE');
  });
});

describe('--help and --version', () => {
  const files = { [CONFIG]: VALID_CONFIG };

  test.each([
    [['--help'], 'Usage: mcp-agent [--config PATH]'],
    [['-h'], 'Usage: mcp-agent [--config PATH]'],
    [['config', '--help'], 'Usage: mcp-agent config <command>'],
    [['config', 'check', '--help'], 'Usage: mcp-agent [--config PATH] [--json] config check'],
    [
      ['config', 'show', '--help'],
      'Usage: mcp-agent [--config PATH] [--json] [--verbose] config show',
    ],
    [['init', '--help'], 'Usage: mcp-agent init [--dir DIR] [--force]'],
    [['--help', 'config', 'check'], 'config check'],
  ])('%j prints help on stdout and exits 0', async (argv, usageLine) => {
    const result = await check(files, { argv });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(usageLine);
    expect(result.stdout).toContain('Global options:');
  });

  test('every option of every command is set apart from its help, however long the flag', async () => {
    for (const command of COMMANDS) {
      const help = commandHelp(command);
      for (const line of help.split('\n').filter((each) => /^ {2}(-\w, | {4})--/.test(each))) {
        expect(line, command.path.join(' ')).toMatch(/^ {2}(-\w, | {4})--[\w-]+( [A-Z_]+)? {2,}\S/);
      }
    }
  });

  test('--help of a command does not load the configuration', async () => {
    const result = await check(
      { [CONFIG]: 'not: [valid' },
      { argv: ['config', 'check', '--help'] },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('config check');
  });

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    for (const argv of [['--version'], ['-V'], ['config', 'check', '--version']]) {
      const result = await check(files, { argv });
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`${version}\n`);
      expect(result.stderr).toBe('');
    }
    const json = await check(files, { argv: ['--json', '--version'] });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ version });
  });
});
