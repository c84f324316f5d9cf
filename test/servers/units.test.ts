import { describe, expect, test } from 'vitest';
import type { ServerSettings } from '../../src/config/schema/servers.js';
import { serverSchema } from '../../src/config/schema/servers.js';
import { Secret } from '../../src/config/secret.js';
import { authMode, scrub, secretValues, staticHeaders } from '../../src/servers/credentials.js';
import { type FetchLike, withOriginHeaders, withResponseTimeout } from '../../src/servers/http.js';
import { buildStdioEnv } from '../../src/servers/stdio-env.js';

const server = (input: Record<string, unknown>): ServerSettings => serverSchema.parse(input);

describe('stdio environment', () => {
  const parent = {
    PATH: '/bin',
    HOME: '/root',
    AWS_SECRET_ACCESS_KEY: 'parent-secret',
    FUNC: '() { :; }',
    EXTRA: 'x',
  };

  test('only the allow-list and the configured env', () => {
    const env = buildStdioEnv({ parent, env: { TOKEN: new Secret('t0k') } });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root', TOKEN: 't0k' });
  });

  test('env_passthrough and inherit_env', () => {
    expect(buildStdioEnv({ parent, passthrough: ['EXTRA', 'MISSING'] })).toEqual({
      PATH: '/bin',
      HOME: '/root',
      EXTRA: 'x',
    });
    const all = buildStdioEnv({ parent, inheritEnv: true });
    expect(all.AWS_SECRET_ACCESS_KEY).toBe('parent-secret');
    expect(all.FUNC).toBeUndefined();
  });

  test('configured values win over inherited ones', () => {
    expect(buildStdioEnv({ parent, env: { PATH: '/opt/bin' } }).PATH).toBe('/opt/bin');
  });
});

describe('static credentials', () => {
  const remote = { transport: 'sse', url: 'https://x.example/sse' };

  test('api_key becomes a bearer header unless Authorization is set', () => {
    expect(staticHeaders(server({ ...remote, auth: { api_key: 'k1' } }))).toEqual({
      Authorization: 'Bearer k1',
    });
    expect(
      staticHeaders(
        server({ ...remote, headers: { authorization: 'Token t' }, auth: { api_key: 'k1' } }),
      ),
    ).toEqual({ authorization: 'Token t' });
  });

  test('auth.headers merge over headers; auth.type bearer + token', () => {
    expect(
      staticHeaders(
        server({
          ...remote,
          headers: { 'X-A': '1', 'X-B': '1' },
          auth: { headers: { 'X-B': '2' } },
        }),
      ),
    ).toEqual({ 'X-A': '1', 'X-B': '2' });
    expect(staticHeaders(server({ ...remote, auth: { type: 'bearer', token: 'tk' } }))).toEqual({
      Authorization: 'Bearer tk',
    });
  });

  test('auth modes', () => {
    expect(authMode(server({ command: 'x' }))).toBe('none');
    expect(authMode(server({ command: 'x', env: { A: 'b' } }))).toBe('env');
    expect(authMode(server({ ...remote, headers: { A: 'b' } }))).toBe('headers');
    expect(authMode(server({ ...remote, auth: { oauth: { enabled: true } } }))).toBe('oauth');
  });

  test('scrub replaces every occurrence of each secret, longest first, also URL-encoded', () => {
    expect(scrub('a s3cret b s3cret', ['s3cret'])).toBe('a [redacted] b [redacted]');
    const secrets = secretValues(
      server({ command: 'x', env: { A: 'abcd', B: 'abcd-LONGER/tail' } }),
    );
    expect(scrub('abcd-LONGER/tail abcd-LONGER%2Ftail', secrets)).toBe('[redacted] [redacted]');
  });

  test('an empty auth.token (an unset variable) does not hide auth.api_key', () => {
    expect(staticHeaders(server({ ...remote, auth: { token: '', api_key: 'k2' } }))).toEqual({
      Authorization: 'Bearer k2',
    });
  });
});

describe('fetch wrappers', () => {
  function recorder(): { fetch: FetchLike; seen: { url: string; headers: Headers }[] } {
    const seen: { url: string; headers: Headers }[] = [];
    const fetch: FetchLike = async (input, init) => {
      seen.push({ url: String(input), headers: new Headers(init?.headers) });
      return new Response('ok');
    };
    return { fetch, seen };
  }

  test('headers go to the endpoint origin only', async () => {
    const { fetch, seen } = recorder();
    const wrapped = withOriginHeaders(fetch, new URL('https://mcp.example/mcp'), () => ({
      Authorization: 'Bearer x',
    }));
    await wrapped('https://mcp.example/other?x=1');
    await wrapped('https://evil.example/mcp');
    await wrapped('http://mcp.example/mcp');
    expect(seen.map((s) => s.headers.get('authorization'))).toEqual(['Bearer x', null, null]);
  });

  test('a response that does not start in time is a SERVER_TIMEOUT; a body may take longer', async () => {
    const never: FetchLike = (_input, init) =>
      new Promise((_, reject) =>
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      );
    await expect(withResponseTimeout(never, 20, 'slow')('https://x.example')).rejects.toMatchObject(
      {
        code: 'SERVER_TIMEOUT',
      },
    );
    const quick: FetchLike = async () => new Response('fine');
    await expect(
      (await withResponseTimeout(quick, 20, 'ok')('https://x.example')).text(),
    ).resolves.toBe('fine');
  });

  test('an abort by the caller stays an abort', async () => {
    const never: FetchLike = (_input, init) =>
      new Promise((_, reject) =>
        init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    const controller = new AbortController();
    const pending = withResponseTimeout(
      never,
      10_000,
      's',
    )('https://x.example', { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toThrow('aborted');
  });
});
