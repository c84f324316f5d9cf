/**
 * The second half of the attack table (see `attack-rows.ts`): the `Host`/`Origin` check (IN-12b,
 * IN-12c), scopes (1D: the baseline, a tool's, batches, on every request with a warm cache), the
 * MCP-specific rows (1H: the metadata document and its methods, sessions bound to their caller,
 * no token passthrough), request bodies, and a middleware used after `close()`.
 */
import { expect } from 'vitest';
import {
  challengeParams,
  initialize,
  mcpHeaders,
  message,
  type RawResponse,
  raw,
  rpc,
} from '../server/serve-support.js';
import { freePort } from '../support/net.js';
import type { AttackRow } from './attack-rows.js';
import { ADMIN, type Environment } from './environment.js';
import { bearer, callTool, type Headers, openSession, post, resultText } from './http.js';

function expectScopeRefused(env: Environment, response: RawResponse, scope: string) {
  expect(response.status, response.body).toBe(403);
  expect(challengeParams(response.headers['www-authenticate'])).toEqual({
    error: 'insufficient_scope',
    scope,
    error_description: 'the token lacks a scope this request requires',
    resource_metadata: env.prm,
  });
}

const hosts: AttackRow[] = [
  {
    id: 'IN-12b',
    title:
      'X-Forwarded-Host and Forwarded never change resource_metadata nor the metadata resource',
    async run(env) {
      const forwarded = { 'x-forwarded-host': 'evil.example', forwarded: 'host=evil.example' };
      const refused = await post(env, forwarded);
      expect(challengeParams(refused.headers['www-authenticate']).resource_metadata).toBe(env.prm);
      const document = await raw(env.prm, { headers: forwarded });
      expect(JSON.parse(document.body).resource).toBe(env.resource);
    },
  },
  {
    id: 'IN-12c',
    title:
      'a foreign Host is refused (403) before anything else; a foreign Origin on the endpoint too, not on the metadata',
    async run(env) {
      for (const host of ['evil.example', `evil.example:${env.port}`, '127.0.0.1:1']) {
        const endpoint = await post(env, { ...bearer(env.tokens.alice.accessToken), host });
        expect(endpoint.status, host).toBe(403);
        expect((await raw(env.prm, { headers: { host } })).status, host).toBe(403);
      }
      const origin = { origin: 'https://evil.example' };
      const endpoint = await post(env, { ...bearer(env.tokens.alice.accessToken), ...origin });
      expect(endpoint.status).toBe(403);
      const document = await raw(env.prm, { headers: origin });
      expect(document.status).toBe(200);
      expect(document.headers['access-control-allow-origin']).toBe('*');
      const own = { origin: env.origin };
      expect((await post(env, { ...bearer(env.tokens.alice.accessToken), ...own })).status).toBe(
        200,
      );
    },
  },
];

const scopes: AttackRow[] = [
  {
    id: 'C403',
    title: 'a token without the baseline scope: 403 insufficient_scope naming it',
    async run(env) {
      expectScopeRefused(
        env,
        await post(env, bearer(env.tokens.adminOnly.accessToken)),
        'mcp:tools',
      );
    },
  },
  {
    id: 'IN-51',
    title:
      'a tool whose scope the caller lacks: 403 before the server sees it, naming every scope; alone or in a batch',
    async run(env) {
      const session = await openSession(env, env.tokens.alice.accessToken);
      expectScopeRefused(env, await callTool(env, session, 'admin_report'), `mcp:tools ${ADMIN}`);
      const batch = JSON.stringify([
        JSON.parse(rpc('tools/call', { name: 'add', arguments: {} })),
        JSON.parse(rpc('tools/call', { name: 'admin_report', arguments: {} })),
      ]);
      expectScopeRefused(env, await post(env, session, batch), `mcp:tools ${ADMIN}`);
      const root = await openSession(env, env.tokens.root.accessToken);
      expect(resultText(await callTool(env, root, 'admin_report'))).toBe(
        'Report for root: all good.',
      );
    },
  },
  {
    id: 'IN-51p',
    title:
      'a prompt whose scope the caller lacks (prompt_scopes): 403 on prompts/get and its completions, before the server sees it',
    async run(env) {
      const session = await openSession(env, env.tokens.alice.accessToken);
      const get = rpc('prompts/get', { name: 'audit' });
      expectScopeRefused(env, await post(env, session, get), `mcp:tools ${ADMIN}`);
      const complete = rpc('completion/complete', {
        ref: { type: 'ref/prompt', name: 'audit' },
        argument: { name: 'topic', value: 'a' },
      });
      expectScopeRefused(env, await post(env, session, complete), `mcp:tools ${ADMIN}`);
      const root = await openSession(env, env.tokens.root.accessToken);
      const allowed = await post(env, root, get);
      expect(allowed.status, allowed.body).toBe(200);
      // serve has no downstream prompt "audit" (its error is past the scope check); the SDK
      // servers behind the middleware answer it.
      if (env.adapter.name !== 'serve') {
        expect(JSON.stringify(message(allowed.body).result)).toContain('Audit the report.');
      }
    },
  },
  {
    id: 'IN-57',
    title:
      'scopes are checked on every request, the verification cached: allowed, refused, allowed',
    async run(env) {
      const session = await openSession(env, env.tokens.alice.accessToken);
      expect(JSON.parse(resultText(await callTool(env, session, 'whoami'))).subject).toBe('alice');
      expect((await callTool(env, session, 'admin_report')).status).toBe(403);
      expect(JSON.parse(resultText(await callTool(env, session, 'whoami'))).subject).toBe('alice');
    },
  },
  {
    id: 'bodies',
    title:
      'a body over 4 MiB is refused (413), a body that is not JSON too (400), when a tool scope needs it read',
    async run(env) {
      const session = await openSession(env, env.tokens.alice.accessToken);
      const large = await post(env, session, `{"x":"${'a'.repeat(4 * 1024 * 1024)}"}`);
      expect(large.status).toBe(413);
      expect((await post(env, session, '{not json')).status).toBe(400);
    },
  },
  {
    id: 'C0 body',
    title:
      'without a valid token the body is never read: malformed JSON, or larger than any limit, is 401, not 400 or 413',
    async run(env) {
      const huge = `{"x":"${'a'.repeat(5 * 1024 * 1024)}"}`;
      for (const headers of [{}, bearer('not-a-valid-token')]) {
        for (const body of ['{not json', huge]) {
          const response = await post(env, headers, body);
          expect(response.status, `${body.length} bytes`).toBe(401);
          expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
        }
      }
    },
  },
];

