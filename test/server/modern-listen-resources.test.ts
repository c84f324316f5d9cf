/**
 * Resource subscriptions of a 2026-07-28 caller's own `subscriptions/listen` stream to `serve`
 * (SEP-2575): the URIs its filter names are subscribed to downstream while the stream is open,
 * their `notifications/resources/updated` reach that stream alone (not another caller's stream
 * that did not name them), and closing the stream ends the downstream subscription. A URI the
 * caller may not read needs its scopes as a 2025-11-25 `resources/subscribe` does.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { contentRequests } from '../../src/server/http-body.js';
import { type DualEraServer, startDualEraServer } from '../support/dual-era-server.js';
import { waitFor } from '../support/net.js';
import {
  connectV2,
  resourceUpdates,
  type ServedApp,
  startServedApp,
  userTokens,
} from './serve-support.js';

const FIRST = 'dual://watched/first';
const SECOND = 'dual://watched/second';
/** Needs a scope the test users' tokens lack. */
const SECRET = 'dual://watched/secret';

let served: ServedApp;
let down: DualEraServer;
const clients: Client[] = [];

beforeAll(async () => {
  down = await startDualEraServer({ watched: [FIRST, SECOND] });
  served = await startServedApp({
    servers: { modern: { transport: 'streamable_http', url: down.url, protocol: '2026-07-28' } },
    authorization: { resource_scopes: { [SECRET]: ['mcp:admin'] } },
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await served?.close();
  await down?.close();
});

/** A 2026-07-28 client of `user` and the URIs of the updates it receives, in order. */
async function listener(user: string) {
  const tokens = await userTokens(served.as.issuer, served.resource, user);
  const client = await connectV2(served, tokens.accessToken, { pin: '2026-07-28' }, 'res-test');
  clients.push(client);
  return { client, ...resourceUpdates(client) };
}

/** How many `subscriptions/listen` requests the downstream server answered so far. */
const listens = () => down.requests.filter((request) => request.method === 'subscriptions/listen');

test('a listen stream hears of the URIs it named, another caller of its own only', async () => {
  const alice = await listener('alice');
  const bob = await listener('bob');
  const first = await alice.client.listen({ resourceSubscriptions: [FIRST, 'dual://unknown'] });
  expect(first.honoredFilter.resourceSubscriptions).toEqual([FIRST, 'dual://unknown']);
  const second = await bob.client.listen({ resourceSubscriptions: [SECOND] });
  const aliceHeard = alice.next();
  const bobHeard = bob.next();
  // In this order on serve's one stream to the server: FIRST is handled before SECOND.
  down.notify.resourceUpdated(FIRST);
  down.notify.resourceUpdated(SECOND);
  await Promise.all([aliceHeard, bobHeard]);
  expect(alice.updates).toEqual([FIRST]);
  expect(bob.updates).toEqual([SECOND]);
  // Closing alice's stream takes FIRST out of serve's stream to the server (opened anew).
  const before = listens().length;
  await first.close();
  await waitFor('the downstream stream without FIRST', () =>
    listens().length > before ? true : undefined,
  );
  const bobAgain = bob.next();
  down.notify.resourceUpdated(FIRST);
  down.notify.resourceUpdated(SECOND);
  await bobAgain;
  expect(bob.updates).toEqual([SECOND, SECOND]);
  expect(alice.updates).toEqual([FIRST]);
  await second.close();
});

test('two streams naming one URI: both hear of it, the last one to close ends it downstream', async () => {
  const one = await listener('alice');
  const two = await listener('alice');
  const a = await one.client.listen({ resourceSubscriptions: [FIRST] });
  const before = listens().length;
  const b = await two.client.listen({ resourceSubscriptions: [FIRST] });
  // The second stream needs no new downstream subscription.
  expect(listens().length).toBe(before);
  const heard = Promise.all([one.next(), two.next()]);
  down.notify.resourceUpdated(FIRST);
  await heard;
  expect([one.updates, two.updates]).toEqual([[FIRST], [FIRST]]);
  await a.close();
  await b.close();
  // Nothing is watched any more: naming FIRST again subscribes to it downstream anew.
  await waitFor('the last stream to end', async () => {
    const mark = listens().length;
    const probe = await one.client.listen({ resourceSubscriptions: [FIRST] });
    await probe.close();
    return listens().length > mark ? true : undefined;
  });
});

test('a URI named in a listen filter needs the scopes its resources/subscribe needs', async () => {
  const { client } = await listener('alice');
  const before = listens().length;
  await expect(client.listen({ resourceSubscriptions: [FIRST, SECRET] })).rejects.toThrow(
    /Insufficient scope/,
  );
  expect(listens().length).toBe(before);
  const body = {
    jsonrpc: '2.0',
    id: 1,
    method: 'subscriptions/listen',
    params: { notifications: { toolsListChanged: true, resourceSubscriptions: [SECRET, 3] } },
  };
  expect(contentRequests(body)).toEqual([
    { method: 'resources/subscribe', params: { uri: SECRET } },
  ]);
  expect(contentRequests({ ...body, method: 'tools/list' })).toEqual([]);
});
