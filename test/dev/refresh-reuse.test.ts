/**
 * Refresh-token rotation in the development authorization server: a rotated refresh token used
 * again within the grace period (an MCP client refreshing from two requests at once) is honoured
 * and the grant kept; used again later, it is taken as stolen (RFC 9700 §4.14.2): refused, and
 * the whole grant revoked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { REFRESH_TOKEN_REUSE_GRACE_SECONDS } from '../../src/dev/storage.js';
import { followAuthorization } from '../support/browser.js';

const RESOURCE = 'http://127.0.0.1:8000/mcp';
const REDIRECT_URI = 'http://127.0.0.1:53682/callback';

type Json = Record<string, unknown>;

describe('a rotated refresh token used again', () => {
  let as: DevAuthorizationServer;
  let clientId: string;

  beforeAll(async () => {
    // Only `Date` is faked (it follows the real clock), so a test can step past the grace period.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    as = await startDevAuthorizationServer({ port: 0, resources: [RESOURCE], autoApprove: true });
    const registration = await fetch(`${as.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
        application_type: 'native',
      }),
    });
    expect(registration.status).toBe(201);
    clientId = String(((await registration.json()) as Json).client_id);
  });
  afterEach(() => {
    vi.setSystemTime(new Date());
  });
  afterAll(async () => {
    await as?.close();
    vi.useRealTimers();
  });

  async function token(form: Record<string, string>) {
    const response = await fetch(`${as.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, ...form }).toString(),
    });
    return { status: response.status, body: (await response.json()) as Json };
  }

  async function refresh(refreshToken: string) {
    return token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  /** A fresh grant: its refresh token. */
  async function login(): Promise<string> {
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${as.issuer}/auth`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      scope: 'mcp:tools',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const { finalUrl } = await followAuthorization(url, { stopAtRedirectUri: REDIRECT_URI });
    const exchanged = await token({
      grant_type: 'authorization_code',
      code: finalUrl.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200);
    return String(exchanged.body.refresh_token);
  }

  test('two refreshes at once with the same token both succeed, and both new tokens work', async () => {
    const first = await login();
    const [a, b] = await Promise.all([refresh(first), refresh(first)]);
    expect([a.status, b.status], JSON.stringify([a.body, b.body])).toEqual([200, 200]);
    expect(a.body.refresh_token).not.toBe(first);
    expect(b.body.refresh_token).not.toBe(first);
    // The grant is intact: each branch refreshes on.
    expect((await refresh(String(a.body.refresh_token))).status).toBe(200);
    expect((await refresh(String(b.body.refresh_token))).status).toBe(200);
  });

  test('within the grace period, one second use succeeds, not more; the period does not grow', async () => {
    const first = await login();
    expect((await refresh(first)).status).toBe(200);
    vi.setSystemTime(Date.now() + (REFRESH_TOKEN_REUSE_GRACE_SECONDS - 5) * 1000);
    const second = await refresh(first);
    expect(second.status).toBe(200);
    // A third use is no race of one client's two requests: it is refused (a stolen token).
    const third = await refresh(first);
    expect(third.status).toBe(400);
    expect(third.body.error).toBe('invalid_grant');
  });

  test('a second use after the grace period is refused, however close to it', async () => {
    const first = await login();
    expect((await refresh(first)).status).toBe(200);
    vi.setSystemTime(Date.now() + (REFRESH_TOKEN_REUSE_GRACE_SECONDS + 5) * 1000);
    const late = await refresh(first);
    expect(late.status).toBe(400);
    expect(late.body.error).toBe('invalid_grant');
  });

  test('after the grace period, reuse is refused and revokes the grant: the newest token too', async () => {
    const first = await login();
    const rotated = await refresh(first);
    expect(rotated.status).toBe(200);
    vi.setSystemTime(Date.now() + (REFRESH_TOKEN_REUSE_GRACE_SECONDS + 1) * 1000);
    const replay = await refresh(first);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    const newest = await refresh(String(rotated.body.refresh_token));
    expect(newest.status).toBe(400);
    expect(newest.body.error).toBe('invalid_grant');
  });
});
