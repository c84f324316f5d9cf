/**
 * The sessions of the agent's HTTP front, each bound to the principal that opened it: looked up
 * only for that principal, capped per principal (the least recently used goes) and in all, and
 * closed once idle.
 *
 * @module
 */
import type { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { Server } from '@modelcontextprotocol/server';
import type { SessionEvents } from './session-events.js';
import type { SseServerTransport } from './sse-transport.js';

/** The principal of every caller when authorization is off. */
export const ANONYMOUS = 'anonymous';

interface SessionBase {
  /** Who opened it ({@link principalOf}, or {@link ANONYMOUS}). */
  readonly principal: string;
  readonly server: Server;
  lastUsed: number;
}

/** A session of the Streamable HTTP endpoint. */
export interface StreamableSession extends SessionBase {
  readonly kind: 'streamable';
  /** Its `Mcp-Session-Id`. */
  readonly id: string;
  readonly transport: NodeStreamableHTTPServerTransport;
  /** The events of its resumable streams, when streams are resumable. */
  readonly events?: SessionEvents | undefined;
}

/** A session of the legacy SSE endpoint. */
export interface SseSession extends SessionBase {
  readonly kind: 'sse';
  readonly transport: SseServerTransport;
}

/** An open MCP session. */
export type Session = StreamableSession | SseSession;

/** The limits of a {@link SessionTable}. */
export interface SessionLimits {
  readonly now: () => number;
  /** Sessions one principal may hold; one more closes its least recently used. */
  readonly perPrincipal: number;
  /** Sessions in all. */
  readonly total: number;
  /** A session unused this long is closed, in milliseconds. */
  readonly idleMs: number;
}

/** The open sessions by id, with their limits and the sweeper that closes idle ones. */
export class SessionTable {
  readonly #sessions = new Map<string, Session>();
  readonly #limits: SessionLimits;
  readonly #onEvicted: ((id: string) => void) | undefined;
  readonly #sweeper: ReturnType<typeof setInterval>;

  /**
   * `onEvicted`: told the id of each session the per-principal cap closes (shared sessions end
   * its record there, so the cap also bounds what a principal keeps in the shared store).
   */
  constructor(limits: SessionLimits, onEvicted?: (id: string) => void) {
    this.#onEvicted = onEvicted;
    this.#limits = limits;
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(60_000, limits.idleMs));
    this.#sweeper.unref();
  }

  /** Open sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Register `session` under `id`. */
  add(id: string, session: Session): void {
    this.#sessions.set(id, session);
  }

  /** Forget session `id` (its transport closed); only if it is `session`, when given. */
  delete(id: string, session?: Session): void {
    if (session === undefined || this.#sessions.get(id) === session) this.#sessions.delete(id);
  }

  /**
   * Session `id` of `kind` when `principal` opened it, marked used; another principal's session
   * does not exist for this caller.
   */
  find<K extends Session['kind']>(
    id: string | undefined,
    principal: string,
    kind: K,
  ): Extract<Session, { kind: K }> | undefined {
    const session = id === undefined ? undefined : this.#sessions.get(id);
    if (!session || session.kind !== kind || session.principal !== principal) return undefined;
    session.lastUsed = this.#limits.now();
    return session as Extract<Session, { kind: K }>;
  }

  /**
   * Whether {@link makeRoom} would find room for one more session of `principal`, closing
   * nothing yet: its least recently used would go beyond the per-principal cap.
   */
  hasRoom(principal: string): boolean {
    const full = principal !== ANONYMOUS && this.#countOf(principal) >= this.#limits.perPrincipal;
    return this.#sessions.size - (full ? 1 : 0) < this.#limits.total;
  }

  #countOf(principal: string): number {
    let count = 0;
    for (const session of this.#sessions.values()) if (session.principal === principal) count += 1;
    return count;
  }

  /** Room for one more session of `principal`: its least recently used goes beyond the cap. */
  makeRoom(principal: string): boolean {
    // Without authorization every caller is "anonymous": only the global cap applies then.
    const mine =
      principal === ANONYMOUS
        ? []
        : [...this.#sessions].filter(([, session]) => session.principal === principal);
    if (mine.length >= this.#limits.perPrincipal) {
      const [id, oldest] = mine.reduce((a, b) => (b[1].lastUsed < a[1].lastUsed ? b : a));
      this.#close(id, oldest);
      this.#onEvicted?.(id);
    }
    return this.#sessions.size < this.#limits.total;
  }

  /** Tell every session (with `principal`, that principal's only) the tool list changed. */
  notifyToolsChanged(principal?: string): void {
    for (const session of this.#sessions.values()) {
      if (principal !== undefined && session.principal !== principal) continue;
      void session.server.sendToolListChanged().catch(() => {});
    }
  }

  /** Stop the sweeper and end every session. */
  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    const open = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(open.map((session) => session.server.close().catch(() => {})));
  }

  #close(id: string, session: Session): void {
    this.#sessions.delete(id);
    void session.transport.close().catch(() => {});
    void session.server.close().catch(() => {});
  }

  #sweep(): void {
    const cutoff = this.#limits.now() - this.#limits.idleMs;
    for (const [id, session] of this.#sessions) {
      if (session.lastUsed < cutoff) this.#close(id, session);
    }
  }
}
