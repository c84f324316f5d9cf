/**
 * The MCP SDK v2 client (`@modelcontextprotocol/client`: `Client` + `StreamableHTTPClientTransport`
 * with an `OAuthClientProvider`) against the app served by `createApp`, protected by the development
 * authorization server: the SDK's own OAuth flow (discovery with the RFC 8414 issuer check, DCR,
 * PKCE, the RFC 9207 `iss` check in `finishAuth`), a person signing in on the pages, tools listed
 * and called; a refresh once the access token expired; a step-up on 403 insufficient_scope, with
 * the refresh token kept (v2 re-authorizes when the scope it needs exceeds the granted one).
 */
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
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

describe('the SDK v2 client logs in to the served app and calls its tools', () => {
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

  /** Connect: UnauthorizedError, `finishAuth(callback parameters)`, a new transport. */
  async function connect(provider: HeadlessOAuthProvider) {
    const client = new Client({ name: 'sdk-v2-interop', version: '1.0.0' });
    clients.push(client);
    const url = new URL(served.resource);
    const transport = await connectWithLogin(
      client,
      () => new StreamableHTTPClientTransport(url, { authProvider: provider }),
      (first) => first.finishAuth(provider.takeCallback()),
      UnauthorizedError,
    );
    return { client, transport };
  }

  test('discovery, DCR, code + PKCE (iss checked) through the login page, then tools/list and tools/call', async () => {
    const provider = new HeadlessOAuthProvider('alice', 'SDK v2 interop');
    const { client } = await connect(provider);
    expect(provider.client?.client_id).toBeTruthy();
    expect(provider.saved?.access_token).toBeTruthy();
    const authorization = provider.authorizationUrls[0];
    expect(authorization?.origin).toBe(served.as.issuer);
    expect(authorization?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization?.searchParams.get('resource')).toBe(served.resource);

    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['whoami', 'add', 'admin_report']));
    const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(whoami).toMatchObject({ subject: 'alice', issuer: served.as.issuer });
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

  test('step-up on 403 insufficient_scope: a new authorization for the union of scopes, refresh token kept', async () => {
    const provider = new HeadlessOAuthProvider('carol');
    const { client, transport } = await connect(provider);
    const session = transport.sessionId;
    expect(provider.saved?.refresh_token).toBeTruthy();

    const failure = await client.callTool({ name: 'admin_report', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );
    // The redirect happened (the person approved); the code is redeemed by the host.
    expect(failure).toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrls).toHaveLength(2);
    const scope = provider.authorizationUrls[1]?.searchParams.get('scope');
    expect(scopesOf(scope)).toEqual(expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]));
    await transport.finishAuth(provider.takeCallback());
    expect(scopesOf(provider.saved?.scope)).toEqual(
      expect.arrayContaining(['mcp:tools', ADMIN_SCOPE]),
    );
    const report = textOf(await client.callTool({ name: 'admin_report', arguments: {} }));
    expect(report).toBe('Report for carol: all good.');
    expect(transport.sessionId).toBe(session);
  });
});
