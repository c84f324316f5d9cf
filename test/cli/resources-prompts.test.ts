/**
 * `resources list/read` and `prompts list/get` (issue 15, item 4) against
 * `@modelcontextprotocol/server-everything` over stdio, configured twice (`ev` and `ev2`) so that
 * a URI two servers offer must be read with its server named.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { q, writeConfig } from '../support/config.js';
import { EVERYTHING } from '../support/everything.js';

const STATIC = 'demo://resource/static/document/startup.md';

function stdio(name: string): string[] {
  return [
    `    ${name}:`,
    `      command: ${q(process.execPath)}`,
    `      args: [${q(EVERYTHING)}, stdio]`,
  ];
}

let one: ReturnType<typeof writeConfig>;
let two: ReturnType<typeof writeConfig>;

beforeAll(() => {
  one = writeConfig(['mcp:', '  servers:', ...stdio('ev'), ''].join('\n'));
  two = writeConfig(['mcp:', '  servers:', ...stdio('ev'), ...stdio('ev2'), ''].join('\n'));
});

afterAll(() => {
  one?.cleanup();
  two?.cleanup();
});

const cli = (tree: { dir: string }, ...argv: string[]) => runCli(argv, { cwd: tree.dir, env: {} });

describe('resources', () => {
  test('list prints URIs and SERVER_NAME names, templates included; --json gives the server', async () => {
    const text = await cli(one, 'resources', 'list');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /^demo:\/\/resource\/static\/document\/startup\.md\s+ev_startup\.md$/m,
    );
    expect(text.stdout).toContain('demo://resource/dynamic/text/{resourceId}');
    const json = await cli(one, '--json', 'resources', 'list', 'ev');
    const rows = (JSON.parse(json.stdout) as { resources: Record<string, unknown>[] }).resources;
    expect(rows.find((row) => row.uri === STATIC)).toMatchObject({
      server: 'ev',
      name: 'ev_startup.md',
      template: false,
    });
  }, 30_000);

  test('read finds the one server listing the URI, or the one whose template matches', async () => {
    const listed = await cli(one, 'resources', 'read', STATIC);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('Startup');
    const templated = await cli(one, 'resources', 'read', 'demo://resource/dynamic/text/4');
    expect(templated.code, templated.stderr).toBe(0);
    expect(templated.stdout).toContain('Resource 4');
  }, 30_000);

  test('a URI no server offers, or two do, is a usage error; naming the server reads it', async () => {
    const none = await cli(one, 'resources', 'read', 'demo://nope');
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('No server lists the resource "demo://nope"');
    const both = await cli(two, 'resources', 'read', STATIC);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('"ev" and "ev2"');
    const named = await cli(two, 'resources', 'read', 'ev2', STATIC);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toContain('Startup');
  }, 30_000);
});

describe('prompts', () => {
  test('list prints SERVER_PROMPT with arguments; get prints the messages', async () => {
    const list = await cli(one, 'prompts', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^ev_args-prompt\s+city \[state\]/m);
    const got = await cli(one, 'prompts', 'get', 'ev_args-prompt', '{"city": "Paris"}');
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toBe("user: What's weather in Paris?\n");
    const json = await cli(one, '--json', 'prompts', 'get', 'ev_simple-prompt');
    expect(JSON.parse(json.stdout)).toMatchObject({ messages: [{ role: 'user' }] });
  }, 30_000);

  test('a name of no prompt, or of another server namespace, and arguments that are not strings are refused', async () => {
    for (const name of ['args-prompt', 'ev2_args-prompt', 'ev_nope']) {
      const result = await cli(one, 'prompts', 'get', name);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`No server offers a prompt named "${name}"`);
    }
    const bad = await cli(one, 'prompts', 'get', 'ev_args-prompt', '{"city": 3}');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('must be a JSON object of strings');
  }, 30_000);
});
