/**
 * Catalogue 1A (transport and header parsing), the §0.1 response contract (C0/C400/C401/C403/C503),
 * IN-12 header escaping, RFC 9728 metadata (document, paths, HTTP answers) and 1D scopes.
 */
import { describe, expect, test, vi } from 'vitest';
import { MAX_TOKEN_LENGTH, readCredentials } from '../../src/server/bearer.js';
import { challengeFor, quoted, rejectionResponse } from '../../src/server/challenge.js';
import { BearerGuard } from '../../src/server/guard.js';
import {
  type CallerIdentity,
  currentCaller,
  enableCallerContext,
  principalOf,
  runAsCaller,
  scopesOf,
} from '../../src/server/identity.js';
import {
  metadataPaths,
  metadataResponse,
  protectedResourceMetadata,
  resourceMetadataUrl,
} from '../../src/server/metadata.js';
import { VerificationCache } from '../../src/server/verification-cache.js';
import type { TokenVerifier, Verification } from '../../src/server/verifiers/verifier.js';

const RESOURCE = 'https://mcp.example/mcp';
const PRM = 'https://mcp.example/.well-known/oauth-protected-resource/mcp';
const GOOD = 'AbC.dEf-GhI_jk';

function identity(scopes: readonly string[], extra: Partial<CallerIdentity> = {}): CallerIdentity {
  return {
    issuer: 'https://as.example',
    subject: 'alice',
    scopes,
    claims: {},
    verifiedBy: 'jwt',
    ...extra,
  };
}

/** A verifier that accepts exactly GOOD (case-sensitive) and records what it was given. */
function spyVerifier(scopes: readonly string[] = ['mcp:tools']) {
  const verify = vi.fn(
    async (token: string): Promise<Verification> =>
      token === GOOD
        ? { ok: true, identity: identity(scopes) }
        : { ok: false, reason: 'invalid', description: 'the access token is not valid' },
  );
  return { verify } satisfies TokenVerifier;
}

function guardWith(verifier: TokenVerifier, requiredScopes: readonly string[] = ['mcp:tools']) {
  return new BearerGuard({ verifier, resourceMetadataUrl: PRM, requiredScopes });
}

/** The parameters of a `Bearer` challenge (RFC 9110 auth-param, quoted-string unescaped). */
function parseChallenge(header: string): Record<string, string> {
  expect(header).toMatch(/^Bearer /);
  const params: Record<string, string> = {};
  const rest = header.slice('Bearer '.length);
  const pattern = /([A-Za-z_]+)="((?:[^"\\]|\\.)*)"(?:, |$)/gy;
  let consumed = 0;
  for (const match of rest.matchAll(pattern)) {
    const [all, name = '', value = ''] = match;
    expect(params[name]).toBeUndefined();
    params[name] = value.replace(/\\(.)/g, '$1');
    consumed += all.length;
  }
  // The whole header is auth-params: nothing left over, so nothing was split or injected.
  expect(consumed).toBe(rest.length);
  return params;
}

