/**
 * On-behalf-of access (`auth.oauth.grant_type: token_exchange`, RFC 8693), end to end with the
 * real components: the development authorization server knows two resources (the served agent's
 * and a protected downstream MCP server's); Alice and Bob get tokens for the agent there and call
 * the downstream `whoami` through the agent, which swaps each caller's token for one for the
 * downstream server (as a confidential client registered by DCR). The downstream never sees an
 * inbound token, each caller's exchanged token is reused, lives no longer than the caller's, and
 * no inbound token value reaches a log line, an error text or the token store.
 */
import { readFileSync } from 'node:fs';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import { type Settings, settingsSchema } from '../../src/config/schema/settings.js';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { principalOf } from '../../src/server/identity.js';
import { recordingLogger } from '../oauth/harness.js';
import { basicCredentials } from '../oauth/service-account-harness.js';
import { raw, userTokens } from '../server/serve-support.js';
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
const DOWN_SCOPE = 'mcp:read';
/** The AS's access token lifetime (inbound and exchanged tokens alike). */
const TTL_S = 3600;

let as: DevAuthorizationServer;
const asLog = recordingLogger();
let down: ProtectedMcpServer;
/** The agent's resource (`http://127.0.0.1:PORT/mcp`). */
let resource: string;
let agentPort: number;
let agent: ServedAgent;
const agentLog = recordingLogger();
let storeDir: ReturnType<typeof tempStoreDir>;
/** The agent's confidential client at the AS (token exchange only). */
let client: { clientId: string; clientSecret: string };
/** Every inbound token handed out in this file (for the canary). */
const inboundTokens: string[] = [];
/** Every error text a client saw. */
const errorTexts: string[] = [];
const clients: ConnectedClient[] = [];

/** An inbound token for the agent's resource, signed in as `user`. */
async function inboundToken(user: string): Promise<string> {
  const token = (await userTokens(as.issuer, resource, user)).accessToken;
  inboundTokens.push(token);
  return token;
}

/** The real time (epoch ms), whatever `Date` says. */
const realNow = () => performance.timeOrigin + performance.now();

/**
 * Run `work` with the whole process's clock (`Date`, faked for this file and otherwise real) set
 * `offsetMs` from now: the AS, the agent and the downstream alike.
 */
async function at<T>(offsetMs: number, work: () => Promise<T>): Promise<T> {
  vi.setSystemTime(realNow() + offsetMs);
  try {
    return await work();
  } finally {
    vi.setSystemTime(realNow());
  }
}

/** An inbound token issued `secondsAgo` seconds ago: `TTL_S - secondsAgo` seconds left. */
function inboundTokenIssuedAgo(user: string, secondsAgo: number): Promise<string> {
  return at(-secondsAgo * 1000, () => inboundToken(user));
}

/** The token-exchange tokens the AS logged as issued to the agent's client. */
function exchanges() {
  return asLog.calls.filter(
    (call) =>
      call.message.includes('token issued') &&
      call.fields?.grant_type === TOKEN_EXCHANGE &&
      call.fields?.client_id === client.clientId,
  );
}

