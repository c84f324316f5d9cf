/**
 * The one downstream subscription per connection and URI follows its subscribers, one request at
 * a time: a session that ends while its subscribe is in flight leaves nothing subscribed (the
 * unsubscribe goes out after the subscribe), a second subscriber is answered once the
 * subscription is in place, everyone waiting on a subscribe shares its outcome (one request; a
 * retry only when it was given up because its own caller left), and a failed subscribe is undone
 * when nobody wants the URI.
 */
import { describe, expect, test } from 'vitest';
import { ResourceSubscribers } from '../../src/app/resource-subscribers.js';
import type { SessionWatch } from '../../src/server/mcp-content.js';

const URI = 'test://doc';

function session(): SessionWatch {
  return { updated: () => {}, listChanged: () => {}, onEnd: () => {} };
}

/** A promise settled from outside. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve: () => void = () => {};
  let reject: (e: Error) => void = () => {};
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** A server whose requests are recorded in order; each subscribe waits on `gate` when given. */
function downstream() {
  const requests: string[] = [];
  const connection = { name: 'down' };
  const subscribers = new ResourceSubscribers<typeof connection>(async (_, uri) => {
    requests.push(`unsubscribe ${uri}`);
  });
  const subscribe = (gate?: Promise<void>, signal?: AbortSignal) => ({
    send: async () => {
      requests.push(`subscribe ${URI}`);
      await gate;
    },
    signal,
  });
  return { requests, connection, subscribers, subscribe };
}

/** Lets every queued continuation run (no timers). */
async function drain(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
}

