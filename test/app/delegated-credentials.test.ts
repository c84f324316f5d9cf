/**
 * `workflows-store-credentials` and the configured token of a downstream server: a caller's
 * deposited token is kept under that caller only (not the app, not another caller); tokens from
 * another authorization server, unknown servers and anonymous callers are refused, with per-token
 * errors and an explicit partial success. A configured `access_token` serves callers only with
 * `shared_preconfigured_token: true`.
 */
import { UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { userTokens } from '../server/serve-support.js';
import {
  connect,
  DOWN_SCOPE,
  delegatedSettings,
  type Inbound,
  openStore,
  type Realm,
  recordsByIdentity,
  type ServedAgent,
  serveAgent,
  startInbound,
  startRealm,
  subOf,
  tempStoreDir,
  textOf,
} from './delegated-support.js';

const TOOL = 'workflows-store-credentials';

let inbound: Inbound;
let realm: Realm;
/** Per-caller `down`, with a configured token that is not shared. */
let agent: ServedAgent;
let storeDir: ReturnType<typeof tempStoreDir>;
/** The inbound tokens of Alice and Bob. */
let alice: string;
let bob: string;
/** Downstream tokens: Alice's own, and the one configured for the app. */
let aliceDown: string;
let appDown: string;

beforeAll(async () => {
  inbound = await startInbound();
  realm = await startRealm();
  storeDir = tempStoreDir();
  aliceDown = (await userTokens(realm.as.issuer, realm.server.url, 'alice-down', DOWN_SCOPE))
    .accessToken;
  appDown = (await userTokens(realm.as.issuer, realm.server.url, 'app-down', DOWN_SCOPE))
    .accessToken;
  agent = await serveAgent(
    delegatedSettings({
      realm,
      inbound,
      oauth: { token_store: { backend: 'file', path: storeDir.path } },
      serverOAuth: { access_token: appDown },
    }),
    inbound.port,
  );
  alice = (await userTokens(inbound.as.issuer, inbound.resource, 'alice')).accessToken;
  bob = (await userTokens(inbound.as.issuer, inbound.resource, 'bob')).accessToken;
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
  storeDir?.cleanup();
});

type Answer = {
  success: boolean;
  stored_tokens?: number;
  total_tokens?: number;
  partial_success?: boolean;
  errors?: { index: number; server_name: string; error: string }[];
  error?: string;
};

/** Call the tool as `token` (none: anonymous) on `url`; the result and its parsed answer. */
async function store(url: string, token: string | undefined, args: Record<string, unknown>) {
  const client = await connect(url, token);
  try {
    const result = await client.call(TOOL, args);
    return { result, answer: JSON.parse(textOf(result)) as Answer, text: textOf(result) };
  } finally {
    await client.close();
  }
}

/** The first error of `promise` (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeDefined();
  return error;
}

const aliceToken = () => ({
  server_name: 'down',
  access_token: aliceDown,
  expires_at: Math.floor(Date.now() / 1000) + 3600,
  scopes: DOWN_SCOPE,
  authorization_server: realm.as.issuer,
  token_type: 'Bearer',
});

describe('workflows-store-credentials', () => {
  test("Alice's token is stored under Alice only and used for her calls; Bob and the app are unaffected", async () => {
    const deposited = aliceToken();
    const { result, answer, text } = await store(agent.running.url, alice, {
      tokens: [deposited],
    });
    expect(result.isError).toBeFalsy();
    expect(answer).toEqual({ success: true, stored_tokens: 1, total_tokens: 1 });
    expect(text).not.toContain(aliceDown);

    // Alice's call uses it at once, with no sign-in (a client that cannot open URLs).
    const aliceClient = await connect(agent.running.url, alice);
    try {
      expect(subOf(await aliceClient.call('down_whoami'))).toBe('alice-down');
    } finally {
      await aliceClient.close();
    }
    expect(realm.server.calls.at(-1)?.token).toBe(aliceDown);

    // Bob has nothing: he is asked to sign in — neither Alice's nor the configured token serves him.
    const callsBefore = realm.server.calls.length;
    const bobClient = await connect(agent.running.url, bob);
    try {
      const error = await failure(bobClient.call('down_whoami'));
      expect(error).toBeInstanceOf(UrlElicitationRequiredError);
    } finally {
      await bobClient.close();
    }
    expect(realm.server.calls.length).toBe(callsBefore);

    const view = openStore(storeDir.path);
    try {
      const byIdentity = await recordsByIdentity(view);
      const aliceRecords = byIdentity.get(inbound.identity('alice')) ?? [];
      expect(aliceRecords).toHaveLength(1);
      expect(aliceRecords[0]?.accessToken.reveal()).toBe(aliceDown);
      expect(aliceRecords[0]?.issuer).toBe(realm.as.issuer);
      expect(aliceRecords[0]?.scopes).toEqual([DOWN_SCOPE]);
      // expires_at is epoch seconds; the record keeps milliseconds.
      expect(aliceRecords[0]?.expiresAt).toBe(deposited.expires_at * 1000);
      expect(byIdentity.has(inbound.identity('bob'))).toBe(false);
      for (const record of byIdentity.get('app') ?? []) {
        expect(record.accessToken.reveal()).not.toBe(aliceDown);
      }
    } finally {
      await view.close();
    }
  });

  test('a token from another authorization server is refused per token; nothing stored is an error', async () => {
    const { result, answer, text } = await store(agent.running.url, bob, {
      tokens: [{ ...aliceToken(), authorization_server: inbound.as.issuer }],
    });
    expect(result.isError).toBe(true);
    expect(answer.success).toBe(false);
    expect(answer.stored_tokens).toBe(0);
    expect(answer.total_tokens).toBe(1);
    expect(answer.partial_success).toBeUndefined();
    expect(answer.errors).toEqual([
      { index: 0, server_name: 'down', error: expect.stringContaining(realm.as.issuer) },
    ]);
    expect(text).not.toContain(aliceDown);
    const view = openStore(storeDir.path);
    try {
      expect((await recordsByIdentity(view)).has(inbound.identity('bob'))).toBe(false);
    } finally {
      await view.close();
    }
  });

  test('a trailing slash on the authorization server is the same issuer', async () => {
    const carol = (await userTokens(inbound.as.issuer, inbound.resource, 'carol')).accessToken;
    const { answer } = await store(agent.running.url, carol, {
      tokens: [{ ...aliceToken(), authorization_server: `${realm.as.issuer}/` }],
    });
    expect(answer).toEqual({ success: true, stored_tokens: 1, total_tokens: 1 });
  });

  test('one good token and one bad: partial success, the error names the bad one by index', async () => {
    const dave = (await userTokens(inbound.as.issuer, inbound.resource, 'dave')).accessToken;
    const { result, answer } = await store(agent.running.url, dave, {
      tokens: [
        aliceToken(),
        { ...aliceToken(), authorization_server: 'https://elsewhere.example' },
        { ...aliceToken(), server_name: 'nowhere' },
        { ...aliceToken(), token_type: 'DPoP' },
      ],
    });
    expect(result.isError).toBeFalsy();
    expect(answer.success).toBe(true);
    expect(answer.partial_success).toBe(true);
    expect(answer.stored_tokens).toBe(1);
    expect(answer.total_tokens).toBe(4);
    expect(answer.errors?.map((error) => [error.index, error.server_name])).toEqual([
      [1, 'down'],
      [2, 'nowhere'],
      [3, 'down'],
    ]);
    expect(answer.errors?.[1]?.error).toContain('nowhere');
  });

  test('an unknown server, a bad argument or an unknown workflow is an error', async () => {
    const unknown = await store(agent.running.url, bob, {
      tokens: [{ server_name: 'nowhere', access_token: 'x' }],
    });
    expect(unknown.result.isError).toBe(true);
    expect(unknown.answer.success).toBe(false);
    expect(unknown.answer.errors?.[0]?.error).toMatch(/not a server of this agent/);

    const empty = await store(agent.running.url, bob, { tokens: [] });
    expect(empty.result.isError).toBe(true);
    expect(empty.answer.success).toBe(false);

    const workflow = await store(agent.running.url, bob, {
      workflow_name: 'nope',
      tokens: [aliceToken()],
    });
    expect(workflow.result.isError).toBe(true);
    expect(workflow.answer.error).toContain('nope');
    const view = openStore(storeDir.path);
    try {
      expect((await recordsByIdentity(view)).has(inbound.identity('bob'))).toBe(false);
    } finally {
      await view.close();
    }
  });

  test('an anonymous caller (authorization off) is refused and nothing becomes the app’s', async () => {
    const dir = tempStoreDir();
    const open = await serveAgent(
      delegatedSettings({ realm, oauth: { token_store: { backend: 'file', path: dir.path } } }),
    );
    try {
      const { result, answer } = await store(open.running.url, undefined, {
        tokens: [aliceToken()],
      });
      expect(result.isError).toBe(true);
      expect(answer.success).toBe(false);
      expect(answer.error).toMatch(/authenticated caller/);
      const view = openStore(dir.path);
      try {
        expect((await view.list()).length).toBe(0);
      } finally {
        await view.close();
      }
    } finally {
      await open.close();
      dir.cleanup();
    }
  });
});

describe('shared_preconfigured_token', () => {
  test('false (default): a caller with no token of their own is asked to sign in, the configured one is not sent', async () => {
    const erin = (await userTokens(inbound.as.issuer, inbound.resource, 'erin')).accessToken;
    const client = await connect(agent.running.url, erin);
    try {
      const error = await failure(client.call('down_whoami'));
      expect(error).toBeInstanceOf(UrlElicitationRequiredError);
    } finally {
      await client.close();
    }
    expect(realm.server.requests.map((entry) => entry.token)).not.toContain(appDown);
  });

  test('true: the configured token serves every caller (the downstream sees its user); no store tool', async () => {
    const dir = tempStoreDir();
    const shared = await serveAgent(
      delegatedSettings({
        realm,
        inbound,
        oauth: { token_store: { backend: 'file', path: dir.path } },
        serverOAuth: { access_token: appDown, shared_preconfigured_token: true },
      }),
    );
    try {
      // The inbound tokens name inbound.resource; this agent listens elsewhere but checks the same
      // audience (a second replica behind the same public URL).
      const client = await connect(shared.running.url, bob);
      try {
        const result = await client.call('down_whoami');
        expect(result.isError).toBeFalsy();
        expect(subOf(result)).toBe('app-down');
        expect(realm.server.calls.at(-1)?.token).toBe(appDown);
        const tools = (await client.client.listTools()).tools.map((tool) => tool.name);
        expect(tools).toContain('down_whoami');
        expect(tools).not.toContain(TOOL);
      } finally {
        await client.close();
      }
    } finally {
      await shared.close();
      dir.cleanup();
    }
  });
});
