import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { AuthorizationServer, Client } from 'oauth4webapi';
import { describe, expect, test, vi } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import {
  type AuthorizationRequest,
  checkPkceSupport,
  chooseScopes,
  prepareAuthorization,
  scopeList,
  validateCallback,
} from '../../src/oauth/protocol/authorization.js';
import { OAuthServerError } from '../../src/oauth/protocol/failures.js';

const ISSUER = 'https://as.example.com/tenant';
const REDIRECT = 'http://127.0.0.1:33418/callback';
const RESOURCE = 'https://mcp.example.com/mcp';
const CODE = 'CANARY-auth-code-91c3';
const client: Client = { client_id: 'client-1' };

/** Metadata overrides; an `undefined` value removes the field. */
type Overrides = { readonly [K in keyof AuthorizationServer]?: AuthorizationServer[K] | undefined };

function metadata(extra: Overrides = {}): AuthorizationServer {
  const out: Record<string, unknown> = {
    issuer: ISSUER,
    authorization_endpoint: 'https://as.example.com/tenant/authorize?prompt=consent',
    token_endpoint: 'https://as.example.com/tenant/token',
    code_challenge_methods_supported: ['S256'],
    ...extra,
  };
  for (const [name, value] of Object.entries(out)) if (value === undefined) delete out[name];
  return out as AuthorizationServer;
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug: vi.fn(),
    info: vi.fn(),
    warn: (message: string) => {
      warnings.push(message);
    },
    error: vi.fn(),
  };
}

function thrown(run: () => unknown): McpAgentError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(McpAgentError);
    return error as McpAgentError;
  }
  throw new Error('expected a throw');
}

describe('checkPkceSupport', () => {
  test.each([
    ['absent', {}],
    ['empty', { code_challenge_methods_supported: [] }],
    ['plain only', { code_challenge_methods_supported: ['plain'] }],
    ['lower-case s256', { code_challenge_methods_supported: ['s256'] }],
  ])('%s: refused, naming require_pkce', (_label, extra) => {
    const as = metadata({ code_challenge_methods_supported: undefined, ...extra });
    const error = thrown(() => checkPkceSupport(as, { requirePkce: true, server: 'github' }));
    expect(error.code).toBe('OAUTH_AUTHORIZATION');
    expect(error.message).toContain(ISSUER);
    expect(error.message).toContain('mcp.servers.github.auth.oauth.require_pkce');
  });

  test('S256 advertised (with plain too): fine, no warning', () => {
    const logger = recordingLogger();
    checkPkceSupport(metadata({ code_challenge_methods_supported: ['plain', 'S256'] }), {
      requirePkce: true,
      server: 'github',
      logger,
    });
    expect(logger.warnings).toEqual([]);
  });

  test('the opt-out logs a warning through the injected logger instead of throwing', () => {
    const logger = recordingLogger();
    checkPkceSupport(metadata({ code_challenge_methods_supported: ['plain'] }), {
      requirePkce: false,
      server: 'github',
      logger,
    });
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain(ISSUER);
    expect(logger.warnings[0]).toContain('require_pkce is false');
  });

  test('the opt-out without a logger is silent', () => {
    expect(() =>
      checkPkceSupport(metadata({ code_challenge_methods_supported: undefined }), {
        requirePkce: false,
        server: 'github',
      }),
    ).not.toThrow();
  });
});

describe('scopeList', () => {
  test('splits on spaces, trims, drops empties and duplicates, keeps order', () => {
    expect(scopeList('  a  b a   c ')).toEqual(['a', 'b', 'c']);
    expect(scopeList(['b', ' a', 'b', ''])).toEqual(['b', 'a']);
    expect(scopeList(undefined)).toEqual([]);
    expect(scopeList('')).toEqual([]);
  });
});

