/**
 * The legacy SSE endpoint (`/sse` + `/messages`) with OAuth, for clients that follow the spec.
 * `/sse` is a resource of its own: its metadata (RFC 9728, path-inserted) names `…/sse`, and the
 * challenges of `/sse` and `/messages` point there, so a client that compares `resource` with the
 * URL it called (RFC 9728 §3.3) accepts it. Proved with `mcp-agent dev` (in process, the example
 * agent, auto-approve) and the real SDK v1 and v2 SSE clients doing discovery, DCR and PKCE
 * themselves, our own CLI (`auth login`, `tools call`, `doctor` with `transport: sse`), and the
 * response contract of security.md §0.1 on both endpoints.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  Client as ClientV2,
  SSEClientTransport as SSEClientTransportV2,
  UnauthorizedError as UnauthorizedErrorV2,
} from '@modelcontextprotocol/client';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { resourceMetadataUrl, sseResourceOf } from '../../src/server/metadata.js';
import { type RunningCli, runCli, startCli, tempTree } from '../helpers/cli.js';
import { HeadlessOAuthProvider } from '../interop/support.js';
import { followAuthorization } from '../support/browser.js';
import { freePort, waitFor } from '../support/net.js';
import {
  challengeParams,
  mcpHeaders,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  textOf,
  type UserTokens,
  userTokens,
} from './serve-support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };

describe('mcp-agent dev: SSE clients log in to /sse and call a tool', () => {
  let cli: RunningCli;
  let sseUrl: URL;
  let issuer: string;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    cli = startCli(
      [
        ...['--config', 'examples/agent/mcp_agent.config.yaml', '--json'],
        ...['dev', '--auto-approve', '--port', '0', '--issuer-port', '0'],
      ],
      { cwd: root, env },
    );
    const printed = await waitFor(
      'the printed URL',
      () => {
        try {
          return JSON.parse(cli.stdout()) as { url: string; issuer: string };
        } catch {
          return undefined;
        }
      },
      15_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nstderr: ${cli.stderr()}`);
    });
    sseUrl = new URL('/sse', printed.url);
    issuer = printed.issuer;
  }, 30_000);

  afterAll(async () => {
    for (const close of closers) await close().catch(() => {});
    expect(await cli?.stop()).toBe(0);
  });

  test('the SDK v1 SSEClientTransport: discovery, DCR, code + PKCE for …/sse, then tools/call', async () => {
    const provider = new HeadlessOAuthProvider('dev', 'SDK v1 SSE client', { autoApproved: true });
    const client = new Client({ name: 'sse-v1', version: '1.0.0' });
    closers.push(() => client.close());
    const first = new SSEClientTransport(sseUrl, { authProvider: provider });
    const failure = await client.connect(first).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);
    const authorization = provider.authorizationUrls[0];
    expect(authorization?.origin).toBe(issuer);
    expect(authorization?.searchParams.get('resource')).toBe(sseUrl.href);
    expect(authorization?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(provider.client?.client_id).toBeTruthy();
    await first.finishAuth(provider.takeCode());
    // The failed start leaves the client attached to the first transport: a new client goes on.
    await client.close();
    const signedIn = new Client({ name: 'sse-v1', version: '1.0.0' });
    closers.push(() => signedIn.close());
    await signedIn.connect(new SSEClientTransport(sseUrl, { authProvider: provider }));
    expect(provider.authorizationUrls).toHaveLength(1);
    const whoami = JSON.parse(textOf(await signedIn.callTool({ name: 'whoami', arguments: {} })));
    expect(whoami).toMatchObject({ subject: 'dev', issuer });
    const sum = await signedIn.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    expect(textOf(sum)).toBe('42');
  });

  test('the SDK v2 SSEClientTransport: the same flow, the callback with iss, then tools/call', async () => {
    const provider = new HeadlessOAuthProvider('dev', 'SDK v2 SSE client', { autoApproved: true });
    const client = new ClientV2({ name: 'sse-v2', version: '1.0.0' });
    closers.push(() => client.close());
    const first = new SSEClientTransportV2(sseUrl, { authProvider: provider });
    const failure = await client.connect(first).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnauthorizedErrorV2);
    expect(provider.authorizationUrls[0]?.searchParams.get('resource')).toBe(sseUrl.href);
    const callback = provider.lastRedirect;
    if (!callback) throw new Error('the authorization did not come back');
    // RFC 9207: the development server says who answered; v2 checks it against the issuer.
    expect(callback.searchParams.get('iss')).toBe(issuer);
    await first.finishAuth(callback.searchParams);
    await client.connect(new SSEClientTransportV2(sseUrl, { authProvider: provider }));
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse(textOf(result))).toMatchObject({ subject: 'dev', issuer });
  });

  test('our CLI with transport: sse — auth login, tools call, and doctor passes discovery', async () => {
    const tree = tempTree({
      'mcp_agent.config.yaml': `
mcp:
  servers:
    agent:
      transport: sse
      url: ${sseUrl.href}
      auth:
        oauth:
          enabled: true
oauth:
  loopback_ports: [${await freePort()}]
  token_store:
    backend: file
    path: ./tokens.json
`,
    });
    try {
      const opened: URL[] = [];
      const browser = async (url: URL) => {
        opened.push(url);
        await followAuthorization(url);
        return true;
      };
      const login = await runCli(['auth', 'login', 'agent'], {
        cwd: tree.dir,
        env,
        openBrowser: browser,
      });
      expect(login.code, login.stdout + login.stderr).toBe(0);
      expect(opened[0]?.searchParams.get('resource')).toBe(sseUrl.href);

      const call = await runCli(['tools', 'call', 'agent', 'whoami'], { cwd: tree.dir, env });
      const output = call.stdout + call.stderr;
      expect(call.code, output).toBe(0);
      expect(output).toMatch(/"subject":\s*"dev"/);

      const doctor = await runCli(['doctor', 'agent'], { cwd: tree.dir, env });
      const report = doctor.stdout + doctor.stderr;
      expect(doctor.code, report).toBe(0);
      expect(report).toMatch(
        new RegExp(
          `ok +discovery: resource ${sseUrl.href.replaceAll('.', '\\.')}; protected-resource metadata found`,
        ),
      );
      expect(report).not.toContain('FAIL');
    } finally {
      tree.cleanup();
    }
  }, 30_000);
});

describe('the response contract on /sse and /messages (security.md §0.1)', () => {
  let served: ServedApp;
  let sseResource: string;
  let ssePrm: string;
  let forMcp: UserTokens;
  let forSse: UserTokens;
  let mounted: Server | undefined;

  beforeAll(async () => {
    served = await startServedApp({
      setup: (app) => {
        app.tool('admin_report', {}, () => 'report', { scopes: ['mcp:admin'] });
      },
    });
    sseResource = `${served.origin}/sse`;
    ssePrm = `${served.origin}/.well-known/oauth-protected-resource/sse`;
    [forMcp, forSse] = await Promise.all([
      userTokens(served.as.issuer, served.resource, 'alice'),
      userTokens(served.as.issuer, sseResource, 'bob'),
    ]);
  }, 60_000);

  afterAll(async () => {
    if (mounted) {
      mounted.closeAllConnections();
      await new Promise((done) => mounted?.close(done));
    }
    await served?.close();
  });

  test('the /sse metadata: the MCP document with resource …/sse; the root one stays …/mcp', async () => {
    const sse = (await (await fetch(ssePrm)).json()) as Record<string, unknown>;
    const mcp = (await (
      await fetch(`${served.origin}/.well-known/oauth-protected-resource/mcp`)
    ).json()) as Record<string, unknown>;
    expect(sse).toEqual({ ...mcp, resource: sseResource });
    const rootDocument = await fetch(`${served.origin}/.well-known/oauth-protected-resource`);
    expect(((await rootDocument.json()) as { resource: string }).resource).toBe(served.resource);
  });

  /** A GET of the stream or a POST of a message, with `authorization` (if any) and `path`. */
  function hit(kind: 'sse' | 'messages', headers: Record<string, string | string[]> = {}) {
    return kind === 'sse'
      ? raw(`${served.origin}/sse`, { headers: { accept: 'text/event-stream', ...headers } })
      : raw(`${served.origin}/messages?s=x&sessionId=y`, {
          method: 'POST',
          headers: { ...mcpHeaders(), ...headers },
          body: rpc('tools/list'),
        });
  }

  test('no credentials: 401 naming the /sse metadata and the baseline scope, no error (C0)', async () => {
    for (const kind of ['sse', 'messages'] as const) {
      for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }]) {
        const response = await hit(kind, headers);
        expect(response.status, kind).toBe(401);
        expect(challengeParams(response.headers['www-authenticate'])).toEqual({
          resource_metadata: ssePrm,
          scope: 'mcp:tools',
        });
      }
    }
  });

  test('a valid token only in the query is ignored on /sse: 401 without error (IN-07)', async () => {
    const response = await raw(`${served.origin}/sse?access_token=${forSse.accessToken}`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(response.status).toBe(401);
    expect(challengeParams(response.headers['www-authenticate'])).toEqual({
      resource_metadata: ssePrm,
      scope: 'mcp:tools',
    });
  });

  test('malformed (C400) and bad tokens (C401) name the /sse metadata too', async () => {
    for (const kind of ['sse', 'messages'] as const) {
      const malformed = await hit(kind, {
        authorization: [`Bearer ${forSse.accessToken}`, `Bearer ${forSse.accessToken}`],
      });
      expect(malformed.status, kind).toBe(400);
      expect(challengeParams(malformed.headers['www-authenticate'])).toMatchObject({
        error: 'invalid_request',
        resource_metadata: ssePrm,
      });
      const bad = await hit(kind, { authorization: 'Bearer a.b.c' });
      expect(bad.status, kind).toBe(401);
      expect(challengeParams(bad.headers['www-authenticate'])).toMatchObject({
        error: 'invalid_token',
        resource_metadata: ssePrm,
      });
    }
  });

  test('a token for …/sse and one for …/mcp are both accepted on both endpoints (one server)', async () => {
    for (const tokens of [forMcp, forSse]) {
      const stream = await fetch(`${served.origin}/sse`, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${tokens.accessToken}` },
      });
      expect(stream.status).toBe(200);
      await stream.body?.cancel();
      const client = new Client({ name: 'either', version: '1.0.0' });
      const requestInit = { headers: { authorization: `Bearer ${tokens.accessToken}` } };
      await client.connect(
        new SSEClientTransport(new URL(`${served.origin}/sse`), { requestInit }),
      );
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
      await client.close();
      const streamable = await raw(`${served.origin}/mcp`, {
        method: 'POST',
        headers: mcpHeaders(tokens.accessToken),
        body: rpc('initialize', {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw-test', version: '1.0.0' },
        }),
      });
      expect(streamable.status).toBe(200);
    }
  });

  /** Serve another app with these audiences, and ask its /sse with the token for …/sse. */
  async function sseAnswerWith(resource: string, audiences: string[]) {
    const other = await createApp({
      settings: settingsSchema.parse({
        authorization: {
          enabled: true,
          issuer_url: served.as.issuer,
          resource_server_url: resource,
          expected_audiences: audiences,
          required_scopes: ['mcp:tools'],
        },
      }),
      env: {},
    });
    const server = createServer(other.createHandler());
    try {
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      return await raw(`${origin}/sse`, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${forSse.accessToken}` },
      });
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await other.close();
    }
  }

  test('the …/sse audience is accepted only when the audiences are resource URLs (IN-42)', async () => {
    // expected_audiences names another identifier than resource_server_url: nothing is added.
    const refused = await sseAnswerWith(served.resource, ['api://agent']);
    expect(refused.status).toBe(401);
    expect(challengeParams(refused.headers['www-authenticate']).error).toBe('invalid_token');
  });

  test('a resource_server_url that does not end in /mcp adds no …/sse audience (a guess at another address)', async () => {
    // `…/agent` (a proxy's path): its "sibling" `…/sse` is the very audience of forSse, which
    // must not become acceptable by a guess.
    const resource = `${served.origin}/agent`;
    const refused = await sseAnswerWith(resource, [resource]);
    expect(refused.status).toBe(401);
    expect(challengeParams(refused.headers['www-authenticate']).error).toBe('invalid_token');
  });

  test('a missing tool scope on /messages: 403 naming the /sse metadata (C403)', async () => {
    const client = new Client({ name: 'scoped', version: '1.0.0' });
    let refused: Response | undefined;
    const transport = new SSEClientTransport(new URL(`${served.origin}/sse`), {
      requestInit: { headers: { authorization: `Bearer ${forSse.accessToken}` } },
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (response.status === 403) refused = response.clone();
        return response;
      },
    });
    await client.connect(transport);
    await expect(client.callTool({ name: 'admin_report', arguments: {} })).rejects.toThrow(/403/);
    await client.close();
    expect(challengeParams(refused?.headers.get('www-authenticate') ?? undefined)).toMatchObject({
      error: 'insufficient_scope',
      scope: 'mcp:tools mcp:admin',
      resource_metadata: ssePrm,
    });
  });

  test('Host and X-Forwarded-* never change the /sse metadata or its challenge (IN-12b)', async () => {
    mounted = createServer(served.app.createHandler());
    await new Promise<void>((done) => mounted?.listen(0, '127.0.0.1', done));
    const open = `http://127.0.0.1:${(mounted.address() as AddressInfo).port}`;
    const spoof = { host: 'evil.example', 'x-forwarded-host': 'evil.example' };
    const document = await raw(`${open}/.well-known/oauth-protected-resource/sse`, {
      headers: spoof,
    });
    expect(JSON.parse(document.body).resource).toBe(sseResource);
    const challenged = await raw(`${open}/sse`, { headers: spoof });
    expect(challenged.status).toBe(401);
    expect(challengeParams(challenged.headers['www-authenticate']).resource_metadata).toBe(ssePrm);
  });
});

describe('sseResourceOf', () => {
  test('the last path segment becomes sse; prefix, root and trailing slash kept apart', () => {
    expect(sseResourceOf('https://agent.example/mcp')).toBe('https://agent.example/sse');
    expect(sseResourceOf('https://agent.example/team/mcp')).toBe('https://agent.example/team/sse');
    expect(sseResourceOf('https://agent.example/team/mcp/')).toBe('https://agent.example/team/sse');
    expect(sseResourceOf('https://agent.example')).toBe('https://agent.example/sse');
    expect(resourceMetadataUrl(sseResourceOf('https://agent.example/team/mcp'))).toBe(
      'https://agent.example/.well-known/oauth-protected-resource/team/sse',
    );
  });
});
