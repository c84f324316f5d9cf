/**
 * The resource-server harness can fail: deliberately broken targets (a tiny node:http server
 * that accepts any token, refuses every token, answers without a challenge, serves no or wrong
 * metadata, …) fail the checks they break, and between them every check fails at least once.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CHECK_IDS, type CheckResult, runResourceServerChecks } from './resource-server/harness.js';
import { startTestIssuer, type TestIssuer } from './resource-server/issuer.js';

/** How a broken target misbehaves. */
interface Breakage {
  /** Status without a token. Default 401. */
  readonly noTokenStatus?: number;
  /** Send `WWW-Authenticate` on 401/403. Default true. */
  readonly challenge?: boolean;
  /** What the PRM document says. Default: the right resource and the test issuer. */
  readonly prm?: 'none' | 'wrong-resource' | 'unknown-issuer';
  /** Which bearer tokens pass: any (no verification) or none. Default any. */
  readonly tokens?: 'any' | 'none';
}

let issuer: TestIssuer;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  issuer = await startTestIssuer();
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await issuer?.close();
});

function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Answer one request as `breakage` says. */
function answer(breakage: Breakage, origin: string, req: IncomingMessage, res: ServerResponse) {
  const resource = `${origin}/mcp`;
  const path = (req.url ?? '/').split('?')[0];
  if (path?.startsWith('/.well-known/oauth-protected-resource')) {
    if (breakage.prm === 'none') return json(res, 404, { error: 'not_found' });
    return json(res, 200, {
      resource: breakage.prm === 'wrong-resource' ? `${origin}/elsewhere` : resource,
      authorization_servers: [
        breakage.prm === 'unknown-issuer' ? `${origin}/no-issuer-here` : issuer.issuer,
      ],
    });
  }
  const metadata = `${origin}/.well-known/oauth-protected-resource/mcp`;
  const challenge =
    breakage.challenge === false
      ? {}
      : { 'www-authenticate': `Bearer resource_metadata="${metadata}"` };
  const bearer = req.headers.authorization?.startsWith('Bearer ');
  if (!bearer) return json(res, breakage.noTokenStatus ?? 401, { error: 'no token' }, challenge);
  if (breakage.tokens === 'none') return json(res, 401, { error: 'refused' }, challenge);
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const message = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
      id?: number;
      method?: string;
    };
    if (message.id === undefined) return json(res, 202, {});
    const result =
      message.method === 'initialize'
        ? { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'broken' } }
        : { content: [{ type: 'text', text: 'ok' }] };
    json(res, 200, { jsonrpc: '2.0', id: message.id, result });
  });
}

/** Start a broken target and run the harness against it. */
async function runBroken(breakage: Breakage): Promise<CheckResult[]> {
  let origin = '';
  const server = createServer((req, res) => answer(breakage, origin, req, res));
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((closed) => server.close(() => closed()));
  });
  const resource = `${origin}/mcp`;
  return runResourceServerChecks({
    url: resource,
    tokens: issuer.minter({ resource, scope: 'mcp:tools mcp:admin', baselineScope: 'mcp:tools' }),
    scopeProbe: {
      method: 'tools/call',
      params: { name: 'admin_report', arguments: {} },
      requiredScopes: ['mcp:tools', 'mcp:admin'],
    },
  });
}

const failed = (results: readonly CheckResult[]): string[] =>
  results.filter((result) => result.status === 'fail').map((result) => result.id);

type BrokenOptions = Breakage;

/** The broken targets of this file, each run once (any test may be run alone). */
const BROKEN: readonly BrokenOptions[] = [
  {},
  { tokens: 'none' },
  { noTokenStatus: 403, challenge: false, prm: 'none' },
  { prm: 'wrong-resource' },
  { prm: 'unknown-issuer' },
];
const runs = new Map<BrokenOptions, Promise<CheckResult[]>>();

/** The results of broken target `BROKEN[index]`. */
function resultsOf(index: number): Promise<CheckResult[]> {
  const options = BROKEN[index] as BrokenOptions;
  let run = runs.get(options);
  if (!run) {
    run = runBroken(options);
    runs.set(options, run);
  }
  return run;
}

describe('the harness fails broken targets', () => {
  test('a server that accepts any token fails every refusal check and the scope challenge', async () => {
    const results = await resultsOf(0);
    expect(failed(results)).toEqual([
      'auth-wrong-audience-token-rejected',
      'auth-missing-audience-token-rejected',
      'auth-expired-token-rejected',
      'auth-untrusted-token-rejected',
      'auth-foreign-issuer-token-rejected',
      'auth-invalid-token-challenge',
      'server-scope-challenge-http-403',
      'server-scope-challenge-www-authenticate',
    ]);
  });

  test('a server that refuses every token fails the valid-token control, so no refusal counts', async () => {
    const results = await resultsOf(1);
    expect(failed(results)).toEqual([
      'auth-valid-audience-token-accepted',
      'auth-wrong-audience-token-rejected',
      'auth-missing-audience-token-rejected',
      'auth-expired-token-rejected',
      'auth-untrusted-token-rejected',
      'auth-foreign-issuer-token-rejected',
      'auth-invalid-token-challenge',
      'server-scope-challenge-http-403',
      'server-scope-challenge-www-authenticate',
      'server-scope-challenge-upgraded-retry',
    ]);
  });

  test('403 without a token, no challenge and no metadata fail the discovery checks', async () => {
    const results = await resultsOf(2);
    expect(failed(results)).toEqual(
      expect.arrayContaining([
        'auth-unauthenticated-request-rejected',
        'auth-401-www-authenticate-present',
        'auth-www-auth-bearer-scheme',
        'auth-www-auth-resource-metadata',
        'auth-prm-endpoint-exists',
        'auth-prm-has-resource',
        'auth-prm-resource-matches-server',
        'auth-prm-has-authorization-servers',
        'auth-as-endpoint-exists',
      ]),
    );
  });

  test('metadata naming another resource fails the resource match', async () => {
    const results = await resultsOf(3);
    expect(failed(results)).toContain('auth-prm-resource-matches-server');
    expect(failed(results)).not.toContain('auth-prm-has-resource');
  });

  test('metadata naming an authorization server without metadata fails AS discovery', async () => {
    const results = await resultsOf(4);
    expect(failed(results)).toEqual(
      expect.arrayContaining([
        'auth-as-endpoint-exists',
        'auth-as-has-issuer',
        'auth-as-has-authorization-endpoint',
        'auth-as-has-token-endpoint',
        'auth-as-response-types-supported',
      ]),
    );
  });

  test('between them, every check failed at least once', async () => {
    const all = await Promise.all(BROKEN.map((_, index) => resultsOf(index)));
    const everFailed = new Set(all.flatMap(failed));
    expect([...CHECK_IDS].filter((id) => !everFailed.has(id))).toEqual([]);
  });
});
