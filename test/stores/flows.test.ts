/**
 * Pending authorization flows and grant events on the token store's backends (memory, file, and a
 * private redis-server when one is installed): once-only take under concurrency (also from two
 * store instances on the same backing), state matching, expiry on an injected clock, sealing at
 * rest, and the last background event per identity and server.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { oauthSchema } from '../../src/config/schema/oauth.js';
import { Secret } from '../../src/config/secret.js';
import { EVENT_KEY_PREFIX, EVENT_TTL_MS } from '../../src/stores/events.js';
import { FileKeyValueStore } from '../../src/stores/file.js';
import {
  FLOW_KEY_PREFIX,
  flowIdOf,
  newFlowState,
  type PendingFlow,
} from '../../src/stores/flows.js';
import type { KeyValueStore } from '../../src/stores/kv.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RedisKeyValueStore } from '../../src/stores/redis.js';
import { Sealer } from '../../src/stores/seal.js';
import { createTokenStore, TokenStore } from '../../src/stores/token-store.js';
import { tempTree } from '../helpers/cli.js';
import { type ManualClock, manualClock } from '../support/clock.js';
import { type RedisServer, rawRedis, startRedisServer } from '../support/redis-server.js';
import { type Requirement, redisServerBinary, testWith } from '../support/services.js';

const VERIFIER = 'CANARY-code-verifier-7f3k9q2m5x8w1z4v6b0n3c7d9e2r5t8y1u4i6o0p3a5s';
const STATE_SECRET = 'CANARY-state-secret-4h8j2l6n0q';
const PASSPHRASE = 'CANARY-flows-passphrase-long-enough';
const SEALER = new Sealer(new Secret(PASSPHRASE));
const OTHER_SEALER = new Sealer(new Secret('CANARY-another-passphrase-long'));
const TIMEOUT_MS = 300_000;

/** A pending flow created at `now`; a fresh random state unless `state` is given. */
function flow(now: number, overrides: Partial<PendingFlow> & { state?: Secret } = {}): PendingFlow {
  const fresh = newFlowState();
  const state = overrides.state?.reveal() ?? fresh.state;
  const flowId = state.split('.')[0] ?? fresh.flowId;
  return {
    flowId,
    state: new Secret(state),
    codeVerifier: new Secret(VERIFIER),
    server: 'notion',
    identity: 'app',
    issuer: 'https://as.example.com',
    clientId: 'client-1',
    redirectUri: 'http://127.0.0.1:33418/callback',
    scopes: ['mcp:read', 'mcp:write'],
    authorizationUrl: `https://as.example.com/auth?state=${encodeURIComponent(state)}`,
    createdAt: now,
    expiresAt: now + TIMEOUT_MS,
    ...overrides,
  };
}

/** One backing shared by every key-value store it opens, and what it holds raw. */
interface Backing {
  /** A new store instance on the same backing (another "process" for file and redis). */
  kv(): KeyValueStore;
  /** Everything stored, as text. */
  raw(): Promise<string>;
}

interface Backend {
  readonly name: string;
  /** What the backend needs beyond Node (test/support/services.ts). */
  readonly needs: readonly Requirement[];
  create(clock: ManualClock): Backing;
}

const opened: KeyValueStore[] = [];
const trees: ReturnType<typeof tempTree>[] = [];
let redis: RedisServer | undefined;

beforeAll(async () => {
  if (redisServerBinary.available) redis = await startRedisServer();
});
afterEach(async () => {
  for (const kv of opened.splice(0)) await kv.close().catch(() => {});
  for (const tree of trees.splice(0)) tree.cleanup();
});
afterAll(async () => {
  await redis?.stop();
});

function track<T extends KeyValueStore>(kv: T): T {
  opened.push(kv);
  return kv;
}

