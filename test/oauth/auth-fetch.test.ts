import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import {
  type AuthFetch,
  MAX_STEP_UPS,
  type TokenSource,
  withOAuth,
} from '../../src/oauth/auth-fetch.js';
import type { BearerChallenge } from '../../src/oauth/protocol/www-authenticate.js';

const ENDPOINT = new URL('https://mcp.example.com/mcp');
const PRM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

interface Call {
  readonly challenge: BearerChallenge | undefined;
  readonly sent: string | undefined;
}

/**
 * A token source handing out `tok-0` (none with `empty`), then `tok-1`, … on each onUnauthorized.
 */
function tokens(options: { empty?: boolean } = {}): TokenSource & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    token: async () => (options.empty ? undefined : new Secret('tok-0')),
    onUnauthorized: async (challenge, sent) => {
      calls.push({ challenge, sent: sent?.reveal() });
      return new Secret(`tok-${calls.length}`);
    },
  };
}

interface Seen {
  readonly url: string;
  readonly init: RequestInit | undefined;
  readonly authorization: string | null;
}

/** A server answering from `answers` in order (the last one repeats), recording each request. */
function server(...answers: (() => Response)[]): { fetch: AuthFetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const fetch: AuthFetch = async (input, init) => {
    seen.push({
      url: String(input),
      init,
      authorization: new Headers(init?.headers).get('authorization'),
    });
    const answer = answers[Math.min(seen.length - 1, answers.length - 1)];
    return answer ? answer() : new Response('ok');
  };
  return { fetch, seen };
}

const ok = () => new Response('ok');
const unauthorized =
  (header = `Bearer resource_metadata="${PRM}"`) =>
  () =>
    new Response('no', { status: 401, headers: { 'www-authenticate': header } });
const insufficientScope =
  (scope = 'files:write') =>
  () =>
    new Response('more', {
      status: 403,
      headers: {
        'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${PRM}"`,
      },
    });

describe('withOAuth: which requests get the token', () => {
  test.each([
    'https://mcp.example.com/mcp',
    'https://mcp.example.com/other/path?x=1',
    'https://MCP.example.com:443/mcp',
  ])('%s (the endpoint origin) gets Authorization: Bearer', async (url) => {
    const { fetch, seen } = server(ok);
    const response = await withOAuth(fetch, tokens(), ENDPOINT)(url);
    expect(response.status).toBe(200);
    expect(seen[0]?.authorization).toBe('Bearer tok-0');
  });

  test('a URL object input works the same', async () => {
    const { fetch, seen } = server(ok);
    await withOAuth(fetch, tokens(), ENDPOINT)(new URL('https://mcp.example.com/mcp'));
    expect(seen[0]?.authorization).toBe('Bearer tok-0');
  });

  test.each([
    'http://mcp.example.com/mcp',
    'https://mcp.example.com:8443/mcp',
    'https://evil.example/mcp',
    'https://mcp.example.com.evil.example/mcp',
    'https://sub.mcp.example.com/mcp',
  ])('%s (another origin) gets no header', async (url) => {
    const { fetch, seen } = server(ok);
    await withOAuth(fetch, tokens(), ENDPOINT)(url);
    expect(seen[0]?.authorization).toBeNull();
  });

  test('another origin: the request, and its own Authorization header, are passed untouched', async () => {
    const { fetch, seen } = server(unauthorized());
    const auth = tokens();
    const init: RequestInit = {
      method: 'POST',
      headers: { authorization: 'Basic dXNlcjpwYXNz', 'content-type': 'text/plain' },
      body: 'hello',
    };
    const response = await withOAuth(fetch, auth, ENDPOINT)('https://other.example/x', init);
    expect(seen[0]?.init).toBe(init);
    expect(seen[0]?.authorization).toBe('Basic dXNlcjpwYXNz');
    // A 401 from elsewhere is not ours to handle.
    expect(response.status).toBe(401);
    expect(auth.calls).toEqual([]);
    expect(seen).toHaveLength(1);
  });

  test('the endpoint origin: a caller Authorization header is replaced, other headers kept', async () => {
    const { fetch, seen } = server(ok);
    await withOAuth(
      fetch,
      tokens(),
      ENDPOINT,
    )('https://mcp.example.com/mcp', {
      method: 'POST',
      headers: { Authorization: 'Bearer stale', 'mcp-session-id': 's-1' },
      body: '{}',
    });
    expect(seen[0]?.authorization).toBe('Bearer tok-0');
    expect(new Headers(seen[0]?.init?.headers).get('mcp-session-id')).toBe('s-1');
    expect(seen[0]?.init?.method).toBe('POST');
    expect(seen[0]?.init?.body).toBe('{}');
  });

  test("a Headers instance is handled the same, and the caller's object is not changed", async () => {
    const { fetch, seen } = server(ok);
    const headers = new Headers({ authorization: 'Bearer stale', 'mcp-session-id': 's-1' });
    await withOAuth(fetch, tokens(), ENDPOINT)('https://mcp.example.com/mcp', { headers });
    expect(seen[0]?.authorization).toBe('Bearer tok-0');
    expect(new Headers(seen[0]?.init?.headers).get('mcp-session-id')).toBe('s-1');
    expect(headers.get('authorization')).toBe('Bearer stale');
  });

  test('a look-alike host is another origin; another spelling of the endpoint is the same', async () => {
    const { fetch, seen } = server(ok);
    const authFetch = withOAuth(fetch, tokens(), ENDPOINT);
    await authFetch('https://mcp.example.com.evil.example/mcp');
    await authFetch('https://mcp.example.com@evil.example/mcp');
    await authFetch('HTTPS://MCP.EXAMPLE.COM:443/mcp');
    expect(seen.map((request) => request.authorization)).toEqual([null, null, 'Bearer tok-0']);
  });

  test('no token yet: no Authorization header at all', async () => {
    const { fetch, seen } = server(ok);
    await withOAuth(
      fetch,
      tokens({ empty: true }),
      ENDPOINT,
    )('https://mcp.example.com/mcp', {
      headers: { authorization: 'Bearer stale' },
    });
    expect(seen[0]?.authorization).toBeNull();
  });
});

