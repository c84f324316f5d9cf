/**
 * Replicas: two agents on different ports share the Redis token store and one public callback
 * (`oauth.callback_base_url`, replica B). A call on replica A asks the caller to sign in; the
 * browser lands on B's callback; A's call completes with the token B stored, and either replica
 * then serves the caller without another sign-in. Skipped when Redis does not answer.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { userTokens } from '../server/serve-support.js';
import { deleteRedisKeys, rawRedis } from '../support/redis-server.js';
import { describeWith, REDIS_URL, redisService } from '../support/services.js';
import {
  connect,
  delegatedSettings,
  type Inbound,
  type Realm,
  type ServedAgent,
  serveAgent,
  startInbound,
  startRealm,
  subOf,
} from './delegated-support.js';

const redis = await redisService();
const PREFIX = `mcp-agent-test-delegated-${randomUUID()}`;

let inbound: Inbound;
let realm: Realm;
let replicaA: ServedAgent;
let replicaB: ServedAgent;

describeWith(redis)('replicas sharing a Redis token store', () => {
  beforeAll(async () => {
    inbound = await startInbound();
    realm = await startRealm();
    // B listens where the inbound tokens point (the public address), and is the callback.
    const publicOrigin = `http://127.0.0.1:${inbound.port}`;
    const settings = delegatedSettings({
      realm,
      inbound,
      oauth: {
        callback_base_url: publicOrigin,
        token_store: { backend: 'redis', redis_url: REDIS_URL, redis_prefix: PREFIX },
      },
    });
    replicaB = await serveAgent(settings, inbound.port);
    replicaA = await serveAgent(settings, 0);
  }, 30_000);

  afterAll(async () => {
    await replicaA?.close();
    await replicaB?.close();
    await realm?.close();
    await inbound?.as.close();
    if (redis.available) await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  test("the sign-in asked on replica A lands on B's callback; A's call completes; both serve the caller after", async () => {
    expect(replicaA.running.port).not.toBe(replicaB.running.port);
    const token = (await userTokens(inbound.as.issuer, inbound.resource, 'alice')).accessToken;
    const onA = await connect(replicaA.running.url, token, { signInAs: 'alice-down' });
    try {
      const result = await onA.call('down_whoami');
      expect(result.isError).toBeFalsy();
      expect(subOf(result)).toBe('alice-down');
      const request = onA.log.requests[0];
      const url = new URL(request?.mode === 'url' ? request.url : '');
      // The sign-in check and the callback are both at callback_base_url (replica B).
      expect(url.origin + url.pathname).toBe(`${replicaB.origin}/internal/oauth/connect`);
      const landed = onA.log.pages[0];
      expect(landed?.finalUrl.origin).toBe(replicaB.origin);
      expect(landed?.status).toBe(200);
      expect(landed?.body).toContain('Signed in');
    } finally {
      await onA.close();
    }

    // B has the token too (same store): no sign-in there.
    const onB = await connect(replicaB.running.url, token, { signInAs: 'alice-down' });
    try {
      expect(subOf(await onB.call('down_whoami'))).toBe('alice-down');
      expect(onB.log.requests).toHaveLength(0);
    } finally {
      await onB.close();
    }

    // Redis holds Alice's record and no pending flow is left.
    const redis = await rawRedis(REDIS_URL);
    try {
      const keys: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 500 })) {
        keys.push(...(Array.isArray(batch) ? batch.map(String) : [String(batch)]));
      }
      const alice = encodeURIComponent(inbound.identity('alice'));
      expect(keys.some((key) => key.includes(`${alice}:down:`))).toBe(true);
      expect(keys.some((key) => key.includes(`${encodeURIComponent('app')}:down:`))).toBe(false);
      expect(keys.some((key) => key.includes('#flow:'))).toBe(false);
    } finally {
      redis.destroy();
    }
  });

  test('a caller signed in through A is not signed in for another caller on B', async () => {
    const bob = (await userTokens(inbound.as.issuer, inbound.resource, 'bob')).accessToken;
    const onB = await connect(replicaB.running.url, bob, { signInAs: 'bob-down' });
    try {
      expect(subOf(await onB.call('down_whoami'))).toBe('bob-down');
      expect(onB.log.requests).toHaveLength(1);
    } finally {
      await onB.close();
    }
  });
});
