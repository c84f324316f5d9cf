/**
 * The caller's client as the peer of downstream connections: a downstream server's
 * `elicitation/create` and `sampling/createMessage` during one of the session's tool calls go to
 * the caller on that call's stream, and the answer goes back. The downstream connections opened
 * for the session declare exactly the elicitation and sampling capabilities the caller declared,
 * so a server never asks what the caller cannot answer; an answer that fails the requested schema
 * is refused (the SDK's `elicitInput` validates it).
 *
 * A forwarded request fails at once (so the server is not left waiting) when the session closes,
 * when the caller cancels the call it relates to, or when the stream that call's answer would go
 * on is gone (the caller disconnected; without resumability nothing sent there arrives).
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

/** The peer of each session's SDK server (see {@link sessionPeerOf}). */
const peers = new WeakMap<Server, SessionPeer>();

/** The {@link SessionPeer} made for `server`'s session, if any. */
export function sessionPeerOf(server: Server): SessionPeer | undefined {
  return peers.get(server);
}

/** A running tool call: its request id, and what ends the requests forwarded during it. */
interface RunningCall {
  readonly id: RequestId;
  readonly ended: AbortController;
}

/** One session's client, answering its downstream servers' requests (see the module). */
export class SessionPeer implements DownstreamPeer {
  readonly #server: Server;
  readonly #log: DownstreamLogSink;
  /** The session's tool calls running now, latest last. */
  readonly #running: RunningCall[] = [];
  readonly #closeListeners = new Set<() => void>();
  #closed = false;

  /** `server`: the session's SDK server; `log`: where servers' messages outside calls go. */
  constructor(server: Server, log: DownstreamLogSink) {
    this.#server = server;
    this.#log = log;
    peers.set(server, this);
  }

  /** The caller's elicitation and sampling capabilities (known once it has initialized). */
  get capabilities(): PeerCapabilities {
    return peerCapabilitiesOf(this.#server.getClientCapabilities());
  }

  /**
   * Run `work`, one of the session's requests (`id`, cancelled by `signal`), as the request a
   * server's asks relate to; they fail when `signal` aborts.
   */
  async during<T>(id: RequestId, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
    const call: RunningCall = { id, ended: new AbortController() };
    const end = () => call.ended.abort(signal.reason);
    signal.addEventListener('abort', end, { once: true });
    this.#running.push(call);
    try {
      return await work();
    } finally {
      signal.removeEventListener('abort', end);
      this.#running.splice(this.#running.indexOf(call), 1);
    }
  }

  /**
   * The stream of requests `ids` closed before their answers were sent: what was forwarded
   * during them fails (it can no longer reach the caller), the calls themselves go on.
   */
  streamClosed(ids: readonly RequestId[]): void {
    for (const call of this.#running) {
      if (ids.includes(call.id)) {
        call.ended.abort(new Error('the caller disconnected from the request it relates to'));
      }
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

  /**
   * On the stream of the latest running tool call, if any; cancelled with the server's request
   * and with the end of that call (see {@link SessionPeer.during}).
   */
  #requestOptions(options: PeerRequestOptions) {
    const related = this.#running.at(-1);
    return {
      signal: related ? AbortSignal.any([options.signal, related.ended.signal]) : options.signal,
      timeout: ANSWER_TIMEOUT_MS,
      ...(related === undefined ? {} : { relatedRequestId: related.id }),
    };
  }
}
