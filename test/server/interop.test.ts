/**
 * Interoperability with the official MCP SDK client: `mcp-agent dev` (run in process, with the
 * example agent) is discovered, registered with (DCR), logged in to (code + PKCE, auto-approved)
 * and called by an SDK `Client` whose `OAuthClientProvider` is this test's; the client steps up
 * on a 403. Then `serve` with authorization off, and its listen errors.
 */
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { run } from '../../src/cli/run.js';
import { followAuthorization } from '../support/browser.js';
import { waitFor } from '../support/net.js';
import { REDIRECT_URI, textOf } from './serve-support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = ['--config', 'examples/agent/mcp_agent.config.yaml'];
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };

/** A long-running CLI command in process: its output so far, and how to stop it. */
interface Running {
  stdout(): string;
  stderr(): string;
  stop(): Promise<number>;
  readonly done: Promise<number>;
}

function startCommand(argv: string[]): Running {
  let out = '';
  let err = '';
  let release = () => {};
  const stop = new Promise<void>((done) => {
    release = done;
  });
  const done = run(argv, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env,
    cwd: root,
    homeDir: `${root}/.home-that-does-not-exist`,
    stop,
  });
  return {
    stdout: () => out,
    stderr: () => err,
    done,
    stop: () => {
      release();
      return done;
    },
  };
}

/** The provider of the test: everything in memory; the "browser" is test/support/browser.ts. */
class TestOAuthProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  readonly authorizationUrls: URL[] = [];
  code: string | undefined;
  /** Where the last authorization ended (the redirect URI with `code` or `error`). */
  lastRedirect: URL | undefined;

  get redirectUrl(): string {
    return REDIRECT_URI;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK interop test',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }

  tokens() {
    return this.saved;
  }

  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }

  async redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
    const result = await followAuthorization(url, { stopAtRedirectUri: REDIRECT_URI });
    this.lastRedirect = result.finalUrl;
    this.code = result.finalUrl.searchParams.get('code') ?? undefined;
  }

  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }

  codeVerifier() {
    return this.verifier;
  }

  /** The code of the last authorization, once. */
  takeCode(): string {
    const code = this.code;
    this.code = undefined;
    if (!code) throw new Error('no authorization code');
    return code;
  }
}

