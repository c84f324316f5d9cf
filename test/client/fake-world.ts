/**
 * A fake network for the unit tests of `createAgentAuth`, given as its injected `fetch`: an MCP
 * server at {@link MCP_URL} that accepts only the access token the authorization server issued
 * last, and that authorization server at {@link ISSUER} (RFC 9728 and RFC 8414 metadata, a token
 * endpoint for the authorization code and refresh grants). Every answer is a real `Response`;
 * every request is recorded (URL, method, headers, body), so a test sees what went where.
 */
import { type AgentAuth, createAgentAuth } from '../../src/client/agent-auth.js';
import type { LoginConsent } from '../../src/client/hand-over.js';
import type { SettingsInput } from '../../src/config/schema/settings.js';
import { isMcpAgentError, type McpAgentError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';

/** The MCP server's endpoint (nothing listens: the injected fetch answers). */
export const MCP_URL = 'http://127.0.0.1:4101/mcp';
/** The authorization server's issuer. */
export const ISSUER = 'http://127.0.0.1:4102';
/** Another origin, which must never see a token. */
export const ELSEWHERE = 'http://127.0.0.1:4103/collect';

/** The access token configured for the agent: a canary no output may show. */
export const CANARY_ACCESS = 'canary-access-7f1d2c';
/** The refresh token configured for the agent: a canary too. */
export const CANARY_REFRESH = 'canary-refresh-93ab0e';

/** One request the fake network received. */
export interface SeenRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Headers;
  readonly body: string;
}

/** The fake network and what it saw. */
export interface FakeWorld {
  readonly fetch: (input: string | URL, init?: RequestInit) => Promise<Response>;
  readonly seen: SeenRequest[];
  /** The access tokens the MCP server accepts (the latest issued, or the configured one). */
  readonly accepted: Set<string>;
  /** Requests to the MCP endpoint only. */
  mcpRequests(): SeenRequest[];
  /** Requests to the token endpoint only. */
  tokenRequests(): SeenRequest[];
  /** From now on the token endpoint refuses every grant (`invalid_grant`). */
  refuseGrants(): void;
  /** The next `insufficient_scope` answers of the MCP server: scopes it still wants. */
  wantScope(scope: string): void;
}

/** Settings with one OAuth server `docs` (a configured client and tokens), and a stdio server. */
export function fakeSettings(
  options: { expiresAt?: number; extra?: Record<string, unknown> } = {},
): SettingsInput {
  return {
    mcp: {
      servers: {
        docs: {
          transport: 'streamable_http',
          url: MCP_URL,
          auth: {
            oauth: {
              enabled: true,
              client_id: 'agent-client',
              scopes: ['docs:read'],
              access_token: CANARY_ACCESS,
              refresh_token: CANARY_REFRESH,
              expires_at: Math.floor((options.expiresAt ?? Date.now() + 3_600_000) / 1000),
            },
          },
        },
        notes: { transport: 'stdio', command: 'node', args: ['--version'] },
        plain: {
          transport: 'streamable_http',
          url: 'http://127.0.0.1:4104/mcp',
          headers: { 'X-Api-Key': 'canary-static-key' },
        },
      },
    },
    oauth: { token_store: { backend: 'memory' }, loopback_ports: [53_999] },
    ...options.extra,
  } as SettingsInput;
}

