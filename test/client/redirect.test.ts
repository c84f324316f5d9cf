/**
 * Redirects through a server's auth-aware `fetch` (`AgentServer.fetch`), which carries the
 * server's configured headers and its OAuth token: followed within the server's origin only, the
 * headers and token sent again there; a redirect to another origin comes back as the 3xx
 * response, and the other origin receives nothing (no header, no token, no body). The same with
 * the default HTTP stack (undici) and with an injected `fetch` that would follow any redirect
 * and keep every header (a custom agent).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { createAgentAuth } from '../../src/client/agent-auth.js';
import type { SettingsInput } from '../../src/config/schema/settings.js';
import type { FetchLike } from '../../src/fetch.js';

const CANARY_KEY = 'canary-static-key-51c0';
const CANARY_TOKEN = 'canary-access-token-9e2a';

/** One request a test server received. */
interface Received {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

/** How a test server answers: a status, a `Location`, or a JSON body. */
interface Answer {
  readonly status: number;
  readonly location?: string;
  readonly json?: unknown;
}

/** A loopback server answering with `answer(path, method)`; what it received is recorded. */
async function listen(
  answer: (path: string, method: string, origin: string) => Answer,
): Promise<{ origin: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, method: req.method ?? '', headers: req.headers, body });
      const { status, location, json } = answer(path, req.method ?? '', origin);
      if (json)
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      else res.writeHead(status, location ? { location } : {}).end(`answer ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closing.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { origin, received };
}

/**
 * An injected `fetch` that follows every redirect itself, keeping every header (undici strips
 * `Authorization` on another origin; this one does not), unless told `redirect: 'manual'`.
 */
const followingFetch: FetchLike = async (input, init) => {
  let url = String(input);
  for (let hop = 0; hop < 5; hop += 1) {
    const response = await fetch(url, { ...init, redirect: 'manual' });
    const location = response.headers.get('location');
    if (
      init?.redirect === 'manual' ||
      response.status < 300 ||
      response.status > 399 ||
      !location
    ) {
      return response;
    }
    url = new URL(location, url).href;
  }
  throw new Error('too many redirects');
};

/** `createAgentAuth` with a static-header server and an OAuth server, both at `url`. */
function agentOn(url: string, fetch: FetchLike | undefined) {
  const settings = {
    mcp: {
      servers: {
        plain: { transport: 'streamable_http', url, headers: { 'X-Api-Key': CANARY_KEY } },
        docs: {
          transport: 'streamable_http',
          url,
          auth: {
            oauth: {
              enabled: true,
              client_id: 'agent-client',
              access_token: CANARY_TOKEN,
              expires_at: Math.floor(Date.now() / 1000) + 3600,
            },
          },
        },
      },
    },
    oauth: { token_store: { backend: 'memory' } },
  } as SettingsInput;
  const auth = createAgentAuth({ settings, env: {}, ...(fetch ? { fetch } : {}) });
  closing.push(() => auth.close());
  return auth;
}

/**
 * The OAuth server's metadata (RFC 9728, RFC 8414: the server is its own authorization server),
 * and `route` for the rest; the metadata requests are not recorded as the server's.
 */
function withMetadata(route: (path: string, method: string) => Answer) {
  return (path: string, method: string, origin: string): Answer => {
    if (path === '/.well-known/oauth-protected-resource/mcp') {
      return { status: 200, json: { resource: `${origin}/mcp`, authorization_servers: [origin] } };
    }
    if (path === '/.well-known/oauth-authorization-server') {
      return {
        status: 200,
        json: {
          issuer: origin,
          authorization_endpoint: `${origin}/authorize`,
          token_endpoint: `${origin}/token`,
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
        },
      };
    }
    if (path.startsWith('/.well-known/')) return { status: 404 };
    return route(path, method);
  };
}

/** What the server received, but its metadata requests. */
function served(received: readonly Received[]): Received[] {
  return received.filter((request) => !request.path.startsWith('/.well-known/'));
}

describe.each([
  ['the default HTTP stack', undefined],
  ['an injected fetch that follows every redirect', followingFetch],
] as const)('AgentServer.fetch with %s', (_name, injected) => {
  test('a redirect to another origin comes back as the 307; the other origin receives nothing', async () => {
    const other = await listen(() => ({ status: 200 }));
    const server = await listen(
      withMetadata(() => ({ status: 307, location: `${other.origin}/collect` })),
    );
    const auth = agentOn(`${server.origin}/mcp`, injected);
    for (const name of ['plain', 'docs']) {
      const response = await auth.server(name).fetch(`${server.origin}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"canary":"body"}',
      });
      expect(response.status).toBe(307);
      expect(response.headers.get('location')).toBe(`${other.origin}/collect`);
    }
    expect(other.received).toEqual([]);
    const mcp = served(server.received);
    expect(mcp.map((request) => request.headers['x-api-key'])).toEqual([CANARY_KEY, undefined]);
    expect(mcp.map((request) => request.headers.authorization)).toEqual([
      undefined,
      `Bearer ${CANARY_TOKEN}`,
    ]);
  });

  test('a 308 within the origin is followed: the same method, body, headers and token there', async () => {
    const server = await listen(
      withMetadata((path) =>
        path === '/mcp' ? { status: 308, location: '/v2/mcp' } : { status: 200 },
      ),
    );
    const auth = agentOn(`${server.origin}/mcp`, injected);
    for (const name of ['plain', 'docs']) {
      const response = await auth.server(name).fetch(`${server.origin}/mcp`, {
        method: 'POST',
        body: '{"n":1}',
      });
      expect(response.status).toBe(200);
    }
    const moved = served(server.received).filter((request) => request.path === '/v2/mcp');
    expect(moved.map(({ method, body }) => [method, body])).toEqual([
      ['POST', '{"n":1}'],
      ['POST', '{"n":1}'],
    ]);
    expect(moved[0]?.headers['x-api-key']).toBe(CANARY_KEY);
    expect(moved[1]?.headers.authorization).toBe(`Bearer ${CANARY_TOKEN}`);
  });

  test('a 302 within the origin: followed for a GET; a POST gets the 302 (it would become a GET)', async () => {
    const server = await listen(
      withMetadata((path) =>
        path === '/mcp' ? { status: 302, location: '/elsewhere' } : { status: 200 },
      ),
    );
    const auth = agentOn(`${server.origin}/mcp`, injected);
    const plain = auth.server('plain');
    expect((await plain.fetch(`${server.origin}/mcp`)).status).toBe(200);
    expect((await plain.fetch(`${server.origin}/mcp`, { method: 'POST', body: 'x' })).status).toBe(
      302,
    );
    expect(served(server.received).map(({ method, path }) => `${method} ${path}`)).toEqual([
      'GET /mcp',
      'GET /elsewhere',
      'POST /mcp',
    ]);
  });

  test("a caller's own redirect: 'manual' is kept: nothing is followed", async () => {
    const server = await listen(withMetadata(() => ({ status: 308, location: '/v2/mcp' })));
    const auth = agentOn(`${server.origin}/mcp`, injected);
    const response = await auth
      .server('plain')
      .fetch(`${server.origin}/mcp`, { method: 'POST', body: '{}', redirect: 'manual' });
    expect(response.status).toBe(308);
    expect(served(server.received)).toHaveLength(1);
  });

  test('redirects within the origin end after 5 hops, with the last 3xx', async () => {
    const server = await listen(
      withMetadata((path) => ({
        status: 307,
        location: `${path.length > 40 ? '/a' : `${path}a`}`,
      })),
    );
    const auth = agentOn(`${server.origin}/mcp`, injected);
    const response = await auth.server('plain').fetch(`${server.origin}/mcp`);
    expect(response.status).toBe(307);
    expect(served(server.received)).toHaveLength(6);
  });
});