const backends: Backend[] = [
  {
    name: 'memory',
    needs: [],
    create(clock) {
      const kv = new MemoryKeyValueStore({ now: clock.now });
      return {
        kv: () => kv,
        raw: async () => {
          const keys = await kv.keys();
          const values = await Promise.all(keys.map((id) => kv.get(id)));
          return JSON.stringify({ keys, values });
        },
      };
    },
  },
  {
    name: 'file',
    needs: [],
    create(clock) {
      const tree = tempTree();
      trees.push(tree);
      const path = join(tree.dir, 'tokens.json');
      return {
        kv: () => track(new FileKeyValueStore({ path, homeDir: tree.dir, now: clock.now })),
        raw: async () => (existsSync(path) ? readFileSync(path, 'utf8') : ''),
      };
    },
  },
  {
    name: 'redis',
    needs: [redisServerBinary],
    create() {
      const url = redis?.url ?? 'redis://127.0.0.1:1';
      const prefix = `flows-test-${randomBytes(6).toString('hex')}`;
      return {
        kv: () => track(new RedisKeyValueStore({ url, prefix })),
        raw: async () => {
          const client = await rawRedis(url);
          try {
            const keys = await client.keys(`${prefix}:*`);
            const values = await Promise.all(keys.map((key) => client.get(key)));
            return JSON.stringify({ keys, values });
          } finally {
            client.destroy();
          }
        },
      };
    },
  },
];

describe.each(backends)('PendingFlowStore on $name', (backend) => {
  const setup = (sealer?: Sealer) => {
    const clock = manualClock();
    const backing = backend.create(clock);
    /** `null`: no key at all (an `undefined` argument means the setup's key). */
    const open = (with_: Sealer | null = sealer ?? null) =>
      new TokenStore(backing.kv(), { now: clock.now, ...(with_ ? { sealer: with_ } : {}) });
    return { clock, backing, open, store: open() };
  };

  testWith(backend.needs)(
    'put, then peek (repeatable) and take (once): every field comes back',
    async () => {
      const { clock, store, open } = setup();
      const stored = flow(clock.now());
      await store.flows.put(stored);
      const state = stored.state.reveal();
      const peeked = await store.flows.peek(state);
      expect(await store.flows.peek(state)).toBeDefined();
      // Another instance on the same backing sees it too.
      const other = open();
      const taken = await other.flows.take(state);
      for (const found of [peeked, taken]) {
        expect(found).toMatchObject({
          flowId: stored.flowId,
          server: 'notion',
          identity: 'app',
          issuer: stored.issuer,
          clientId: 'client-1',
          redirectUri: stored.redirectUri,
          scopes: ['mcp:read', 'mcp:write'],
          authorizationUrl: stored.authorizationUrl,
          createdAt: stored.createdAt,
          expiresAt: stored.expiresAt,
        });
        expect(found?.state.reveal()).toBe(state);
        expect(found?.codeVerifier.reveal()).toBe(VERIFIER);
      }
      expect(await store.flows.take(state)).toBeUndefined();
      expect(await other.flows.take(state)).toBeUndefined();
      expect(await store.flows.peek(state)).toBeUndefined();
    },
  );

  testWith(backend.needs)(
    '20 concurrent takes of one state (from two store instances): exactly one wins',
    async () => {
      const { clock, open } = setup();
      const first = open();
      const second = open();
      const stored = flow(clock.now());
      await first.flows.put(stored);
      const state = stored.state.reveal();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          (index % 2 === 0 ? first : second).flows.take(state),
        ),
      );
      const winners = results.filter((result) => result !== undefined);
      expect(winners).toHaveLength(1);
      expect(winners[0]?.codeVerifier.reveal()).toBe(VERIFIER);
      expect(await first.flows.peek(state)).toBeUndefined();
    },
  );

  testWith(backend.needs)(
    'a state that is not exactly the flow’s own finds nothing and leaves the flow in place',
    async () => {
      const { clock, store } = setup();
      const stored = flow(clock.now());
      const other = flow(clock.now());
      await store.flows.put(stored);
      await store.flows.put(other);
      const state = stored.state.reveal();
      const [flowId, secret = ''] = state.split('.');
      const wrong = [
        `${flowId}.${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`,
        `${flowId}.${secret.slice(0, -1)}`,
        `${flowId}.`,
        `${flowId}`,
        `${state}x`,
        `${state}.${secret}`,
        // The other flow's secret with this flow's id, and the reverse.
        `${flowId}.${other.state.reveal().split('.')[1]}`,
        `${other.flowId}.${secret}`,
        '',
        'not-a-state',
      ];
      for (const attempt of wrong) {
        expect(await store.flows.peek(attempt), attempt).toBeUndefined();
        expect(await store.flows.take(attempt), attempt).toBeUndefined();
      }
      expect((await store.flows.take(state))?.flowId).toBe(stored.flowId);
      expect((await store.flows.take(other.state.reveal()))?.flowId).toBe(other.flowId);
    },
  );

  testWith(backend.needs)(
    'expiry on the injected clock: there until expiresAt, gone from then on',
    async () => {
      const { clock, store } = setup();
      const stored = flow(clock.now());
      await store.flows.put(stored);
      const state = stored.state.reveal();
      clock.set(stored.expiresAt - 1);
      expect(await store.flows.peek(state)).toBeDefined();
      clock.set(stored.expiresAt);
      expect(await store.flows.peek(state)).toBeUndefined();
      expect(await store.flows.take(state)).toBeUndefined();
    },
  );

  testWith(backend.needs)(
    'sealed: the backend holds neither the verifier nor the state secret; without the key (or with another) nothing is read',
    async () => {
      const { clock, backing, open } = setup(SEALER);
      const sealed = open();
      const flowId = `CANARYflow${randomBytes(6).toString('hex')}`;
      const state = `${flowId}.${STATE_SECRET}`;
      const stored = flow(clock.now(), { state: new Secret(state) });
      expect(stored.flowId).toBe(flowId);
      await sealed.flows.put(stored);
      const raw = await backing.raw();
      expect(raw).toContain('enc:v1:');
      expect(raw).toContain(`${FLOW_KEY_PREFIX}${flowId}`);
      for (const canary of [VERIFIER, STATE_SECRET, PASSPHRASE, 'mcp:write']) {
        expect(raw).not.toContain(canary);
      }
      expect(await open(null).flows.peek(state)).toBeUndefined();
      expect(await open(null).flows.take(state)).toBeUndefined();
      expect(await open(OTHER_SEALER).flows.take(state)).toBeUndefined();
      const taken = await open().flows.take(state);
      expect(taken?.codeVerifier.reveal()).toBe(VERIFIER);
    },
  );

  testWith(backend.needs)(
    'flows and events are internal: list() shows no record for them',
    async () => {
      const { clock, store } = setup();
      await store.flows.put(flow(clock.now()));
      await store.events.record('app', 'notion', { type: 'refreshed', at: clock.now() });
      expect(await store.list()).toEqual([]);
    },
  );
});

