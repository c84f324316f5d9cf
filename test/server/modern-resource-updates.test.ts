/**
 * Resource subscriptions through `serve` to a 2026-07-28 downstream server (SEP-2575): it has no
 * `resources/subscribe`, so `serve` names the URIs its sessions subscribed to in the
 * `resourceSubscriptions` of a `subscriptions/listen` stream, and the server's
 * `notifications/resources/updated` on that stream reach a 2025-11-25 session as they would from
 * a 2025-11-25 server. Unsubscribing takes the URI out of the stream's filter.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type DualEraServer, startDualEraServer } from '../support/dual-era-server.js';
import {
  connectV2,
  resourceUpdates,
  type ServedApp,
  startServedApp,
  type UserTokens,
  userTokens,
} from './serve-support.js';

const FIRST = 'dual://watched/first';
const SECOND = 'dual://watched/second';

let served: ServedApp;
let down: DualEraServer;
let alice: UserTokens;
const clients: Client[] = [];

beforeAll(async () => {
  down = await startDualEraServer({ watched: [FIRST, SECOND] });
  served = await startServedApp({
    servers: { modern: { transport: 'streamable_http', url: down.url, protocol: '2026-07-28' } },
  });
  alice = await userTokens(served.as.issuer, served.resource, 'alice');
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await served?.close();
  await down?.close();
});

/** A 2025-11-25 session to `serve` and the URIs of the updates it receives, in order. */
async function session(): Promise<{
  client: Client;
  updates: string[];
  next: () => Promise<void>;
}> {
  const client = await connectV2(served, alice.accessToken, 'legacy', 'updates-test');
  clients.push(client);
  return { client, ...resourceUpdates(client) };
}

/** How many `subscriptions/listen` requests the downstream server answered so far. */
const listens = () => down.requests.filter((request) => request.method === 'subscriptions/listen');

test('a 2025-11-25 session subscribes to a 2026-07-28 server resource and hears of its update', async () => {
  const { client, updates, next } = await session();
  await client.subscribeResource({ uri: FIRST });
  const heard = next();
  down.notify.resourceUpdated(FIRST);
  await heard;
  expect(updates).toEqual([FIRST]);
  await client.unsubscribeResource({ uri: FIRST });
});

test('unsubscribing takes the URI out of the stream: its updates stop, the others go on', async () => {
  const { client, updates, next } = await session();
  await client.subscribeResource({ uri: FIRST });
  await client.subscribeResource({ uri: SECOND });
  const before = listens().length;
  await client.unsubscribeResource({ uri: FIRST });
  // The stream is opened again with SECOND only.
  expect(listens().length).toBe(before + 1);
  const heard = next();
  // Announced in this order on one stream: had FIRST come, it would have come before SECOND.
  down.notify.resourceUpdated(FIRST);
  down.notify.resourceUpdated(SECOND);
  await heard;
  expect(updates).toEqual([SECOND]);
  await client.unsubscribeResource({ uri: SECOND });
  // No URI is watched any more: a subscription opens a stream anew.
  const afterLast = listens().length;
  await client.subscribeResource({ uri: FIRST });
  expect(listens().length).toBe(afterLast + 1);
  const again = next();
  down.notify.resourceUpdated(FIRST);
  await again;
  expect(updates).toEqual([SECOND, FIRST]);
  await client.unsubscribeResource({ uri: FIRST });
});

test('a stream the server lost counts as an update, and is opened again', async () => {
  const { client, updates, next } = await session();
  await client.subscribeResource({ uri: FIRST });
  const lost = next();
  await down.restartModern();
  // What changed while no stream was open was not heard: the session is told to read again.
  await lost;
  expect(updates).toEqual([FIRST]);
  // Changes of the set wait for the stream opened again, so this one names both URIs.
  await client.subscribeResource({ uri: SECOND });
  const heard = next();
  down.notify.resourceUpdated(FIRST);
  await heard;
  expect(updates).toEqual([FIRST, FIRST]);
  await client.unsubscribeResource({ uri: FIRST });
  await client.unsubscribeResource({ uri: SECOND });
});
