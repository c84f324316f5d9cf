import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ConnectLookup, publicOnlyLookup } from '../../src/oauth/protocol/network.js';
import { createHttpStack } from '../../src/servers/http.js';

/** A resolver that answers `addresses` for every name. */
function resolver(addresses: string[]): ConnectLookup {
  return ((_host: string, _options: unknown, callback: (...args: unknown[]) => void) => {
    const list: LookupAddress[] = addresses.map((address) => ({
      address,
      family: address.includes(':') ? 6 : 4,
    }));
    callback(null, list);
  }) as unknown as ConnectLookup;
}

function lookupOnce(
  lookup: ConnectLookup,
  all: boolean,
): Promise<{ error: NodeJS.ErrnoException | null; address: unknown }> {
  return new Promise((resolve) => {
    lookup('as.example', { all }, (error, address) => resolve({ error, address }));
  });
}

describe('publicOnlyLookup: the address a connection uses is checked (DNS pinning)', () => {
  test.each([
    [['10.0.0.1']],
    [['169.254.169.254']],
    [['127.0.0.1']],
    [['203.0.113.5', '10.0.0.1']],
    [['::1']],
    [['fd00::1']],
  ])('%j is refused with ENOTPUBLIC', async (addresses) => {
    for (const all of [false, true]) {
      const { error } = await lookupOnce(publicOnlyLookup(resolver(addresses)), all);
      expect(error?.code).toBe('ENOTPUBLIC');
      expect(error?.message).toContain('as.example');
    }
  });

  test('public addresses pass, one or all', async () => {
    const lookup = publicOnlyLookup(resolver(['93.184.216.34', '2606:2800:220:1::1']));
    expect((await lookupOnce(lookup, false)).address).toBe('93.184.216.34');
    expect((await lookupOnce(lookup, true)).address).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
  });

  test('a resolver error passes through', async () => {
    const failing = ((_h: string, _o: unknown, callback: (...args: unknown[]) => void) =>
      callback(
        Object.assign(new Error('nope'), { code: 'ENOTFOUND' }),
        [],
      )) as unknown as ConnectLookup;
    expect((await lookupOnce(publicOnlyLookup(failing), false)).error?.code).toBe('ENOTFOUND');
  });
});

describe('an HTTP stack with the guard', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('internal'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('cannot reach a name that resolves to a loopback address, while the plain stack can', async () => {
    const plain = createHttpStack();
    const guarded = createHttpStack({}, { lookup: publicOnlyLookup() });
    try {
      const reached = await plain.fetch(`http://localhost:${port}/`);
      expect(await reached.text()).toBe('internal');
      const error = await guarded.fetch(`http://localhost:${port}/`).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      let cause: unknown = error;
      const codes: unknown[] = [];
      while (cause instanceof Error) {
        codes.push((cause as { code?: unknown }).code);
        cause = cause.cause;
      }
      expect(codes).toContain('ENOTPUBLIC');
    } finally {
      await plain.close();
      await guarded.close();
    }
  });
});
