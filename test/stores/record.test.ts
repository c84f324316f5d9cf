import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { REDACTED, Secret } from '../../src/config/secret.js';
import {
  parseRecord,
  RECORD_FORMAT,
  scopeFingerprint,
  serializeRecord,
  storageKey,
  type TokenKey,
  type TokenRecord,
} from '../../src/stores/record.js';

const ACCESS = 'CANARY-access-7Hq2';
const REFRESH = 'CANARY-refresh-P0zz';

const key: TokenKey = {
  identity: 'https://id.example.com#alice',
  server: 'github',
  issuer: 'https://as.example.com:8443/tenant',
  resource: 'https://mcp.example.com/mcp',
  scopes: ['repo', 'read:user'],
};

const record: TokenRecord = {
  accessToken: new Secret(ACCESS),
  refreshToken: new Secret(REFRESH),
  tokenType: 'Bearer',
  expiresAt: 1_700_000_360_000,
  obtainedAt: 1_700_000_000_000,
  scopes: ['repo', 'read:user'],
  issuer: 'https://as.example.com:8443/tenant',
  resource: 'https://mcp.example.com/mcp',
  server: 'github',
};

/** A key in a comparable form: what storageKey must distinguish (the scope set, not the list). */
function canonical(k: TokenKey): string {
  return JSON.stringify([k.identity, k.server, k.issuer, k.resource, scopeFingerprint(k.scopes)]);
}

/** A record with its secrets revealed and optional fields normalized, for comparison. */
function plain(r: TokenRecord): Record<string, unknown> {
  return {
    accessToken: r.accessToken.reveal(),
    refreshToken: r.refreshToken?.reveal(),
    tokenType: r.tokenType,
    expiresAt: r.expiresAt,
    obtainedAt: r.obtainedAt,
    scopes: [...r.scopes],
    issuer: r.issuer,
    resource: r.resource,
    server: r.server,
  };
}

/** Characters that could make one part run into the next, so near-collisions are common. */
const trickyPart = fc.string({
  unit: fc.constantFrom('a', 'b', ':', '%', '3', 'A', '#', '/', ' ', 'é', '%3A'),
  maxLength: 5,
});
/** An RFC 6749 scope token (no spaces), from a small alphabet. */
const scopeToken = fc.string({
  unit: fc.constantFrom('a', 'b', ':', '%', '/'),
  minLength: 1,
  maxLength: 3,
});
const tokenKeyArb: fc.Arbitrary<TokenKey> = fc.record({
  identity: trickyPart,
  server: trickyPart,
  issuer: trickyPart,
  resource: trickyPart,
  scopes: fc.array(scopeToken, { maxLength: 3 }),
});

