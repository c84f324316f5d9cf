import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { bearerChallenge, parseChallenges } from '../../src/oauth/protocol/www-authenticate.js';

describe('parseChallenges', () => {
  test.each([
    ['Bearer', [{ scheme: 'bearer', params: {} }]],
    [
      'Bearer resource_metadata="https://x.example/.well-known/oauth-protected-resource/mcp"',
      [
        {
          scheme: 'bearer',
          params: {
            resource_metadata: 'https://x.example/.well-known/oauth-protected-resource/mcp',
          },
        },
      ],
    ],
    [
      'Bearer error="insufficient_scope", scope="files:read files:write", error_description="Need \\"write\\""',
      [
        {
          scheme: 'bearer',
          params: {
            error: 'insufficient_scope',
            scope: 'files:read files:write',
            error_description: 'Need "write"',
          },
        },
      ],
    ],
    [
      'Basic realm="a", Bearer realm=b, error=invalid_token',
      [
        { scheme: 'basic', params: { realm: 'a' } },
        { scheme: 'bearer', params: { realm: 'b', error: 'invalid_token' } },
      ],
    ],
    [
      'Negotiate abc123==, Bearer',
      [
        { scheme: 'negotiate', params: {}, token68: 'abc123==' },
        { scheme: 'bearer', params: {} },
      ],
    ],
    ['  ,Bearer   Realm="x" ,  ', [{ scheme: 'bearer', params: { realm: 'x' } }]],
    [
      'Bearer resource_metadata=https://a.example/prm, scope=',
      [{ scheme: 'bearer', params: { resource_metadata: 'https://a.example/prm', scope: '' } }],
    ],
  ])('%s', (header, expected) => {
    expect(parseChallenges(header).map((c) => ({ ...c, params: { ...c.params } }))).toEqual(
      expected,
    );
  });

  test('never throws, whatever the header', () => {
    fc.assert(
      fc.property(fc.string(), (header) => {
        expect(Array.isArray(parseChallenges(header))).toBe(true);
      }),
    );
  });

  test('a quoted value round-trips, whatever it holds', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const quoted = `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
        const [challenge] = parseChallenges(`Bearer scope=${quoted}, error=x`);
        expect(challenge?.params.scope).toBe(value);
        expect(challenge?.params.error).toBe('x');
      }),
    );
  });
});

describe('bearerChallenge', () => {
  test('picks the Bearer parameters MCP uses', () => {
    const headers = new Headers({
      'www-authenticate':
        'DPoP algs="ES256", Bearer resource_metadata="https://a/.well-known/x", scope="s1 s2", foo=bar',
    });
    expect(bearerChallenge(headers)).toEqual({
      resource_metadata: 'https://a/.well-known/x',
      scope: 's1 s2',
    });
    expect(bearerChallenge(new Headers())).toBeUndefined();
    expect(bearerChallenge(new Headers({ 'www-authenticate': 'Basic realm="x"' }))).toBeUndefined();
  });
});
