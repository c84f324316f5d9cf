import { Server as HttpServer, request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { isMcpAgentError } from '../../../src/errors.js';
import { pageCsp } from '../../../src/html.js';
import { startLoopbackReceiver } from '../../../src/oauth/flows/loopback.js';
import type { CallbackReceiver } from '../../../src/oauth/flows/receiver.js';
import { freePort, within } from '../../support/net.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to 127.0.0.1:`port`, on its own connection unless `agent` says otherwise. */
function send(
  port: number,
  path: string,
  options: { host?: string; method?: string; keepAlive?: boolean } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        setHost: false,
        headers: {
          host: options.host ?? `127.0.0.1:${port}`,
          ...(options.keepAlive ? { connection: 'keep-alive' } : {}),
        },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Listen on 127.0.0.1:`port` with a plain TCP server (to make the port busy). */
function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function release(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
async function isFree(port: number): Promise<boolean> {
  try {
    await release(await occupy(port));
    return true;
  } catch {
    return false;
  }
}

/** Resolves once an HTTP server of this process has read a request (emitted 'request'). */
function requestRead(): Promise<void> {
  const emit = HttpServer.prototype.emit;
  return new Promise((resolve) => {
    const spy = vi.spyOn(HttpServer.prototype, 'emit').mockImplementation(function (
      this: HttpServer,
      event,
      ...args
    ) {
      if (String(event) === 'request') {
        spy.mockRestore();
        resolve();
      }
      return emit.call(this, event, ...args);
    });
  });
}

const open: CallbackReceiver[] = [];
const busy: Server[] = [];

async function start(options: Partial<Parameters<typeof startLoopbackReceiver>[0]> = {}) {
  const receiver = await startLoopbackReceiver({
    ports: options.ports ?? [await freePort()],
    timeoutMs: options.timeoutMs ?? 5_000,
    ...(options.host ? { host: options.host } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  open.push(receiver);
  return receiver;
}

function portOf(receiver: CallbackReceiver): number {
  return Number(new URL(receiver.redirectUri).port);
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((receiver) => receiver.close()));
  await Promise.all(busy.splice(0).map(release));
});

describe('startLoopbackReceiver', () => {
  test('binds the first free port, on 127.0.0.1, with a /callback redirect URI', async () => {
    const [first, second] = [await freePort(), await freePort()];
    busy.push(await occupy(first));
    const receiver = await start({ ports: [first, second] });
    expect(receiver.redirectUri).toBe(`http://127.0.0.1:${second}/callback`);
  });

  test('host localhost: the redirect URI says localhost, the server still binds 127.0.0.1', async () => {
    const port = await freePort();
    const receiver = await start({ ports: [port], host: 'localhost' });
    expect(receiver.redirectUri).toBe(`http://localhost:${port}/callback`);
    const url = receiver.wait('s1');
    const reply = await send(port, '/callback?code=c&state=s1', { host: `localhost:${port}` });
    expect(reply.status).toBe(200);
    expect((await url).href).toBe(`http://localhost:${port}/callback?code=c&state=s1`);
  });

  test('every port busy: OAUTH_CALLBACK naming the ports and oauth.loopback_ports', async () => {
    const ports = [await freePort(), await freePort()];
    for (const port of ports) busy.push(await occupy(port));
    const error = await startLoopbackReceiver({ ports, timeoutMs: 1_000 }).catch((e) => e);
    expect(isMcpAgentError(error, 'OAUTH_CALLBACK')).toBe(true);
    expect(error.message).toContain(`${ports[0]}, ${ports[1]}`);
    expect(error.message).toContain('oauth.loopback_ports');
  });

  test('no ports: loopback is disabled (the CLI adds what to do instead)', async () => {
    const error = await startLoopbackReceiver({ ports: [], timeoutMs: 1_000 }).catch((e) => e);
    expect(isMcpAgentError(error, 'OAUTH_CALLBACK')).toBe(true);
    expect(error.message).toMatch(/disabled/);
    expect(error.message).not.toContain('--');
  });

  test('invalid ports and timeouts are caller errors', async () => {
    await expect(startLoopbackReceiver({ ports: [70_000], timeoutMs: 1_000 })).rejects.toThrow(
      TypeError,
    );
    await expect(startLoopbackReceiver({ ports: [1.5], timeoutMs: 1_000 })).rejects.toThrow(
      TypeError,
    );
    await expect(startLoopbackReceiver({ ports: [0], timeoutMs: 0 })).rejects.toThrow(TypeError);
  });

  test('port 0 lets the system pick one', async () => {
    const receiver = await start({ ports: [0] });
    expect(portOf(receiver)).toBeGreaterThan(0);
  });

  test('other paths get 404, other methods 405', async () => {
    const receiver = await start();
    const port = portOf(receiver);
    void receiver.wait('s1').catch(() => {});
    expect((await send(port, '/')).status).toBe(404);
    expect((await send(port, '/callback/')).status).toBe(404);
    expect((await send(port, '/Callback?state=s1&code=c')).status).toBe(404);
    expect((await send(port, '//evil.example/callback?state=s1&code=c')).status).toBe(404);
    expect((await send(port, `http://127.0.0.1:${port}/callback?state=s1&code=c`)).status).toBe(
      404,
    );
    const post = await send(port, '/callback?state=s1&code=c', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
  });

  test.each([
    'evil.example',
    'evil.example:PORT',
    '127.0.0.1',
    '127.0.0.1:1',
    'localhost:PORT.evil.example',
    '[::1]:PORT',
    '127.0.0.2:PORT',
  ])('Host %s gets 400 (DNS-rebinding defence) and does not end the flow', async (host) => {
    const receiver = await start();
    const port = portOf(receiver);
    const url = receiver.wait('s1');
    const reply = await send(port, '/callback?state=s1&code=c', {
      host: host.replace('PORT', String(port)),
    });
    expect(reply.status).toBe(400);
    expect((await send(port, '/callback?state=s1&code=c')).status).toBe(200);
    await expect(url).resolves.toBeInstanceOf(URL);
  });

  test('a callback with another state is refused and ignored; the right one resolves', async () => {
    const receiver = await start();
    const port = portOf(receiver);
    const url = receiver.wait('right-state');
    for (const query of [
      '?state=wrong&code=forged',
      '?code=forged',
      '?state=&code=forged',
      '?state=right-state&state=right-state&code=forged',
      '?error=access_denied',
    ]) {
      const reply = await send(port, `/callback${query}`);
      expect(reply.status).toBe(400);
      expect(reply.body).toMatch(/did not complete/);
    }
    const reply = await send(port, '/callback?code=real&state=right-state&iss=https%3A%2F%2Fas');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatch(/Signed in/);
    const received = await url;
    expect(received.searchParams.get('code')).toBe('real');
    expect(received.searchParams.get('iss')).toBe('https://as');
  });

  test('error=access_denied with the right state resolves with the URL and shows the failure page', async () => {
    const receiver = await start();
    const port = portOf(receiver);
    const url = receiver.wait('s1');
    const reply = await send(port, '/callback?error=access_denied&state=s1');
    expect(reply.body).toMatch(/did not complete/);
    expect(reply.body).not.toMatch(/Signed in/);
    expect((await url).searchParams.get('error')).toBe('access_denied');
  });

  test('every response carries the security headers', async () => {
    const receiver = await start();
    const port = portOf(receiver);
    const url = receiver.wait('s1');
    const replies = [
      await send(port, '/nope'),
      await send(port, '/callback', { host: 'evil.example' }),
      await send(port, '/callback', { method: 'DELETE' }),
      await send(port, '/callback?state=other&code=c'),
      await send(port, '/callback?state=s1&code=c'),
    ];
    await url;
    for (const reply of replies) {
      expect(reply.headers).toMatchObject({
        'cache-control': 'no-store',
        'content-security-policy': pageCsp('none'),
        'referrer-policy': 'no-referrer',
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'content-type': 'text/html; charset=utf-8',
        connection: 'close',
      });
    }
  });

  test('pages reflect nothing from the request', async () => {
    const receiver = await start();
    const port = portOf(receiver);
    const canary = 'CANARY7x3q';
    const url = receiver.wait(`state-${canary}`);
    const bodies = [
      (await send(port, `/callback?state=other${canary}&code=${canary}`)).body,
      (await send(port, `/${canary}?state=${canary}`)).body,
      (await send(port, `/callback?error=${canary}&error_description=${canary}&state=x`)).body,
      (await send(port, `/callback?code=${canary}&state=state-${canary}`)).body,
    ];
    await url;
    for (const body of bodies) expect(body).not.toContain(canary);
  });

  test('a callback that arrives before wait() is held, then answered', async () => {
    const receiver = await start();
    const port = portOf(receiver);
    const read = requestRead();
    const early = send(port, '/callback?code=c&state=s1');
    // The server has read the request before wait() is called.
    await within('the server to read the request', read, 5_000);
    const url = receiver.wait('s1');
    expect((await early).status).toBe(200);
    expect((await url).searchParams.get('code')).toBe('c');
  });

  test('wait() with another state after the first is a caller error; the same state is idempotent', async () => {
    const receiver = await start();
    const first = receiver.wait('s1');
    expect(receiver.wait('s1')).toBe(first);
    await expect(receiver.wait('s2')).rejects.toThrow(TypeError);
    await expect(receiver.wait('')).rejects.toThrow(TypeError);
    void first.catch(() => {});
  });

  test('after the callback the server is gone, even with a kept-alive connection', async () => {
    const receiver = await start();
    const port = portOf(receiver);
    const url = receiver.wait('s1');
    await send(port, '/elsewhere', { keepAlive: true });
    await send(port, '/callback?code=c&state=s1');
    await within('the callback', url, 5_000);
    expect(await isFree(port)).toBe(true);
  });

  test('timeout: OAUTH_CALLBACK naming the seconds, the port is free again', async () => {
    const receiver = await start({ timeoutMs: 30 });
    const port = portOf(receiver);
    const error = await receiver.wait('secret-state-value').catch((e) => e);
    expect(isMcpAgentError(error, 'OAUTH_CALLBACK')).toBe(true);
    expect(error.message).toMatch(/^No authorization callback arrived within 0\.03 s; /);
    expect(error.message).not.toContain('secret-state-value');
    expect(await isFree(port)).toBe(true);
  });

  test('the timeout counts from wait(), not from the start', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const receiver = await start({ timeoutMs: 40 });
      const port = portOf(receiver);
      vi.advanceTimersByTime(60); // longer than the timeout, before wait()
      const url = receiver.wait('s1');
      vi.advanceTimersByTime(39);
      await send(port, '/callback?code=c&state=s1');
      await expect(url).resolves.toBeInstanceOf(URL);
    } finally {
      vi.useRealTimers();
    }
  });

  test('abort: OAUTH_CALLBACK, the port is free again', async () => {
    const controller = new AbortController();
    const receiver = await start({ signal: controller.signal });
    const port = portOf(receiver);
    const url = receiver.wait('s1');
    controller.abort();
    const error = await url.catch((e) => e);
    expect(isMcpAgentError(error, 'OAUTH_CALLBACK')).toBe(true);
    expect(error.message).toMatch(/cancelled/);
    expect(await isFree(port)).toBe(true);
  });

  test('an already aborted signal: nothing is bound', async () => {
    const controller = new AbortController();
    controller.abort();
    const port = await freePort();
    const error = await startLoopbackReceiver({
      ports: [port],
      timeoutMs: 1_000,
      signal: controller.signal,
    }).catch((e) => e);
    expect(isMcpAgentError(error, 'OAUTH_CALLBACK')).toBe(true);
    expect(await isFree(port)).toBe(true);
  });

  test('close() releases the port and ends a pending wait', async () => {
    const receiver = await start();
    const port = portOf(receiver);
    expect(await isFree(port)).toBe(false);
    const url = receiver.wait('s1');
    await receiver.close();
    await receiver.close();
    expect(isMcpAgentError(await url.catch((e) => e), 'OAUTH_CALLBACK')).toBe(true);
    expect(await isFree(port)).toBe(true);
  });

  test('leaves no server or socket behind once the flow ends', async () => {
    const count = () =>
      process
        .getActiveResourcesInfo()
        .filter((kind) => kind === 'TCPServerWrap' || kind === 'TCPSocketWrap').length;
    /** The count once sockets closed by earlier steps are gone (stable for a few loop turns). */
    const settled = async () => {
      let last = count();
      for (let stable = 0, turns = 0; stable < 5 && turns < 500; turns++) {
        await new Promise((resolve) => setImmediate(resolve));
        const now = count();
        stable = now === last ? stable + 1 : 0;
        last = now;
      }
      return last;
    };
    const before = await settled();
    const receiver = await start();
    const port = portOf(receiver);
    const url = receiver.wait('s1');
    await send(port, '/elsewhere', { keepAlive: true });
    await send(port, '/callback?code=c&state=s1');
    await url;
    expect(await settled()).toBe(before);
  });

  test.each(['callback', 'abort', 'close'] as const)(
    'the timeout timer is cleared when the flow ends by %s',
    async (end) => {
      const controller = new AbortController();
      const receiver = await start({ signal: controller.signal });
      const port = portOf(receiver);
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      try {
        const url = receiver.wait('s1').catch(() => undefined);
        expect(vi.getTimerCount()).toBe(1);
        if (end === 'callback') await send(port, '/callback?code=c&state=s1');
        if (end === 'abort') controller.abort();
        if (end === 'close') await receiver.close();
        await url;
        expect(vi.getTimerCount()).toBe(0);
      } finally {
        vi.useRealTimers();
      }
    },
  );

  test('close() before wait(): wait rejects', async () => {
    const receiver = await start();
    await receiver.close();
    expect(isMcpAgentError(await receiver.wait('s1').catch((e) => e), 'OAUTH_CALLBACK')).toBe(true);
  });
});
