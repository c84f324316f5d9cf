/**
 * Streamable HTTP sessions shared by replicas without affinity (MCP 2025-11-25): each session's
 * record (principal, negotiated version, client info and capabilities) is kept in a
 * {@link SessionRecordStore}, so that a request of the session that lands on a replica which
 * does not hold it finds the record (for its own principal only) and the session is restored
 * there (`session-restore.ts`). Every request touches the record; a DELETE ends it everywhere,
 * and a replica still holding an ended session closes it on its next request.
 *
 * A request that needs the store while it does not answer gets HTTP 503 naming the store (and
 * nothing of the error, which may name the store's address); the session goes on once it answers.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { SessionInit, SessionRecord, SessionRecordStore } from '../stores/sessions.js';
import { jsonRpcError } from './http-reply.js';
import { SESSION_PROTOCOL_VERSIONS } from './mcp-server.js';

/** The JSON-RPC error code of a request refused because the session store did not answer. */
export const SESSION_STORE_UNAVAILABLE_CODE = -32000;

/** The message of that refusal. */
export const SESSION_STORE_UNAVAILABLE_MESSAGE =
  'Service unavailable: the shared session store (oauth.token_store, Redis) did not answer; retry this request.';

/** Whether `error` says the store did not answer (`STORE_UNAVAILABLE`), not a fault of ours. */
export function isStoreFailure(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'STORE_UNAVAILABLE';
}

/** The session records of one HTTP handler, and the restores under way on this replica. */
export class SharedSessions {
  readonly records: SessionRecordStore;
  readonly #logger: Logger | undefined;
  readonly #restoring = new Map<string, Promise<unknown>>();

  constructor(records: SessionRecordStore, logger?: Logger) {
    this.records = records;
    this.#logger = logger;
  }

  /**
   * Run `restore` for session `id` of `principal` unless one is under way on this replica for
   * the same id and principal, in which case its result is awaited instead (two requests of a
   * session arriving together restore it once; another principal's request never shares it).
   */
  async once<T>(id: string, principal: string, restore: () => Promise<T>): Promise<T> {
    const key = JSON.stringify([id, principal]);
    const running = this.#restoring.get(key) as Promise<T> | undefined;
    if (running) return running;
    const started = restore().finally(() => this.#restoring.delete(key));
    this.#restoring.set(key, started);
    return started;
  }

  /**
   * End session `id` everywhere: the per-principal cap closed it on this replica, and a copy
   * elsewhere must not keep it, or the cap would bound nothing in the shared store. A store that
   * fails is logged; the record then idles out.
   */
  endEvicted(id: string): void {
    this.records.end(id).catch((error: unknown) => {
      this.#logger?.warn('a session evicted by the per-principal cap could not be ended', {
        code: errorCode(error),
      });
    });
  }

  /**
   * Remove the record of session `id`, whose `initialize` the transport refused (no client was
   * given the id). A store that fails is logged; the record then idles out.
   */
  async discardRefused(id: string): Promise<void> {
    await this.records.discard(id).catch((error: unknown) => {
      this.#logger?.warn('the record of a refused session could not be removed', {
        code: errorCode(error),
      });
    });
  }

  /** Answer 503: the store did not answer (a warning is logged, with the error's code only). */
  unavailable(res: ServerResponse, error: unknown): void {
    this.#logger?.warn('the shared session store did not answer; the request was refused (503)', {
      code: errorCode(error),
    });
    jsonRpcError(res, 503, SESSION_STORE_UNAVAILABLE_CODE, SESSION_STORE_UNAVAILABLE_MESSAGE);
  }
}

/** The record an `initialize` request `body` of `principal` opens (version as negotiated). */
export function recordOfInitialize(body: unknown, principal: string): SessionInit {
  const params = ((body as { params?: unknown }).params ?? {}) as {
    protocolVersion?: unknown;
    clientInfo?: unknown;
    capabilities?: unknown;
  };
  const requested = params.protocolVersion;
  const protocolVersion =
    typeof requested === 'string' && SESSION_PROTOCOL_VERSIONS.includes(requested)
      ? requested
      : (SESSION_PROTOCOL_VERSIONS[0] as string);
  const info = isObject(params.clientInfo) ? params.clientInfo : {};
  return {
    principal,
    protocolVersion,
    clientInfo: {
      ...info,
      name: typeof info.name === 'string' ? info.name : '',
      version: typeof info.version === 'string' ? info.version : '',
    },
    clientCapabilities: isObject(params.capabilities) ? params.capabilities : {},
  };
}

/** The fields of `record` a restored session is initialised with. */
export function negotiatedOf(sessionId: string, record: SessionRecord) {
  return {
    sessionId,
    protocolVersion: record.protocolVersion,
    clientInfo: record.clientInfo,
    clientCapabilities: record.clientCapabilities,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `code` of a store's error for the log (never its message, which may name the URL). */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'unknown';
}