describe('chooseScopes', () => {
  const as = metadata();
  const offline = metadata({ scopes_supported: ['read', 'offline_access'] });

  test('configured scopes win over PRM scopes_supported', () => {
    expect(chooseScopes({ configured: ['repo'], resourceScopes: ['x', 'y'], as })).toEqual([
      'repo',
    ]);
  });

  test('configured scopes are joined by what a challenge asks for', () => {
    expect(
      chooseScopes({ configured: ['repo'], challenge: 'read write', resourceScopes: ['x'], as }),
    ).toEqual(['repo', 'read', 'write']);
  });

  test('the challenge scope wins over PRM scopes_supported', () => {
    expect(
      chooseScopes({ configured: [], challenge: 'read write', resourceScopes: ['x'], as }),
    ).toEqual(['read', 'write']);
  });

  test('PRM scopes_supported when nothing else', () => {
    expect(chooseScopes({ configured: [], resourceScopes: ['x', 'y'], as })).toEqual(['x', 'y']);
    expect(chooseScopes({ configured: [], challenge: '', resourceScopes: ['x'], as })).toEqual([
      'x',
    ]);
  });

  test('none at all: no scope, and no offline_access invented', () => {
    expect(chooseScopes({ configured: [], as })).toEqual([]);
    expect(chooseScopes({ configured: [], resourceScopes: [], as: offline })).toEqual([]);
  });

  test('offline_access only when the AS lists it', () => {
    expect(chooseScopes({ configured: ['read'], as: offline })).toEqual(['read', 'offline_access']);
    expect(chooseScopes({ configured: ['read'], as })).toEqual(['read']);
    expect(
      chooseScopes({ configured: ['read'], as: metadata({ scopes_supported: ['read'] }) }),
    ).toEqual(['read']);
  });

  test('offline_access requested already is not doubled', () => {
    expect(chooseScopes({ configured: ['offline_access', 'read'], as: offline })).toEqual([
      'offline_access',
      'read',
    ]);
  });

  test('step-up: the union with the previous scopes', () => {
    expect(
      chooseScopes({ configured: [], challenge: 'write admin', previous: ['read', 'write'], as }),
    ).toEqual(['read', 'write', 'admin']);
    expect(
      chooseScopes({
        configured: ['repo'],
        challenge: 'admin',
        previous: ['repo', 'read'],
        as: offline,
      }),
    ).toEqual(['repo', 'read', 'admin', 'offline_access']);
  });

  test('duplicates are removed', () => {
    expect(chooseScopes({ configured: ['a', 'a', ' b'], challenge: 'b a c c', as })).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(chooseScopes({ configured: [], challenge: 'x  x   y', as })).toEqual(['x', 'y']);
  });

  test('property: no duplicates, no empty scope, offline_access never invented', () => {
    const scope = fc.constantFrom('a', 'b', 'c', 'offline_access', ' ', '');
    fc.assert(
      fc.property(
        fc.array(scope),
        fc.option(
          fc.array(scope).map((parts) => parts.join(' ')),
          { nil: undefined },
        ),
        fc.option(fc.array(scope), { nil: undefined }),
        fc.option(fc.array(scope), { nil: undefined }),
        fc.boolean(),
        (configured, challenge, resourceScopes, previous, listsOffline) => {
          const server = metadata(listsOffline ? { scopes_supported: ['offline_access'] } : {});
          const out = chooseScopes({ configured, challenge, resourceScopes, previous, as: server });
          expect(new Set(out).size).toBe(out.length);
          expect(out.every((item) => item.length > 0 && !item.includes(' '))).toBe(true);
          const asked = [
            ...configured,
            ...(challenge ?? '').split(' '),
            ...(resourceScopes ?? []),
            ...(previous ?? []),
          ];
          if (out.includes('offline_access') && !asked.includes('offline_access')) {
            expect(listsOffline).toBe(true);
            expect(out.length).toBeGreaterThan(1);
          }
        },
      ),
    );
  });
});