describe('1A readCredentials', () => {
  test('IN-01 no Authorization header → none', () => {
    for (const value of [undefined, null, []]) {
      expect(readCredentials(value)).toEqual({ kind: 'none' });
    }
  });

  test('IN-02 another scheme (Basic, Digest, DPoP) → none', () => {
    for (const value of [
      'Basic dXNlcjpw',
      'Digest username="u"',
      'DPoP eyJ.eyJ.sig',
      'Bearer2 x',
    ]) {
      expect(readCredentials(value)).toEqual({ kind: 'none' });
    }
  });

  test('IN-03 the scheme is case-insensitive; the token keeps its case', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect(readCredentials(`${scheme} ${GOOD}`)).toEqual({ kind: 'bearer', token: GOOD });
    }
  });

  test('IN-03 lower-casing the token makes it fail (only the scheme is folded)', async () => {
    const verifier = spyVerifier();
    const guard = guardWith(verifier);
    expect(await guard.authenticate({ authorization: `bEaReR ${GOOD}` })).toMatchObject({
      ok: true,
    });
    const lowered = await guard.authenticate({ authorization: `bearer ${GOOD.toLowerCase()}` });
    expect(lowered).toMatchObject({ ok: false, rejection: { kind: 'invalid-token' } });
    expect(verifier.verify.mock.calls.map(([token]) => token)).toEqual([GOOD, GOOD.toLowerCase()]);
  });

  test('IN-05 1*SP: two spaces are accepted', () => {
    expect(readCredentials(`Bearer  ${GOOD}`)).toEqual({ kind: 'bearer', token: GOOD });
    expect(readCredentials(`Bearer     ${GOOD}`)).toEqual({ kind: 'bearer', token: GOOD });
  });

  test('IN-04 empty, split, tab-separated and non-token68 credentials → malformed', () => {
    for (const value of [
      'Bearer',
      'Bearer ',
      'Bearer   ',
      'Bearer a b',
      `Bearer\t${GOOD}`,
      `Bearer \t${GOOD}`,
      `Bearer ${GOOD}\t`,
      `Bearer ${GOOD} `,
      'Bearer ab"c',
      'Bearer ab,c',
      'Bearer ab;c',
      'Bearer abé',
      'Bearer =abc',
      'Bearer ab=c',
    ]) {
      expect(readCredentials(value), JSON.stringify(value)).toMatchObject({ kind: 'malformed' });
    }
    // token68 allows trailing padding.
    expect(readCredentials('Bearer abc==')).toEqual({ kind: 'bearer', token: 'abc==' });
    expect(readCredentials('Bearer a+b/c~d')).toEqual({ kind: 'bearer', token: 'a+b/c~d' });
  });

  test('IN-06 duplicate Authorization headers → malformed, as an array and comma-joined', () => {
    expect(readCredentials([`Bearer ${GOOD}`, 'Bearer other'])).toMatchObject({
      kind: 'malformed',
    });
    expect(readCredentials([`Bearer ${GOOD}`, `Bearer ${GOOD}`])).toMatchObject({
      kind: 'malformed',
    });
    expect(readCredentials([`Bearer ${GOOD}`, 'Basic dXNlcjpw'])).toMatchObject({
      kind: 'malformed',
    });
    // fetch Headers.get joins repeats with ", " (never part of a token68).
    const joined = new Headers([
      ['authorization', `Bearer ${GOOD}`],
      ['authorization', 'Bearer other'],
    ]).get('authorization');
    expect(joined).toBe(`Bearer ${GOOD}, Bearer other`);
    expect(readCredentials(joined)).toMatchObject({ kind: 'malformed' });
    // A single value is not a duplicate.
    expect(readCredentials([`Bearer ${GOOD}`])).toEqual({ kind: 'bearer', token: GOOD });
  });

  test('IN-07 a token only in the query is ignored → none', () => {
    expect(readCredentials(undefined, true)).toEqual({ kind: 'none' });
    expect(readCredentials([], true)).toEqual({ kind: 'none' });
  });

  test('IN-08 a header token and a query token → malformed', () => {
    expect(readCredentials(`Bearer ${GOOD}`, true)).toMatchObject({ kind: 'malformed' });
    // Pinned: another scheme plus a query token is also more than one way.
    expect(readCredentials('Basic dXNlcjpw', true)).toMatchObject({ kind: 'malformed' });
  });

  test('IN-10 oversize → oversized; at the limit → a token', () => {
    expect(readCredentials(`Bearer ${'a'.repeat(MAX_TOKEN_LENGTH + 1)}`)).toEqual({
      kind: 'oversized',
    });
    expect(readCredentials(`Bearer ${'a'.repeat(MAX_TOKEN_LENGTH)}`)).toEqual({
      kind: 'bearer',
      token: 'a'.repeat(MAX_TOKEN_LENGTH),
    });
  });
});