describe.each(backends)('GrantEventStore on $name', (backend) => {
  testWith(backend.needs)(
    'record, last, clear: per identity and server; the last record wins',
    async () => {
      const clock = manualClock();
      const backing = backend.create(clock);
      const store = new TokenStore(backing.kv(), { now: clock.now });
      const other = new TokenStore(backing.kv(), { now: clock.now });
      expect(await store.events.last('app', 'notion')).toBeUndefined();
      await store.events.record('app', 'notion', {
        type: 'failed',
        at: 1_000,
        message: 'The token endpoint answered 503.',
        retryAt: 3_000,
      });
      expect(await other.events.last('app', 'notion')).toEqual({
        type: 'failed',
        at: 1_000,
        message: 'The token endpoint answered 503.',
        retryAt: 3_000,
      });
      await store.events.record('app', 'notion', { type: 'refreshed', at: 2_000 });
      expect(await other.events.last('app', 'notion')).toEqual({ type: 'refreshed', at: 2_000 });
      // Names that would collide if the key were built naively.
      await store.events.record('app:notion', 'x', { type: 'needs-login', at: 5, message: 'm' });
      expect(await store.events.last('app', 'notion:x')).toBeUndefined();
      expect(await store.events.last('bob', 'notion')).toBeUndefined();
      expect(await store.events.last('app', 'github')).toBeUndefined();
      expect((await store.events.last('app:notion', 'x'))?.type).toBe('needs-login');
      await other.events.clear('app', 'notion');
      expect(await store.events.last('app', 'notion')).toBeUndefined();
      expect((await store.events.last('app:notion', 'x'))?.type).toBe('needs-login');
      // Clearing what is not there is fine.
      await other.events.clear('app', 'notion');
    },
  );
});

