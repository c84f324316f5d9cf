/**
 * The framework-free core of the server middleware (`createMcpAuth`) against the real
 * development authorization server, with real `Request`s: the bad input of issue 16 (a `Request`
 * where a node:http request belongs and the reverse, a relative URL, headers as arrays, pairs, raw
 * lists or a `Headers`, duplicate `Authorization` in each form, a use after `close()`), the option
 * and settings errors, the body read for the tool scopes (the request's own body stays whole),
 * and canary tokens that must appear in no answer and no error.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { IncomingMessage, request, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { DevAuthorizationServer } from '../../src/dev/authorization-server.js';
import {
  requireMcpAuth as expressAuth,
  mcpAuthMetadata as expressMetadata,
} from '../../src/middleware/express.js';
import {
  requireMcpAuth as fastifyAuth,
  mcpAuthMetadata as fastifyMetadata,
} from '../../src/middleware/fastify.js';
import {
  requireMcpAuth as honoAuth,
  mcpAuthMetadata as honoMetadata,
} from '../../src/middleware/hono.js';
import {
  type AuthInfo,
  ConfigError,
  createMcpAuth,
  McpAgentError,
  type McpAuth,
  type McpAuthOutcome,
  type RequestInput,
} from '../../src/middleware/index.js';
import { withMcpAuth as nodeAuth } from '../../src/middleware/node.js';
import { metadataHandler, withMcpAuth as webAuth } from '../../src/middleware/web.js';
import { IntrospectionVerifier } from '../../src/server/verifiers/introspection.js';
import { mcpHeaders, raw, rpc, type UserTokens } from '../server/serve-support.js';
import { loopbackServers } from '../support/net.js';
import { type CoreWorld, RESOURCE, startCoreWorld } from './core-world.js';

const CANARY = 'eyJhbGciOiJSUzI1NiJ9.eyJjYW5hcnkiOiJDQU5BUlktN2YzYSJ9.Q0FOQVJZLXNpZ25hdHVyZQ';

let as: DevAuthorizationServer;
let auth: McpAuth;
let alice: UserTokens;
const servers = loopbackServers();
const listen = servers.listen;

let world: CoreWorld;

beforeAll(async () => {
  world = await startCoreWorld();
  ({ as, auth, alice } = world);
}, 30_000);

afterAll(async () => {
  await servers.closeAll();
  await world?.close();
});

const section = (extra: Record<string, unknown> = {}) => world.section(extra);

/** A GET of the endpoint with `headers` in any form the core accepts. */
function input(headers: RequestInput['headers'], extra: Partial<RequestInput> = {}): RequestInput {
  return { method: 'GET', url: '/mcp', headers, ...extra };
}

function expectStatus(outcome: McpAuthOutcome, status: number): void {
  expect(outcome.action).toBe('respond');
  if (outcome.action === 'respond') expect(outcome.response.status).toBe(status);
}

/** The text of whatever `run` throws (or resolves to), to look for the canary in. */
async function everything(run: () => unknown): Promise<string> {
  try {
    const value = await run();
    return JSON.stringify(value);
  } catch (error) {
    return `${String(error)} ${(error as Error).stack ?? ''} ${String((error as Error).cause)}`;
  }
}