describe('withOAuth: 401', () => {
  test('onUnauthorized once with the challenge and the token sent, then one retry', async () => {
    const { fetch, seen } = server(unauthorized(), ok);
    const auth = tokens();
    const response = await withOAuth(
      fetch,
      auth,
      ENDPOINT,
    )('https://mcp.example.com/mcp', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0"}',
    });
    expect(response.status).toBe(200);
    expect(auth.calls).toEqual([{ challenge: { resource_metadata: PRM }, sent: 'tok-0' }]);
    expect(seen.map((req) => req.authorization)).toEqual(['Bearer tok-0', 'Bearer tok-1']);
    expect(seen[1]?.init?.body).toBe('{"jsonrpc":"2.0"}');
    expect(new Headers(seen[1]?.init?.headers).get('content-type')).toBe('application/json');
  });

  test('a second 401 is returned as is', async () => {
    const { fetch, seen } = server(unauthorized(), unauthorized('Bearer error="invalid_token"'));
    const auth = tokens();
    const response = await withOAuth(fetch, auth, ENDPOINT)('https://mcp.example.com/mcp');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await response.text()).toBe('no');
    expect(auth.calls).toHaveLength(1);
    expect(seen).toHaveLength(2);
  });

  test('a 401 without a challenge passes an empty one', async () => {
    const { fetch } = server(() => new Response(null, { status: 401 }), ok);
    const auth = tokens();
    await withOAuth(fetch, auth, ENDPOINT)('https://mcp.example.com/mcp');
    expect(auth.calls).toEqual([{ challenge: {}, sent: 'tok-0' }]);
  });

  test('a 401 when no token was sent still asks for one', async () => {
    const { fetch, seen } = server(unauthorized(), ok);
    const auth = tokens({ empty: true });
    await withOAuth(fetch, auth, ENDPOINT)('https://mcp.example.com/mcp');
    expect(auth.calls).toEqual([{ challenge: { resource_metadata: PRM }, sent: undefined }]);
    expect(seen.map((req) => req.authorization)).toEqual([null, 'Bearer tok-1']);
  });

  test('the challenge carries scope, resource_metadata and error', async () => {
    const { fetch } = server(
      unauthorized(
        `Bearer error="invalid_token", error_description="expired", scope="a b", resource_metadata="${PRM}"`,
      ),
      ok,
    );
    const auth = tokens();
    await withOAuth(fetch, auth, ENDPOINT)('https://mcp.example.com/mcp');
    expect(auth.calls[0]?.challenge).toEqual({
      error: 'invalid_token',
      error_description: 'expired',
      scope: 'a b',
      resource_metadata: PRM,
    });
  });

  test('a failing onUnauthorized rejects the request', async () => {
    const { fetch, seen } = server(unauthorized());
    const auth: TokenSource = {
      token: async () => new Secret('tok-0'),
      onUnauthorized: async () => {
        throw new Error('login needed');
      },
    };
    await expect(withOAuth(fetch, auth, ENDPOINT)('https://mcp.example.com/mcp')).rejects.toThrow(
      'login needed',
    );
    expect(seen).toHaveLength(1);
  });
});

