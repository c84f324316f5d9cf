import { afterEach, describe, expect, test } from 'vitest';
import { runCli, tempTree } from '../helpers/cli.js';

let tree: ReturnType<typeof tempTree>;
afterEach(() => tree?.cleanup());

describe('mcp-agent config check', () => {
  test('a valid config exits 0 and says so on stdout', async () => {
    tree = tempTree({ 'mcp_agent.config.yaml': 'mcp:\n  servers:\n    fs:\n      command: npx\n' });
    const result = await runCli(['config', 'check'], { cwd: tree.dir });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Configuration OK');
  });
});

describe('--verbose', () => {
  test('adds the stack trace of an error, which is otherwise left out', async () => {
    tree = tempTree({ 'mcp_agent.config.yaml': 'oauth: {flow_timeout_seconds: 1}\n' });
    const quiet = await runCli(['config', 'check'], { cwd: tree.dir });
    const verbose = await runCli(['--verbose', 'config', 'check'], { cwd: tree.dir });
    expect(quiet.code).toBe(2);
    expect(verbose.code).toBe(2);
    expect(quiet.stderr).not.toMatch(/\n\s+at /);
    expect(verbose.stderr).toMatch(/ConfigError: Invalid configuration[^\n]*\n\s+at /);
  });

  test('annotates config show with the source of each value', async () => {
    tree = tempTree({ 'mcp_agent.config.yaml': 'oauth:\n  flow_timeout_seconds: 60\n' });
    const result = await runCli(['config', 'show', '-v'], {
      cwd: tree.dir,
      env: { OAUTH__TOKEN_STORE__BACKEND: 'file' },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('flow_timeout_seconds: 60 # mcp_agent.config.yaml:2:3');
    expect(result.stdout).toContain(
      'backend: file # environment variable OAUTH__TOKEN_STORE__BACKEND',
    );
    expect(result.stdout).toContain('refresh_leeway_seconds: 60 # default');
  });
});

describe('unknown commands', () => {
  test.each([
    [['confg', 'check'], 'Unknown command "confg". Did you mean "config check"?'],
    [['config', 'chek'], 'Unknown command "config chek". Did you mean "config check"?'],
    [['int'], 'Unknown command "int". Did you mean "init"?'],
    [['frobnicate'], 'Unknown command "frobnicate".\n'],
  ])('%j', async (argv, message) => {
    tree = tempTree();
    const result = await runCli(argv, { cwd: tree.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error: ${message}`);
  });
});

describe('config show --verbose inside lists', () => {
  test('values in a list of mappings are annotated too', async () => {
    tree = tempTree({
      'mcp_agent.config.yaml':
        'mcp:\n  servers:\n    fs:\n      command: npx\n      roots:\n        - uri: file:///tmp\n          name: tmp\n',
    });
    const result = await runCli(['config', 'show', '--verbose'], { cwd: tree.dir });
    expect(result.stdout).toContain('- uri: file:///tmp # mcp_agent.config.yaml:6:11');
    expect(result.stdout).toContain('name: tmp # mcp_agent.config.yaml:7:11');
  });
});
