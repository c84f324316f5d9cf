/**
 * What every adapter's tests run against: the development authorization server (with its login
 * pages, as `mcp-agent dev` runs it) issuing tokens for the protected server and for another
 * resource, the server protected by one adapter on a loopback port, a clock the test moves, and
 * the users' tokens the raw-HTTP rows send.
 */
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import type { McpAuthOptions } from '../../src/middleware/index.js';
import { type UserTokens, userTokens } from '../server/serve-support.js';
import { freePort } from '../support/net.js';
import type { Adapter, Started } from './adapters.js';

/**
 * The scope `admin_report` needs (`tool_scopes`), and the prompt `audit` (`prompt_scopes`), beyond
 * the baseline `mcp:tools`.
 */
export const ADMIN = 'mcp:admin';

/** An adapter serving the protected server, and what the tests need around it. */
export interface Environment {
  readonly adapter: Adapter;
  readonly as: DevAuthorizationServer;
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** `http://127.0.0.1:PORT/mcp`: the resource, and where the server is. */
  readonly resource: string;
  /** `http://127.0.0.1:PORT/.well-known/oauth-protected-resource/mcp` */
  readonly prm: string;
  /**
   * Tokens: `mcp:tools` (alice, bob, and dave's, which the expiry row refuses: refusals are
   * cached), both scopes (root), `mcp:admin` alone (eve), and alice's for another resource.
   */
  readonly tokens: {
    readonly alice: UserTokens;
    readonly bob: UserTokens;
    readonly expiring: UserTokens;
    readonly root: UserTokens;
    readonly adminOnly: UserTokens;
    readonly otherAudience: UserTokens;
  };
  /** Milliseconds added to the protection's clock. */
  offsetMs: number;
  readonly started: Started;
  /**
   * The options the adapter was started with, `authorization` changed by `extra`: exactly what a
   * user gives the recipe (the recipe adds its own `Host` check).
   */
  options(extra?: Record<string, unknown>): McpAuthOptions;
  close(): Promise<void>;
}

/** Start the authorization server, the protected server behind `adapter`, and get the tokens. */
export async function startEnvironment(adapter: Adapter): Promise<Environment> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const resource = `${origin}/mcp`;
  const other = `http://127.0.0.1:${port}/other`;
  const as = await startDevAuthorizationServer({
    port: 0,
    resources: [resource, `${origin}/sse`, other],
    defaultResource: resource,
    scopes: ['mcp:tools', ADMIN],
  });
  const environment = {
    offsetMs: 0,
  } as { offsetMs: number };
  const options = (extra: Record<string, unknown> = {}): McpAuthOptions => ({
    authorization: {
      issuer_url: as.issuer,
      resource_server_url: resource,
      expected_audiences: [resource],
      required_scopes: ['mcp:tools'],
      tool_scopes: { admin_report: [ADMIN] },
      prompt_scopes: { audit: [ADMIN] },
      resource_name: 'Existing server',
      ...extra,
    },
    now: () => Date.now() + environment.offsetMs,
  });
  let started: Started | undefined;
  try {
    started = await adapter.start(options(), port);
    const [alice, bob, expiring, root, adminOnly, otherAudience] = await Promise.all([
      userTokens(as.issuer, resource, 'alice'),
      userTokens(as.issuer, resource, 'bob'),
      userTokens(as.issuer, resource, 'dave'),
      userTokens(as.issuer, resource, 'root', `mcp:tools ${ADMIN}`),
      userTokens(as.issuer, resource, 'eve', ADMIN),
      userTokens(as.issuer, other, 'alice'),
    ]);
    return Object.assign(environment, {
      adapter,
      as,
      port,
      origin,
      resource,
      prm: `${origin}/.well-known/oauth-protected-resource/mcp`,
      tokens: { alice, bob, expiring, root, adminOnly, otherAudience },
      started,
      options,
      async close() {
        await started?.close();
        await as.close();
      },
    });
  } catch (error) {
    await started?.close();
    await as.close();
    throw error;
  }
}
