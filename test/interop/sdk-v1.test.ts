/**
 * The MCP SDK v1 client (`@modelcontextprotocol/sdk` 1.32: `Client` + `StreamableHTTPClientTransport`
 * with an `OAuthClientProvider`) against the app served by `createApp`, protected by the development
 * authorization server: the SDK's own OAuth flow (discovery, DCR, PKCE), a person signing in on the
 * login and consent pages, tools listed and called; a refresh once the access token expired; a
 * step-up on 403 insufficient_scope, which SDK 1.32 can only do without a refresh token.
 */
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed } from '@modelcontextprotocol/sdk/shared/auth.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ServedApp, textOf } from '../server/serve-support.js';
import {
  ADMIN_SCOPE,
  connectWithLogin,
  HeadlessOAuthProvider,
  movableClock,
  PAST_EXPIRY_MS,
  scopesOf,
  startInteropApp,
} from './support.js';

describe('the SDK v1 client logs in to the served app and calls its tools', () => {
  let clock: ReturnType<typeof movableClock>;
  let served: ServedApp;
  const clients: Client[] = [];

  beforeAll(async () => {
    clock = movableClock();
    served = await startInteropApp();
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    await served?.close();
    clock?.restore();
  });

  /** Connect as the SDK's example client does: UnauthorizedError, finishAuth, a new transport. */
  async function connect(provider: HeadlessOAuthProvider) {
    const client = new Client({ name: 'sdk-v1-interop', version: '1.0.0' });
    clients.push(client);
    const url = new URL(served.resource);
    const transport = await connectWithLogin(
      client,
      () => new StreamableHTTPClientTransport(url, { authProvider: provider }),
      (first) => first.finishAuth(provider.takeCode()),
      UnauthorizedError,
    );
    return { client, transport };
  }

  test('discovery, DCR, code + PKCE through the login page, then tools/list and tools/call', async () => {
    const provider = new HeadlessOAuthProvider('alice', 'SDK v1 interop');
    const { client } = await connect(provider);
    expect(provider.client?.client_id).toBeTruthy();
    expect(provider.saved?.access_token).toBeTruthy();
    const authorization = provider.authorizationUrls[0];
    expect(authorization?.origin).toBe(served.as.issuer);
    expect(authorization?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization?.searchParams.get('resource')).toBe(served.resource);
    expect(provider.lastRedirect?.searchParams.get('iss')).toBe(served.as.issuer);

    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['whoami', 'add', 'admin_report']));
    const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(whoami).toMatchObject({ subject: 'alice', issuer: served.as.issuer });
    expect(whoami.scopes).toContain('mcp:tools');
    expect(textOf(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }))).toBe('42');
  });

  test('after the access token expired, the next call refreshes and goes on in the same session, twice', async () => {
    const provider = new HeadlessOAuthProvider('bob');
    const { client, transport } = await connect(provider);
    const session = transport.sessionId;
    const before = provider.saved;
    expect(before?.refresh_token).toBeTruthy();

    clock.advance(PAST_EXPIRY_MS);
    const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(whoami.subject).toBe('bob');
    // A refresh (no new authorization), with a rotated refresh token, in the same session.
    expect(provider.authorizationUrls).toHaveLength(1);
    expect(provider.saved?.access_token).not.toBe(before?.access_token);
    expect(provider.saved?.refresh_token).not.toBe(before?.refresh_token);
    expect(transport.sessionId).toBe(session);

    // The client refreshes from its event stream's GET and its POST at once; the grant survives
    // that (the development server's reuse grace period), so the next expiry refreshes again.
    clock.advance(PAST_EXPIRY_MS);
    expect(textOf(await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }))).toBe('2');
    expect(provider.authorizationUrls).toHaveLength(1);
  });

  /**
   * Call admin_report holding only mcp:tools: the app answers 403 insufficient_scope with the
   * scope it needs, and the SDK re-authorizes with it. SDK 1.32 refreshes first when it holds a
   * refresh token, and a refresh cannot widen the scope, so it ends in "Server returned 403 after
   * trying upscoping" (typescript-sdk #2255); without one it re-authorizes.
   */
  async function stepUp(provider: HeadlessOAuthProvider) {
    const { client, transport } = await connect(provider);
    const session = transport.sessionId;
    const saved = provider.saved;
    if (saved) provider.saved = { ...saved, refresh_token: undefined };
    const before = provider.authorizationUrls.length;
    const failure = await client.callTool({ name: 'admin_report', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrls.length).toBe(before + 1);
    const scope = provider.authorizationUrls.at(-1)?.searchParams.get('scope');
    expect(scopesOf(scope)).toEqual(expect.arrayContaining([ADMIN_SCOPE]));
    // The development server must grant a scope it advertises to the client it registered.
    expect(provider.lastRedirect?.searchParams.get('error') ?? null).toBeNull();
    await transport.finishAuth(provider.takeCode());
    expect(scopesOf(provider.saved?.scope)).toContain(ADMIN_SCOPE);
    // The same principal with its new token goes on in the same session.
    const report = textOf(await client.callTool({ name: 'admin_report', arguments: {} }));
    expect(report).toBe(`Report for ${provider.user}: all good.`);
    expect(transport.sessionId).toBe(session);
  }

  test('with a refresh token, SDK 1.32 refreshes instead of stepping up and gives up (#2255)', async () => {
    const provider = new HeadlessOAuthProvider('carol');
    const { client } = await connect(provider);
    const failure = await client.callTool({ name: 'admin_report', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(String(failure)).toContain('Server returned 403 after trying upscoping');
    expect(provider.authorizationUrls).toHaveLength(1);
  });

  test('step-up (403 insufficient_scope → mcp:admin) for a client registered without a scope limit', async () => {
    const preRegistered = new HeadlessOAuthProvider('dave');
    const response = await fetch(`${served.as.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(preRegistered.clientMetadata),
    });
    expect(response.status).toBe(201);
    preRegistered.client = (await response.json()) as OAuthClientInformationMixed;
    await stepUp(preRegistered);
  });

  test('step-up works for the client the SDK registered itself (DCR with scope)', async () => {
    await stepUp(new HeadlessOAuthProvider('erin'));
  });

  test('a request without a token is challenged with the metadata URL', async () => {
    const response = await fetch(served.resource, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: '{}',
    });
    expect(response.status).toBe(401);
    const metadata = new URL(served.resource);
    metadata.pathname = '/.well-known/oauth-protected-resource/mcp';
    expect(response.headers.get('www-authenticate')).toContain(
      `resource_metadata="${metadata.href}"`,
    );
  });
});
