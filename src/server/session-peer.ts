/**
 * The caller's client as the peer of downstream connections: a downstream server's
 * `elicitation/create` and `sampling/createMessage` during one of the session's tool calls go to
 * the caller on that call's stream, and the answer goes back. The downstream connections opened
 * for the session declare exactly the elicitation and sampling capabilities the caller declared,
 * so a server never asks what the caller cannot answer; an answer that fails the requested schema
 * is refused (the SDK's `elicitInput` validates it).
 *
 * @module
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type {
  ClientCapabilities,
  CreateMessageRequest,
  CreateMessageResult,
  ElicitRequest,
  ElicitResult,
  LoggingMessageNotification,
  RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { DownstreamPeer, PeerCapabilities, PeerRequestOptions } from '../servers/peer.js';
import type { DownstreamLogSink } from '../servers/registry.js';

/**
 * Exactly the elicitation and sampling capabilities of `capabilities` (a caller's, from its
 * `initialize` request), copied; `{}` for a client that declared neither.
 */
function peerCapabilitiesOf(capabilities: ClientCapabilities | undefined): PeerCapabilities {
  const { elicitation, sampling } = capabilities ?? {};
  return {
    ...(elicitation ? { elicitation: structuredClone(elicitation) } : {}),
    ...(sampling ? { sampling: structuredClone(sampling) } : {}),
  };
}

/** How long a caller has to answer a forwarded request (a person may be filling in a form). */
const ANSWER_TIMEOUT_MS = 10 * 60_000;

/** One session's client, answering its downstream servers' requests (see the module). */
export class SessionPeer implements DownstreamPeer {
  readonly #server: Server;
  readonly #log: DownstreamLogSink;
  /** The session's tool calls running now, latest last. */
  readonly #running: RequestId[] = [];
  readonly #closeListeners = new Set<() => void>();
  #closed = false;

  /** `server`: the session's SDK server; `log`: where servers' messages outside calls go. */
  constructor(server: Server, log: DownstreamLogSink) {
    this.#server = server;
    this.#log = log;
  }

  /** The caller's elicitation and sampling capabilities (known once it has initialized). */
  get capabilities(): PeerCapabilities {
    return peerCapabilitiesOf(this.#server.getClientCapabilities());
  }

  /** Run `work`, one of the session's requests (`id`), as the request a server's asks relate to. */
  async during<T>(id: RequestId, work: () => Promise<T>): Promise<T> {
    this.#running.push(id);
    try {
      return await work();
    } finally {
      this.#running.splice(this.#running.lastIndexOf(id), 1);
    }
  }

  elicit(
    _server: string,
    params: ElicitRequest['params'],
    options: PeerRequestOptions,
  ): Promise<ElicitResult> {
    return this.#server.elicitInput(params, this.#requestOptions(options));
  }

  async sample(
    _server: string,
    params: CreateMessageRequest['params'],
    options: PeerRequestOptions,
  ): Promise<CreateMessageResult> {
    return (await this.#server.createMessage(
      params,
      this.#requestOptions(options),
    )) as CreateMessageResult;
  }

  elicitationComplete(_server: string, elicitationId: string): void {
    this.#server
      .createElicitationCompletionNotifier(elicitationId)()
      .catch(() => {
        // The caller went away; the completion has nowhere to go.
      });
  }

  message(server: string, params: LoggingMessageNotification['params']): void {
    this.#log.message(server, params);
  }

  onClose(listener: () => void): () => void {
    if (this.#closed) {
      queueMicrotask(listener);
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** The session ended: its downstream connections close. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of this.#closeListeners) listener();
    this.#closeListeners.clear();
  }

  /** On the stream of the latest running tool call, if any; cancelled with the server's request. */
  #requestOptions(options: PeerRequestOptions) {
    const related = this.#running.at(-1);
    return {
      signal: options.signal,
      timeout: ANSWER_TIMEOUT_MS,
      ...(related === undefined ? {} : { relatedRequestId: related }),
    };
  }
}