describe('ResourceSubscribers', () => {
  test('a session that leaves while its subscribe is in flight leaves nothing subscribed', async () => {
    const { requests, connection, subscribers, subscribe } = downstream();
    const gate = deferred();
    const alice = session();
    const added = subscribers.add(connection, URI, alice, subscribe(gate.promise));
    await drain();
    expect(requests).toEqual([`subscribe ${URI}`]);

    const removed = subscribers.remove(connection, URI, alice);
    await drain();
    // Not before the subscribe has returned: the server would end a subscription it does not hold.
    expect(requests).toEqual([`subscribe ${URI}`]);
    gate.resolve();
    await added;
    expect(await removed).toBe(true);
    expect(requests).toEqual([`subscribe ${URI}`, `unsubscribe ${URI}`]);
    expect(subscribers.sessionsOf(connection, URI).size).toBe(0);
    expect(subscribers.connectionOf(alice, URI)).toBeUndefined();
  });

  test('a second subscriber is answered once the subscription is in place, with one subscribe', async () => {
    const { requests, connection, subscribers, subscribe } = downstream();
    const gate = deferred();
    const alice = session();
    const bob = session();
    const first = subscribers.add(connection, URI, alice, subscribe(gate.promise));
    let secondDone = false;
    const second = subscribers.add(connection, URI, bob, subscribe()).then(() => {
      secondDone = true;
    });
    await drain();
    expect(secondDone).toBe(false);
    gate.resolve();
    await Promise.all([first, second]);
    expect(requests).toEqual([`subscribe ${URI}`]);
    expect([...subscribers.sessionsOf(connection, URI)]).toEqual([alice, bob]);

    await subscribers.remove(connection, URI, alice);
    expect(requests).toEqual([`subscribe ${URI}`]);
    await subscribers.remove(connection, URI, bob);
    expect(requests).toEqual([`subscribe ${URI}`, `unsubscribe ${URI}`]);
  });

  test('a failed subscribe fails everyone who waited on it, with one request, and is undone', async () => {
    const { requests, connection, subscribers, subscribe } = downstream();
    const gate = deferred();
    const waiting = [session(), session(), session()].map((one, i) =>
      subscribers.add(connection, URI, one, subscribe(i === 0 ? gate.promise : undefined)),
    );
    gate.reject(new Error('no answer'));
    for (const added of waiting) await expect(added).rejects.toThrow('no answer');
    // One subscribe (not one per waiter, each waiting for the last), then its undoing.
    expect(requests).toEqual([`subscribe ${URI}`, `unsubscribe ${URI}`]);
    expect(subscribers.sessionsOf(connection, URI).size).toBe(0);
  });

  test('a subscribe given up because its caller left is tried again for those who joined it', async () => {
    const { requests, connection, subscribers, subscribe } = downstream();
    const gate = deferred();
    const leaving = new AbortController();
    const alice = session();
    const bob = session();
    const first = subscribers.add(connection, URI, alice, subscribe(gate.promise, leaving.signal));
    const second = subscribers.add(connection, URI, bob, subscribe());
    await drain();
    leaving.abort();
    const removed = subscribers.remove(connection, URI, alice);
    gate.reject(new Error('aborted'));
    await expect(first).rejects.toThrow('aborted');
    await Promise.all([second, removed]);
    expect(requests).toEqual([`subscribe ${URI}`, `subscribe ${URI}`]);
    expect([...subscribers.sessionsOf(connection, URI)]).toEqual([bob]);
  });

  test('a subscription made again while the first subscribe is in flight fails with it, not silently', async () => {
    const { requests, connection, subscribers, subscribe } = downstream();
    const gate = deferred();
    const alice = session();
    const first = subscribers.add(connection, URI, alice, subscribe(gate.promise));
    await drain();
    const removed = subscribers.remove(connection, URI, alice);
    const again = subscribers.add(connection, URI, alice, subscribe());
    gate.reject(new Error('refused'));
    await expect(first).rejects.toThrow('refused');
    await expect(again).rejects.toThrow('refused');
    await removed;
    expect(subscribers.connectionOf(alice, URI)).toBeUndefined();
    expect(requests).toEqual([`subscribe ${URI}`, `unsubscribe ${URI}`]);
  });

  test('a failed subscribe nobody else wants is ended downstream (it may have been made)', async () => {
    const { requests, connection, subscribers, subscribe } = downstream();
    const gate = deferred();
    const added = subscribers.add(connection, URI, session(), subscribe(gate.promise));
    gate.reject(new Error('aborted'));
    await expect(added).rejects.toThrow('aborted');
    expect(requests).toEqual([`subscribe ${URI}`, `unsubscribe ${URI}`]);
  });

  test('subscribing again while the last unsubscribe is in flight subscribes after it', async () => {
    const requests: string[] = [];
    const connection = {};
    const gate = deferred();
    const subscribers = new ResourceSubscribers<object>(async () => {
      requests.push('unsubscribe');
      await gate.promise;
      requests.push('unsubscribed');
    });
    const alice = session();
    await subscribers.add(connection, URI, alice, {
      send: async () => {
        requests.push('subscribe');
      },
    });
    const removed = subscribers.remove(connection, URI, alice);
    await drain();
    expect(requests).toEqual(['subscribe', 'unsubscribe']);
    const again = subscribers.add(connection, URI, alice, {
      send: async () => {
        requests.push('subscribe');
      },
    });
    await drain();
    expect(requests).toEqual(['subscribe', 'unsubscribe']);
    gate.resolve();
    await Promise.all([removed, again]);
    expect(requests).toEqual(['subscribe', 'unsubscribe', 'unsubscribed', 'subscribe']);
    expect(subscribers.connectionOf(alice, URI)).toBe(connection);
  });

  test('leaving and coming back before the unsubscribe goes out sends nothing', async () => {
    const { requests, connection, subscribers, subscribe } = downstream();
    const alice = session();
    await subscribers.add(connection, URI, alice, subscribe());
    const removed = subscribers.remove(connection, URI, alice);
    const again = subscribers.add(connection, URI, alice, subscribe());
    await Promise.all([removed, again]);
    expect(requests).toEqual([`subscribe ${URI}`]);
    expect(subscribers.connectionOf(alice, URI)).toBe(connection);
  });

  test('removing a session that is not subscribed is false and sends nothing', async () => {
    const { requests, connection, subscribers } = downstream();
    expect(await subscribers.remove(connection, URI, session())).toBe(false);
    expect(requests).toEqual([]);
  });
});
