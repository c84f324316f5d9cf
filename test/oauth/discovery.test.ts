import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import {
  authorizationServerMetadataUrls,
  canonicalResource,
  DiscoveryCache,
  type DiscoveryFetch,
  discover,
  resourceMatches,
  resourceMetadataUrls,
} from '../../src/oauth/protocol/discovery.js';
import {
  isLoopbackHost,
  isNonPublicAddress,
  type NetworkPolicy,
  policyFor,
} from '../../src/oauth/protocol/network.js';

const PUBLIC: NetworkPolicy = { allowPrivate: false, lookup: async () => ['203.0.113.7'] };

/** A fetch answering from a table of URL → JSON (404 otherwise), recording what was asked. */
function site(table: Record<string, unknown>): { fetch: DiscoveryFetch; asked: string[] } {
  const asked: string[] = [];
  const fetch: DiscoveryFetch = async (input) => {
    const url = String(input);
    asked.push(url);
    return url in table
      ? new Response(JSON.stringify(table[url]), {
          headers: { 'content-type': 'application/json' },
        })
      : new Response('not found', { status: 404 });
  };
  return { fetch, asked };
}

const AS = (issuer: string) => ({
  issuer,
  authorization_endpoint: `${issuer}/authorize`,
  token_endpoint: `${issuer}/token`,
  code_challenge_methods_supported: ['S256'],
});

async function discoveryError(promise: Promise<unknown>): Promise<McpAgentError> {
  const error = await promise.catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(McpAgentError);
  return error as McpAgentError;
}

describe('URLs', () => {
  test('canonical resource', () => {
    expect(canonicalResource('HTTPS://MCP.Example.com/mcp/?x=1#f').href).toBe(
      'https://mcp.example.com/mcp/',
    );
    expect(canonicalResource('https://mcp.example.com/mcp').href).toBe(
      'https://mcp.example.com/mcp',
    );
    expect(canonicalResource('https://mcp.example.com').href).toBe('https://mcp.example.com/');
  });

  test('protected-resource metadata: path-inserted, then root', () => {
    expect(resourceMetadataUrls(new URL('https://h/public/mcp')).map(String)).toEqual([
      'https://h/.well-known/oauth-protected-resource/public/mcp',
      'https://h/.well-known/oauth-protected-resource',
    ]);
    expect(resourceMetadataUrls(new URL('https://h')).map(String)).toEqual([
      'https://h/.well-known/oauth-protected-resource',
    ]);
  });

  test('authorization server metadata in the MCP order', () => {
    expect(authorizationServerMetadataUrls(new URL('https://a/tenant1')).map(String)).toEqual([
      'https://a/.well-known/oauth-authorization-server/tenant1',
      'https://a/.well-known/openid-configuration/tenant1',
      'https://a/tenant1/.well-known/openid-configuration',
    ]);
    expect(authorizationServerMetadataUrls(new URL('https://a')).map(String)).toEqual([
      'https://a/.well-known/oauth-authorization-server',
      'https://a/.well-known/openid-configuration',
    ]);
  });
});

