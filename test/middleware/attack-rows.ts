/**
 * The inbound attack rows of security.md §1 that apply at the HTTP layer, as one table every
 * adapter (and `serve`, for parity) faces over real HTTP: 1A (transport and header parsing, the
 * `Host`/`Origin` check), a representative few of the token rows (1B/1C: `alg: none`, a changed
 * signature, expired, another audience; verification down: 503), 1D (baseline and tool scopes,
 * checked on every request) and 1H (the metadata document, sessions bound to their caller, no
 * token passthrough), with the response contract of §0.1. Every refusal is checked not to echo
 * the token it refused.
 */
import { expect } from 'vitest';
import {
  challengeParams,
  expectUnavailable,
  initialize,
  mcpHeaders,
  type RawResponse,
  raw,
} from '../server/serve-support.js';
import { freePort } from '../support/net.js';
import type { Environment } from './environment.js';
import { bearer, expectChallenge, post } from './http.js';

/** One row: what is sent, what must come back. */
export interface AttackRow {
  readonly id: string;
  readonly title: string;
  /** Rows about the middleware itself (its `close()`), not run against `serve`. */
  readonly middlewareOnly?: boolean;
  /** Rows about sessions (`Mcp-Session-Id`): run only where the server keeps sessions. */
  readonly sessionsOnly?: boolean;
  run(env: Environment): Promise<void>;
}

/**
 * 401 `invalid_token` naming the metadata, its description generic (only an expiry is said:
 * security.md §0.1), with nothing of `token` in it.
 */
function expectInvalidToken(
  env: Environment,
  response: RawResponse,
  token: string,
  description = 'the access token is not valid',
) {
  expectChallenge(response, 401, {
    error: 'invalid_token',
    error_description: description,
    resource_metadata: env.prm,
  });
  const echoed = JSON.stringify(response.headers) + response.body;
  for (const part of token.split('.').filter((piece) => piece.length > 8)) {
    expect(echoed).not.toContain(part);
  }
}