describe('withOAuth: 403 insufficient_scope (step-up)', () => {
  test(`retried up to MAX_STEP_UPS (${MAX_STEP_UPS}) times, then one clear error`, async () => {
    const { fetch, seen } = server(insufficientScope());
    const auth = tokens();
    const error = await withOAuth(
      fetch,
      auth,
      ENDPOINT,
    )('https://mcp.example.com/mcp').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: 'OAUTH_AUTHORIZATION' });
    expect(String((error as Error).message)).toContain(`after ${MAX_STEP_UPS} new authorizations`);
    expect(auth.calls).toHaveLength(MAX_STEP_UPS);
    expect(seen).toHaveLength(MAX_STEP_UPS + 1);
    expect(auth.calls[0]?.challenge).toEqual({
      error: 'insufficient_scope',
      scope: 'files:write',
      resource_metadata: PRM,
    });
    expect(auth.calls.map((call) => call.sent)).toEqual(
      Array.from({ length: MAX_STEP_UPS }, (_, index) => `tok-${index}`),
    );
  });

  test('a step-up that works returns the success', async () => {
    const { fetch, seen } = server(insufficientScope(), ok);
    const auth = tokens();
    const response = await withOAuth(fetch, auth, ENDPOINT)('https://mcp.example.com/mcp');
    expect(response.status).toBe(200);
    expect(auth.calls).toHaveLength(1);
    expect(seen.map((req) => req.authorization)).toEqual(['Bearer tok-0', 'Bearer tok-1']);
  });

  test('a 401 retry and the step-ups are counted apart', async () => {
    const { fetch, seen } = server(unauthorized(), insufficientScope());
    const auth = tokens();
    await expect(
      withOAuth(fetch, auth, ENDPOINT)('https://mcp.example.com/mcp'),
    ).rejects.toMatchObject({ code: 'OAUTH_AUTHORIZATION' });
    expect(auth.calls).toHaveLength(1 + MAX_STEP_UPS);
    expect(seen).toHaveLength(2 + MAX_STEP_UPS);
  });

  test.each([
    ['no challenge', () => new Response('forbidden', { status: 403 })],
    [
      'invalid_token',
      () =>
        new Response('forbidden', {
          status: 403,
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        }),
    ],
    [
      'a non-Bearer insufficient_scope',
      () =>
        new Response('forbidden', {
          status: 403,
          headers: { 'www-authenticate': 'Basic error="insufficient_scope"' },
        }),
    ],
  ])('a 403 with %s is not retried', async (_label, answer) => {
    const { fetch, seen } = server(answer);
    const auth = tokens();
    const response = await withOAuth(fetch, auth, ENDPOINT)('https://mcp.example.com/mcp');
    expect(response.status).toBe(403);
    expect(auth.calls).toEqual([]);
    expect(seen).toHaveLength(1);
  });

  test('other statuses are not retried', async () => {
    for (const status of [400, 404, 407, 500]) {
      const { fetch, seen } = server(
        () =>
          new Response('x', {
            status,
            headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
          }),
      );
      const auth = tokens();
      expect((await withOAuth(fetch, auth, ENDPOINT)('https://mcp.example.com/')).status).toBe(
        status,
      );
      expect(auth.calls).toEqual([]);
      expect(seen).toHaveLength(1);
    }
  });
});

describe('withOAuth: bodies', () => {
  test('a streamed (ReadableStream) body is not retried', async () => {
    for (const refusal of [unauthorized(), insufficientScope()]) {
      const { fetch, seen } = server(refusal, ok);
      const auth = tokens();
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"jsonrpc":"2.0"}'));
          controller.close();
        },
      });
      const response = await withOAuth(
        fetch,
        auth,
        ENDPOINT,
      )('https://mcp.example.com/mcp', {
        method: 'POST',
        body,
        duplex: 'half',
      } as RequestInit);
      expect(response.status).toBe(refusal().status);
      expect(seen).toHaveLength(1);
    }
  });

  test.each([
    ['a string', () => '{"a":1}'],
    ['URLSearchParams', () => new URLSearchParams({ a: '1' })],
    ['a Uint8Array', () => new TextEncoder().encode('{"a":1}')],
    ['an ArrayBuffer', () => new TextEncoder().encode('{"a":1}').buffer],
  ])('%s body is replayed on the retry', async (_label, make) => {
    const { fetch, seen } = server(unauthorized(), ok);
    const body = make();
    const response = await withOAuth(
      fetch,
      tokens(),
      ENDPOINT,
    )('https://mcp.example.com/mcp', {
      method: 'POST',
      body,
    });
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(2);
    expect(seen[1]?.init?.body).toBe(body);
  });

  test('the refused response body is released before the retry', async () => {
    let first: Response | undefined;
    const { fetch } = server(() => {
      first = unauthorized()();
      return first;
    }, ok);
    await withOAuth(fetch, tokens(), ENDPOINT)('https://mcp.example.com/mcp');
    expect(first?.bodyUsed).toBe(true);
  });
});
