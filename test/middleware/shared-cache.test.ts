/**
 * Middleware replicas share verifications as `serve`'s do: with the settings' token store on
 * Redis, a token one replica verified is accepted by another while the authorization server is
 * gone, and Redis holds its hash, never the token.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, expect } from 'vitest';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { startDevAuthorizationServer } from '../../src/dev/authorization-server.js';
import { createMcpAuth, type McpAuth } from '../../src/middleware/index.js';
import { userTokens } from '../server/serve-support.js';
import { deleteRedisKeys, rawRedis } from '../support/redis-server.js';
import { REDIS_URL, redisService, testWith } from '../support/services.js';

const redis = await redisService();
const PREFIX = `mcp-agent-test-middleware-${randomUUID()}`;
const RESOURCE = 'http://127.0.0.1:1/mcp';
const replicas: McpAuth[] = [];

afterAll(async () => {
  for (const replica of replicas) await replica.close();
  if (redis.available) await deleteRedisKeys(REDIS_URL, PREFIX);
});

testWith(redis)(
  'a token verified by one replica is accepted by another with the issuer gone; Redis holds no token',
  async () => {
    const as = await startDevAuthorizationServer({ port: 0, resources: [RESOURCE] });
    const settings = settingsSchema.parse({
      oauth: { token_store: { backend: 'redis', redis_url: REDIS_URL, redis_prefix: PREFIX } },
      authorization: {
        enabled: true,
        issuer_url: as.issuer,
        resource_server_url: RESOURCE,
        expected_audiences: [RESOURCE],
      },
    });
    const [a, b] = [await createMcpAuth({ settings }), await createMcpAuth({ settings })];
    replicas.push(a, b);
    const { accessToken } = await userTokens(as.issuer, RESOURCE, 'alice');
    const request = {
      method: 'GET',
      url: '/mcp',
      headers: { authorization: `Bearer ${accessToken}` },
    };
    expect((await a.authenticate(request)).action).toBe('next');
    await as.close();
    const outcome = await b.authenticate(request);
    expect(outcome.action === 'next' && outcome.caller.subject).toBe('alice');

    const client = await rawRedis(REDIS_URL);
    try {
      const keys = await client.keys(`${PREFIX}*`);
      expect(keys.some((key) => key.includes(':verify'))).toBe(true);
      for (const key of keys) {
        expect(key).not.toContain(accessToken);
        expect((await client.get(key).catch(() => null)) ?? '').not.toContain(accessToken);
      }
    } finally {
      await client.quit();
    }
  },
  30_000,
);
