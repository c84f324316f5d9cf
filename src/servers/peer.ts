/**
 * Who answers a downstream server's requests to its client: `elicitation/create` (form and URL
 * modes) and `sampling/createMessage` (MCP 2025-11-25, client features). The downstream client
 * declares exactly the capabilities of its peer (the caller's client behind `serve`, or the
 * terminal of the CLI); a request the peer cannot answer gets the protocol's refusal.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  type ClientCapabilities,
  type CreateMessageRequest,
  CreateMessageRequestSchema,
  type CreateMessageResult,
  ElicitationCompleteNotificationSchema,
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
  ErrorCode,
  type LoggingMessageNotification,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';

/** The client capabilities a peer can answer for: elicitation and sampling. */
export type PeerCapabilities = Pick<ClientCapabilities, 'elicitation' | 'sampling'>;

/** What a forwarded request may be cancelled by. */
export interface PeerRequestOptions {
  /** Aborted when the downstream server cancels its request or the connection closes. */
  readonly signal: AbortSignal;
}

/**
 * The answering side of a downstream connection. A connection opened for a peer declares
 * {@link DownstreamPeer.capabilities} in its `initialize` request and routes the server's
 * elicitation and sampling requests, and its URL elicitations' completions, to the peer.
 */
export interface DownstreamPeer {
  /** The capabilities declared to the server (read when a connection opens). */
  readonly capabilities: PeerCapabilities;
  /** Answers `elicitation/create` of server `server` (declared with `capabilities.elicitation`). */
  elicit?(
    server: string,
    params: ElicitRequest['params'],
    options: PeerRequestOptions,
  ): Promise<ElicitResult>;
  /** Answers `sampling/createMessage` of server `server` (declared with `capabilities.sampling`). */
  sample?(
    server: string,
    params: CreateMessageRequest['params'],
    options: PeerRequestOptions,
  ): Promise<CreateMessageResult>;
  /** Told that a URL elicitation of server `server` completed (`notifications/elicitation/complete`). */
  elicitationComplete?(server: string, elicitationId: string): void;
  /** A log message of server `server` sent while none of the peer's calls was in flight. */
  message?(server: string, params: LoggingMessageNotification['params']): void;
  /**
   * Call `listener` when the peer goes away (its connections are then closed). Returns an
   * unsubscribe function. A peer without it lives as long as the registry.
   */
  onClose?(listener: () => void): () => void;
}

/** Whether a peer with `capabilities` can answer anything a server may ask. */
export function answersRequests(capabilities: PeerCapabilities): boolean {
  return capabilities.elicitation !== undefined || capabilities.sampling !== undefined;
}

/**
 * Route `client`'s server requests of elicitation and sampling to `peer` (the client must have
 * been made with `peer.capabilities`). A method the peer has no answer for is refused with
 * "method not found", as for a client that never declared it.
 */
export function attachPeer(client: Client, server: string, peer: DownstreamPeer): void {
  const { elicitation, sampling } = peer.capabilities;
  if (elicitation) {
    client.setRequestHandler(ElicitRequestSchema, (request, extra) => {
      if (!peer.elicit) throw refused(request.method);
      return peer.elicit(server, request.params, { signal: extra.signal });
    });
  }
  if (sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, (request, extra) => {
      if (!peer.sample) throw refused(request.method);
      return peer.sample(server, request.params, { signal: extra.signal });
    });
  }
  if (elicitation?.url !== undefined) {
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, ({ params }) => {
      peer.elicitationComplete?.(server, params.elicitationId);
    });
  }
}

function refused(method: string): McpError {
  return new McpError(ErrorCode.MethodNotFound, `${method} is not supported by this client`);
}
