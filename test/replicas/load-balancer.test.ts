/**
 * The load balancer the replica tests stand behind (test/support/haproxy.ts), checked on its
 * own: real HAProxy, plain round robin with no stickiness, and a request to a dead backend sent
 * to a live one instead of lost.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import {
  haproxyBinary,
  haproxyConfig,
  type LoadBalancer,
  startLoadBalancer,
} from '../support/haproxy.js';
import { describeWith } from '../support/services.js';

interface Backend {
  readonly port: number;
  readonly server: Server;
}

const started: { backends: Backend[]; balancer?: LoadBalancer } = { backends: [] };

async function backend(
  name: string,
  onRequest?: (socketEnd: () => void) => boolean,
): Promise<Backend> {
  const server = createServer((request, response) => {
    if (onRequest?.(() => request.socket.destroy())) return;
    response.setHeader('set-cookie', `served-by=${name}`);
    response.end(name);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const made = { port: (server.address() as AddressInfo).port, server };
  started.backends.push(made);
  return made;
}

async function balance(backends: readonly Backend[]): Promise<LoadBalancer> {
  started.balancer = await startLoadBalancer(backends.map((item) => item.port));
  return started.balancer;
}

async function close(item: Backend): Promise<void> {
  item.server.closeAllConnections();
  await new Promise((closed) => item.server.close(closed));
}

afterEach(async () => {
  await started.balancer?.close();
  delete started.balancer;
  await Promise.all(started.backends.splice(0).map(close));
});

/** POST to the balancer (carrying any cookie a backend set, as a browser would), the body. */
async function post(url: string, cookie?: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    body: '{}',
    headers: cookie ? { cookie } : {},
  });
  expect(response.status).toBe(200);
  return response.text();
}

test('the configuration balances round robin and names no stickiness', () => {
  const config = haproxyConfig(8080, [9001, 9002, 9003]);
  expect(config).toContain('balance roundrobin');
  expect(config).not.toMatch(/\b(cookie|stick|hash|source)\b/);
  expect(config.match(/^ {2}server /gm)).toHaveLength(3);
});

describeWith(haproxyBinary)('HAProxy in front of three backends', () => {
  test('requests take turns, whatever cookie the client sends back', async () => {
    const backends = [await backend('a'), await backend('b'), await backend('c')];
    const { url } = await balance(backends);
    const seen: string[] = [];
    for (let index = 0; index < 6; index++) seen.push(await post(url, 'served-by=a'));
    expect(new Set(seen)).toEqual(new Set(['a', 'b', 'c']));
    expect(seen.slice(0, 3).sort()).toEqual(['a', 'b', 'c']);
    expect(seen.slice(3)).toEqual(seen.slice(0, 3));
  });

  test('a backend that is gone, or drops the connection unanswered, loses no request', async () => {
    let dropped = 0;
    const dropping = await backend('dropping', (end) => {
      dropped++;
      end();
      return true;
    });
    const gone = await backend('gone');
    const live = await backend('live');
    const { url } = await balance([dropping, gone, live]);
    await close(gone);
    const answers: string[] = [];
    for (let index = 0; index < 6; index++) answers.push(await post(url));
    expect(answers).toEqual(Array(6).fill('live'));
    expect(dropped).toBeGreaterThan(0);
  });
});