describe('GrantEventStore details (memory)', () => {
  const eventId = (identity: string, server: string) =>
    `${EVENT_KEY_PREFIX}${encodeURIComponent(identity)}:${encodeURIComponent(server)}`;

  test('a stored value that is not an event reads as undefined', async () => {
    const clock = manualClock();
    const kv = new MemoryKeyValueStore({ now: clock.now });
    const store = new TokenStore(kv, { now: clock.now });
    await store.events.record('app', 'notion', { type: 'refreshed', at: 1 });
    expect(await store.events.last('app', 'notion')).toEqual({ type: 'refreshed', at: 1 });
    const id = eventId('app', 'notion');
    expect(await kv.get(id)).toBeDefined();
    for (const bad of [
      'not json',
      '{"v":2,"type":"refreshed","at":1}',
      '{"v":1,"type":"exploded","at":1}',
      '{"v":1,"type":"refreshed","at":"yesterday"}',
      '[]',
      'null',
    ]) {
      await kv.set(id, bad);
      expect(await store.events.last('app', 'notion'), bad).toBeUndefined();
    }
  });

  test('a long message is cut to 2000 characters; events expire after 7 days', async () => {
    const clock = manualClock();
    const store = new TokenStore(new MemoryKeyValueStore({ now: clock.now }), { now: clock.now });
    await store.events.record('app', 'notion', {
      type: 'failed',
      at: clock.now(),
      message: 'x'.repeat(3000),
    });
    expect((await store.events.last('app', 'notion'))?.message).toHaveLength(2000);
    clock.advance(EVENT_TTL_MS - 1);
    expect(await store.events.last('app', 'notion')).toBeDefined();
    clock.advance(1);
    expect(await store.events.last('app', 'notion')).toBeUndefined();
  });
});

describe('flow ids and states', () => {
  test('newFlowState: a state FLOW_ID.SECRET whose id flowIdOf finds; each one new', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { flowId, state } = newFlowState();
      expect(state.startsWith(`${flowId}.`)).toBe(true);
      expect(state.length).toBeGreaterThan(flowId.length + 40);
      expect(flowIdOf(state)).toBe(flowId);
      seen.add(state);
    }
    expect(seen.size).toBe(50);
  });

  test('flowIdOf rejects junk', () => {
    for (const junk of [
      undefined,
      null,
      '',
      '.',
      '.secret',
      'short.secret',
      'a'.repeat(15),
      `${'a'.repeat(65)}.secret`,
      'has space in it!!.secret',
      'slash/slash/slash/.secret',
      '%2e%2e%2f%2e%2e%2fetc.secret',
      'ünïcödeünïcödeünïcöde.secret',
    ]) {
      expect(flowIdOf(junk), String(junk)).toBeUndefined();
    }
    expect(flowIdOf(`${'a'.repeat(16)}.x`)).toBe('a'.repeat(16));
    expect(flowIdOf(`${'A_-9'.repeat(16)}.x.y`)).toBe('A_-9'.repeat(16));
  });

  test('put refuses a flow whose id is not one of ours', async () => {
    const store = new TokenStore(new MemoryKeyValueStore());
    await expect(
      store.flows.put({ ...flow(Date.now()), flowId: '../../etc/passwd' }),
    ).rejects.toThrow('invalid flow id');
  });

  test('createTokenStore (file, encryption_key, cwd, now): flows are sealed and expire on its clock', async () => {
    const tree = tempTree();
    trees.push(tree);
    const clock = manualClock();
    const settings = oauthSchema.parse({
      token_store: { backend: 'file', path: './tokens.json', encryption_key: PASSPHRASE },
    }).token_store;
    const store = createTokenStore(settings, { cwd: tree.dir, homeDir: tree.dir, now: clock.now });
    const stored = flow(clock.now());
    await store.flows.put(stored);
    const raw = readFileSync(join(tree.dir, 'tokens.json'), 'utf8');
    expect(raw).not.toContain(VERIFIER);
    expect(raw).not.toContain(stored.state.reveal().split('.')[1]);
    const second = createTokenStore(settings, { cwd: tree.dir, homeDir: tree.dir, now: clock.now });
    expect((await second.flows.peek(stored.state.reveal()))?.codeVerifier.reveal()).toBe(VERIFIER);
    clock.advance(TIMEOUT_MS);
    expect(await second.flows.take(stored.state.reveal())).toBeUndefined();
    await store.close();
    await second.close();
  });
});
