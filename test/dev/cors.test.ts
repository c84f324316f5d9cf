// A client running in a web page (the MCP Inspector's web UI before 2.0 does OAuth from the page)
// calls the development authorization server from its own origin: every endpoint it reaches by
// fetch must pass the CORS preflight and expose its answer, errors included.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';

const ORIGIN = 'http://localhost:6274';
const RESOURCE = 'http://127.0.0.1:8000/mcp';

let as: DevAuthorizationServer;
beforeAll(async () => {
  as = await startDevAuthorizationServer({ port: 0, resources: [RESOURCE], autoApprove: true });
});
afterAll(() => as.close());

/** The preflight a browser sends before a cross-origin request that is not "simple". */
function preflight(path: string, method: string, headers: string): Promise<Response> {
  return fetch(`${as.issuer}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin: ORIGIN,
      'access-control-request-method': method,
      'access-control-request-headers': headers,
    },
  });
}

/** Whether a browser would let the page at ORIGIN send `method` with `headers` after `answer`. */
function allows(answer: Response, method: string, headers: string[]): boolean {
  const origin = answer.headers.get('access-control-allow-origin');
  const methods = (answer.headers.get('access-control-allow-methods') ?? '').split(/\s*,\s*/);
  const allowed = (answer.headers.get('access-control-allow-headers') ?? '')
    .toLowerCase()
    .split(/\s*,\s*/);
  return (
    answer.ok &&
    (origin === '*' || origin === ORIGIN) &&
    methods.includes(method) &&
    headers.every((header) => allowed.includes(header))
  );
}

function readable(answer: Response): boolean {
  const origin = answer.headers.get('access-control-allow-origin');
  return origin === '*' || origin === ORIGIN;
}

describe('a browser-based client on another origin', () => {
  test('reads both metadata documents', async () => {
    for (const path of [
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
    ]) {
      expect(allows(await preflight(path, 'GET', 'mcp-protocol-version'), 'GET', [])).toBe(true);
      const answer = await fetch(`${as.issuer}${path}`, {
        headers: { origin: ORIGIN, 'mcp-protocol-version': '2025-11-25' },
      });
      expect(answer.status).toBe(200);
      expect(readable(answer)).toBe(true);
    }
  });

  test('registers a client (RFC 7591), and reads a refusal too', async () => {
    const headers = 'content-type, mcp-protocol-version';
    const answer = await preflight('/reg', 'POST', headers);
    expect(answer.status).toBe(204);
    expect(allows(answer, 'POST', ['content-type', 'mcp-protocol-version'])).toBe(true);

    const registered = await fetch(`${as.issuer}/reg`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Web page client',
        redirect_uris: [`${ORIGIN}/oauth/callback`],
        token_endpoint_auth_method: 'none',
      }),
    });
    expect(registered.status).toBe(201);
    expect(readable(registered)).toBe(true);

    const refused = await fetch(`${as.issuer}/reg`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['not a url'] }),
    });
    expect(refused.status).toBe(400);
    expect(readable(refused)).toBe(true);
    expect(await refused.json()).toMatchObject({ error: 'invalid_redirect_uri' });
  });

  test('reaches the token endpoint, and reads its errors', async () => {
    expect(
      allows(await preflight('/token', 'POST', 'content-type'), 'POST', ['content-type']),
    ).toBe(true);
    const client = (await (
      await fetch(`${as.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [`${ORIGIN}/oauth/callback`],
          token_endpoint_auth_method: 'none',
        }),
      })
    ).json()) as { client_id: string };
    const answer = await fetch(`${as.issuer}/token`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'not-a-code',
        code_verifier: 'v'.repeat(43),
        redirect_uri: `${ORIGIN}/oauth/callback`,
        client_id: client.client_id,
      }),
    });
    expect(answer.status).toBe(400);
    expect(readable(answer)).toBe(true);
    expect(await answer.json()).toMatchObject({ error: 'invalid_grant' });
  });

  test('other paths gain no CORS headers', async () => {
    const answer = await preflight('/auth', 'POST', 'content-type');
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
  });
});