describe('1A BearerGuard outcomes', () => {
  test('IN-01/02/07 no credentials → C0 and the verifier is not called', async () => {
    const verifier = spyVerifier();
    const guard = guardWith(verifier);
    for (const request of [
      { authorization: undefined },
      { authorization: 'Basic dXNlcjpw' },
      { authorization: undefined, queryHasToken: true },
    ]) {
      expect(await guard.authenticate(request)).toEqual({
        ok: false,
        rejection: { kind: 'no-credentials' },
      });
    }
    expect(verifier.verify).not.toHaveBeenCalled();
  });

  test('IN-04/06/08 malformed → C400 and the verifier is not called', async () => {
    const verifier = spyVerifier();
    const guard = guardWith(verifier);
    for (const request of [
      { authorization: 'Bearer ' },
      { authorization: [`Bearer ${GOOD}`, `Bearer ${GOOD}`] },
      { authorization: `Bearer ${GOOD}, Bearer ${GOOD}` },
      { authorization: `Bearer ${GOOD}`, queryHasToken: true },
    ]) {
      const result = await guard.authenticate(request);
      expect(result).toMatchObject({ ok: false, rejection: { kind: 'invalid-request' } });
      if (!result.ok) expect(guard.response(result.rejection).status).toBe(400);
    }
    expect(verifier.verify).not.toHaveBeenCalled();
  });

  test('IN-10 oversize → invalid_token without calling the verifier or the cache', async () => {
    const verifier = spyVerifier();
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'n' });
    const cacheVerify = vi.spyOn(cache, 'verify');
    const guard = new BearerGuard({ verifier, cache, resourceMetadataUrl: PRM });
    const result = await guard.authenticate({
      authorization: `Bearer ${'a'.repeat(MAX_TOKEN_LENGTH + 1)}`,
    });
    expect(result).toMatchObject({ ok: false, rejection: { kind: 'invalid-token' } });
    if (!result.ok) expect(guard.response(result.rejection).status).toBe(401);
    expect(verifier.verify).not.toHaveBeenCalled();
    expect(cacheVerify).not.toHaveBeenCalled();
  });

  test('a good token with the baseline scope → the caller', async () => {
    const result = await guardWith(spyVerifier()).authenticate({ authorization: `Bearer ${GOOD}` });
    expect(result).toEqual({ ok: true, identity: identity(['mcp:tools']) });
  });

  test('IN-51 a good token without the baseline scope → C403 naming it', async () => {
    const guard = guardWith(spyVerifier(['files:read']), ['mcp:tools', 'mcp:tools', 'files:read']);
    const result = await guard.authenticate({ authorization: `Bearer ${GOOD}` });
    expect(result).toEqual({
      ok: false,
      rejection: { kind: 'insufficient-scope', scopes: ['mcp:tools', 'files:read'] },
    });
  });

  test('an outage → C503 with Retry-After, never invalid_token', async () => {
    const guard = guardWith({
      verify: async () => ({ ok: false, reason: 'unavailable', retryAfterSeconds: 12 }),
    });
    const result = await guard.authenticate({ authorization: `Bearer ${GOOD}` });
    expect(result).toEqual({
      ok: false,
      rejection: { kind: 'unavailable', retryAfterSeconds: 12 },
    });
    if (result.ok) return;
    const response = guard.response(result.rejection);
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('12');
    expect(response.headers['www-authenticate']).toBeUndefined();
    expect(response.body).not.toContain('invalid_token');
  });
});

