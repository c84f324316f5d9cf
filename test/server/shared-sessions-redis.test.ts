/**
 * Shared sessions while Redis goes away: one app on a private `redis-server` (with a password),
 * served by two handlers ("replicas" A and B, each with its own session table). Redis killed
 * mid-session: each request that needs the session's record gets a 503 naming the store, and no
 * secret; Redis back (restarted empty, as one without persistence is): the replica holding the
 * session writes its record again and the session goes on, on every replica.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type App, createApp, type RunningApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { SESSION_STORE_UNAVAILABLE_MESSAGE } from '../../src/server/shared-sessions.js';
import { waitFor } from '../support/net.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { describeWith, redisServerBinary } from '../support/services.js';
import { mcpHeaders, raw, rpc } from './serve-support.js';

const PASSWORD = 'redis-secret-of-the-replicas-5t7u';
const PASSPHRASE = 'a passphrase of the replicas, long enough';

let redis: RedisServer;
let app: App;
let running: RunningApp;
let handlerB: HttpServer;
let urlA: string;
let urlB: string;

/** A request of session `id` (or an `initialize` without one) on `url`. */
function post(url: string, body: string, id?: string) {
  return raw(url, {
    method: 'POST',
    headers: mcpHeaders(undefined, {
      host: new URL(url).host,
      ...(id ? { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' } : {}),
    }),
    body,
  });
}

const whoami = () => rpc('tools/call', { name: 'where', arguments: {} });

describeWith(redisServerBinary)('shared sessions while Redis goes away', () => {
  beforeAll(async () => {
    redis = await startRedisServer({ password: PASSWORD });
    app = await createApp({
      settings: settingsSchema.parse({
        oauth: {
          token_store: {
            backend: 'redis',
            redis_url: redis.url,
            redis_prefix: 'shared-sessions-redis',
            encryption_key: PASSPHRASE,
          },
        },
      }),
      setup: (builder) => {
        builder.tool('where', {}, async () => 'here');
      },
      env: {},
    });
    running = await app.listen({ host: '127.0.0.1', port: 0 });
    urlA = running.url;
    handlerB = createServer(app.createHandler());
    await new Promise<void>((listening) => handlerB.listen(0, '127.0.0.1', listening));
    urlB = `http://127.0.0.1:${(handlerB.address() as AddressInfo).port}/mcp`;
  }, 30_000);

  afterAll(async () => {
    handlerB?.closeAllConnections();
    await new Promise((closed) => handlerB?.close(closed));
    await app?.close();
    await redis?.stop();
  });

  test('a 503 naming the store while it is away; the session goes on once it is back', async () => {
    const opened = await post(
      urlA,
      rpc('initialize', {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'redis-away', version: '1.0.0' },
      }),
    );
    expect(opened.status).toBe(200);
    const id = String(opened.headers['mcp-session-id']);
    expect((await post(urlB, whoami(), id)).status).toBe(200);

    await redis.kill();
    for (const url of [urlA, urlB]) {
      const refused = await post(url, whoami(), id);
      expect(refused.status).toBe(503);
      expect(refused.body).toContain(SESSION_STORE_UNAVAILABLE_MESSAGE);
      expect(refused.body).not.toContain(PASSWORD);
    }

    await redis.restart();
    // A holds the session: once its client has reconnected, the record (lost with Redis's data)
    // is written again…
    const statuses: number[] = [];
    await waitFor(
      'the session to answer on A again',
      async () => {
        statuses.push((await post(urlA, whoami(), id)).status);
        return statuses.at(-1) === 200 || undefined;
      },
      10_000,
    );
    expect(new Set(statuses)).toEqual(new Set(statuses.length > 1 ? [503, 200] : [200]));
    // … and B, which holds it too, finds it again.
    const onB = await post(urlB, whoami(), id);
    expect(onB.status).toBe(200);
    expect(onB.body).toContain('here');
  }, 30_000);
});