describe('mcp-agent dev with the SDK client doing the whole OAuth flow', () => {
  let cli: Running;
  let printed: { url: string; issuer: string; resource: string };
  const mainProvider = new TestOAuthProvider();
  const clients: Client[] = [];

  beforeAll(async () => {
    cli = startCommand([
      ...CONFIG,
      '--json',
      'dev',
      '--auto-approve',
      '--port',
      '0',
      '--issuer-port',
      '0',
    ]);
    printed = await waitFor(
      'the printed URL',
      () => {
        try {
          return JSON.parse(cli.stdout()) as typeof printed;
        } catch {
          return undefined;
        }
      },
      15_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nstderr: ${cli.stderr()}`);
    });
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    expect(await cli?.stop()).toBe(0);
    expect(cli.stderr()).toContain('Stopping.');
  });

  async function connect(provider: TestOAuthProvider = mainProvider) {
    const client = new Client({ name: 'interop-test', version: '1.0.0' });
    clients.push(client);
    const url = new URL(printed.url);
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
    const failure = await client.connect(first).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (failure === undefined) return { client, transport: first };
    expect(failure).toBeInstanceOf(UnauthorizedError);
    await first.finishAuth(provider.takeCode());
    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await client.connect(transport);
    return { client, transport };
  }

  test('the printed JSON names the app, the issuer and the resource', () => {
    expect(printed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(printed.resource).toBe(printed.url);
    expect(printed.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(cli.stderr()).toContain('Development authorization server');
  });

  test('discovery, DCR, code + PKCE, then tools/list and tools/call', async () => {
    const { client } = await connect();
    const provider = mainProvider;
    expect(provider.client?.client_id).toBeTruthy();
    expect(provider.saved?.access_token).toBeTruthy();
    const authorization = provider.authorizationUrls[0];
    expect(authorization?.origin).toBe(printed.issuer);
    expect(authorization?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization?.searchParams.get('resource')).toBe(printed.resource);

    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'whoami',
        'add',
        'admin_report',
        'workflows-countdown-run',
        'workflows-get_status',
        'workflows-cancel',
        'clock_now',
      ]),
    );
    const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(whoami).toMatchObject({ subject: 'dev', issuer: printed.issuer });
    expect(whoami.scopes).toContain('mcp:tools');
    const now = textOf(await client.callTool({ name: 'clock_now', arguments: {} }));
    expect(Number.isNaN(Date.parse(now))).toBe(false);
    expect(textOf(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }))).toBe('42');
  });

  /** Call admin_report as a client holding only mcp:tools: the SDK steps up on the 403. */
  async function stepUp(provider: TestOAuthProvider) {
    const { client, transport } = await connect(provider);
    const session = transport.sessionId;
    // The SDK refreshes first when it holds a refresh token, and a refresh cannot widen the
    // scope; without one it re-authorizes with the challenge's scopes.
    const saved = provider.saved;
    if (saved) provider.saved = { ...saved, refresh_token: undefined };
    const before = provider.authorizationUrls.length;
    const failure = await client.callTool({ name: 'admin_report', arguments: {} }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrls.length).toBe(before + 1);
    const scope = provider.authorizationUrls.at(-1)?.searchParams.get('scope') ?? '';
    expect(scope.split(' ')).toEqual(expect.arrayContaining(['mcp:tools', 'mcp:admin']));
    // The development server must grant a scope it advertises to the client it registered.
    expect(provider.lastRedirect?.searchParams.get('error') ?? null).toBeNull();
    await transport.finishAuth(provider.takeCode());
    expect(provider.saved?.scope?.split(' ')).toContain('mcp:admin');
    // The same principal with its new token goes on in the same session.
    const report = textOf(await client.callTool({ name: 'admin_report', arguments: {} }));
    expect(report).toBe('Report for dev: all good.');
    expect(transport.sessionId).toBe(session);
  }

  test('step-up (403 insufficient_scope → mcp:admin) for a client registered without a scope limit', async () => {
    const preRegistered = new TestOAuthProvider();
    const response = await fetch(`${printed.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(preRegistered.clientMetadata),
    });
    expect(response.status).toBe(201);
    preRegistered.client = (await response.json()) as OAuthClientInformationMixed;
    await stepUp(preRegistered);
  });

  test('step-up works for the client the SDK registered itself (DCR with scope)', async () => {
    await stepUp(new TestOAuthProvider());
  });

  test('a request without a token is challenged with the metadata URL', async () => {
    const response = await fetch(printed.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: '{}',
    });
    expect(response.status).toBe(401);
    const metadata = new URL(printed.url);
    metadata.pathname = '/.well-known/oauth-protected-resource/mcp';
    expect(response.headers.get('www-authenticate')).toContain(
      `resource_metadata="${metadata.href}"`,
    );
  });
});

describe('mcp-agent serve', () => {
  test('with authorization off: says so, and serves tools without a token', async () => {
    const cli = startCommand([...CONFIG, 'serve', '--port', '0']);
    let client: Client | undefined;
    try {
      const line = await waitFor(
        'the serving line',
        () => cli.stderr().match(/Serving MCP at (\S+) \(authorization is off[^\n]*/) ?? undefined,
        15_000,
      );
      expect(line[0]).toContain('anyone who can reach it may call its tools');
      const url = new URL(line[1] as string);
      expect((await fetch(new URL('/.well-known/oauth-protected-resource', url))).status).toBe(404);
      client = new Client({ name: 'serve-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(url));
      const whoami = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
      expect(whoami).toEqual({ subject: 'anonymous', issuer: null, scopes: [] });
      // No scopes when authorization is off: admin_report is served too.
      expect(textOf(await client.callTool({ name: 'admin_report', arguments: {} }))).toContain(
        'all good',
      );
      const now = textOf(await client.callTool({ name: 'clock_now', arguments: {} }));
      expect(Number.isNaN(Date.parse(now))).toBe(false);
    } finally {
      await client?.close();
      expect(await cli.stop()).toBe(0);
    }
  }, 30_000);

  describe('listen errors', () => {
    let taken: Server;
    let port: number;
    beforeAll(async () => {
      taken = createServer();
      await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
      port = (taken.address() as { port: number }).port;
    });
    afterAll(() => new Promise((done) => taken.close(done)));

    test('a port in use: a clear error, exit code 2', async () => {
      const cli = startCommand([...CONFIG, 'serve', '--port', String(port)]);
      const code = await cli.done;
      expect(code).toBe(2);
      expect(cli.stderr()).toContain(`Port 127.0.0.1:${port} is in use; pick another with --port.`);
      expect(cli.stderr()).not.toContain('This is a bug');
    }, 30_000);

    test('--port abc: a usage error, exit code 2', async () => {
      const cli = startCommand([...CONFIG, 'serve', '--port', 'abc']);
      expect(await cli.done).toBe(2);
      expect(cli.stderr()).toContain('--port must be a port number (0-65535), not "abc".');
    });
  });
});