describe('§0.1 challenges', () => {
  const context = { resourceMetadataUrl: PRM, baselineScopes: ['mcp:tools', 'files:read'] };

  test('C0: resource_metadata and the baseline scope, no error', () => {
    expect(challengeFor({ kind: 'no-credentials' }, context)).toBe(
      `Bearer resource_metadata="${PRM}", scope="mcp:tools files:read"`,
    );
    expect(challengeFor({ kind: 'no-credentials' }, { resourceMetadataUrl: PRM })).toBe(
      `Bearer resource_metadata="${PRM}"`,
    );
    expect(
      challengeFor({ kind: 'no-credentials' }, { resourceMetadataUrl: PRM, baselineScopes: [] }),
    ).toBe(`Bearer resource_metadata="${PRM}"`);
    const response = rejectionResponse({ kind: 'no-credentials' }, context);
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).not.toMatch(/error/);
    expect(response.headers).toMatchObject({
      'content-type': 'application/json',
      'cache-control': 'no-store',
    });
  });

  test('C0 through the guard: the baseline scope is named; without one, no scope', async () => {
    const guard = guardWith(spyVerifier(), ['mcp:tools']);
    expect(guard.response({ kind: 'no-credentials' }).headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${PRM}", scope="mcp:tools"`,
    );
    expect(
      guardWith(spyVerifier(), []).response({ kind: 'no-credentials' }).headers['www-authenticate'],
    ).toBe(`Bearer resource_metadata="${PRM}"`);
  });

  test('C400: error="invalid_request", description, resource_metadata', () => {
    const response = rejectionResponse(
      { kind: 'invalid-request', description: 'two headers' },
      context,
    );
    expect(response.status).toBe(400);
    expect(response.headers['www-authenticate']).toBe(
      `Bearer error="invalid_request", error_description="two headers", resource_metadata="${PRM}"`,
    );
    expect(JSON.parse(response.body)).toEqual({
      error: 'invalid_request',
      error_description: 'two headers',
    });
  });

  test('C401: error="invalid_token", description, resource_metadata', () => {
    const response = rejectionResponse(
      { kind: 'invalid-token', description: 'the access token expired' },
      context,
    );
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe(
      `Bearer error="invalid_token", error_description="the access token expired", resource_metadata="${PRM}"`,
    );
  });

  test('C403: error="insufficient_scope" with every required scope', () => {
    const guard = guardWith(spyVerifier(), ['mcp:tools']);
    const refused = guard.authorize(identity(['mcp:tools', 'files:read']), [
      'files:read',
      'files:write',
    ]);
    expect(refused).toEqual({
      kind: 'insufficient-scope',
      scopes: ['mcp:tools', 'files:read', 'files:write'],
    });
    if (!refused) return;
    const response = guard.response(refused);
    expect(response.status).toBe(403);
    const params = parseChallenge(response.headers['www-authenticate'] ?? '');
    expect(params).toMatchObject({
      error: 'insufficient_scope',
      scope: 'mcp:tools files:read files:write',
      resource_metadata: PRM,
    });
    expect(Object.keys(params).sort()).toEqual(
      ['error', 'error_description', 'resource_metadata', 'scope'].sort(),
    );
  });

  test('C503: Retry-After (at least 1, whole seconds), no challenge', () => {
    for (const [seconds, header] of [
      [10, '10'],
      [2.1, '3'],
      [0, '1'],
      [-5, '1'],
    ] as const) {
      const response = rejectionResponse(
        { kind: 'unavailable', retryAfterSeconds: seconds },
        context,
      );
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe(header);
      expect(response.headers['www-authenticate']).toBeUndefined();
      expect(JSON.parse(response.body)).toMatchObject({ error: 'temporarily_unavailable' });
    }
  });

  test('IN-12 quoted(): \\ and " escaped, CTLs and non-ASCII dropped', () => {
    expect(quoted('plain')).toBe('"plain"');
    expect(quoted('a"b')).toBe('"a\\"b"');
    expect(quoted('a\\b')).toBe('"a\\\\b"');
    expect(quoted('a\r\nb\u0000c\u007fd\te')).toBe('"abcde"');
    expect(quoted('café ☕ 𝄞')).toBe('"caf  "');
    expect(quoted('\\"')).toBe('"\\\\\\""');
  });

  test('IN-12 a hostile description stays one well-formed header (no splitting)', async () => {
    const hostile = 'bad "x" \\ \r\nSet-Cookie: a=b\r\n\r\n<html> é ☃';
    const guard = guardWith({
      verify: async () => ({ ok: false, reason: 'invalid', description: hostile }),
    });
    const result = await guard.authenticate({ authorization: `Bearer ${GOOD}` });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const response = guard.response(result.rejection);
    expect(response.status).toBe(401);
    const header = response.headers['www-authenticate'] ?? '';
    expect(header).not.toMatch(/[\r\n]/);
    expect(header).toMatch(/^[\x20-\x7e]+$/);
    // A fetch Headers accepts it (it throws on CR/LF and non-Latin-1 values).
    expect(new Headers({ 'www-authenticate': header }).get('www-authenticate')).toBe(header);
    expect(parseChallenge(header)).toEqual({
      error: 'invalid_token',
      error_description: 'bad "x" \\ Set-Cookie: a=b<html>  ',
      resource_metadata: PRM,
    });
  });

  test('IN-12 hostile scopes and metadata URL are escaped too', () => {
    const header =
      challengeFor(
        { kind: 'insufficient-scope', scopes: ['a"b', 'c\\d', 'e\r\nf', 'ü'] },
        { resourceMetadataUrl: 'https://x/"\r\n' },
      ) ?? '';
    expect(header).not.toMatch(/[\r\n]/);
    expect(parseChallenge(header)).toMatchObject({
      scope: 'a"b c\\d ef ',
      resource_metadata: 'https://x/"',
    });
  });
});

