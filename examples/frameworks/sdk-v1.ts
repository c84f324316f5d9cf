// sdk-v1.ts
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { AgentAuthScope } from '../../src/index.js';

/**
 * An MCP SDK v1 client on a configured server that uses OAuth, its transport given the server's
 * auth-aware `fetch` (the token, a refresh, a step-up inside the request) and no `authProvider`
 * (the SDK's own OAuth would run instead). (`auth.connect(name)` gives an SDK v2 client.)
 */
export async function connectSdkV1(auth: AgentAuthScope, name: string): Promise<Client> {
  const server = auth.server(name);
  // Log in before connecting: a person signing in may take longer than a request may.
  await server.login();
  const client = new Client({ name: 'my-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(server.url, { fetch: server.fetch }));
  return client;
}
