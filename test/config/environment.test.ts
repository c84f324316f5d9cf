import { describe, expect, test } from 'vitest';
import { convert } from '../../src/config/environment.js';
import { suggest } from '../../src/config/issues.js';
import { formatPath } from '../../src/config/paths.js';

describe('convert (environment strings to the schema type)', () => {
  test.each([
    ['true', 'boolean', true],
    ['Yes', 'boolean', true],
    ['0', 'boolean', false],
    ['off', 'boolean', false],
    ['42', 'number', 42],
    [' 1.5 ', 'number', 1.5],
    ['[1, 2]', 'array', [1, 2]],
    ['{"a": "b"}', 'object', { a: 'b' }],
    ['00123', 'string', '00123'],
    ['true', 'string', 'true'],
  ] as const)('%s as %s', (raw, kind, expected) => {
    expect(convert(raw, kind)).toEqual({ ok: true, value: expected });
  });

  test.each([
    ['maybe', 'boolean', /true or false/],
    ['', 'number', /a number/],
    ['12abc', 'number', /a number/],
    ['[1,', 'array', /JSON list/],
  ] as const)('%s as %s is refused', (raw, kind, message) => {
    const result = convert(raw, kind);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('suggest', () => {
  const keys = ['token_store', 'flow_timeout_seconds', 'callback_base_url', 'loopback_ports'];
  test.each([
    ['token_stor', 'token_store'],
    ['tokenstore', 'token_store'],
    ['flow_timeout', 'flow_timeout_seconds'],
    ['loopbak_ports', 'loopback_ports'],
    ['Callback_Base_URL', 'callback_base_url'],
  ])('%s → %s', (input, expected) => {
    expect(suggest(input, keys)).toBe(expected);
  });

  test('nothing close means no suggestion', () => {
    expect(suggest('completely_different', keys)).toBeUndefined();
    expect(suggest('a', ['agents', 'authorization'])).toBeUndefined();
  });
});

describe('formatPath', () => {
  test('readable paths', () => {
    expect(formatPath(['mcp', 'servers', 'github', 'headers', 'X-Org-Id'])).toBe(
      'mcp.servers.github.headers.X-Org-Id',
    );
    expect(formatPath(['oauth', 'loopback_ports', 0])).toBe('oauth.loopback_ports[0]');
    expect(formatPath(['mcp', 'servers', 'my.server', 'url'])).toBe('mcp.servers["my.server"].url');
    expect(formatPath([])).toBe('(top level)');
  });
});
