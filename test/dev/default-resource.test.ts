/**
 * The development authorization server with several resources (`mcp-agent dev` registers the
 * app's `/mcp` and `/sse`): a request that names no resource gets a token for `defaultResource`
 * (RFC 8707 §2), one that names the other gets that one, and `defaultResource` must be one of them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { followAuthorization } from '../support/browser.js';

const MCP = 'http://127.0.0.1:9/mcp';
const SSE = 'http://127.0.0.1:9/sse';
const REDIRECT_URI = 'http://127.0.0.1:53682/callback';

let as: DevAuthorizationServer;

beforeAll(async () => {
  as = await startDevAuthorizationServer({
    port: 0,
    resources: [MCP, SSE],
    defaultResource: MCP,
    autoApprove: true,
  });
});

afterAll(() => as?.close());

/** DCR, an auto-approved code flow naming `resource` (or none), and the access token's `aud`. */
async function audienceFor(resource: string | undefined): Promise<unknown> {
  const registered = await fetch(`${as.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    }),
  });
  const clientId = String(((await registered.json()) as { client_id: string }).client_id);
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${as.issuer}/auth`);
  const extra: Record<string, string> = resource ? { resource } : {};
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'mcp:tools',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  const callback = await followAuthorization(url, { stopAtRedirectUri: REDIRECT_URI });
  const response = await fetch(`${as.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: callback.finalUrl.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: clientId,
      ...extra,
    }).toString(),
  });
  const body = (await response.json()) as { access_token: string };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return decodeJwt(body.access_token).aud;
}

describe('several resources', () => {
  test('no resource named: a JWT for defaultResource', async () => {
    expect(await audienceFor(undefined)).toBe(MCP);
  });

  test('the other resource named: a JWT for it', async () => {
    expect(await audienceFor(SSE)).toBe(SSE);
  });

  test('a defaultResource that is not one of resources is refused', async () => {
    await expect(
      startDevAuthorizationServer({ port: 0, resources: [MCP], defaultResource: SSE }),
    ).rejects.toThrow(/defaultResource must be one of resources/);
  });
});
