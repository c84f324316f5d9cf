/**
 * What the tests of the middleware core share: the development authorization server issuing
 * tokens for a resource on a port nothing listens on (the core needs no server), the
 * `authorization:` section protecting it (`admin_report` needs `mcp:admin`), a protection built
 * from it, and alice's `mcp:tools` token.
 */
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';
import { createMcpAuth, type McpAuth } from '../../src/middleware/index.js';
import { type UserTokens, userTokens } from '../server/serve-support.js';

/** The protected resource. */
export const RESOURCE = 'http://127.0.0.1:1/mcp';

/** The running authorization server, the protection and alice's tokens. */
export interface CoreWorld {
  readonly as: DevAuthorizationServer;
  readonly auth: McpAuth;
  readonly alice: UserTokens;
  /** The section, `extra` keys changed. */
  section(extra?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

/** Start the authorization server, build the protection, get alice's token. */
export async function startCoreWorld(): Promise<CoreWorld> {
  const as = await startDevAuthorizationServer({
    port: 0,
    resources: [RESOURCE],
    scopes: ['mcp:tools', 'mcp:admin'],
  });
  const section = (extra: Record<string, unknown> = {}) => ({
    issuer_url: as.issuer,
    resource_server_url: RESOURCE,
    expected_audiences: [RESOURCE],
    required_scopes: ['mcp:tools'],
    tool_scopes: { admin_report: ['mcp:admin'] },
    ...extra,
  });
  let auth: McpAuth | undefined;
  try {
    auth = await createMcpAuth({ authorization: section() });
    const alice = await userTokens(as.issuer, RESOURCE, 'alice');
    const opened = auth;
    return {
      as,
      auth,
      alice,
      section,
      async close() {
        await opened.close();
        await as.close();
      },
    };
  } catch (error) {
    await auth?.close();
    await as.close();
    throw error;
  }
}