describe('storageKey', () => {
  test('scope order, duplicates and blank entries do not matter', () => {
    const expected = storageKey(key);
    expect(storageKey({ ...key, scopes: ['read:user', 'repo'] })).toBe(expected);
    expect(storageKey({ ...key, scopes: ['repo', 'read:user', 'repo', 'read:user'] })).toBe(
      expected,
    );
    expect(storageKey({ ...key, scopes: [' repo ', '', 'read:user', '  '] })).toBe(expected);
    expect(storageKey({ ...key, scopes: ['repo'] })).not.toBe(expected);
    expect(storageKey({ ...key, scopes: [] })).not.toBe(expected);
  });

  test.each(['identity', 'server', 'issuer', 'resource'] as const)(
    'a %s that is not well-formed Unicode is refused, never merged with another',
    (part) => {
      // 'u\uD800', 'u\uDBFF' and 'u\uFFFD' would all be 'u%EF%BF%BD' once made well-formed.
      for (const value of ['u\uD800', 'u\uDBFF', 'u\uDC00x']) {
        expect(() => storageKey({ ...key, [part]: value })).toThrow(
          expect.objectContaining({ code: 'USAGE' }),
        );
      }
      expect(storageKey({ ...key, [part]: 'u\uFFFD' })).toContain('u%EF%BF%BD');
    },
  );

  test('a ":" inside a part cannot move the boundary between parts', () => {
    const a = storageKey({ ...key, identity: 'a:b', server: 'c' });
    const b = storageKey({ ...key, identity: 'a', server: 'b:c' });
    expect(a).not.toBe(b);
    // Exactly one ':' between each of the five parts, none inside one.
    expect(a.split(':')).toHaveLength(5);
    expect(storageKey(key).split(':')).toHaveLength(5);
  });

  test('property: different keys give different storage keys', () => {
    fc.assert(
      fc.property(tokenKeyArb, tokenKeyArb, (first, second) => {
        const same = canonical(first) === canonical(second);
        expect(storageKey(first) === storageKey(second)).toBe(same);
      }),
      { numRuns: 2_000 },
    );
  });

  test('property: over a set of keys, distinct keys and distinct storage keys agree in number', () => {
    fc.assert(
      fc.property(fc.array(tokenKeyArb, { maxLength: 30 }), (keys) => {
        expect(new Set(keys.map(storageKey)).size).toBe(new Set(keys.map(canonical)).size);
      }),
      { numRuns: 300 },
    );
  });

  test('property: the parts can be read back from the storage key', () => {
    fc.assert(
      fc.property(
        fc.record({
          identity: fc.string({ unit: 'binary', maxLength: 12 }),
          server: fc.string({ unit: 'binary', maxLength: 12 }),
          issuer: fc.string({ unit: 'binary', maxLength: 12 }),
          resource: fc.string({ unit: 'binary', maxLength: 12 }),
          scopes: fc.array(scopeToken, { maxLength: 4 }),
        }),
        (k) => {
          const parts = storageKey(k).split(':').map(decodeURIComponent);
          expect(parts).toEqual([
            k.identity,
            k.server,
            k.issuer,
            k.resource,
            scopeFingerprint(k.scopes),
          ]);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('a part with a lone surrogate (a JSON "\\ud800" escape in a subject) is one clear USAGE error', () => {
    // The identity is `issuer#subject`, and a token's subject is JSON text, where "\ud800" is
    // valid; encodeURIComponent throws URIError ("URI malformed") on lone surrogates, and making
    // it well-formed first would give it the key of the subject "\ufffd".
    const identity = `https://id.example.com#${JSON.parse('"\\ud800"') as string}`;
    expect(() => storageKey({ ...key, identity })).toThrow(
      expect.objectContaining({ code: 'USAGE', name: 'McpAgentError' }),
    );
  });
});

describe('serializeRecord and parseRecord', () => {
  test('round trip of a full record', () => {
    const parsed = parseRecord(serializeRecord(record));
    expect(parsed).toBeDefined();
    if (!parsed) return;
    expect(plain(parsed)).toEqual(plain(record));
    expect(parsed.accessToken).toBeInstanceOf(Secret);
    expect(parsed.refreshToken).toBeInstanceOf(Secret);
  });

  test('round trip without the optional fields leaves them absent', () => {
    const { refreshToken: _r, expiresAt: _e, ...minimal } = record;
    const parsed = parseRecord(serializeRecord({ ...minimal, scopes: [] }));
    expect(parsed).toBeDefined();
    expect(parsed && 'refreshToken' in parsed).toBe(false);
    expect(parsed && 'expiresAt' in parsed).toBe(false);
    expect(parsed?.scopes).toEqual([]);
  });

  test('the serialized form is the versioned format the backends store', () => {
    const json = JSON.parse(serializeRecord(record)) as Record<string, unknown>;
    expect(json).toEqual({
      v: RECORD_FORMAT,
      access_token: ACCESS,
      refresh_token: REFRESH,
      token_type: 'Bearer',
      expires_at: 1_700_000_360_000,
      obtained_at: 1_700_000_000_000,
      scope: 'repo read:user',
      issuer: record.issuer,
      resource: record.resource,
      server: 'github',
    });
  });

  test('property: parseRecord(serializeRecord(r)) gives r back', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const epoch = fc.integer({ min: 0, max: 2 ** 45 });
    const recordArb: fc.Arbitrary<TokenRecord> = fc.record(
      {
        accessToken: text.map((value) => new Secret(value)),
        refreshToken: text.map((value) => new Secret(value)),
        tokenType: text,
        expiresAt: epoch,
        obtainedAt: epoch,
        scopes: fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), {
          maxLength: 5,
        }),
        issuer: text,
        resource: text,
        server: text,
      },
      {
        requiredKeys: [
          'accessToken',
          'tokenType',
          'obtainedAt',
          'scopes',
          'issuer',
          'resource',
          'server',
        ],
      },
    );
    fc.assert(
      fc.property(
        // Scope tokens never contain whitespace (RFC 6749 §3.3).
        recordArb.filter((r) => r.scopes.every((scope) => !/\s/.test(scope))),
        (r) => {
          const parsed = parseRecord(serializeRecord(r));
          expect(parsed).toBeDefined();
          if (parsed) expect(plain(parsed)).toEqual(plain(r));
        },
      ),
      { numRuns: 500 },
    );
  });

  test.each([
    ['another format version', { v: RECORD_FORMAT + 1 }],
    ['the version as a string', { v: String(RECORD_FORMAT) }],
    ['no version', { v: undefined }],
    ['a token that is not a string', { access_token: 42 }],
    ['no access token', { access_token: undefined }],
    ['expires_at as a string', { expires_at: '1700000360000' }],
    ['no scope field', { scope: undefined }],
    ['no server', { server: undefined }],
  ])('%s → undefined', (_name, change) => {
    const json = { ...(JSON.parse(serializeRecord(record)) as object), ...change };
    expect(parseRecord(JSON.stringify(json))).toBeUndefined();
  });

  test.each([
    ['empty text', ''],
    ['blank text', ' '],
    ['null', 'null'],
    ['a list', '[]'],
    ['a number', '42'],
    ['a string', '"text"'],
    ['broken JSON', '{'],
    ['an empty object', '{}'],
    ['a bare token', ACCESS],
    ['a sealed value', 'enc:v1:AAAA:BBBB'],
    ['a truncated record', serializeRecord(record).slice(0, -1)],
  ])('garbage (%s) → undefined', (_name, text) => {
    expect(parseRecord(text)).toBeUndefined();
  });

  test('property: parseRecord never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.jsonValue().map((value) => JSON.stringify(value) ?? ''),
        ),
        (text) => {
          expect(() => parseRecord(text)).not.toThrow();
        },
      ),
      { numRuns: 500 },
    );
  });

  test('fields a newer writer adds are ignored', () => {
    const json = { ...(JSON.parse(serializeRecord(record)) as object), id_token_hint: 'x' };
    expect(plain(parseRecord(JSON.stringify(json)) ?? record)).toEqual(plain(record));
  });
});

describe('tokens of a parsed record stay secret', () => {
  const parsed = parseRecord(serializeRecord(record));

  test('the serialized text holds the tokens (for the storage only)', () => {
    expect(serializeRecord(record)).toContain(ACCESS);
    expect(serializeRecord(record)).toContain(REFRESH);
    expect(parsed?.accessToken.reveal()).toBe(ACCESS);
  });

  test('util.inspect, JSON, String and template forms are redacted', () => {
    const forms = [
      inspect(parsed, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
      inspect({ nested: { parsed } }, { depth: Number.POSITIVE_INFINITY }),
      JSON.stringify(parsed),
      JSON.stringify({ parsed }),
      String(parsed?.accessToken),
      `${parsed?.refreshToken}`,
    ];
    for (const form of forms) {
      expect(form).not.toContain(ACCESS);
      expect(form).not.toContain(REFRESH);
      expect(form).toContain(REDACTED);
    }
    expect(JSON.parse(JSON.stringify(parsed)) as unknown).toMatchObject({
      accessToken: REDACTED,
      refreshToken: REDACTED,
      tokenType: 'Bearer',
    });
  });
});
