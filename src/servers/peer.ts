/**
 * Who answers a downstream server's requests to its client: `elicitation/create` (form and URL
 * modes) and `sampling/createMessage` (MCP 2025-11-25, client features). The downstream client
 * declares exactly the capabilities of its peer (the caller's client behind `serve`, or the
 * terminal of the CLI); a request the peer cannot answer gets the protocol's refusal.
 *
 * @module
 */
import {
  type Client,
  type ClientCapabilities,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
  type LoggingMessageNotification,
  ProtocolError,
  ProtocolErrorCode,
  type RequestId,
} from '@modelcontextprotocol/client';

/** The client capabilities a peer can answer for: elicitation and sampling. */
export type PeerCapabilities = Pick<ClientCapabilities, 'elicitation' | 'sampling'>;

/** What a forwarded request may be cancelled by, and which call of the peer's it relates to. */
export interface PeerRequestOptions {
  /** Aborted when the downstream server cancels its request or the connection closes. */
  readonly signal: AbortSignal;
  /**
   * The peer-side request id of the call the server's request relates to: the latest call in
   * flight on the connection that gave one (`CallToolOptions.relatedRequest`); `undefined` when
   * no such call is in flight.
   */
  readonly related?: RequestId | undefined;
}

/**
 * What a connection tells the handlers {@link attachPeer} registers: which of its calls a request
 * relates to, and that a request is waiting for the peer (a call's deadline pauses meanwhile).
 */
export interface PeerAskContext {
  /** The peer-side request id of the latest call in flight that gave one. */
  related(): RequestId | undefined;
  /** A request of the server's is waiting for the peer; call the returned function when done. */
  asking(): () => void;
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
  /**
   * Whose peer this is (serve: the caller's principal), for the limit of connections per group;
   * without it, only the limit of all peers' connections applies.
   */
  readonly group?: string | undefined;
}

/** Whether a peer with `capabilities` can answer anything a server may ask. */
export function answersRequests(capabilities: PeerCapabilities): boolean {
  return capabilities.elicitation !== undefined || capabilities.sampling !== undefined;
}

/**
 * Route `client`'s server requests of elicitation and sampling to `peer` (the client must have
 * been made with `peer.capabilities`), related to the call `context` names and counted by it
 * while they wait. A method the peer has no answer for is refused with "method not found", as
 * for a client that never declared it.
 */
export function attachPeer(
  client: Client,
  server: string,
  peer: DownstreamPeer,
  context?: PeerAskContext,
): void {
  const { elicitation, sampling } = peer.capabilities;
  const asked = async <T>(
    signal: AbortSignal,
    answer: (options: PeerRequestOptions) => Promise<T>,
  ) => {
    const done = context?.asking();
    try {
      return await answer({ signal, related: context?.related() });
    } finally {
      done?.();
    }
  };
  if (elicitation) {
    client.setRequestHandler('elicitation/create', (request, context) => {
      const { elicit } = peer;
      if (!elicit) throw refused(request.method);
      return asked(context.mcpReq.signal, (options) =>
        elicit.call(peer, server, request.params, options),
      );
    });
  }
  if (sampling) {
    client.setRequestHandler('sampling/createMessage', (request, context) => {
      const { sample } = peer;
      if (!sample) throw refused(request.method);
      return asked(context.mcpReq.signal, (options) =>
        sample.call(peer, server, request.params, options),
      );
    });
  }
  if (elicitation?.url !== undefined) {
    client.setNotificationHandler('notifications/elicitation/complete', ({ params }) => {
      peer.elicitationComplete?.(server, params.elicitationId);
    });
  }
}

/** The refusal of a request method the client declared no answer for ("method not found"). */
function refused(method: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.MethodNotFound,
    `${method} is not supported by this client`,
  );
}

/**
 * The refusal of a server's request that arrives while none of the peer's calls is in flight (on
 * a connection used for listing, or after its call ended): there is no request of the caller's to
 * relate it to (MCP 2025-11-25 relates a server's requests to a client request), so it fails at
 * once rather than wait for an answer that cannot come.
 */
export function noCallInFlight(): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidRequest,
    'no request of the caller is in flight to relate this request to',
  );
}

/**
 * The capabilities a server tells clients apart by, of `capabilities`: `{}` or `{ form: {} }` /
 * `{ url: {} }` elicitation, sampling with or without `tools` and `context`. Peers with the same
 * set see the same tools, so they can share a connection for listing.
 */
export function capabilitySetOf(capabilities: PeerCapabilities): PeerCapabilities {
  const { elicitation, sampling } = capabilities;
  const form = elicitation !== undefined && (elicitation.form !== undefined || !elicitation.url);
  return {
    ...(elicitation
      ? {
          elicitation: {
            ...(form ? { form: {} } : {}),
            ...(elicitation.url !== undefined ? { url: {} } : {}),
          },
        }
      : {}),
    ...(sampling
      ? {
          sampling: {
            ...(sampling.tools !== undefined ? { tools: {} } : {}),
            ...(sampling.context !== undefined ? { context: {} } : {}),
          },
        }
      : {}),
  };
}