describe('requests in every form a framework hands over', () => {
  test('a fetch Request, a record, pairs, raw headers and a Headers: one token goes on', async () => {
    const value = `Bearer ${alice.accessToken}`;
    for (const request of [
      new Request(RESOURCE, { headers: { authorization: value } }),
      input({ authorization: value }),
      input({ Authorization: [value] }),
      input([['Authorization', value]]),
      input(['Authorization', value, 'Host', '127.0.0.1:1']),
      input(new Headers({ authorization: value })),
      { method: 'GET', url: new URL(RESOURCE), headers: { authorization: value } },
    ]) {
      const outcome = await auth.authenticate(request);
      expect(outcome.action, JSON.stringify(outcome)).toBe('next');
      if (outcome.action === 'next') expect(outcome.caller.subject).toBe('alice');
    }
  });

  test('a duplicate Authorization is 400 invalid_request in every form, never the first one used', async () => {
    const value = `Bearer ${alice.accessToken}`;
    const joined = new Headers();
    joined.append('authorization', value);
    joined.append('authorization', value);
    for (const headers of [
      { authorization: [value, value] },
      { authorization: value, Authorization: value },
      [
        ['authorization', value],
        ['AUTHORIZATION', value],
      ] as const,
      ['authorization', value, 'authorization', value],
      joined,
    ]) {
      expectStatus(await auth.authenticate(input(headers)), 400);
    }
  });

  test('a relative URL, a missing method, headers of another kind: one TypeError each, no value in it', async () => {
    const bad: unknown[] = [
      input({ authorization: `Bearer ${CANARY}` }, { url: 'mcp' }),
      input({ authorization: `Bearer ${CANARY}` }, { url: '' }),
      input({ authorization: `Bearer ${CANARY}` }, { url: 'ftp://host/mcp' }),
      { url: '/mcp', headers: {} },
      input(new Map([['authorization', `Bearer ${CANARY}`]]) as never),
      input({ authorization: 42 } as never),
      input([['authorization', `Bearer ${CANARY}`, 'extra']] as never),
      input(['authorization'] as never),
      input(null as never),
      null,
      'POST /mcp',
    ];
    for (const request of bad) {
      const error = await auth.authenticate(request as RequestInput).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, JSON.stringify(request)?.slice(0, 60)).toBeInstanceOf(TypeError);
      expect((error as { code?: string }).code).toBe('ERR_INVALID_ARG_VALUE');
      expect(String(error)).not.toContain('CANARY');
    }
  });

  test('the body read for a tool scope comes from a clone: the Request stays whole for the server', async () => {
    const body = rpc('tools/call', { name: 'admin_report', arguments: {} });
    const headers = {
      authorization: `Bearer ${alice.accessToken}`,
      'content-type': 'application/json',
    };
    const refused = await auth.authenticate(
      new Request(RESOURCE, { method: 'POST', headers, body }),
    );
    expectStatus(refused, 403);
    const allowed = new Request(RESOURCE, { method: 'POST', headers, body: rpc('tools/list') });
    const outcome = await auth.authenticate(allowed);
    expect(outcome.action === 'next' && outcome.parsedBody).toMatchObject({ method: 'tools/list' });
    expect(JSON.parse(await allowed.text())).toMatchObject({ method: 'tools/list' });
    // A body the framework parsed already is used as it is, the stream not read.
    const parsed = JSON.parse(body) as unknown;
    expectStatus(
      await auth.authenticate(
        input({ authorization: headers.authorization }, { method: 'POST', parsedBody: parsed }),
      ),
      403,
    );
  });
});

describe('authenticateHeaders, for a framework that parses the body after it (Fastify)', () => {
  test('no body is read for the headers; withBody checks the tool scopes on the body parsed since', async () => {
    let reads = 0;
    const request = (authorization?: string): RequestInput => ({
      method: 'POST',
      url: '/mcp',
      headers: authorization ? { authorization } : {},
      body: () => {
        reads += 1;
        return undefined;
      },
    });
    expectStatus((await auth.authenticateHeaders(request())) as McpAuthOutcome, 401);
    expectStatus(
      (await auth.authenticateHeaders(request(`Bearer ${CANARY}`))) as McpAuthOutcome,
      401,
    );
    const checked = await auth.authenticateHeaders(request(`Bearer ${alice.accessToken}`));
    expect(reads).toBe(0);
    if (checked.action !== 'body') throw new Error(`expected the body step, got ${checked.action}`);
    expect(checked.caller.subject).toBe('alice');
    const call = (name: string) => rpc('tools/call', { name, arguments: {} });
    expectStatus(await checked.withBody(JSON.parse(call('admin_report'))), 403);
    expectStatus(await checked.withBody(call('admin_report')), 403);
    const allowed = await checked.withBody(call('add'));
    expect(allowed.action === 'next' && allowed.parsedBody).toMatchObject({
      params: { name: 'add' },
    });
    expect(reads).toBe(0);
  });
});

describe('adapters: the wrong kind of request, an unreadable one, a body read for them', () => {
  test('a fetch Request to a node:http adapter, and a node:http request to a fetch adapter: a TypeError naming the right one', async () => {
    const request = new Request(RESOURCE, { method: 'POST' });
    const listener = nodeAuth(auth, () => {});
    expect(() => listener(request as never, undefined as never)).toThrow(/mcp-agent-ts\/web/);
    expect(() => expressAuth(auth)(request as never, {} as never, () => {})).toThrow(
      /fetch Request/,
    );
    expect(() => expressMetadata(auth)(request as never, {} as never, () => {})).toThrow(
      /fetch Request/,
    );
    const nodeRequest = new IncomingMessage(null as unknown as Socket);
    await expect(webAuth(auth, () => new Response())(nodeRequest as never)).rejects.toThrow(
      /mcp-agent-ts\/node/,
    );
    await expect(metadataHandler(auth)(nodeRequest as never)).rejects.toThrow(TypeError);
    const response = new ServerResponse(nodeRequest);
    expect(() => listener(nodeRequest, response)).not.toThrow();
  });

  test('an asterisk-form request target (OPTIONS *) reaching the node adapter: 400, the server goes on', async () => {
    const origin = await listen(nodeAuth(auth, (_req, res) => void res.end('ok')));
    const { port } = new URL(origin);
    const status = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port, method: 'OPTIONS', path: '*', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(400);
    const next = await raw(`${origin}/mcp`, { headers: mcpHeaders(alice.accessToken) });
    expect([next.status, next.body]).toEqual([200, 'ok']);
  });

  test('Express without express.json(): the body read for the tool scopes is handed on as req.body', async () => {
    const app = express();
    app.post('/mcp', expressAuth(auth), (req, res) => {
      const { auth: info } = req as typeof req & { auth?: AuthInfo };
      res.json({ body: req.body, clientId: info?.clientId, token: info?.token });
    });
    const origin = await listen(app);
    const call = (name: string) =>
      raw(`${origin}/mcp`, {
        method: 'POST',
        headers: mcpHeaders(alice.accessToken),
        body: rpc('tools/call', { name, arguments: {} }),
      });
    const allowed = await call('add');
    expect(JSON.parse(allowed.body)).toMatchObject({
      body: { method: 'tools/call', params: { name: 'add' } },
      clientId: alice.clientId,
      token: '',
    });
    expect((await call('admin_report')).status).toBe(403);
  });
});

