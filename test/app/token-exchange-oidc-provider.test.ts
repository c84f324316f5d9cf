/**
 * Token exchange (RFC 8693) against an authorization server that is not our development one: a
 * plain oidc-provider (test/support/authorization-server.ts) whose token-exchange grant is
 * registered here through oidc-provider's own extension point, `provider.registerGrantType`, and
 * whose tokens are minted by oidc-provider's own `AccessToken` model for a `ResourceServer` (not
 * signed by src/dev/token-exchange.ts). This server does not shorten the exchanged token to the
 * caller's: the agent must. The agent's client authenticates with client_secret_post here (basic
 * against the development AS).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import { type Settings, settingsSchema } from '../../src/config/schema/settings.js';
import { principalOf } from '../../src/server/identity.js';
import { recordingLogger } from '../oauth/harness.js';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../support/authorization-server.js';
import { followAuthorization } from '../support/browser.js';
import { freePort } from '../support/net.js';
import {
  type ProtectedMcpServer,
  startProtectedMcpServer,
} from '../support/protected-mcp-server.js';
import {
  type ConnectedClient,
  connect,
  openStore,
  recordsByIdentity,
  type ServedAgent,
  subOf,
  tempStoreDir,
  textOf,
} from './delegated-support.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const SCOPE = 'mcp:read';
/** The callers' token lifetime at this AS; exchanged tokens get {@link EXCHANGED_TTL_S}. */
const CALLER_TTL_S = 120;
const EXCHANGED_TTL_S = 3600;
const APP = 'caller-app';
const REDIRECT = 'http://127.0.0.1:9/callback';

let as: AuthorizationServer;
let down: ProtectedMcpServer;
let resource: string;
let agent: ServedAgent;
const agentLog = recordingLogger();
let storeDir: ReturnType<typeof tempStoreDir>;
let client: { clientId: string; clientSecret: string };
const connected: ConnectedClient[] = [];

/**
 * RFC 8693 on oidc-provider, written against its documented extension point: the subject token
 * must be a JWT access token of this provider (checked with its published keys), the target a
 * known resource; the new token is oidc-provider's own, for the same account, with the resource
 * server's full lifetime. Like many servers, it names no actor (`act`, optional in §4.1).
 */
function registerTokenExchange(provider: AuthorizationServer['provider'], targets: string[]) {
  const keys = createRemoteJWKSet(new URL(`${provider.issuer}/jwks`));
  // oidc-provider's own class (its typings describe only the plain object it is built from).
  const Resource = (
    provider as unknown as {
      ResourceServer: new (identifier: string, info: ResourceServer) => ResourceServer;
    }
  ).ResourceServer;
  const handler = async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    const { params, client: caller } = ctx.oidc;
    if (!caller || caller.clientAuthMethod === 'none') {
      throw new errors.InvalidClient('token exchange is for confidential clients');
    }
    if (params?.subject_token_type !== ACCESS_TOKEN) {
      throw new errors.InvalidRequest('unsupported subject_token_type');
    }
    let subject: { sub?: string };
    try {
      ({ payload: subject } = await jwtVerify(String(params.subject_token), keys, {
        issuer: provider.issuer,
        typ: 'at+jwt',
      }));
    } catch {
      throw new errors.InvalidGrant('subject_token is not an access token of this server');
    }
    if (!subject.sub) throw new errors.InvalidGrant('subject_token has no subject');
    const target = String(params.resource ?? params.audience ?? '');
    if (!targets.includes(target)) throw new errors.InvalidTarget('unknown resource');
    const scope = String(params.scope ?? SCOPE)
      .split(' ')
      .filter((each) => each === SCOPE)
      .join(' ');
    // As oidc-provider's own grants do: the token belongs to a Grant of the account and client.
    const grant = new provider.Grant({ accountId: subject.sub, clientId: caller.clientId });
    grant.addResourceScope(target, scope);
    const grantId = await grant.save();
    const token = new provider.AccessToken({
      accountId: subject.sub,
      grantId,
      client: caller,
      scope,
      gty: 'token_exchange',
      expiresIn: EXCHANGED_TTL_S,
      resourceServer: new Resource(target, {
        audience: target,
        scope: SCOPE,
        accessTokenFormat: 'jwt',
        accessTokenTTL: EXCHANGED_TTL_S,
        jwt: { sign: { alg: 'RS256' } },
      }),
    });
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN,
      token_type: token.tokenType,
      expires_in: token.expiration,
      scope: token.scope,
    };
    await next();
  };
  provider.registerGrantType(
    TOKEN_EXCHANGE,
    handler,
    [
      'subject_token',
      'subject_token_type',
      'requested_token_type',
      'resource',
      'audience',
      'scope',
    ],
    ['resource', 'audience'],
  );
}