/** A raw token-exchange request at the AS with the agent's client. */
async function exchangeAt(subjectToken: string, target: string = down.url) {
  const response = await fetch(`${as.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicCredentials(client.clientId, client.clientSecret),
    },
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN,
      resource: target,
    }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The agent's settings: downstream `down` reached by token exchange; authorization on or off. */
function agentSettings(options: {
  authorization: boolean;
  storePath?: string;
  /** Other servers on the same downstream: name → their `auth.oauth` over `down`'s. */
  more?: Record<string, Record<string, unknown>>;
}): Settings {
  const exchange = {
    enabled: true,
    scopes: [DOWN_SCOPE],
    grant_type: 'token_exchange',
    client_id: client.clientId,
    client_secret: client.clientSecret,
    token_endpoint_auth_method: 'client_secret_basic',
  };
  const server = (oauth: Record<string, unknown>) => ({
    transport: 'streamable_http',
    url: down.url,
    auth: { oauth },
  });
  return settingsSchema.parse({
    name: 'token-exchange-test',
    mcp: {
      servers: {
        down: server(exchange),
        ...Object.fromEntries(
          Object.entries(options.more ?? {}).map(([name, oauth]) => [
            name,
            server({ ...exchange, ...oauth }),
          ]),
        ),
      },
    },
    oauth: {
      background_refresh: false,
      ...(options.storePath ? { token_store: { backend: 'file', path: options.storePath } } : {}),
    },
    ...(options.authorization
      ? {
          authorization: {
            enabled: true,
            issuer_url: as.issuer,
            resource_server_url: resource,
            expected_audiences: [resource],
            required_scopes: ['mcp:tools'],
          },
        }
      : {}),
  });
}

async function serve(settings: Settings, port: number): Promise<ServedAgent> {
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

/** Connect an SDK client to the agent at `origin` with `token` (none: anonymous). */
async function client_(origin: string, token: string | undefined): Promise<ConnectedClient> {
  const connected = await connect(`${origin}/mcp`, token);
  clients.push(connected);
  return connected;
}

/** A tool call's result, or the text of the JSON-RPC error it ended with (recorded for the canary). */
async function call(on: ConnectedClient, name: string): Promise<CallToolResult | string> {
  try {
    const result = await on.call(name);
    if (result.isError) errorTexts.push(textOf(result));
    return result;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    errorTexts.push(text);
    return text;
  }
}

function ok(result: CallToolResult | string): CallToolResult {
  if (typeof result === 'string') throw new Error(`the call failed: ${result}`);
  expect(result.isError, textOf(result)).toBeFalsy();
  return result;
}

/** The downstream `whoami` calls recorded from index `from` on. */
function callsSince(from: number) {
  return down.calls.slice(from);
}

beforeAll(async () => {
  // Only `Date` is faked (it follows the real clock): everything made from here on reads it, so
  // tokens can be issued in the past and the agent be a minute ahead (see `at`).
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  // The downstream needs the issuer, the AS both resources: fix the AS's and the agent's ports.
  const asPort = await freePort();
  agentPort = await freePort();
  resource = `http://127.0.0.1:${agentPort}/mcp`;
  down = await startProtectedMcpServer({
    issuer: `http://127.0.0.1:${asPort}`,
    requiredScopes: [DOWN_SCOPE],
  });
  as = await startDevAuthorizationServer({
    port: asPort,
    resources: [resource, down.url],
    scopes: ['mcp:tools', DOWN_SCOPE],
    accessTokenTtlSeconds: TTL_S,
    logger: asLog,
  });
  const registration = await fetch(`${as.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'the agent (token exchange)',
      grant_types: [TOKEN_EXCHANGE],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }),
  });
  const body = (await registration.json()) as Record<string, unknown>;
  // A refusal here is a bug of the development AS (it must register token-exchange clients).
  expect(registration.status, JSON.stringify(body)).toBe(201);
  expect(body.grant_types).toEqual([TOKEN_EXCHANGE]);
  client = { clientId: String(body.client_id), clientSecret: String(body.client_secret) };
  storeDir = tempStoreDir();
  agent = await serve(agentSettings({ authorization: true, storePath: storeDir.path }), agentPort);
}, 30_000);

afterAll(async () => {
  for (const each of clients) await each.close().catch(() => {});
  await agent?.close();
  await down?.close();
  await as?.close();
  storeDir?.cleanup();
  vi.useRealTimers();
});

describe('each caller gets a token exchanged for them', () => {
  let alice: string;
  let bob: string;
  let aliceClient: ConnectedClient;
  let bobClient: ConnectedClient;

  beforeAll(async () => {
    alice = await inboundToken('alice');
    bob = await inboundToken('bob');
    aliceClient = await client_(agent.origin, alice);
    bobClient = await client_(agent.origin, bob);
  }, 30_000);

  test('alice then bob: the downstream sees each caller as themselves, never their inbound token', async () => {
    const from = down.calls.length;
    const before = exchanges().length;
    expect(subOf(ok(await call(aliceClient, 'down_whoami')))).toBe('alice');
    expect(subOf(ok(await call(bobClient, 'down_whoami')))).toBe('bob');

    const seen = callsSince(from);
    expect(seen.map((each) => each.sub)).toEqual(['alice', 'bob']);
    // One exchange per caller, at the AS, by the agent's client (`exchanges` filters on it).
    expect(exchanges().length - before).toBe(2);

    // No request the downstream received carried an inbound token.
    const received = down.requests.map((request) => request.token);
    expect(received).not.toContain(alice);
    expect(received).not.toContain(bob);
    for (const each of seen) {
      expect(each.token).toBeDefined();
      expect([alice, bob]).not.toContain(each.token);
    }

    const [aliceDown, bobDown] = seen.map((each) => decodeJwt(String(each.token)));
    for (const [claims, user] of [
      [aliceDown, 'alice'],
      [bobDown, 'bob'],
    ] as const) {
      expect(claims?.sub).toBe(user);
      expect(claims?.aud).toBe(down.url);
      expect(claims?.iss).toBe(as.issuer);
      expect(claims?.act).toEqual({ sub: client.clientId });
      expect(claims?.client_id).toBe(client.clientId);
      expect(String(claims?.scope).split(' ')).toContain(DOWN_SCOPE);
    }
    // Each exchanged token ends no later than the caller's own.
    expect(aliceDown?.exp).toBeLessThanOrEqual(Number(decodeJwt(alice).exp));
    expect(bobDown?.exp).toBeLessThanOrEqual(Number(decodeJwt(bob).exp));
  });

  test("alice's second call reuses her exchanged token: no new exchange", async () => {
    const from = down.calls.length;
    const before = exchanges().length;
    expect(subOf(ok(await call(aliceClient, 'down_whoami')))).toBe('alice');
    expect(subOf(ok(await call(aliceClient, 'down_whoami')))).toBe('alice');
    const seen = callsSince(from);
    expect(seen.map((each) => each.sub)).toEqual(['alice', 'alice']);
    expect(seen[0]?.token).toBe(seen[1]?.token);
    expect(exchanges().length - before).toBe(0);
    // Bob's stays his own.
    expect(subOf(ok(await call(bobClient, 'down_whoami')))).toBe('bob');
    expect(down.calls.at(-1)?.token).not.toBe(seen[0]?.token);
    expect(exchanges().length - before).toBe(0);
  });

  test('the store keeps one exchanged record per caller, none for the app, and no inbound token', async () => {
    const store = openStore(storeDir.path);
    try {
      const byIdentity = await recordsByIdentity(store);
      const aliceId = principalOf({ issuer: as.issuer, subject: 'alice' });
      const bobId = principalOf({ issuer: as.issuer, subject: 'bob' });
      expect([...byIdentity.keys()].sort()).toEqual([aliceId, bobId].sort());
      for (const [identity, records] of byIdentity) {
        expect(records).toHaveLength(1);
        const record = records[0];
        expect(record?.refreshToken).toBeUndefined();
        const claims = decodeJwt(record?.accessToken.reveal() ?? '');
        expect(principalOf({ issuer: as.issuer, subject: String(claims.sub) })).toBe(identity);
        expect(record?.resource.replace(/\/$/, '')).toBe(down.url);
      }
    } finally {
      await store.close();
    }
    const file = readFileSync(storeDir.path, 'utf8');
    for (const token of [alice, bob]) expect(file).not.toContain(token);
  });
});

describe('the exchanged token lives no longer than the caller’s', () => {
  test('an inbound token with two minutes left: the exchanged token and its record end by then', async () => {
    // The AS would give 3600 s; Carol's token has 120 s left.
    const carol = await inboundTokenIssuedAgo('carol', TTL_S - 120);
    const carolExp = Number(decodeJwt(carol).exp);
    expect(carolExp * 1000 - Date.now()).toBeLessThanOrEqual(125_000);
    const before = exchanges().length;
    const from = down.calls.length;
    const carolClient = await client_(agent.origin, carol);
    expect(subOf(ok(await call(carolClient, 'down_whoami')))).toBe('carol');
    expect(exchanges().length - before).toBe(1);

    const exchanged = decodeJwt(String(callsSince(from)[0]?.token));
    expect(exchanged.sub).toBe('carol');
    expect(exchanged.exp).toBeLessThanOrEqual(carolExp);
    expect(Number(exchanged.exp) - Math.floor(Date.now() / 1000)).toBeLessThan(TTL_S / 2);

    // The agent's record expires no later than Carol's token either.
    const store = openStore(storeDir.path);
    try {
      const records = (await recordsByIdentity(store)).get(
        principalOf({ issuer: as.issuer, subject: 'carol' }),
      );
      expect(records).toHaveLength(1);
      expect(records?.[0]?.expiresAt).toBeDefined();
      expect(records?.[0]?.expiresAt).toBeLessThanOrEqual(carolExp * 1000);
    } finally {
      await store.close();
    }
  });
});

describe('when the exchanged token is due', () => {
  test('a caller back with a new token: exchanged afresh, from the newest inbound token', async () => {
    // Frank's first token has 100 s left: his exchanged token is due 50 s from now.
    const first = await inboundTokenIssuedAgo('frank', TTL_S - 100);
    const firstExp = Number(decodeJwt(first).exp);
    const before = exchanges().length;
    const from = down.calls.length;
    const firstClient = await client_(agent.origin, first);
    expect(subOf(ok(await call(firstClient, 'down_whoami')))).toBe('frank');
    const second = await inboundToken('frank');
    // A minute later (the first token still good), Frank calls with his new token.
    await at(60_000, async () => {
      const secondClient = await client_(agent.origin, second);
      expect(subOf(ok(await call(secondClient, 'down_whoami')))).toBe('frank');
    });
    expect(exchanges().length - before).toBe(2);
    const [early, late] = callsSince(from).map((each) => decodeJwt(String(each.token)));
    expect(early?.exp).toBeLessThanOrEqual(firstExp);
    // Exchanged from the new token: it outlives the first one, not the second.
    expect(Number(late?.exp)).toBeGreaterThan(firstExp);
    expect(late?.exp).toBeLessThanOrEqual(Number(decodeJwt(second).exp));
  });

  test('concurrent first calls of one caller: one exchange', async () => {
    const gina = await inboundToken('gina');
    const before = exchanges().length;
    const ginaClient = await client_(agent.origin, gina);
    const results = await Promise.all([1, 2, 3].map(() => call(ginaClient, 'down_whoami')));
    expect(results.map((result) => subOf(ok(result)))).toEqual(['gina', 'gina', 'gina']);
    expect(exchanges().length - before).toBe(1);
  });
});

describe('expired and foreign subject tokens', () => {
  let expired: string;

  beforeAll(async () => {
    // Issued two hours ago with a one-hour lifetime: expired an hour ago.
    expired = await inboundTokenIssuedAgo('dave', 2 * TTL_S);
    expect(Number(decodeJwt(expired).exp) * 1000).toBeLessThan(Date.now() - 60_000);
  }, 30_000);

  test('the agent refuses an expired inbound token at its guard (401): nothing is exchanged', async () => {
    const before = exchanges().length;
    const from = down.requests.length;
    const response = await raw(`${agent.origin}/mcp`, {
      method: 'POST',
      headers: {
        host: `127.0.0.1:${agentPort}`,
        authorization: `Bearer ${expired}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'down_whoami', arguments: {} },
      }),
    });
    expect(response.status).toBe(401);
    expect(String(response.headers['www-authenticate'])).toMatch(/error="invalid_token"/);
    expect(response.body).not.toContain(expired);
    errorTexts.push(response.body);
    expect(exchanges().length - before).toBe(0);
    expect(down.requests.length - from).toBe(0);
  });

  test('at the AS: an expired subject token is invalid_grant', async () => {
    const { status, body } = await exchangeAt(expired);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_grant');
    expect(body.access_token).toBeUndefined();
  });

  test('at the AS: a subject token signed by another key is invalid_grant', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const foreign = await new SignJWT({ scope: 'mcp:tools', client_id: 'someone' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'foreign' })
      .setIssuer(as.issuer)
      .setSubject('mallory')
      .setAudience(resource)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
    const { status, body } = await exchangeAt(foreign);
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_grant');
    expect(body.access_token).toBeUndefined();
  });

  test('at the AS: a valid subject token for an unknown resource is invalid_target; for the downstream it works', async () => {
    const erin = await inboundToken('erin');
    const unknown = await exchangeAt(erin, 'http://127.0.0.1:1/elsewhere');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_target');
    const good = await exchangeAt(erin);
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    expect(good.body.issued_token_type).toBe(ACCESS_TOKEN);
    const claims = decodeJwt(String(good.body.access_token));
    expect(claims).toMatchObject({ sub: 'erin', aud: down.url, act: { sub: client.clientId } });
    expect(claims.exp).toBeLessThanOrEqual(Number(decodeJwt(erin).exp));
  });
});