describe('prepareAuthorization', () => {
  const base = {
    as: metadata(),
    clientId: 'client-1',
    redirectUri: REDIRECT,
    scopes: ['read', 'write'],
    resource: RESOURCE,
  };

  test('carries every protocol parameter, with an S256 challenge of the verifier', async () => {
    const request = await prepareAuthorization(base);
    const params = request.url.searchParams;
    expect(request.url.origin + request.url.pathname).toBe(
      'https://as.example.com/tenant/authorize',
    );
    expect(params.get('prompt')).toBe('consent');
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe('client-1');
    expect(params.get('redirect_uri')).toBe(REDIRECT);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toBe(
      createHash('sha256').update(request.codeVerifier).digest('base64url'),
    );
    expect(request.codeVerifier).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/);
    expect(params.get('state')).toBe(request.state);
    expect(request.state.length).toBeGreaterThanOrEqual(16);
    expect(params.get('scope')).toBe('read write');
    expect(params.get('resource')).toBe(RESOURCE);
    expect(request).toMatchObject({
      redirectUri: REDIRECT,
      issuer: ISSUER,
      scopes: ['read', 'write'],
    });
  });

  test('fresh state and verifier each time', async () => {
    const one = await prepareAuthorization(base);
    const two = await prepareAuthorization(base);
    expect(one.state).not.toBe(two.state);
    expect(one.codeVerifier).not.toBe(two.codeVerifier);
  });

  test('scope omitted when empty; resource omitted when undefined', async () => {
    const request = await prepareAuthorization({ ...base, scopes: [], resource: undefined });
    expect(request.url.searchParams.has('scope')).toBe(false);
    expect(request.url.searchParams.has('resource')).toBe(false);
  });

  test('extra parameters are added but cannot override protocol parameters', async () => {
    const request = await prepareAuthorization({
      ...base,
      scopes: [],
      resource: undefined,
      extraParams: {
        audience: 'api',
        response_type: 'token',
        client_id: 'evil',
        redirect_uri: 'https://evil.example/cb',
        code_challenge: 'x',
        code_challenge_method: 'plain',
        state: 'fixed',
        scope: 'admin',
        resource: 'https://evil.example/',
      },
    });
    const params = request.url.searchParams;
    expect(params.get('audience')).toBe('api');
    expect(params.getAll('response_type')).toEqual(['code']);
    expect(params.getAll('client_id')).toEqual(['client-1']);
    expect(params.getAll('redirect_uri')).toEqual([REDIRECT]);
    expect(params.getAll('code_challenge_method')).toEqual(['S256']);
    expect(params.getAll('code_challenge')).toEqual([
      createHash('sha256').update(request.codeVerifier).digest('base64url'),
    ]);
    expect(params.getAll('state')).toEqual([request.state]);
    expect(params.has('scope')).toBe(false);
    expect(params.has('resource')).toBe(false);
  });

  test('extra scope/resource cannot override the chosen ones either', async () => {
    const request = await prepareAuthorization({
      ...base,
      extraParams: { scope: 'admin', resource: 'https://evil.example/' },
    });
    expect(request.url.searchParams.getAll('scope')).toEqual(['read write']);
    expect(request.url.searchParams.getAll('resource')).toEqual([RESOURCE]);
  });

  test('no authorization_endpoint: OAUTH_AUTHORIZATION', async () => {
    const error = await prepareAuthorization({
      ...base,
      as: metadata({ authorization_endpoint: undefined }),
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpAgentError);
    expect((error as McpAgentError).code).toBe('OAUTH_AUTHORIZATION');
  });
});