/** A caller's (alice's) JWT access token for the agent, through the code flow with PKCE. */
async function callerToken(): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(as.url('/auth'));
  url.search = new URLSearchParams({
    client_id: APP,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: SCOPE,
    resource,
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const walk = await followAuthorization(url, { stopAtRedirectUri: REDIRECT });
  const code = walk.finalUrl.searchParams.get('code') ?? '';
  const response = await fetch(as.url('/token'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: APP,
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      resource,
    }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  expect(response.status, JSON.stringify(body)).toBe(200);
  return String(body.access_token);
}

function agentSettings(secret: string, storePath?: string): Settings {
  return settingsSchema.parse({
    name: 'token-exchange-oidc-provider',
    authorization: {
      enabled: true,
      issuer_url: as.issuer,
      resource_server_url: resource,
      expected_audiences: [resource],
      required_scopes: [SCOPE],
    },
    mcp: {
      servers: {
        down: {
          transport: 'streamable_http',
          url: down.url,
          auth: {
            oauth: {
              enabled: true,
              grant_type: 'token_exchange',
              scopes: [SCOPE],
              client_id: client.clientId,
              client_secret: secret,
              token_endpoint_auth_method: 'client_secret_post',
            },
          },
        },
      },
    },
    oauth: {
      background_refresh: false,
      ...(storePath ? { token_store: { backend: 'file', path: storePath } } : {}),
    },
  });
}

async function serve(settings: Settings, port = 0): Promise<ServedAgent> {
  const app = await createApp({ settings, env: {}, logger: agentLog });
  const running = await app.listen({ host: '127.0.0.1', port });
  return {
    app,
    running,
    origin: `http://127.0.0.1:${running.port}`,
    async close() {
      await running.close();
      await app.close();
    },
  };
}

/** The agent's name for the downstream `whoami` (its namespacing is not this test's subject). */
let whoami = '';

/** A caller connected to `on` with `token`. */
async function caller(on: ServedAgent, token: string) {
  const each = await connect(`${on.origin}/mcp`, token);
  connected.push(each);
  if (!whoami) {
    const { tools } = await each.client.listTools();
    whoami = tools.map((tool) => tool.name).find((name) => /^down.whoami$/.test(name)) ?? '';
    if (!whoami) throw new Error(`no downstream whoami among ${tools.map((t) => t.name)}`);
  }
  return { call: () => each.call(whoami) };
}

/** The token-exchange requests the AS received since `from`. */
function exchangesSince(from: number) {
  return as.requests
    .slice(from)
    .filter((request) => request.path === '/token' && request.body?.grant_type === TOKEN_EXCHANGE);
}

beforeAll(async () => {
  const agentPort = await freePort();
  resource = `http://127.0.0.1:${agentPort}/mcp`;
  as = await startAuthorizationServer({
    accessTokenTtl: CALLER_TTL_S,
    clients: [
      {
        client_id: APP,
        token_endpoint_auth_method: 'none',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
  });
  down = await startProtectedMcpServer({ issuer: as.issuer, requiredScopes: [SCOPE] });
  registerTokenExchange(as.provider, [down.url]);
  // The agent's client, registered once the provider knows the grant (RFC 7591).
  const registration = await fetch(as.url('/reg'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'the agent',
      grant_types: [TOKEN_EXCHANGE],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
    }),
  });
  const body = (await registration.json()) as Record<string, unknown>;
  expect(registration.status, JSON.stringify(body)).toBe(201);
  client = { clientId: String(body.client_id), clientSecret: String(body.client_secret) };
  storeDir = tempStoreDir();
  agent = await serve(agentSettings(client.clientSecret, storeDir.path), agentPort);
}, 30_000);

afterAll(async () => {
  for (const each of connected) await each.close().catch(() => {});
  await agent?.close();
  await down?.close();
  await as?.close();
  storeDir?.cleanup();
});

describe('token exchange at an oidc-provider with a grant registered through registerGrantType', () => {
  let inbound: string;

  beforeAll(async () => {
    inbound = await callerToken();
  }, 30_000);

  test("the downstream sees alice with oidc-provider's token for it, never her inbound token; one exchange, reused", async () => {
    const fromAs = as.requests.length;
    const fromDown = down.calls.length;
    const alice = await caller(agent, inbound);
    expect(subOf(await alice.call())).toBe('alice');
    expect(subOf(await alice.call())).toBe('alice');

    const [exchange, ...more] = exchangesSince(fromAs);
    expect(more).toEqual([]);
    expect(exchange?.status).toBe(200);
    expect(exchange?.body).toMatchObject({
      subject_token_type: ACCESS_TOKEN,
      resource: down.url,
      scope: SCOPE,
      client_id: client.clientId,
    });
    expect(exchange?.headers.authorization).toBeUndefined();
    expect(as.serverErrors).toEqual([]);

    const seen = down.calls.slice(fromDown);
    expect(seen.map((each) => each.sub)).toEqual(['alice', 'alice']);
    expect(seen[0]?.token).toBe(seen[1]?.token);
    expect(down.requests.map((request) => request.token)).not.toContain(inbound);
    const claims = decodeJwt(String(seen[0]?.token));
    expect(claims).toMatchObject({
      iss: as.issuer,
      sub: 'alice',
      aud: down.url,
      client_id: client.clientId,
      scope: SCOPE,
    });
    expect(claims.act).toBeUndefined();
  });

  test("this AS gives the exchanged token its full hour; the agent's record ends with the caller's token", async () => {
    const callerExp = Number(decodeJwt(inbound).exp);
    const given = down.calls.map((each) => decodeJwt(String(each.token)).exp);
    expect(Number(given.at(-1))).toBeGreaterThan(callerExp + EXCHANGED_TTL_S / 2);
    const store = openStore(storeDir.path);
    try {
      const records = (await recordsByIdentity(store)).get(
        principalOf({ issuer: as.issuer, subject: 'alice' }),
      );
      expect(records).toHaveLength(1);
      expect(records?.[0]?.expiresAt).toBeLessThanOrEqual(callerExp * 1000);
      expect(records?.[0]?.accessToken.reveal()).not.toBe(inbound);
    } finally {
      await store.close();
    }
  });

  test("a wrong client secret: oidc-provider's invalid_client, the call fails, the downstream sees nothing", async () => {
    const wrong = await serve(agentSettings('not-the-secret'));
    try {
      const fromAs = as.requests.length;
      const fromDown = down.requests.length;
      const fromCalls = down.calls.length;
      const logFrom = agentLog.calls.length;
      const alice = await caller(wrong, inbound);
      const result = await alice.call().catch((error: unknown) => String(error));
      expect(typeof result === 'string' || result.isError, JSON.stringify(result)).toBe(true);
      expect(exchangesSince(fromAs).map((request) => request.status)).toEqual([401]);
      const logged = agentLog.calls.slice(logFrom).map((each) => each.message);
      expect(
        logged.some((line) => /token exchange/i.test(line) && /invalid_client/.test(line)),
      ).toBe(true);
      // Nothing reached the tool; no request carried a token (discovery may have asked).
      expect(down.calls.length - fromCalls).toBe(0);
      expect(down.requests.slice(fromDown).filter((request) => request.token)).toEqual([]);
      for (const line of logged) expect(line).not.toContain(inbound);
      if (typeof result !== 'string') expect(textOf(result)).not.toContain(inbound);
    } finally {
      await wrong.close();
    }
  });
});