function expectInvalidRequest(env: Environment, response: RawResponse) {
  expect(response.status, response.body).toBe(400);
  const params = challengeParams(response.headers['www-authenticate']);
  expect(params.error).toBe('invalid_request');
  expect(params.resource_metadata).toBe(env.prm);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `token` with its last signature characters changed. */
function tampered(token: string): string {
  const [header, payload, signature = ''] = token.split('.');
  const end = signature.endsWith('AAAA') ? 'BBBB' : 'AAAA';
  return `${header}.${payload}.${signature.slice(0, -4)}${end}`;
}

/** 1A: transport and header parsing. */
export const TRANSPORT_ROWS: readonly AttackRow[] = [
  {
    id: 'C0 IN-01 IN-02',
    title:
      'no credentials, another scheme, a session id alone: 401 with the metadata and the baseline scope, no error',
    async run(env) {
      for (const headers of [
        {},
        { authorization: 'Basic dXNlcjpwYXNz' },
        { authorization: 'Digest username="x"' },
        { authorization: `DPoP ${env.tokens.alice.accessToken}` },
        { 'mcp-session-id': 'a'.repeat(32) },
      ]) {
        expectChallenge(await post(env, headers), 401, {
          resource_metadata: env.prm,
          scope: 'mcp:tools',
        });
      }
    },
  },
  {
    id: 'IN-03 IN-05',
    title:
      'the scheme in any case and more than one space are accepted; the token itself is case-sensitive',
    async run(env) {
      const token = env.tokens.alice.accessToken;
      for (const authorization of [`bearer ${token}`, `BEARER ${token}`, `bEaReR  ${token}`]) {
        expect((await post(env, { authorization })).status, authorization.slice(0, 8)).toBe(200);
      }
      const lowered = await post(env, bearer(token.toLowerCase()));
      expectInvalidToken(env, lowered, token);
    },
  },
  {
    id: 'C400 IN-04',
    title: 'malformed credentials: 400 invalid_request',
    async run(env) {
      const token = env.tokens.alice.accessToken;
      for (const authorization of [
        'Bearer',
        'Bearer ',
        'Bearer a b',
        'Bearer "quoted"',
        `Bearer\t${token}`,
        `Bearer ${token},x`,
      ]) {
        expectInvalidRequest(env, await post(env, { authorization }));
      }
    },
  },
  {
    id: 'C400 IN-06',
    title:
      'two Authorization headers (both valid, or one bad) are refused, never the first one used',
    async run(env) {
      const token = env.tokens.alice.accessToken;
      for (const second of [token, 'garbage']) {
        const response = await post(env, {
          authorization: [`Bearer ${token}`, `Bearer ${second}`],
        });
        expectInvalidRequest(env, response);
      }
    },
  },
  {
    id: 'IN-07 IN-08',
    title:
      'a token only in the query is ignored (401, no error); with a header too it is two methods (400)',
    async run(env) {
      const token = env.tokens.alice.accessToken;
      const alone = await post(env, {}, initialize(), `/mcp?access_token=${token}`);
      expectChallenge(alone, 401, { resource_metadata: env.prm, scope: 'mcp:tools' });
      const both = await post(env, bearer(token), initialize(), `/mcp?access_token=${token}`);
      expectInvalidRequest(env, both);
    },
  },
  {
    id: 'IN-09',
    title: 'a header larger than Node accepts: 431, and the server goes on',
    async run(env) {
      const response = await post(env, bearer('a'.repeat(20_000)));
      expect(response.status).toBe(431);
      expect((await post(env, bearer(env.tokens.alice.accessToken))).status).toBe(200);
    },
  },
  {
    id: 'IN-10',
    title: 'over-long and shapeless tokens: 401 invalid_token before any parsing',
    async run(env) {
      for (const token of ['x'.repeat(9000), 'not-a-token', 'a.b.c', `${'a.'.repeat(2000)}a`]) {
        expectInvalidToken(env, await post(env, bearer(token)), token);
      }
    },
  },
];

/** 1B/1C (a representative few) and C503. */
export const TOKEN_ROWS: readonly AttackRow[] = [
  {
    id: 'IN-13',
    title: 'alg none (any case) over a real payload: 401 invalid_token',
    async run(env) {
      const [, payload] = env.tokens.root.accessToken.split('.');
      for (const alg of ['none', 'None', 'NONE']) {
        const token = `${b64({ alg, typ: 'at+jwt' })}.${payload}.`;
        expectInvalidToken(env, await post(env, bearer(token)), token);
      }
    },
  },
  {
    id: 'IN-19',
    title: 'a changed signature: 401 invalid_token',
    async run(env) {
      const token = tampered(env.tokens.alice.accessToken);
      expectInvalidToken(env, await post(env, bearer(token)), token);
    },
  },
  {
    id: 'IN-31',
    title:
      'an expired token (clock past exp): 401 invalid_token, although it was accepted (and cached) before',
    async run(env) {
      const token = env.tokens.expiring.accessToken;
      expect((await post(env, bearer(token))).status).toBe(200);
      env.offsetMs = 2 * 3600 * 1000;
      try {
        const response = await post(env, bearer(token));
        expectInvalidToken(env, response, token, 'the access token expired');
      } finally {
        env.offsetMs = 0;
      }
    },
  },
  {
    id: 'IN-42',
    title:
      'a token of the same issuer for another resource (passthrough / confused deputy): 401 invalid_token',
    async run(env) {
      const token = env.tokens.otherAudience.accessToken;
      expectInvalidToken(env, await post(env, bearer(token)), token);
    },
  },
  {
    id: 'C503 IN-59',
    title: 'verification down (the issuer unreachable): 503 with Retry-After, no challenge',
    async run(env) {
      const port = await freePort();
      const dead = `http://127.0.0.1:${await freePort()}`;
      const other = await env.adapter.start(env.options({ issuer_url: dead }), port);
      try {
        const response = await raw(`http://127.0.0.1:${port}/mcp`, {
          method: 'POST',
          headers: mcpHeaders(env.tokens.alice.accessToken),
          body: initialize(),
        });
        expectUnavailable(response);
      } finally {
        await other.close();
      }
    },
  },
];
