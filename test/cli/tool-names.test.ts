/**
 * `tools list` and `tools call` agree: every name `tools list` prints (as text and with `--json`)
 * is inside `^[A-Za-z0-9_-]{1,64}$`, and `tools call NAME` reaches exactly that tool, for tool
 * names that break the rule and for two servers whose names can be read into each other (`aw` and
 * `aw_plain`: `aw_plain_tool` would be either).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TOOL_NAME_PATTERN, ToolNames } from '../../src/config/tool-names.js';
import { runCli } from '../helpers/cli.js';
import { q, writeConfig } from '../support/config.js';

const SERVER = fileURLToPath(new URL('../support/awkward-names-server.mjs', import.meta.url));

function stdio(name: string): string[] {
  return [
    `    ${name}:`,
    `      command: ${q(process.execPath)}`,
    `      args: [${q(SERVER)}]`,
    `      env: { LABEL: ${q(name)} }`,
  ];
}

let tree: ReturnType<typeof writeConfig>;
let listed: { name: string; server: string; tool: string }[];

const cli = (...argv: string[]) => runCli(argv, { cwd: tree.dir, env: {} });

beforeAll(async () => {
  tree = writeConfig(['mcp:', '  servers:', ...stdio('aw'), ...stdio('aw_plain'), ''].join('\n'));
  const json = await cli('tools', 'list', '--json');
  expect(json.code).toBe(0);
  listed = (JSON.parse(json.stdout) as { tools: typeof listed }).tools;
}, 30_000);

afterAll(() => tree?.cleanup());

describe('tools list', () => {
  test('prints SERVER_TOOL names inside the rule, the same as text and as JSON', async () => {
    expect(listed).toHaveLength(12);
    const names = new ToolNames(['aw', 'aw_plain']);
    for (const tool of listed) {
      expect(tool.name).toMatch(TOOL_NAME_PATTERN);
      expect(tool.name).toBe(names.name(tool.server, tool.tool));
    }
    expect(new Set(listed.map((tool) => tool.name)).size).toBe(12);
    expect(listed.map((tool) => tool.name)).toContain('aw_plain_plain_tool');
    // aw's plain_tool would be "aw_plain_tool", a name of aw_plain's: it is hashed.
    expect(listed.find((tool) => tool.server === 'aw' && tool.tool === 'plain_tool')?.name).toMatch(
      /^aw_[0-9a-f]{10}$/,
    );
    const human = await cli('tools', 'list');
    expect(human.code).toBe(0);
    // The first word of each line (wherever the command writes its result).
    const printed = `${human.stdout}${human.stderr}`
      .split('\n')
      .map((line) => line.split(/\s+/)[0])
      .filter((word): word is string => word !== undefined && word !== '');
    expect(printed.sort()).toEqual(listed.map((tool) => tool.name).sort());
  });
});

describe('tools call', () => {
  test('every name tools list printed calls that tool of that server', async () => {
    for (const { name, server, tool } of listed) {
      const result = await cli('tools', 'call', name, '--json');
      expect(result.code, `tools call ${name}`).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        content: [{ type: 'text', text: `${server} ran ${tool}` }],
      });
    }
  }, 60_000);

  test('NAME with JSON arguments, and SERVER TOOL (the tool by its own name) still work', async () => {
    const name = listed.find((tool) => tool.server === 'aw' && tool.tool === 'a/b')?.name ?? '';
    const withArgs = await cli('tools', 'call', name, '{}', '--json');
    expect(JSON.parse(withArgs.stdout)).toMatchObject({ content: [{ text: 'aw ran a/b' }] });
    const bySplit = await cli('tools', 'call', 'aw', 'a/b', '{}', '--json');
    expect(JSON.parse(bySplit.stdout)).toMatchObject({ content: [{ text: 'aw ran a/b' }] });
    const twoWords = await cli('tools', 'call', 'aw_plain', 'files.read', '--json');
    expect(JSON.parse(twoWords.stdout)).toMatchObject({
      content: [{ text: 'aw_plain ran files.read' }],
    });
  });

  test('the old SERVER/TOOL spelling is refused with the new name in the message', async () => {
    const name = listed.find((tool) => tool.server === 'aw' && tool.tool === 'files.read')?.name;
    const old = await cli('tools', 'call', 'aw/files.read');
    expect(old.code).toBe(2);
    expect(old.stderr).toContain(`the name of "files.read" of server "aw" is "${name}"`);
    const unknown = await cli('tools', 'call', 'aw_nothing');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Server "aw" offers no tool named "aw_nothing"');
  });
});