describe('validateCallback', () => {
  async function pending(as: AuthorizationServer): Promise<AuthorizationRequest> {
    return prepareAuthorization({ as, clientId: 'client-1', redirectUri: REDIRECT, scopes: [] });
  }

  function callback(params: Record<string, string | undefined>): URL {
    const url = new URL(REDIRECT);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    return url;
  }

  /** Run validateCallback and return its error, checking the code never shows. */
  async function refusal(
    as: AuthorizationServer,
    params: (request: AuthorizationRequest) => Record<string, string | undefined>,
  ): Promise<McpAgentError> {
    const request = await pending(as);
    const error = thrown(() => validateCallback(as, client, callback(params(request)), request));
    expect(error.code).toBe('OAUTH_AUTHORIZATION');
    expect(error.message).not.toContain(CODE);
    return error;
  }

  const advertised = metadata({ authorization_response_iss_parameter_supported: true });
  const silent = metadata();

  test('RFC 9207: advertised and present and equal: accepted', async () => {
    const request = await pending(advertised);
    const params = validateCallback(
      advertised,
      client,
      callback({ code: CODE, state: request.state, iss: ISSUER }),
      request,
    );
    expect(params.get('code')).toBe(CODE);
  });

  test('RFC 9207: advertised and absent: refused', async () => {
    const error = await refusal(advertised, (request) => ({ code: CODE, state: request.state }));
    expect(error.message).toMatch(/no iss/);
  });

  test('RFC 9207: not advertised and present but wrong: refused', async () => {
    const error = await refusal(silent, (request) => ({
      code: CODE,
      state: request.state,
      iss: 'https://attacker.example',
    }));
    expect(error.message).toMatch(/another issuer/);
  });

  test('RFC 9207: not advertised and absent: accepted', async () => {
    const request = await pending(silent);
    const params = validateCallback(
      silent,
      client,
      callback({ code: CODE, state: request.state }),
      request,
    );
    expect(params.get('code')).toBe(CODE);
  });

  test('RFC 9207: not advertised, present and equal: accepted', async () => {
    const request = await pending(silent);
    expect(
      validateCallback(
        silent,
        client,
        callback({ code: CODE, state: request.state, iss: ISSUER }),
        request,
      ).get('code'),
    ).toBe(CODE);
  });

  test.each([
    ['a trailing slash', `${ISSUER}/`],
    ['upper-case host', 'https://AS.example.com/tenant'],
    ['upper-case scheme', 'HTTPS://as.example.com/tenant'],
    ['upper-case path', 'https://as.example.com/Tenant'],
    ['the default port', 'https://as.example.com:443/tenant'],
    ['a percent-encoded path character', 'https://as.example.com/%74enant'],
    ['an encoded slash', 'https://as.example.com%2Ftenant'],
    ['a query', `${ISSUER}?x=1`],
    ['a fragment', `${ISSUER}#`],
    ['surrounding space', ` ${ISSUER}`],
    ['an empty iss', ''],
  ])('iss compared as an exact string: %s is refused', async (_label, iss) => {
    for (const as of [advertised, silent]) {
      const error = await refusal(as, (request) => ({ code: CODE, state: request.state, iss }));
      expect(error.message).toMatch(/another issuer/);
    }
  });

  test('state missing: refused', async () => {
    const error = await refusal(silent, () => ({ code: CODE }));
    expect(error.message).toMatch(/no state/);
  });

  test('state wrong: refused', async () => {
    const error = await refusal(silent, (request) => ({
      code: CODE,
      state: `${request.state}x`,
    }));
    expect(error.message).toMatch(/state that does not match/);
  });

  test('no code: refused', async () => {
    const error = await refusal(silent, (request) => ({ state: request.state }));
    expect(error.message).toMatch(/no code/);
    await refusal(silent, (request) => ({ state: request.state, code: '' }));
  });

  test('error=access_denied: an OAuthServerError keeping the error and description', async () => {
    const request = await pending(silent);
    const error = thrown(() =>
      validateCallback(
        silent,
        client,
        callback({
          error: 'access_denied',
          error_description: 'The user said no',
          state: request.state,
        }),
        request,
      ),
    );
    expect(error).toBeInstanceOf(OAuthServerError);
    const server = error as OAuthServerError;
    expect(server.code).toBe('OAUTH_AUTHORIZATION');
    expect(server.error).toBe('access_denied');
    expect(server.errorDescription).toBe('The user said no');
    expect(server.message).toContain('denied');
    expect(server.message).toContain('The user said no');
    expect(server.message).toContain(ISSUER);
  });

  test('another error code is named; an unreadable one is not shown', async () => {
    const request = await pending(silent);
    const named = thrown(() =>
      validateCallback(
        silent,
        client,
        callback({ error: 'server_error', state: request.state }),
        request,
      ),
    );
    expect(named.message).toContain('server_error');
    const odd = thrown(() =>
      validateCallback(
        silent,
        client,
        callback({ error: 'bad"code\nwith\u0000junk', state: request.state }),
        request,
      ),
    );
    expect(odd).toBeInstanceOf(OAuthServerError);
    expect(odd.message).toContain('an unreadable error');
    expect(odd.message).not.toContain('junk');
  });

  test('an error with a wrong iss: refused for the iss, its description not shown', async () => {
    const error = await refusal(silent, (request) => ({
      error: 'access_denied',
      error_description: 'SPOOFED-description-visit-evil.example',
      state: request.state,
      iss: 'https://attacker.example',
    }));
    expect(error).not.toBeInstanceOf(OAuthServerError);
    expect(error.message).not.toContain('SPOOFED');
    expect(error.message).not.toContain('attacker');
  });

  test('an error with a missing promised iss or a wrong state: description not shown', async () => {
    const noIss = await refusal(advertised, (request) => ({
      error: 'access_denied',
      error_description: 'SPOOFED-description',
      state: request.state,
    }));
    expect(noIss.message).not.toContain('SPOOFED');
    const wrongState = await refusal(silent, () => ({
      error: 'access_denied',
      error_description: 'SPOOFED-description',
      state: 'forged',
    }));
    expect(wrongState.message).not.toContain('SPOOFED');
  });

  test('the code never appears in a message, whichever check fails', async () => {
    const cases: ((request: AuthorizationRequest) => Record<string, string | undefined>)[] = [
      () => ({ code: CODE }),
      () => ({ code: CODE, state: 'wrong' }),
      (request) => ({ code: CODE, state: request.state, iss: 'https://x.example' }),
      (request) => ({ code: CODE, state: request.state, iss: CODE }),
      (request) => ({ code: CODE, state: request.state, error: 'access_denied' }),
      (request) => ({ code: CODE, state: request.state, error: 'invalid_scope' }),
    ];
    for (const params of cases) await refusal(silent, params);
    await refusal(advertised, (request) => ({ code: CODE, state: request.state }));
  });

  test('an error_description that echoes the code does not show it', async () => {
    await refusal(silent, (request) => ({
      code: CODE,
      state: request.state,
      error: 'invalid_request',
      error_description: `code ${CODE} was already used`,
    }));
  });

  test('the code verifier is scrubbed from an error_description', async () => {
    const request = await pending(silent);
    const error = thrown(() =>
      validateCallback(
        silent,
        client,
        callback({
          error: 'invalid_request',
          error_description: `verifier ${request.codeVerifier}`,
          state: request.state,
        }),
        request,
      ),
    );
    expect(error.message).not.toContain(request.codeVerifier);
    expect(error.message).toContain('[redacted]');
  });

  test('property: any iss other than the issuer is refused', async () => {
    const advertisedRequest = await pending(advertised);
    const silentRequest = await pending(silent);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.webUrl(),
          fc.constantFrom(`${ISSUER}/`, ISSUER.toUpperCase(), `${ISSUER} `, `${ISSUER}\u0000`),
        ),
        fc.boolean(),
        (iss, isAdvertised) => {
          fc.pre(iss !== ISSUER);
          const as = isAdvertised ? advertised : silent;
          const request = isAdvertised ? advertisedRequest : silentRequest;
          const url = callback({ code: CODE, state: request.state, iss });
          expect(() => validateCallback(as, client, url, request)).toThrow(/another issuer than/);
        },
      ),
    );
  });
});