describe('RFC 9728 metadata', () => {
  test('the path-inserted URL and the paths served', () => {
    expect(resourceMetadataUrl(RESOURCE)).toBe(PRM);
    expect(resourceMetadataUrl('https://mcp.example:8443/a/b/mcp')).toBe(
      'https://mcp.example:8443/.well-known/oauth-protected-resource/a/b/mcp',
    );
    expect(resourceMetadataUrl('https://mcp.example/')).toBe(
      'https://mcp.example/.well-known/oauth-protected-resource',
    );
    expect(resourceMetadataUrl('https://mcp.example')).toBe(
      'https://mcp.example/.well-known/oauth-protected-resource',
    );
    expect(metadataPaths(RESOURCE)).toEqual([
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
    ]);
    expect(metadataPaths('https://mcp.example/')).toEqual([
      '/.well-known/oauth-protected-resource',
    ]);
  });

  test('IN-83 the document: resource with its path, no offline_access, header only', () => {
    const document = protectedResourceMetadata({
      resource: RESOURCE,
      authorizationServers: ['https://as.example'],
      scopes: ['mcp:tools', 'offline_access', 'mcp:tools', 'files:read'],
      resourceName: 'Agent',
      documentation: 'https://docs.example/agent',
    });
    expect(document).toEqual({
      resource: RESOURCE,
      authorization_servers: ['https://as.example'],
      scopes_supported: ['mcp:tools', 'files:read'],
      bearer_methods_supported: ['header'],
      resource_name: 'Agent',
      resource_documentation: 'https://docs.example/agent',
    });
    const bare = protectedResourceMetadata({
      resource: RESOURCE,
      authorizationServers: ['https://as.example'],
      scopes: ['offline_access'],
    });
    expect(bare).toEqual({
      resource: RESOURCE,
      authorization_servers: ['https://as.example'],
      bearer_methods_supported: ['header'],
    });
  });

  const document = protectedResourceMetadata({
    resource: RESOURCE,
    authorizationServers: ['https://as.example'],
    scopes: ['mcp:tools'],
  });

  test('GET: 200 JSON with CORS; HEAD: the same headers, no body', () => {
    const get = metadataResponse('GET', document);
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body)).toEqual(document);
    expect(get.headers['content-type']).toBe('application/json');
    expect(get.headers['access-control-allow-origin']).toBe('*');
    expect(get.headers['access-control-allow-methods']).toMatch(/\bGET\b/);
    expect(get.headers['access-control-allow-methods']).toMatch(/\bOPTIONS\b/);
    const head = metadataResponse('HEAD', document);
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers).toEqual(get.headers);
  });

  test('OPTIONS: 204 preflight with CORS', () => {
    const options = metadataResponse('OPTIONS', document);
    expect(options.status).toBe(204);
    expect(options.body).toBe('');
    expect(options.headers['access-control-allow-origin']).toBe('*');
    expect(options.headers['access-control-allow-methods']).toMatch(/\bGET\b/);
  });

  test('IN-84 POST/PUT/DELETE/PATCH → 405 with Allow', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const response = metadataResponse(method, document);
      expect(response.status, method).toBe(405);
      expect(response.headers.allow).toBe('GET, HEAD, OPTIONS');
      expect(response.body).not.toContain(RESOURCE);
    }
  });
});

