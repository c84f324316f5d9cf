import { describe, expect, test } from 'vitest';
import { DEFAULT_LOOPBACK_PORTS, oauthSchema } from '../../src/config/schema/oauth.js';
import { serverOAuthSchema } from '../../src/config/schema/servers.js';
import { receiverRequest } from '../../src/oauth/login.js';

/** `receiverRequest` for a server with these `redirect_uri_options` and global `oauth:` keys. */
function request(redirectUriOptions: string[] | undefined, global: Record<string, unknown> = {}) {
  return receiverRequest(
    'github',
    serverOAuthSchema.parse({
      enabled: true,
      ...(redirectUriOptions ? { redirect_uri_options: redirectUriOptions } : {}),
    }),
    oauthSchema.parse(global),
  );
}

/** The redirect URI the loopback receiver would use on `port` (as `startLoopbackReceiver` builds it). */
function loopbackUri(host: string, port: number): string {
  return `http://${host}:${port}/callback`;
}

describe('receiverRequest', () => {
  test('no redirect_uri_options: the default loopback ports on 127.0.0.1', () => {
    expect(request(undefined)).toEqual({
      server: 'github',
      ports: [...DEFAULT_LOOPBACK_PORTS],
      host: '127.0.0.1',
      redirectUris: [],
      timeoutMs: 300_000,
    });
    expect(DEFAULT_LOOPBACK_PORTS).toEqual([33418, 33419, 33420]);
  });

  test('oauth.loopback_ports and flow_timeout_seconds are used when no option is loopback', () => {
    expect(request([], { loopback_ports: [40000, 40001], flow_timeout_seconds: 60 })).toMatchObject(
      { ports: [40000, 40001], host: '127.0.0.1', timeoutMs: 60_000 },
    );
    expect(request([], { loopback_ports: [] }).ports).toEqual([]);
  });

  test('127.0.0.1 loopback entries give their ports, in order', () => {
    expect(
      request(['http://127.0.0.1:45001/callback', 'http://127.0.0.1:45002/callback'], {
        loopback_ports: [40000],
      }),
    ).toMatchObject({ ports: [45001, 45002], host: '127.0.0.1', redirectUris: [] });
  });

  test('localhost loopback entries give their ports and host localhost', () => {
    expect(
      request(['http://localhost:45001/callback', 'http://localhost:45002/callback']),
    ).toMatchObject({ ports: [45001, 45002], host: 'localhost', redirectUris: [] });
  });

  test('host letters are case-insensitive (URL lower-cases them)', () => {
    expect(request(['http://LocalHost:45001/callback'])).toMatchObject({
      ports: [45001],
      host: 'localhost',
    });
  });

  test('other redirect options become paste targets, in order, and no loopback URI replaces them', () => {
    const others = [
      'https://app.example.com/oauth/callback',
      'http://localhost/callback',
      'http://127.0.0.1/callback',
      'http://localhost:45001/other',
      'https://localhost:45001/callback',
      'http://[::1]:45001/callback',
      'urn:ietf:wg:oauth:2.0:oob',
      'not a url',
    ];
    expect(request(others, { loopback_ports: [40000] })).toEqual({
      server: 'github',
      ports: [],
      host: '127.0.0.1',
      redirectUris: others,
      timeoutMs: 300_000,
    });
  });

  test('loopback entries and paste targets together', () => {
    expect(
      request([
        'https://app.example.com/cb',
        'http://localhost:45001/callback',
        'https://other.example.com/cb',
      ]),
    ).toMatchObject({
      ports: [45001],
      host: 'localhost',
      redirectUris: ['https://app.example.com/cb', 'https://other.example.com/cb'],
    });
  });

  test('with mixed loopback hosts, every redirect URI the receiver can use is a configured one', () => {
    const configured = ['http://127.0.0.1:45001/callback', 'http://localhost:45002/callback'];
    const result = request(configured);
    // The receiver binds the first free port and builds http://<host>:<port>/callback; when 45001
    // is busy it uses 45002, and that URI must be one the user configured (and registered).
    const usable = result.ports.map((port) => loopbackUri(result.host, port));
    for (const uri of usable) expect(configured).toContain(uri);
  });
});