describe('after close()', () => {
  test('every request is answered 503, metadata included; no adapter is built on it', async () => {
    const closed = await createMcpAuth({ authorization: section() });
    await closed.close();
    await closed.close();
    expect(closed.closed).toBe(true);
    const outcome = await closed.authenticate(
      input({ authorization: `Bearer ${alice.accessToken}` }),
    );
    expectStatus(outcome, 503);
    expect(
      closed.metadataFor({
        method: 'GET',
        url: '/.well-known/oauth-protected-resource/mcp',
        headers: {},
      })?.status,
    ).toBe(503);
    for (const build of [
      () => expressAuth(closed),
      () => expressMetadata(closed),
      () => honoAuth(closed),
      () => honoMetadata(closed),
      () => fastifyAuth(closed),
      () => fastifyMetadata(closed),
      () => nodeAuth(closed, () => {}),
      () => webAuth(closed, () => new Response()),
      () => metadataHandler(closed),
    ]) {
      expect(build).toThrow(/closed/);
    }
  });
});

describe('options and settings', () => {
  test('none, two, or a section of the wrong type: a TypeError', async () => {
    for (const options of [
      {},
      { authorization: section(), settings: {} as never },
      { authorization: [] as never },
    ]) {
      await expect(createMcpAuth(options)).rejects.toMatchObject({
        name: 'TypeError',
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
  });

  test('an option unknown or of the wrong type or value: a TypeError naming it, before any file is read or request sent', async () => {
    const fetched: string[] = [];
    const fetch = async (url: string | URL) => {
      fetched.push(String(url));
      return new Response(null, { status: 503 });
    };
    const missing = join(tmpdir(), 'middleware-no-such-dir', 'mcp_agent.config.yaml');
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ maxBodyBytes: Number.NaN }, /^maxBodyBytes must be a positive integer/],
      [{ maxBodyBytes: '4mb' }, /^maxBodyBytes must be/],
      [{ maxBodyBytes: 0 }, /^maxBodyBytes must be/],
      [{ maxSessions: 0 }, /^maxSessions must be a positive integer/],
      [{ maxSessionsPerCaller: 1.5 }, /^maxSessionsPerCaller must be a positive integer/],
      [{ bindSessions: 'no' }, /^bindSessions must be true or false/],
      [{ callerContext: 0 }, /^callerContext must be true or false/],
      [{ now: Date.now() }, /^now must be a function/],
      [{ hostCheck: ['127.0.0.1'] }, /^hostCheck must be a function/],
      [{ logger: { warn() {} } }, /^logger must be a Logger/],
      [{ verifier: { check() {} } }, /^verifier must be a TokenVerifier/],
      [{ sharedCache: new Map() }, /^sharedCache must be a KeyValueStore/],
      [{ fetch: 'https://proxy.example' }, /^fetch must be a fetch function/],
      [{ maxBodyByte: 1024 }, /^createMcpAuth has no option "maxBodyByte"/],
    ];
    for (const [option, message] of bad) {
      for (const source of [{ authorization: section() }, { configPath: missing }]) {
        const error = await createMcpAuth({ fetch, ...source, ...option } as never).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error, JSON.stringify(option)).toMatchObject({
          name: 'TypeError',
          code: 'ERR_INVALID_ARG_VALUE',
        });
        expect((error as Error).message).toMatch(message);
      }
    }
    expect(fetched).toEqual([]);
  });

  test('a section that does not validate: every problem as config check lists it, no value in it', async () => {
    const error = await createMcpAuth({
      authorization: { ...section(), issuer_uri: CANARY, client_secret: 7 } as never,
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).errors.map(
      (issue) => `${issue.path?.join('.')}: ${issue.message}`,
    );
    expect(issues.join('\n')).toMatch(/authorization\.issuer_uri: .*issuer_url/);
    expect(issues.join('\n')).toMatch(/authorization\.client_secret/);
    expect(issues.join('\n')).not.toContain('CANARY');
  });

  test('authorization off, or without resource_server_url: CONFIG_INVALID', async () => {
    await expect(
      createMcpAuth({ authorization: section({ enabled: false }) }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(
      createMcpAuth({ authorization: section({ resource_server_url: undefined }) }),
    ).rejects.toBeInstanceOf(McpAgentError);
  });

  test('a config file: the section serve reads, secrets file included; a file without it is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'middleware-config-'));
    try {
      const config = join(dir, 'mcp_agent.config.yaml');
      writeFileSync(
        config,
        [
          'authorization:',
          '  enabled: true',
          `  issuer_url: ${as.issuer}`,
          `  resource_server_url: ${RESOURCE}`,
          `  expected_audiences: [${RESOURCE}]`,
          '  required_scopes: [mcp:tools]',
          '  resource_name: From the file',
          '',
        ].join('\n'),
      );
      const fromFile = await createMcpAuth({ configPath: config });
      expect(fromFile.metadata).toMatchObject({
        resource: RESOURCE,
        resource_name: 'From the file',
      });
      const outcome = await fromFile.authenticate(
        input({ authorization: `Bearer ${alice.accessToken}` }),
      );
      expect(outcome.action).toBe('next');
      await fromFile.close();
      writeFileSync(config, 'name: no authorization\n');
      await expect(createMcpAuth({ configPath: config })).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
      });
      await expect(createMcpAuth({ configPath: join(dir, 'missing.yaml') })).rejects.toMatchObject({
        code: 'CONFIG_NOT_FOUND',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('verifiers', () => {
  test("introspection (RFC 7662) as the verifier: the development server's answer is the caller", async () => {
    const introspected = await createMcpAuth({
      authorization: section(),
      verifier: new IntrospectionVerifier({
        endpoint: as.introspection.endpoint,
        clientId: as.introspection.clientId,
        clientSecret: new Secret(as.introspection.clientSecret),
        issuer: as.issuer,
        audiences: [RESOURCE],
        fetch: globalThis.fetch,
      }),
    });
    try {
      const outcome = await introspected.authenticate(
        input({ authorization: `Bearer ${alice.accessToken}` }),
      );
      expect(outcome.action === 'next' && outcome.caller).toMatchObject({
        subject: 'alice',
        verifiedBy: 'introspection',
      });
      expectStatus(
        await introspected.authenticate(input({ authorization: `Bearer ${CANARY}` })),
        401,
      );
    } finally {
      await introspected.close();
    }
  });

  test('a non-HTTPS issuer that is not loopback, or a resource with a fragment: a start-up error (IN-85)', async () => {
    await expect(
      createMcpAuth({ authorization: section({ issuer_url: 'http://as.example' }) }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(
      createMcpAuth({ authorization: section({ resource_server_url: `${RESOURCE}#x` }) }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('canary tokens', () => {
  test('no refusal and no error carries the token it refused', async () => {
    const texts = await Promise.all([
      everything(() => auth.authenticate(input({ authorization: `Bearer ${CANARY}` }))),
      everything(() =>
        auth.authenticate(input({ authorization: [`Bearer ${CANARY}`, `Bearer ${CANARY}`] })),
      ),
      everything(() =>
        auth.authenticate(
          input({ authorization: `Bearer ${CANARY}` }, { url: '/mcp?access_token=x' }),
        ),
      ),
      everything(() => auth.authenticate(input({ authorization: `Basic ${CANARY}` }))),
      everything(() =>
        auth.authenticate(input({ authorization: `Bearer ${CANARY}` }, { url: 'relative' })),
      ),
      everything(() =>
        auth.authenticate(
          input(
            { authorization: `Bearer ${alice.accessToken}` },
            {
              parsedBody: JSON.parse(
                rpc('tools/call', { name: 'admin_report', arguments: { CANARY } }),
              ),
            },
          ),
        ),
      ),
    ]);
    for (const text of texts) {
      expect(text).not.toContain('CANARY');
      expect(text).not.toContain('Q0FOQVJZ');
    }
  });

  test("the caller handed on carries no token: the SDK's authInfo.token is empty", async () => {
    const outcome = await auth.authenticate(
      input({ authorization: `Bearer ${alice.accessToken}` }),
    );
    expect(outcome.action === 'next' && outcome.authInfo.token).toBe('');
    expect(JSON.stringify(outcome)).not.toContain(alice.accessToken);
  });
});
