/**
 * `mcp.servers.<name>.protocol` (ADR 0004, point 6): `auto` by default, the two revisions quoted
 * or as a date a YAML 1.1 reader made of them, anything else a configuration error naming the key
 * and the choices; `"2026-07-28"` is refused on `sse`.
 */
import { afterEach, expect, test } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import { serverSchema } from '../../src/config/schema/servers.js';
import { McpAgentError } from '../../src/errors.js';
import { tempTree } from '../helpers/cli.js';

const trees: ReturnType<typeof tempTree>[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});

function load(server: string) {
  const tree = tempTree({ 'mcp_agent.config.yaml': `mcp:\n  servers:\n    s:\n${server}` });
  trees.push(tree);
  return loadSettings({ cwd: tree.dir, env: {}, homeDir: `${tree.dir}/home` });
}

test('without the key a server is auto', () => {
  expect(load('      command: srv\n').settings.mcp.servers.s?.protocol).toBe('auto');
});

test.each([
  ['"2026-07-28"', '2026-07-28'],
  ['2026-07-28', '2026-07-28'],
  ["'2025-11-25'", '2025-11-25'],
  ['auto', 'auto'],
])('protocol: %s is %s', (written, read) => {
  const { settings } = load(
    `      transport: streamable_http\n      url: http://x/mcp\n      protocol: ${written}\n`,
  );
  expect(settings.mcp.servers.s?.protocol).toBe(read);
});

test('a date (a YAML 1.1 reader) is read as the day it names', () => {
  const parsed = serverSchema.parse({ command: 'srv', protocol: new Date('2025-11-25T00:00:00Z') });
  expect(parsed.protocol).toBe('2025-11-25');
});

test.each([
  [
    '2024-11-05',
    /:5:7: mcp\.servers\.s\.protocol must be one of "auto", "2026-07-28", "2025-11-25"/,
  ],
  ['latest', /:5:7: mcp\.servers\.s\.protocol must be one of "auto", "2026-07-28", "2025-11-25"/],
])('protocol: %s is a configuration error naming the key and the choices', (value, message) => {
  const error = (() => {
    try {
      load(`      command: srv\n      protocol: ${value}\n`);
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  expect(error).toBeInstanceOf(McpAgentError);
  expect((error as McpAgentError).code).toBe('CONFIG_INVALID');
  expect((error as Error).message).toMatch(message);
});

test('sse cannot be pinned to 2026-07-28', () => {
  expect(() =>
    load('      transport: sse\n      url: http://x/sse\n      protocol: "2026-07-28"\n'),
  ).toThrow(/mcp\.servers\.s\.protocol.*sse transport cannot carry/s);
  expect(
    load('      transport: sse\n      url: http://x/sse\n      protocol: "2025-11-25"\n').settings
      .mcp.servers.s?.protocol,
  ).toBe('2025-11-25');
});
