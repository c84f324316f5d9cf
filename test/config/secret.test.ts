import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { maskUrlCredentials } from '../../src/config/mask.js';
import { REDACTED, Secret } from '../../src/config/secret.js';

const CANARY = 'canary-8c1f-value';

describe('Secret', () => {
  test('every printable form is redacted', () => {
    const secret = new Secret(CANARY);
    const holder = { nested: { secret }, list: [secret] };
    for (const text of [
      String(secret),
      `${secret}`,
      `prefix ${secret} suffix`,
      JSON.stringify(holder),
      inspect(holder, { depth: null, showHidden: true }),
      Object.keys(secret).join(','),
      JSON.stringify(Object.entries(secret)),
      // biome-ignore lint/style/useTemplate: string concatenation is what is being tested
      '' + secret,
    ]) {
      expect(text).not.toContain(CANARY);
    }
    expect(String(secret)).toBe(REDACTED);
    expect(secret.reveal()).toBe(CANARY);
  });

  test('structuredClone does not copy the value', () => {
    const clone = structuredClone({ secret: new Secret(CANARY) });
    expect(JSON.stringify(clone)).not.toContain(CANARY);
  });

  test('a display form can be given; it does not change the other forms', () => {
    const secret = new Secret(CANARY, 'redis://[redacted]@host');
    expect(secret.shown).toBe('redis://[redacted]@host');
    expect(String(secret)).toBe(REDACTED);
    expect(new Secret(CANARY).shown).toBe(REDACTED);
    expect(new Secret('').isEmpty).toBe(true);
  });
});

describe('maskUrlCredentials', () => {
  test.each([
    ['redis://:p4ss@127.0.0.1:6379/0', 'redis://:[redacted]@127.0.0.1:6379/0'],
    ['redis://user:p4ss@host', 'redis://user:[redacted]@host'],
    ['https://user:pa%3Ass@host/path?q=1', 'https://user:[redacted]@host/path?q=[redacted]'],
    [
      'https://x.example/sse?api_key=abc&flag#frag',
      'https://x.example/sse?api_key=[redacted]&flag#frag',
    ],
    ['redis://user@host', 'redis://[redacted]@host'],
    ['https://ghp_token@github.com/o/r.git', 'https://[redacted]@github.com/o/r.git'],
    ['redis://user:SEC/RET@localhost:6379/0', 'redis://user:[redacted]@localhost:6379/0'],
    ['redis://:p#w?d@h', 'redis://:[redacted]@h'],
    ['--url=redis://:pw@h --other', '--url=redis://:[redacted]@h --other'],
    [
      'two https://a:b@x and https://c:d@y',
      'two https://a:[redacted]@x and https://c:[redacted]@y',
    ],
    ['https://host:8080/a', 'https://host:8080/a'],
    ['https://example.com/a@b', 'https://example.com/a@b'],
    ['not a url @ all', 'not a url @ all'],
  ])('%s', (input, expected) => {
    expect(maskUrlCredentials(input)).toBe(expected);
  });
});
