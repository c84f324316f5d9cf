// sdk-v2.ts
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { AgentAuthScope } from '../../src/index.js';

/**
 * An MCP SDK v2 client on a configured server that uses OAuth. Its transport gets the server's
 * auth-aware `fetch`, which adds the token, refreshes it, and answers a 403 `insufficient_scope`
 * with a new authorization inside the request (a transport given only `server.authProvider`
 * refreshes, but throws `InsufficientScopeError` there). `auth` is the agent's own
 * (`createAgentAuth(...)`) or an end user's (`.forUser(id)`).
 */
export async function connectSdkV2(auth: AgentAuthScope, name: string): Promise<Client> {
  const server = auth.server(name);
  // Log in before connecting: a person signing in may take longer than a request may.
  await server.login();
  const client = new Client({ name: 'my-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(server.url, { fetch: server.fetch }));
  return client;
}