describe('1D scopes', () => {
  test('IN-52 split on SP only; empty items dropped', () => {
    expect(scopesOf({ scope: 'mcp:tools files:read' })).toEqual(['mcp:tools', 'files:read']);
    expect(scopesOf({ scope: ' mcp:tools  files:read ' })).toEqual(['mcp:tools', 'files:read']);
    expect(scopesOf({ scope: '' })).toEqual([]);
  });

  test('IN-53 TAB and comma are not separators → the scope is not granted', () => {
    const guard = guardWith(spyVerifier(), ['mcp:tools']);
    for (const scope of ['mcp:tools\tfiles:read', 'mcp:tools,files:read', 'mcp:tools\nx']) {
      const scopes = scopesOf({ scope });
      expect(scopes).toEqual([scope]);
      expect(guard.authorize(identity(scopes))).toMatchObject({ kind: 'insufficient-scope' });
    }
  });

  test('IN-54 exact, case-sensitive membership (no prefix or substring)', () => {
    const guard = guardWith(spyVerifier(), ['read']);
    for (const granted of ['readwrite', 'read:all', 'Read', 'READ', 'rea', ' read']) {
      expect(guard.authorize(identity([granted])), granted).toEqual({
        kind: 'insufficient-scope',
        scopes: ['read'],
      });
    }
    expect(guard.authorize(identity(['write', 'read']))).toBeUndefined();
  });

  test('IN-55 scp as array or string; scope takes precedence over scp', () => {
    expect(scopesOf({ scp: ['mcp:tools', 'files:read'] })).toEqual(['mcp:tools', 'files:read']);
    expect(scopesOf({ scp: 'mcp:tools x' })).toEqual(['mcp:tools', 'x']);
    expect(scopesOf({ scope: 'a', scp: ['b'] })).toEqual(['a']);
    // Present but empty still wins: no fallback to a broader scp.
    expect(scopesOf({ scope: '', scp: ['admin'] })).toEqual([]);
    // Array items that are not one scope-token are dropped; a non-string item drops all.
    expect(scopesOf({ scp: ['a', '', 'b c'] })).toEqual(['a']);
    expect(scopesOf({ scp: ['a', 1] })).toEqual([]);
  });

  test('IN-49 scope of another type → no scopes, no throw', () => {
    for (const scope of [1, true, null, { a: 1 }, ['a', { b: 1 }]]) {
      expect(scopesOf({ scope })).toEqual([]);
    }
  });

  test('IN-49 __proto__ / constructor claims neither grant scopes nor pollute', () => {
    const claims = JSON.parse(
      '{"__proto__":{"scope":"admin","polluted":1},"constructor":{"prototype":{"scope":"x"}},"toString":"y"}',
    ) as Record<string, unknown>;
    expect(scopesOf(claims)).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).scope).toBeUndefined();
  });

  test('IN-56 a `scope` array is not a scope string (strict by default)', () => {
    // identity.ts documents `scope` as "a space-separated string (RFC 9068 §2.2.3)" and only
    // `scp` as "a string or an array"; catalogue IN-56: scope as an array → no scopes unless a
    // lenient mode is chosen. scopesOf accepts the array for `scope` as well.
    expect(scopesOf({ scope: ['mcp:tools'] })).toEqual([]);
  });

  test('IN-57 scopes are checked on every request, after a cache hit', async () => {
    const verifier = spyVerifier(['a']);
    const cache = new VerificationCache({ ttlSeconds: 300, namespace: 'shared' });
    const open = new BearerGuard({ verifier, cache, resourceMetadataUrl: PRM });
    const strict = new BearerGuard({
      verifier,
      cache,
      resourceMetadataUrl: PRM,
      requiredScopes: ['admin'],
    });
    const first = await open.authenticate({ authorization: `Bearer ${GOOD}` });
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(open.authorize(first.identity, ['a'])).toBeUndefined();
    expect(open.authorize(first.identity, ['b'])).toEqual({
      kind: 'insufficient-scope',
      scopes: ['b'],
    });
    // Warm cache, other guard: its baseline still applies.
    expect(await strict.authenticate({ authorization: `Bearer ${GOOD}` })).toEqual({
      ok: false,
      rejection: { kind: 'insufficient-scope', scopes: ['admin'] },
    });
    expect(verifier.verify).toHaveBeenCalledTimes(1);
  });
});

describe('identity', () => {
  test('principalOf keeps issuer and subject apart', () => {
    const a = principalOf({ issuer: 'https://as.example#x', subject: 'y' });
    const b = principalOf({ issuer: 'https://as.example', subject: 'x#y' });
    expect(a).not.toBe(b);
  });

  test('without the caller context, currentCaller() refuses during a call rather than guess', async () => {
    const caller = identity(['a']);
    expect(currentCaller()).toBeUndefined();
    await expect(
      runAsCaller(caller, async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return currentCaller();
      }),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('useCallerContext'),
    });
    // Outside any call again: nothing, no error.
    expect(currentCaller()).toBeUndefined();
    expect(await runAsCaller(undefined, async () => 42)).toBe(42);
  });

  test('with the caller context on, runAsCaller / currentCaller follow async continuations only inside', async () => {
    enableCallerContext();
    const caller = identity(['a']);
    expect(currentCaller()).toBeUndefined();
    const seen = await runAsCaller(caller, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return currentCaller();
    });
    expect(seen).toBe(caller);
    expect(currentCaller()).toBeUndefined();
    expect(await runAsCaller(undefined, () => currentCaller())).toBeUndefined();
  });
});
