/**
 * Which open {@link ServerConnection} an SDK `Client` belongs to, found by its transport. Kept
 * apart from the registry (types only here) so the agent layer can ask without loading the MCP
 * SDK.
 *
 * @module
 */
import type { Client, Transport } from '@modelcontextprotocol/client';
import type { ServerConnection } from './registry.js';

const connectionsByTransport = new WeakMap<Transport, ServerConnection>();

/** Record that `transport` is `connection`'s (done by the connection when it is made). */
export function indexConnection(transport: Transport, connection: ServerConnection): void {
  connectionsByTransport.set(transport, connection);
}

/**
 * The open {@link ServerConnection} whose SDK `Client` is `client` (or a `Proxy` of it, as an end
 * user's scope hands out the agent's own), found by its transport; `undefined` once closed.
 */
export function connectionOf(client: Client): ServerConnection | undefined {
  const transport = client.transport;
  return transport && connectionsByTransport.get(transport);
}
