/**
 * The middleware's verification requests (issuer metadata, JWKS) honour the proxy settings of
 * the environment as `serve` does (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`; review 16 #11: they
 * went out directly, so behind a proxy every request was 503). With the development authorization
 * server behind a real forward proxy that records what it forwards (undici tunnels through it
 * with CONNECT, one tunnel per connection).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { createMcpAuth } from '../../src/middleware/index.js';
import { userTokens } from '../server/serve-support.js';
import { type ForwardProxy, startForwardProxy } from '../support/forward-proxy.js';

const RESOURCE = 'http://127.0.0.1:1/mcp';

let as: DevAuthorizationServer;
let proxy: ForwardProxy;

beforeAll(async () => {
  [as, proxy] = await Promise.all([
    startDevAuthorizationServer({ port: 0, resources: [RESOURCE], scopes: ['mcp:tools'] }),
    startForwardProxy(),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([proxy?.close(), as?.close()]);
});

const authorization = () => ({
  issuer_url: as.issuer,
  resource_server_url: RESOURCE,
  expected_audiences: [RESOURCE],
  required_scopes: ['mcp:tools'],
});

/** Verify a fresh token of alice's with the protection `env` configures; the proxied targets. */
async function verifyWith(env: Record<string, string>): Promise<string[]> {
  proxy.requests.length = 0;
  const auth = await createMcpAuth({ authorization: authorization(), env });
  try {
    const { accessToken } = await userTokens(as.issuer, RESOURCE, 'alice');
    const outcome = await auth.authenticate({
      method: 'GET',
      url: '/mcp',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(outcome.action === 'next' && outcome.caller.subject).toBe('alice');
    return proxy.requests.map((request) => request.target);
  } finally {
    await auth.close();
  }
}

/** Whether a proxied target is the issuer: a CONNECT tunnel to it, or an absolute URI on it. */
const toIssuer = (target: string) => {
  const issuer = new URL(as.issuer);
  return target === issuer.host || target.startsWith(`${issuer.origin}/`);
};

test('HTTP_PROXY in the environment: the verification requests go through it', async () => {
  const targets = await verifyWith({ HTTP_PROXY: proxy.url });
  expect(targets.length).toBeGreaterThan(0);
  expect(targets.every(toIssuer), targets.join(' ')).toBe(true);
});

test('lower case too; NO_PROXY naming the issuer, or no proxy at all: straight to the issuer', async () => {
  expect((await verifyWith({ http_proxy: proxy.url })).length).toBeGreaterThan(0);
  expect(await verifyWith({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' })).toEqual([]);
  expect(await verifyWith({})).toEqual([]);
});
