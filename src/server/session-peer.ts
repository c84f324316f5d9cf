/**
 * The caller's client as the peer of downstream connections: a downstream server's
 * `elicitation/create` and `sampling/createMessage` during one of the session's tool calls go to
 * the caller on that call's stream, and the answer goes back. The downstream connections opened
 * for the session declare exactly the elicitation and sampling capabilities the caller declared,
 * so a server never asks what the caller cannot answer; an answer that fails the requested schema
 * is refused (the SDK's `elicitInput` validates it).
 *
 * A forwarded request relates to the call that caused it (the connection names it, see
 * `PeerRequestOptions.related`; else the session's latest). It fails at once (so the server is
 * not left waiting) when none of the session's calls is running (nothing could carry it to the
 * caller), when the session closes, when the call it relates to ends or is cancelled, or when
 * the stream that call's answer would go on is gone (the caller disconnected; without
 * resumability nothing sent there arrives). A URL elicitation's completion is forwarded only for
 * an elicitation the same server asked through this peer.
 *
 * @module
 */
import {
  type ClientCapabilities,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
  type LoggingMessageNotification,
  ProtocolError,
  ProtocolErrorCode,
  type RequestId,
  type Server,
} from '@modelcontextprotocol/server';
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

/** A downstream server's sampling request, as the downstream connection types it. */
type SampleParams = Parameters<NonNullable<DownstreamPeer['sample']>>[1];

/** The answer to a sampling request, as the downstream connection types it. */
type SampleResult = Awaited<ReturnType<NonNullable<DownstreamPeer['sample']>>>;

/** How long a caller has to answer a forwarded request (a person may be filling in a form). */
const ANSWER_TIMEOUT_MS = 10 * 60_000;

/**
 * The refusal of a server's request while none of the session's calls runs (as `noCallInFlight`
 * of the servers' layer, which this layer does not import at run time).
 */
function noCallInFlight(): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidRequest,
    'no request of the caller is in flight to relate this request to',
  );
}

/** URL elicitations remembered (for their completions) per session, at most. */
const MAX_URL_ELICITATIONS = 64;

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
  /** The URL elicitations servers asked through this peer (server NUL id), oldest first. */
  readonly #urlElicitations = new Set<string>();
  #group: string | undefined;
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

  /** The caller's principal, once a call told it (see {@link SessionPeer.belongsTo}). */
  get group(): string | undefined {
    return this.#group;
  }

  /**
   * The session is `principal`'s (its peer connections count against that principal's limit);
   * the first principal given stays.
   */
  belongsTo(principal: string): void {
    this.#group ??= principal;
  }

  /**
   * Run `work`, one of the session's requests (`id`, cancelled by `signal`), as the request a
   * server's asks relate to; they fail when `signal` aborts or `work` ends.
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
      call.ended.abort(new Error('the request it relates to has ended'));
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

  /**
   * Ask the caller `server`'s elicitation, on the stream of the call it relates to (refused when
   * no call is running); the SDK checks an accepted form's content against the schema.
   */
  async elicit(
    server: string,
    params: ElicitRequest['params'],
    options: PeerRequestOptions,
  ): Promise<ElicitResult> {
    const requestOptions = this.#requestOptions(options);
    if (params.mode === 'url') this.#rememberUrl(`${server}\u0000${params.elicitationId}`);
    return this.#server.elicitInput(params, requestOptions);
  }

  /** Ask the caller `server`'s sampling request, as {@link SessionPeer.elicit} does. */
  async sample(
    _server: string,
    params: SampleParams,
    options: PeerRequestOptions,
  ): Promise<SampleResult> {
    // The same wire shapes on both sides: the downstream connection's types and the SDK's.
    return (await this.#server.createMessage(
      params as CreateMessageRequest['params'],
      this.#requestOptions(options),
    )) as CreateMessageResult as SampleResult;
  }

  /**
   * Tell the caller that `server`'s URL elicitation `elicitationId` completed, on the latest
   * running call's stream when there is one; dropped unless `server` asked it through this peer.
   */
  elicitationComplete(server: string, elicitationId: string): void {
    if (!this.#urlElicitations.delete(`${server}\u0000${elicitationId}`)) return;
    const related = this.#running.at(-1);
    this.#server
      .createElicitationCompletionNotifier(
        elicitationId,
        related ? { relatedRequestId: related.id } : undefined,
      )()
      .catch(() => {
        // The caller went away; the completion has nowhere to go.
      });
  }

  /** `server`'s log message outside the session's calls: to the session's log. */
  message(server: string, params: LoggingMessageNotification['params']): void {
    this.#log.message(server, params);
  }

  /** Call `listener` when the session ends (at once if it has); returns an unsubscribe. */
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

  #rememberUrl(key: string): void {
    this.#urlElicitations.delete(key);
    this.#urlElicitations.add(key);
    if (this.#urlElicitations.size <= MAX_URL_ELICITATIONS) return;
    const [oldest] = this.#urlElicitations;
    if (oldest !== undefined) this.#urlElicitations.delete(oldest);
  }

  /**
   * On the stream of the running call the request relates to (`options.related`, else the latest
   * running call); cancelled with the server's request and with the end of that call (see
   * {@link SessionPeer.during}). Throws the refusal when no call is running.
   */
  #requestOptions(options: PeerRequestOptions) {
    const related =
      (options.related === undefined
        ? undefined
        : this.#running.find((call) => call.id === options.related)) ?? this.#running.at(-1);
    if (!related) throw noCallInFlight();
    return {
      signal: AbortSignal.any([options.signal, related.ended.signal]),
      timeout: ANSWER_TIMEOUT_MS,
      relatedRequestId: related.id,
    };
  }
}