describe('without authorization', () => {
  let anonymous: ServedAgent;

  beforeAll(async () => {
    anonymous = await serve(agentSettings({ authorization: false }), 0);
  }, 30_000);

  afterAll(async () => {
    await anonymous?.close();
  });

  test("an anonymous caller's call of a token_exchange server fails: it needs a caller's token", async () => {
    const before = exchanges().length;
    const tokenPosts = asLog.calls.length;
    const from = down.calls.length;
    const logFrom = agentLog.calls.length;
    const plain = await client_(anonymous.origin, undefined);
    const result = await call(plain, 'down_whoami');
    // The catalog tells callers no library sentence (they name servers and config keys): the
    // reason goes to the operator's log.
    expect(typeof result === 'string' ? result : result.isError).toBe(true);
    expect(typeof result === 'string' ? result : textOf(result)).toBe(
      'The tool down_whoami could not be run right now.',
    );
    const logged = agentLog.calls.slice(logFrom).map((each) => each.message);
    expect(logged.some((line) => /token_exchange, which needs a caller's token/.test(line))).toBe(
      true,
    );
    expect(exchanges().length - before).toBe(0);
    // No token request at all (nor a refused one) reached the AS.
    expect(
      asLog.calls
        .slice(tokenPosts)
        .filter((each) => /token issued|refused POST/.test(each.message)),
    ).toEqual([]);
    expect(down.calls.length - from).toBe(0);
  });
});

describe('an exchange that cannot be done', () => {
  let misconfigured: ServedAgent;
  let henry: string;
  let henryClient: ConnectedClient;

  beforeAll(async () => {
    // Same protection as the main agent (its resource), another port: Henry's token fits both.
    misconfigured = await serve(
      agentSettings({
        authorization: true,
        more: {
          wrongsecret: { client_secret: 'not-the-secret' },
          nosecret: { client_secret: null },
        },
      }),
      0,
    );
    henry = await inboundToken('henry');
    henryClient = await client_(misconfigured.origin, henry);
  }, 30_000);

  afterAll(async () => {
    await misconfigured?.close();
  });

  test('the AS refuses the client: the call fails, the log says why, the downstream sees nothing', async () => {
    const from = down.requests.length;
    const logFrom = agentLog.calls.length;
    const result = await call(henryClient, 'wrongsecret_whoami');
    expect(typeof result === 'string' ? result : result.isError).toBe(true);
    const logged = agentLog.calls.slice(logFrom).map((each) => each.message);
    expect(logged.some((line) => /token exchange/i.test(line))).toBe(true);
    expect(down.requests.slice(from).map((request) => request.token)).not.toContain(henry);
    expect(down.calls.slice(from).length).toBe(0);
  });

  test('a token_exchange server without a client secret is reported as needing one for token_exchange, not client_credentials', async () => {
    const logFrom = agentLog.calls.length;
    const result = await call(henryClient, 'nosecret_whoami');
    expect(typeof result === 'string' ? result : result.isError).toBe(true);
    const line = agentLog.calls
      .slice(logFrom)
      .map((each) => each.message)
      .find((message) => /needs .*client_secret/.test(message));
    expect(line).toBeDefined();
    expect(line).toMatch(/grant_type: token_exchange/);
    expect(line).not.toMatch(/client_credentials/);
  });
});

describe('canary', () => {
  test('no inbound token value appears in a log line or an error text', () => {
    expect(inboundTokens.length).toBeGreaterThanOrEqual(5);
    const lines = [...agentLog.calls, ...asLog.calls].map(
      (each) => `${each.level} ${each.message} ${JSON.stringify(each.fields ?? {})}`,
    );
    expect(lines.length).toBeGreaterThan(0);
    for (const token of inboundTokens) {
      for (const line of lines) expect(line).not.toContain(token);
      for (const text of errorTexts) expect(text).not.toContain(token);
      // Nor any of its signature (a token cut short in a message).
      const signature = token.split('.')[2] ?? token;
      for (const line of lines) expect(line).not.toContain(signature);
      for (const text of errorTexts) expect(text).not.toContain(signature);
    }
  });
});
