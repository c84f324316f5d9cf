import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';

/**
 * Ports {@link freePort} picks from: below Linux's ephemeral range (32768-60999), so that no
 * outgoing connection of another test takes the port between the pick and the listen (the
 * kernel gives those their local port from the ephemeral range).
 */
const PICKED_PORTS = { from: 20_000, count: 12_000 } as const;

/** Whether `port` can be listened on at 127.0.0.1 now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago (for servers that take a port number). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = PICKED_PORTS.from + Math.floor(Math.random() * PICKED_PORTS.count);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port found below the ephemeral range after 50 attempts');
}

/**
 * Poll `check` until it returns a value other than `undefined`, or fail after `ms` milliseconds.
 * For waiting on something another process or socket does; never a fixed sleep.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  ms = 5_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `promise`, or a rejection naming `what` if it has not settled after `ms` milliseconds. */
export function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Request listeners served on free loopback ports, closed together. */
export interface LoopbackServers {
  /** Serve `listener` on 127.0.0.1 (no host check); its origin. */
  listen(listener: RequestListener): Promise<string>;
  /** Drop every connection and close every server. */
  closeAll(): Promise<void>;
}

/** A new {@link LoopbackServers}. */
export function loopbackServers(): LoopbackServers {
  const servers: Server[] = [];
  return {
    async listen(listener) {
      const server = createHttpServer(listener);
      servers.push(server);
      await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async closeAll() {
      for (const server of servers.splice(0)) {
        server.closeAllConnections();
        await new Promise((closed) => server.close(closed));
      }
    },
  };
}
