/**
 * Replicas share verifications: two apps ("replicas") with the Redis token store verify an opaque
 * token once between them (one introspection), keep no raw token in Redis, and a replica whose
 * Redis is away still verifies on its own.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type App, createApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { deleteRedisKeys, rawRedis } from '../support/redis-server.js';
import { describeWith, REDIS_URL, redisService } from '../support/services.js';
import { type FakeServer, send, startFakeServer } from './fixtures.js';

const redis = await redisService();
const PREFIX = `mcp-agent-test-replicas-${randomUUID()}`;
const RESOURCE = 'http://127.0.0.1/mcp';

let issuer: FakeServer;
const apps: App[] = [];

function settingsFor(redisUrl: string) {
  return settingsSchema.parse({
    oauth: { token_store: { backend: 'redis', redis_url: redisUrl, redis_prefix: PREFIX } },
    authorization: {
      enabled: true,
      issuer_url: issuer.origin,
      jwks_uri: issuer.url('/jwks'),
      introspection_endpoint: issuer.url('/introspect'),
      introspection_client_id: 'rs',
      introspection_client_secret: 'rs-secret',
      resource_server_url: RESOURCE,
      expected_audiences: [RESOURCE],
      required_scopes: ['mcp:tools'],
    },
  });
}

async function authenticate(app: App, token: string) {
  if (!app.guard) throw new Error('authorization is off');
  return app.guard.authenticate({ authorization: [`Bearer ${token}`] });
}

beforeAll(async () => {
  issuer = await startFakeServer((request, res) => {
    if (request.path === '/jwks') return send(res, 200, { keys: [] });
    send(res, 200, {
      active: true,
      iss: issuer.origin,
      sub: 'alice',
      aud: RESOURCE,
      scope: 'mcp:tools',
      exp: Math.floor(Date.now() / 1000) + 600,
    });
  });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await issuer?.close();
  if (redis.available) await deleteRedisKeys(REDIS_URL, PREFIX);
});

describeWith(redis)('verifications shared through Redis', () => {
  test('two replicas: one introspection for one token; Redis holds its hash, never the token', async () => {
    const a = await createApp({ settings: settingsFor(REDIS_URL), env: {} });
    const b = await createApp({ settings: settingsFor(REDIS_URL), env: {} });
    apps.push(a, b);
    const token = `opaque-canary-${randomUUID()}`;
    const before = issuer.count('/introspect');
    expect(await authenticate(a, token)).toMatchObject({ ok: true });
    expect(await authenticate(b, token)).toMatchObject({
      ok: true,
      identity: { subject: 'alice', scopes: ['mcp:tools'] },
    });
    expect(issuer.count('/introspect') - before).toBe(1);

    const redis = await rawRedis(REDIS_URL);
    try {
      const keys = await redis.keys(`${PREFIX}*`);
      expect(keys.some((key) => key.includes(':verify'))).toBe(true);
      for (const key of keys) {
        expect(key).not.toContain(token);
        const value = await redis.get(key).catch(() => null);
        expect(value ?? '').not.toContain(token);
      }
    } finally {
      await redis.quit();
    }
  });

  test('a replica whose Redis is unreachable verifies on its own', async () => {
    // Port 9 (discard) on loopback: nothing listens, connections are refused at once.
    const app = await createApp({ settings: settingsFor('redis://127.0.0.1:9'), env: {} });
    apps.push(app);
    const before = issuer.count('/introspect');
    const token = `opaque-${randomUUID()}`;
    expect(await authenticate(app, token)).toMatchObject({ ok: true });
    expect(await authenticate(app, token)).toMatchObject({ ok: true });
    // The local cache still works: one introspection.
    expect(issuer.count('/introspect') - before).toBe(1);
  });
});