describe('discover', () => {
  const server = 'https://mcp.example.com/mcp';

  test('path-inserted PRM, then the first listed AS via RFC 8414', async () => {
    const { fetch, asked } = site({
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp': {
        resource: server,
        authorization_servers: ['https://auth.example.com'],
      },
      'https://auth.example.com/.well-known/oauth-authorization-server': AS(
        'https://auth.example.com',
      ),
    });
    const result = await discover(server, { fetch, policy: PUBLIC });
    expect(result.resource.href).toBe(server);
    expect(result.authorizationServer.token_endpoint).toBe('https://auth.example.com/token');
    expect(asked).toHaveLength(2);
  });

  test('the challenge URL comes first; the root PRM and OIDC path-appended are fallbacks', async () => {
    const { fetch, asked } = site({
      'https://meta.example.com/prm': {
        resource: server,
        authorization_servers: ['https://idp.example.com/t1'],
      },
      'https://idp.example.com/t1/.well-known/openid-configuration': AS(
        'https://idp.example.com/t1',
      ),
    });
    const result = await discover(server, {
      fetch,
      policy: PUBLIC,
      challengeMetadataUrl: 'https://meta.example.com/prm',
    });
    expect(result.authorizationServer.issuer).toBe('https://idp.example.com/t1');
    expect(asked).toEqual([
      'https://meta.example.com/prm',
      'https://idp.example.com/.well-known/oauth-authorization-server/t1',
      'https://idp.example.com/.well-known/openid-configuration/t1',
      'https://idp.example.com/t1/.well-known/openid-configuration',
    ]);
  });

  test('a PRM for another resource is not used', async () => {
    const { fetch } = site({
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp': {
        resource: 'https://attacker.example/mcp',
        authorization_servers: ['https://auth.example.com'],
      },
    });
    const error = await discoveryError(discover(server, { fetch, policy: PUBLIC }));
    expect(error.message).toMatch(
      /is for another resource than https:\/\/mcp\.example\.com\/mcp \(RFC 9728 §3\.3\)/,
    );
  });

  test('AS metadata naming another issuer is not used (mix-up defence)', async () => {
    const { fetch } = site({
      'https://mcp.example.com/.well-known/oauth-protected-resource': {
        resource: server,
        authorization_servers: ['https://attacker.example'],
      },
      'https://attacker.example/.well-known/oauth-authorization-server':
        AS('https://honest.example'),
    });
    const error = await discoveryError(discover(server, { fetch, policy: PUBLIC }));
    expect(error.message).toMatch(
      /names another issuer than https:\/\/attacker\.example \(RFC 8414 §3\.3\)/,
    );
  });

  test('the configured authorization_server picks among the listed ones, and must be listed', async () => {
    const table = {
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp': {
        resource: server,
        authorization_servers: ['https://a.example', 'https://b.example/'],
      },
      'https://b.example/.well-known/oauth-authorization-server': AS('https://b.example'),
    };
    const result = await discover(server, {
      ...site(table),
      policy: PUBLIC,
      authorizationServer: 'https://b.example',
    });
    expect(result.authorizationServer.issuer).toBe('https://b.example');
    const error = await discoveryError(
      discover(server, {
        ...site(table),
        policy: PUBLIC,
        authorizationServer: 'https://c.example',
      }),
    );
    expect(error.message).toMatch(/is not one the server .* lists/);
  });

  test('without PRM, the configured authorization server is used; without either, one clear sentence', async () => {
    const { fetch } = site({
      'https://github.com/.well-known/oauth-authorization-server/login/oauth': AS(
        'https://github.com/login/oauth',
      ),
    });
    const result = await discover(server, {
      fetch,
      policy: PUBLIC,
      authorizationServer: 'https://github.com/login/oauth',
    });
    expect(result.resourceMetadata).toBeUndefined();
    expect(result.authorizationServer.issuer).toBe('https://github.com/login/oauth');
    const error = await discoveryError(discover(server, { ...site({}), policy: PUBLIC }));
    expect(error.message).toMatch(
      /No protected-resource metadata .* set auth\.oauth\.authorization_server/,
    );
  });

  test('without PRM or a configured one, the server is its own authorization server at its origin (MCP 2025-03-26)', async () => {
    const { fetch, asked } = site({
      'https://mcp.example.com/.well-known/oauth-authorization-server': {
        ...AS('https://mcp.example.com'),
        authorization_endpoint: 'https://mcp.example.com/oauth/authorize',
      },
    });
    const result = await discover(server, { fetch, policy: PUBLIC });
    expect(result.resourceMetadata).toBeUndefined();
    expect(result.resourceId).toBe(server);
    expect(result.authorizationServer.issuer).toBe('https://mcp.example.com');
    expect(result.authorizationServer.authorization_endpoint).toBe(
      'https://mcp.example.com/oauth/authorize',
    );
    expect(asked).toEqual([
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
      'https://mcp.example.com/.well-known/oauth-protected-resource',
      'https://mcp.example.com/.well-known/oauth-authorization-server',
    ]);
    // The origin's metadata must name the origin (mix-up defence), as any other.
    const other = site({
      'https://mcp.example.com/.well-known/openid-configuration': AS('https://evil.example'),
    });
    const error = await discoveryError(discover(server, { fetch: other.fetch, policy: PUBLIC }));
    expect(error.message).toMatch(/names another issuer than https:\/\/mcp\.example\.com/);
  });

  test('results are cached for the TTL', async () => {
    let now = 0;
    const cache = new DiscoveryCache({ ttlMs: 1000, now: () => now });
    const { fetch, asked } = site({
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp': {
        resource: server,
        authorization_servers: ['https://auth.example.com'],
      },
      'https://auth.example.com/.well-known/oauth-authorization-server': AS(
        'https://auth.example.com',
      ),
    });
    await discover(server, { fetch, policy: PUBLIC, cache });
    await discover(server, { fetch, policy: PUBLIC, cache });
    expect(asked).toHaveLength(2);
    now = 1500;
    await discover(server, { fetch, policy: PUBLIC, cache });
    expect(asked).toHaveLength(4);
  });
});

