/**
 * Who opened each MCP session (MCP 2025-11-25 "Security Best Practices" › "Session Hijacking":
 * bind sessions to the user): the middleware sees the `Mcp-Session-Id` the server answers an
 * `initialize` with, remembers the caller's principal for it, and refuses the id to any other
 * principal, or when it does not know it (404, as `serve` answers). Bounded as `serve` bounds its
 * sessions: per principal (one more forgets that principal's least recently used) and in all (the
 * least recently used of anyone's goes). A forgotten session's owner gets 404 and opens a new
 * one, as the transport specification says a client does.
 *
 * @module
 */

/** The limits of a {@link SessionOwners} (positive integers: `createMcpAuth` checks its options). */
export interface SessionLimits {
  /** Sessions remembered in all. */
  readonly total: number;
  /** Sessions one principal may hold. */
  readonly perPrincipal: number;
}

/** The owner of each session id, least recently used first. */
export class SessionOwners {
  readonly #owners = new Map<string, string>();
  /** Each principal's sessions, least recently used first. */
  readonly #byPrincipal = new Map<string, string[]>();
  readonly #limits: SessionLimits;

  constructor(limits: SessionLimits) {
    this.#limits = limits;
  }

  /** Sessions remembered. */
  get size(): number {
    return this.#owners.size;
  }

  /** Whether `principal` opened session `id` (marked used when so). */
  owns(id: string, principal: string): boolean {
    if (this.#owners.get(id) !== principal) return false;
    this.forget(id);
    this.#remember(id, principal);
    return true;
  }

  /** Session `id` was opened by `principal`. */
  bind(id: string, principal: string): void {
    this.forget(id);
    const mine = this.#remember(id, principal);
    while (mine.length > this.#limits.perPrincipal) this.forget(mine[0] as string);
    while (this.#owners.size > this.#limits.total) {
      const oldest = this.#owners.keys().next().value;
      if (oldest === undefined) break;
      this.forget(oldest);
    }
  }

  /** Session `id` ended (or is given up). */
  forget(id: string): void {
    const owner = this.#owners.get(id);
    if (owner === undefined) return;
    this.#owners.delete(id);
    const mine = this.#byPrincipal.get(owner) ?? [];
    mine.splice(mine.indexOf(id), 1);
    if (mine.length === 0) this.#byPrincipal.delete(owner);
  }

  /** `id` as `principal`'s most recently used session; `principal`'s sessions, oldest first. */
  #remember(id: string, principal: string): string[] {
    this.#owners.set(id, principal);
    const mine = this.#byPrincipal.get(principal) ?? [];
    mine.push(id);
    this.#byPrincipal.set(principal, mine);
    return mine;
  }

  /** Forget every session. */
  clear(): void {
    this.#owners.clear();
    this.#byPrincipal.clear();
  }
}
