import { describe, expect, test } from 'vitest';
import type { SourcePosition, ValueOrigin } from '../../src/config/paths.js';
import { parseYamlSource } from '../../src/config/yaml-source.js';

const at = (position: SourcePosition): ValueOrigin => ({ kind: 'preload', position });

function billionLaughs(levels: number, width: number): string {
  let text = `l0: &l0 [${Array(width).fill('"lol"').join(', ')}]\n`;
  for (let level = 1; level <= levels; level++) {
    text += `l${level}: &l${level} [${Array(width)
      .fill(`*l${level - 1}`)
      .join(', ')}]\n`;
  }
  return text;
}

describe('parseYamlSource', () => {
  test('records the position of every key and list item', () => {
    const result = parseYamlSource('a:\n  b: 1\n  c: [x, y]\n', at);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toEqual({ a: { b: 1, c: ['x', 'y'] } });
    expect(result.origins.own(['a', 'b'])).toEqual({
      kind: 'preload',
      position: { line: 2, column: 3 },
    });
    expect(result.origins.own(['a', 'c', 1])).toEqual({
      kind: 'preload',
      position: { line: 3, column: 10 },
    });
  });

  test('reports syntax errors with their position and without quoting the input', () => {
    const result = parseYamlSource('ok: 1\nsecret: "SUPER-SECRET-VALUE\n  more: x', at);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]?.origin).toMatchObject({ position: { line: 2, column: 9 } });
    expect(result.issues[0]?.message).toMatch(/^invalid YAML: /);
    expect(JSON.stringify(result.issues)).not.toContain('SUPER-SECRET-VALUE');
  });

  test('duplicate keys are errors at the second key', () => {
    const result = parseYamlSource('a: 1\nb: 2\na: 3\n', at);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]?.origin).toMatchObject({ position: { line: 3, column: 1 } });
    expect(result.issues[0]?.message).toMatch(/duplicate key/);
  });

  test('ordinary anchors, aliases and merge keys work (YAML 1.1, as PyYAML)', () => {
    const result = parseYamlSource(
      'base: &base {command: npx, args: [a]}\nservers:\n  one: *base\n  two:\n    <<: *base\n    cwd: /tmp\nflag: yes\n',
      at,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toEqual({
      base: { command: 'npx', args: ['a'] },
      servers: {
        one: { command: 'npx', args: ['a'] },
        two: { command: 'npx', args: ['a'], cwd: '/tmp' },
      },
      flag: true,
    });
  });

  test('a "billion laughs" document is refused, quickly and without expanding it', () => {
    const result = parseYamlSource(billionLaughs(9, 9), at);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]?.message).toMatch(/aliases expand too far/);
  });

  test('one large anchored list aliased many times is refused (a small file, a huge expansion)', () => {
    const items = Array(20_000).fill('1').join(', ');
    const text = `agents:\n  definitions:\n    - &a {x: [${items}]}\n${'    - *a\n'.repeat(999)}`;
    expect(text.length).toBeLessThan(100_000);
    const result = parseYamlSource(text, at);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]?.message).toMatch(/aliases expand too far/);
  });

  test('a chain of aliases that nests deeper and deeper is refused', () => {
    let text = 'a0: &a0 [x]\n';
    for (let i = 1; i <= 200; i++) text += `a${i}: &a${i} [*a${i - 1}]\n`;
    const result = parseYamlSource(text, at);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]?.message).toMatch(/nests more than 64 levels/);
  });

  test('deep nesting as written is refused', () => {
    const text = `a: ${'['.repeat(100)}${']'.repeat(100)}\n`;
    const result = parseYamlSource(text, at);
    expect(result.ok).toBe(false);
  });

  test('a merge key that does not merge a mapping is an error at its line', () => {
    const result = parseYamlSource('oauth:\n  <<: 5\n', at);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]?.origin).toMatchObject({ position: { line: 2, column: 3 } });
    expect(result.issues[0]?.message).toMatch(/merge key \(<<\) must refer to a mapping/);
  });

  test('an alias without an anchor is an error at its line that does not repeat its name', () => {
    const result = parseYamlSource('a: 1\npassword: *Secret-Value\n', at);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]?.origin).toMatchObject({ position: { line: 2 } });
    expect(JSON.stringify(result.issues)).not.toContain('Secret-Value');
  });

  test('prototype keys are refused', () => {
    const result = parseYamlSource('mcp:\n  __proto__:\n    polluted: true\n', at);
    expect(result.ok).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('unknown tags are errors', () => {
    const result = parseYamlSource('key: !developer_secret VALUE\n', at);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]?.message).toMatch(/unsupported YAML tag/);
  });

  test('an empty document is null', () => {
    const result = parseYamlSource('# only a comment\n', at);
    expect(result).toMatchObject({ ok: true, value: null });
  });
});

describe('origins through merge keys', () => {
  test('values a merge brings in through another merge are recorded where the merge is', () => {
    const result = parseYamlSource(
      'base: &b {client_id: X}\nmid: &m {<<: *b, scope: y}\nuse:\n  <<: *m\n',
      at,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({ use: { client_id: 'X', scope: 'y' } });
    expect(result.origins.own(['use', 'client_id'])).toEqual({
      kind: 'preload',
      position: { line: 4, column: 3 },
    });
    expect(result.origins.own(['use', 'scope'])).toBeDefined();
  });
});