describe('network policy', () => {
  test('plain http only on loopback hosts', async () => {
    const { fetch } = site({});
    const error = await discoveryError(
      discover('https://mcp.example.com/mcp', {
        fetch,
        policy: PUBLIC,
        challengeMetadataUrl: 'http://meta.example.com/prm',
      }),
    );
    expect(error.message).toMatch(/only https is allowed/);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('127.8.9.10')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('example.com')).toBe(false);
  });

  test.each([
    ['10.1.2.3', true],
    ['172.20.0.1', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['127.0.0.1', true],
    ['::1', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['::ffff:10.0.0.1', true],
    ['100.64.0.1', true],
    ['8.8.8.8', false],
    ['2001:4860:4860::8888', false],
  ])('%s non-public: %s', (address, expected) => {
    expect(isNonPublicAddress(address)).toBe(expected);
  });

  test('metadata on a private address is refused for a public server, unless allowed', async () => {
    const lookup = async (host: string) =>
      host === 'mcp.example.com' ? ['203.0.113.7'] : ['169.254.169.254'];
    const policy = await policyFor(new URL('https://mcp.example.com/mcp'), { lookup });
    expect(policy.allowPrivate).toBe(false);
    const { fetch, asked } = site({});
    const error = await discoveryError(
      discover('https://mcp.example.com/mcp', {
        fetch,
        policy,
        challengeMetadataUrl: 'https://metadata.internal/prm',
      }),
    );
    expect(error.message).toMatch(/private or local address .* allow_private_network: true/);
    expect(asked).toEqual([]);
    expect(
      (
        await policyFor(new URL('https://mcp.example.com/mcp'), {
          lookup,
          allowPrivateNetwork: true,
        })
      ).allowPrivate,
    ).toBe(true);
    const internal = await policyFor(new URL('https://mcp.corp/mcp'), {
      lookup: async () => ['10.0.0.5'],
    });
    expect(internal.allowPrivate).toBe(true);
  });
});

describe('discover: hardening', () => {
  const server = 'https://mcp.example.com/mcp';
  const prm = { resource: server, authorization_servers: ['https://auth.example.com'] };
  const meta = AS('https://auth.example.com');

  test('any failure of the path-inserted URL falls back to the root one', async () => {
    const asked: string[] = [];
    const fetch: DiscoveryFetch = async (input) => {
      const url = String(input);
      asked.push(url);
      if (url.endsWith('/oauth-protected-resource/mcp')) return new Response('no', { status: 401 });
      if (url.endsWith('/oauth-protected-resource')) return Response.json(prm);
      return Response.json(meta);
    };
    const result = await discover(server, { fetch, policy: PUBLIC });
    expect(result.resourceMetadata?.resource).toBe(server);
    expect(asked.slice(0, 2)).toEqual([
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
      'https://mcp.example.com/.well-known/oauth-protected-resource',
    ]);
  });

  test('the metadata URL is built from the server URL even when resource is configured', async () => {
    const { fetch, asked } = site({
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp': {
        resource: 'https://api.example.com',
        authorization_servers: ['https://auth.example.com'],
      },
      'https://auth.example.com/.well-known/oauth-authorization-server': meta,
    });
    await discover(server, { fetch, policy: PUBLIC, resource: 'https://api.example.com' });
    expect(asked[0]).toBe('https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
  });

  test('a new challenge URL is not answered from the cache', async () => {
    const cache = new DiscoveryCache();
    const { fetch, asked } = site({
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp': prm,
      'https://meta.example.com/prm2': prm,
      'https://auth.example.com/.well-known/oauth-authorization-server': meta,
    });
    await discover(server, { fetch, policy: PUBLIC, cache });
    await discover(server, {
      fetch,
      policy: PUBLIC,
      cache,
      challengeMetadataUrl: 'https://meta.example.com/prm2',
    });
    expect(asked).toContain('https://meta.example.com/prm2');
  });

  test('an issuer that only matches once normalised is refused', async () => {
    const { fetch } = site({
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp': prm,
      'https://auth.example.com/.well-known/oauth-authorization-server': AS(
        'HTTPS://AUTH.EXAMPLE.COM:443',
      ),
    });
    const error = await discoveryError(discover(server, { fetch, policy: PUBLIC }));
    expect(error.message).toMatch(/names another issuer/);
  });

  test('a challenge URL that is not absolute is one clear error', async () => {
    const error = await discoveryError(
      discover(server, { ...site({}), policy: PUBLIC, challengeMetadataUrl: '/relative' }),
    );
    expect(error.code).toBe('OAUTH_DISCOVERY');
  });

  test('a metadata document over 256 KiB is not read', async () => {
    const fetch: DiscoveryFetch = async () =>
      new Response(JSON.stringify({ ...prm, padding: 'x'.repeat(300 * 1024) }), {
        headers: { 'content-type': 'application/json' },
      });
    const error = await discoveryError(discover(server, { fetch, policy: PUBLIC }));
    expect(error.message).toMatch(/larger than 256 KiB/);
  });

  test('endpoints must be https and public', async () => {
    const bad = { ...meta, authorization_endpoint: 'javascript:alert(1)' };
    const one = site({
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp': prm,
      'https://auth.example.com/.well-known/oauth-authorization-server': bad,
    });
    expect((await discoveryError(discover(server, { ...one, policy: PUBLIC }))).message).toMatch(
      /authorization_endpoint that is not https/,
    );
    const lookup = async (host: string) =>
      host === 'internal.example.com' ? ['10.0.0.9'] : ['203.0.113.7'];
    const two = site({
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp': prm,
      'https://auth.example.com/.well-known/oauth-authorization-server': {
        ...meta,
        token_endpoint: 'https://internal.example.com/token',
      },
    });
    expect(
      (await discoveryError(discover(server, { ...two, policy: { allowPrivate: false, lookup } })))
        .message,
    ).toMatch(/token_endpoint .* private or local address/);
  });
});

describe('discover: servers that protect their whole origin (FastMCP, mcp-handler)', () => {
  const origin = 'https://mcp.example.com';
  const server = `${origin}/mcp`;
  const ROOT = `${origin}/.well-known/oauth-protected-resource`;
  const PATH = `${ROOT}/mcp`;
  const meta = AS('https://auth.example.com');
  const ASM = 'https://auth.example.com/.well-known/oauth-authorization-server';
  const prm = (resource: string) => ({
    resource,
    authorization_servers: ['https://auth.example.com'],
  });

  test.each([
    ['the origin', origin],
    ['the origin with a trailing slash', `${origin}/`],
  ])(
    'a challenge naming the root document, whose resource is %s, is accepted',
    async (_, claimed) => {
      const { fetch, asked } = site({ [ROOT]: prm(claimed), [ASM]: meta });
      const result = await discover(server, { fetch, policy: PUBLIC, challengeMetadataUrl: ROOT });
      // The metadata's resource is what the tokens are for, sent verbatim (RFC 8707).
      expect(result.resourceId).toBe(claimed);
      expect(result.authorizationServer.issuer).toBe('https://auth.example.com');
      expect(asked).toEqual([ROOT, ASM]);
    },
  );

  test('a path-inserted document naming another resource falls back to the root one', async () => {
    const { fetch, asked } = site({ [PATH]: prm(origin), [ROOT]: prm(origin), [ASM]: meta });
    const result = await discover(server, { fetch, policy: PUBLIC });
    expect(result.resourceId).toBe(origin);
    expect(asked).toEqual([PATH, ROOT, ASM]);
  });

  test('a challenge document that is missing or for another resource falls back to the well-known ones', async () => {
    const missing = site({ [PATH]: prm(server), [ASM]: meta });
    const found = await discover(server, {
      ...missing,
      policy: PUBLIC,
      challengeMetadataUrl: `${origin}/mcp/.well-known/oauth-protected-resource`,
    });
    expect(found.resourceId).toBe(server);
    const other = site({
      'https://meta.example.com/prm': prm('https://other.example.com/mcp'),
      [PATH]: prm(server),
      [ASM]: meta,
    });
    const result = await discover(server, {
      ...other,
      policy: PUBLIC,
      challengeMetadataUrl: 'https://meta.example.com/prm',
    });
    expect(result.resourceId).toBe(server);
    expect(other.asked).toEqual(['https://meta.example.com/prm', PATH, ASM]);
  });

  test('one trailing slash aside, the path must be the same anywhere', async () => {
    const { fetch } = site({ [PATH]: prm(server), [ASM]: meta });
    const result = await discover(`${server}/`, { fetch, policy: PUBLIC });
    expect(result.resourceId).toBe(server);
  });

  test.each([
    ['another origin', { [ROOT]: prm('https://other.example.com') }, {}],
    ['another port', { [ROOT]: prm('https://mcp.example.com:8443') }, {}],
    ['another scheme', { [ROOT]: prm('http://mcp.example.com') }, {}],
    ['a parent from the path-inserted document only', { [PATH]: prm(origin) }, {}],
    [
      'a parent from a challenge URL that is not the root document',
      { [PATH]: prm(origin) },
      {
        challengeMetadataUrl: 'https://meta.example.com/prm',
      },
    ],
    ['a prefix that is not a whole segment', { [ROOT]: prm(`${origin}/mc`) }, {}],
    ['a child of the server URL', { [ROOT]: prm(`${server}/tools`) }, {}],
    ['a parent with a query', { [ROOT]: prm(`${origin}/?tenant=a`) }, {}],
    ['a parent when resource is configured', { [ROOT]: prm(origin) }, { resource: server }],
    [
      'a parent with acceptParentResource: false',
      { [ROOT]: prm(origin) },
      {
        acceptParentResource: false,
      },
    ],
  ])(
    'refused: %s, with one clear error and no authorization server asked',
    async (_, table, extra) => {
      const { fetch, asked } = site({
        ...table,
        'https://meta.example.com/prm': prm(origin),
        [ASM]: meta,
      });
      const error = await discoveryError(
        discover(server, {
          fetch,
          policy: PUBLIC,
          // Even with one configured: a refused document is never passed over in silence.
          authorizationServer: 'https://auth.example.com',
          ...extra,
        }),
      );
      expect(error.message).toMatch(
        /is for another resource than https:\/\/mcp\.example\.com\/mcp/,
      );
      expect(asked).not.toContain(ASM);
    },
  );

  test('resourceMatches: a parent is accepted exactly when it is a whole-segment prefix on the same origin', () => {
    const segment = fc.stringMatching(/^[a-z0-9_~-]{1,6}$/);
    fc.assert(
      fc.property(
        fc.array(segment, { maxLength: 4 }),
        fc.array(segment, { maxLength: 4 }),
        fc.boolean(),
        (serverPath, claimedPath, slash) => {
          const resource = new URL(`https://h.example/${serverPath.join('/')}`);
          const claimed = `https://h.example/${claimedPath.join('/')}${slash && claimedPath.length ? '/' : ''}`;
          const prefix =
            claimedPath.length <= serverPath.length &&
            claimedPath.every((part, index) => part === serverPath[index]);
          const same = claimedPath.join('/') === serverPath.join('/');
          expect(resourceMatches(resource, claimed, true)).toBe(prefix);
          expect(resourceMatches(resource, claimed, false)).toBe(same);
          expect(
            resourceMatches(resource, claimed.replace('h.example', 'h.example:444'), true),
          ).toBe(false);
        },
      ),
    );
  });
});

describe('a server that wants credentials for everything', () => {
  test('a 401 on its metadata says it probably takes a static key, not OAuth', async () => {
    const fetch: DiscoveryFetch = async () =>
      new Response('unauthorized', { status: 401, headers: { 'www-authenticate': 'Bearer' } });
    const error = await discoveryError(
      discover('https://mcp.example.com/mcp', { fetch, policy: PUBLIC }),
    );
    expect(error.code).toBe('OAUTH_DISCOVERY');
    expect(error.message).toContain('answered HTTP 401');
    expect(error.message).toContain(
      'a static key or token in a header (headers) rather than OAuth',
    );
  });

  test('a 500 says only what happened', async () => {
    const fetch: DiscoveryFetch = async () => new Response('oops', { status: 500 });
    const error = await discoveryError(
      discover('https://mcp.example.com/mcp', { fetch, policy: PUBLIC }),
    );
    expect(error.message).toMatch(/answered HTTP 500\.$/);
  });
});