const mcp: AttackRow[] = [
  {
    id: 'IN-83',
    title:
      'the metadata at the path-inserted and the root URL: the configured resource, issuer and scopes, no offline_access, CORS open',
    async run(env) {
      for (const url of [env.prm, `${env.origin}/.well-known/oauth-protected-resource`]) {
        const response = await raw(url);
        expect(response.status, url).toBe(200);
        expect(response.headers['access-control-allow-origin']).toBe('*');
        expect(JSON.parse(response.body)).toEqual({
          resource: env.resource,
          authorization_servers: [env.as.issuer],
          scopes_supported: ['mcp:tools', ADMIN],
          bearer_methods_supported: ['header'],
          resource_name: 'Existing server',
        });
      }
    },
  },
  {
    id: 'IN-84',
    title: 'the metadata URL: HEAD 200 without a body, OPTIONS 204, other methods 405',
    async run(env) {
      const head = await raw(env.prm, { method: 'HEAD' });
      expect([head.status, head.body]).toEqual([200, '']);
      expect((await raw(env.prm, { method: 'OPTIONS' })).status).toBe(204);
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const body = method === 'DELETE' ? undefined : '{}';
        expect((await raw(env.prm, { method, body })).status, method).toBe(405);
      }
    },
  },
  {
    id: 'IN-79',
    title:
      "another caller's token on a session is refused (404); its owner goes on; an unknown or ended session is 404",
    sessionsOnly: true,
    async run(env) {
      const alice = await openSession(env, env.tokens.alice.accessToken);
      const id = alice['mcp-session-id'];
      const hijack = await callTool(
        env,
        { ...bearer(env.tokens.bob.accessToken), 'mcp-session-id': id as string },
        'whoami',
      );
      expect(hijack.status).toBe(404);
      expect(JSON.parse(resultText(await callTool(env, alice, 'whoami'))).subject).toBe('alice');
      const unknown = { ...bearer(env.tokens.alice.accessToken), 'mcp-session-id': 'f'.repeat(36) };
      expect((await callTool(env, unknown, 'whoami')).status).toBe(404);
      // As SDK clients end a session: no body, so no content-type.
      const ended = await raw(`${env.origin}/mcp`, { method: 'DELETE', headers: alice });
      expect(ended.status).toBe(200);
      expect((await callTool(env, alice, 'whoami')).status).toBe(404);
    },
  },
  {
    id: 'IN-79 cap',
    title:
      "a caller's 17th session gives up its least recently used (404), as serve caps them, and no other caller's",
    sessionsOnly: true,
    async run(env) {
      const bob = await openSession(env, env.tokens.bob.accessToken);
      const root: Headers[] = [];
      for (let opened = 0; opened < 17; opened++) {
        root.push(await openSession(env, env.tokens.root.accessToken));
      }
      expect((await callTool(env, root[0] as Headers, 'whoami')).status).toBe(404);
      for (const session of [root[1], root[16], bob]) {
        expect((await callTool(env, session as Headers, 'whoami')).status).toBe(200);
      }
    },
  },
  {
    id: 'IN-81',
    title:
      "the tools see the caller (currentCaller() and the SDK's authInfo), never the inbound token",
    async run(env) {
      const session = await openSession(env, env.tokens.alice.accessToken);
      const whoami = JSON.parse(resultText(await callTool(env, session, 'whoami')));
      expect(whoami).toMatchObject({ subject: 'alice', fromAuthInfo: 'alice' });
      expect(whoami.token ?? '').toBe('');
    },
  },
  {
    id: 'closed',
    title: 'after close(): every request, to the endpoint or the metadata, is answered 503',
    middlewareOnly: true,
    async run(env) {
      const port = await freePort();
      const other = await env.adapter.start(env.options(), port);
      await other.auth?.close();
      const origin = `http://127.0.0.1:${port}`;
      try {
        const endpoint = await raw(`${origin}/mcp`, {
          method: 'POST',
          headers: mcpHeaders(env.tokens.alice.accessToken),
          body: initialize(),
        });
        const document = await raw(`${origin}/.well-known/oauth-protected-resource/mcp`);
        for (const response of [endpoint, document]) {
          expect(response.status).toBe(503);
          expect(JSON.parse(response.body).error_description).toContain('closed');
        }
      } finally {
        await other.close();
      }
    },
  },
];

/** The rows of this half. */
export const MCP_ROWS: readonly AttackRow[] = [...hosts, ...scopes, ...mcp];
