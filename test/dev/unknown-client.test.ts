// The development authorization server forgets its registrations when it stops, and clients such
// as the MCP Inspector keep theirs: after `npm start` is restarted, the browser arrives at the
// authorization endpoint with a client id the server never issued. The page must say why and how
// to recover (the server may not redirect: RFC 6749 §4.1.2.1).
import { describe, expect, test } from 'vitest';
import { startDevAuthorizationServer } from '../../src/dev/authorization-server.js';

const RESOURCE = 'http://127.0.0.1:8000/mcp';
const REDIRECT_URI = 'http://127.0.0.1:6276/oauth/callback';

function authorize(issuer: string, clientId: string): Promise<Response> {
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'mcp:tools',
    state: 'the-state',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    resource: RESOURCE,
  }).toString();
  return fetch(url, { redirect: 'manual' });
}

describe('a client registered with an earlier run of the server', () => {
  test('gets a page saying the server restarted and how to register again', async () => {
    const before = await startDevAuthorizationServer({ port: 0, resources: [RESOURCE] });
    const registered = await fetch(`${before.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' }),
    });
    const { client_id: clientId } = (await registered.json()) as { client_id: string };
    const port = Number(new URL(before.issuer).port);
    await before.close();

    const after = await startDevAuthorizationServer({ port, resources: [RESOURCE] });
    try {
      const answer = await authorize(after.issuer, clientId);
      expect(answer.status).toBe(400);
      expect(answer.headers.get('location')).toBeNull();
      const page = await answer.text();
      expect(page).toContain('invalid_client');
      expect(page).toContain('a client that registered before the server restarted');
      expect(page).toContain('--relogin');
    } finally {
      await after.close();
    }
  });

  test('other errors keep their own description', async () => {
    const as = await startDevAuthorizationServer({ port: 0, resources: [RESOURCE] });
    try {
      const answer = await fetch(`${as.issuer}/auth?response_type=code`, { redirect: 'manual' });
      expect(answer.status).toBe(400);
      const page = await answer.text();
      expect(page).toContain('invalid_request');
      expect(page).not.toContain('restarted');
    } finally {
      await as.close();
    }
  });
});
