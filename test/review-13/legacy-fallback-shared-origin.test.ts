/**
 * Review finding (issue 13/14, MCP 2025-03-26 fallback in src/oauth/protocol/discovery.ts): a
 * server without protected-resource metadata is taken as its own authorization server at its
 * origin, whatever its path. On an origin that hosts other parties' servers under paths (a
 * gateway or hosting platform, `https://platform.example/u/mallory/mcp`) whose owner runs an
 * authorization server at the origin, the tenant only has to serve no metadata: the agent then
 * registers at the platform's authorization server, sends the person there (with the scopes the
 * tenant's own 401 names) and sends the token it gets to the tenant. The platform never said it
 * protects that path; before this change the agent refused and asked for
 * `auth.oauth.authorization_server`.
 *
 * Fix (one option that keeps the 2025-03-26 conformance scenarios, whose servers are at `/mcp`):
 * apply the fallback only to a server at the origin's root or one path segment below it; deeper
 * paths need `auth.oauth.authorization_server` configured (or an explicit opt-in).
 */
import { expect, test } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import { type DiscoveryFetch, discover } from '../../src/oauth/protocol/discovery.js';
import type { NetworkPolicy } from '../../src/oauth/protocol/network.js';

const PUBLIC: NetworkPolicy = { allowPrivate: false, lookup: async () => ['203.0.113.7'] };

const platform = 'https://platform.example';

/** The platform: its own authorization server at the origin, no protected-resource metadata. */
const fetchPlatform: DiscoveryFetch = async (input) => {
  const url = String(input);
  if (url === `${platform}/.well-known/oauth-authorization-server`) {
    return Response.json({
      issuer: platform,
      authorization_endpoint: `${platform}/oauth/authorize`,
      token_endpoint: `${platform}/oauth/token`,
      registration_endpoint: `${platform}/oauth/register`,
      code_challenge_methods_supported: ['S256'],
    });
  }
  return new Response('not found', { status: 404 });
};

test("a tenant's server deep under a shared origin does not get the origin's authorization server by default", async () => {
  const error = await discover(`${platform}/u/mallory/mcp`, {
    fetch: fetchPlatform,
    policy: PUBLIC,
  }).catch((caught: unknown) => caught);
  // Today: resolves with issuer https://platform.example.
  expect(error).toBeInstanceOf(McpAgentError);
  expect((error as McpAgentError).code).toBe('OAUTH_DISCOVERY');
});

test('the 2025-03-26 fallback still applies to a server one segment below the origin', async () => {
  const result = await discover(`${platform}/mcp`, { fetch: fetchPlatform, policy: PUBLIC });
  expect(result.authorizationServer.issuer).toBe(platform);
});