/** The fake network (see the module comment). */
export function fakeWorld(): FakeWorld {
  const seen: SeenRequest[] = [];
  const accepted = new Set([CANARY_ACCESS]);
  const wanted: string[] = [];
  let issued = 0;
  let refusing = false;

  const tokens = (scope: string) => {
    issued += 1;
    const access = `issued-access-${issued}`;
    accepted.clear();
    accepted.add(access);
    return Response.json({
      access_token: access,
      refresh_token: `issued-refresh-${issued}`,
      token_type: 'Bearer',
      expires_in: 3600,
      scope,
    });
  };

  const mcp = (request: SeenRequest): Response => {
    const token = request.headers.get('authorization')?.replace(/^Bearer /, '') ?? '';
    const challenge = `Bearer resource_metadata="http://127.0.0.1:4101/.well-known/oauth-protected-resource/mcp", scope="docs:read"`;
    if (!accepted.has(token)) {
      return new Response('unauthorized', {
        status: 401,
        headers: { 'www-authenticate': challenge },
      });
    }
    const more = wanted.shift();
    if (more) {
      return new Response('forbidden', {
        status: 403,
        headers: {
          'www-authenticate': `Bearer error="insufficient_scope", scope="docs:read ${more}"`,
        },
      });
    }
    return Response.json({ jsonrpc: '2.0', id: 1, result: { echo: request.body } });
  };

  const route = (request: SeenRequest): Response => {
    const { url } = request;
    if (url.href === MCP_URL) return mcp(request);
    if (url.href === 'http://127.0.0.1:4101/.well-known/oauth-protected-resource/mcp') {
      return Response.json({
        resource: MCP_URL,
        authorization_servers: [ISSUER],
        scopes_supported: ['docs:read', 'docs:write'],
      });
    }
    if (url.href === `${ISSUER}/.well-known/oauth-authorization-server`) {
      return Response.json({
        issuer: ISSUER,
        authorization_endpoint: `${ISSUER}/authorize`,
        token_endpoint: `${ISSUER}/token`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none'],
        authorization_response_iss_parameter_supported: true,
      });
    }
    if (url.href === `${ISSUER}/token`) {
      const form = new URLSearchParams(request.body);
      if (refusing) return Response.json({ error: 'invalid_grant' }, { status: 400 });
      if (form.get('grant_type') === 'refresh_token') return tokens('docs:read');
      if (form.get('grant_type') === 'authorization_code' && form.get('code_verifier')) {
        return tokens(form.get('code') === 'code-for-write' ? 'docs:read docs:write' : 'docs:read');
      }
      return Response.json({ error: 'invalid_grant' }, { status: 400 });
    }
    return new Response('not found', { status: 404 });
  };

  return {
    seen,
    accepted,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const record: SeenRequest = {
        url: new URL(request.url),
        method: request.method,
        headers: request.headers,
        body: request.body ? await request.text() : '',
      };
      seen.push(record);
      return route(record);
    },
    mcpRequests: () => seen.filter((request) => request.url.href === MCP_URL),
    tokenRequests: () => seen.filter((request) => request.url.href === `${ISSUER}/token`),
    refuseGrants: () => {
      refusing = true;
    },
    wantScope: (scope) => {
      wanted.push(scope);
    },
  };
}

/** Options of {@link openFake}. */
export interface FakeAuthOptions {
  readonly settings?: SettingsInput;
  readonly now?: () => number;
  readonly logger?: Logger;
  readonly consent?: LoginConsent;
  readonly maxUsers?: number;
  /** Reach the real network (loopback servers of the test) instead of the fake one. */
  readonly realNetwork?: boolean;
}

/** A `createAgentAuth` on a new fake network, added to `closing` (close it after the test). */
export function openFake(
  closing: { close(): Promise<void> }[],
  options: FakeAuthOptions = {},
): { auth: AgentAuth; world: FakeWorld } {
  const world = fakeWorld();
  const auth = createAgentAuth({
    settings: options.settings ?? fakeSettings(),
    ...(options.realNetwork ? {} : { fetch: world.fetch }),
    env: {},
    ...(options.now ? { now: options.now } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.consent ? { consent: options.consent } : {}),
    ...(options.maxUsers ? { maxUsers: options.maxUsers } : {}),
  });
  closing.push(auth);
  return { auth, world };
}

/** The `McpAgentError` `run` throws or rejects with (anything else fails the test). */
export async function failure(run: () => unknown): Promise<McpAgentError> {
  try {
    await run();
  } catch (error) {
    if (isMcpAgentError(error)) return error;
    throw error;
  }
  throw new Error('expected an error');
}
