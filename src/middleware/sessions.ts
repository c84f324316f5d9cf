/**
 * Who opened each MCP session (MCP 2025-11-25 "Security Best Practices" › "Session Hijacking":
 * bind sessions to the user): the middleware sees the `Mcp-Session-Id` the server answers an
 * `initialize` with, remembers the caller's principal for it, and refuses the id to any other
 * principal, or when it does not know it (404, as `serve` answers). Bounded: the least recently
 * used is forgotten first (its owner then gets 404 and opens a new session, as the transport
 * specification says a client does).
 *
 * @module
 */

/** The owner of each session id, least recently used first. */
export class SessionOwners {
  readonly #owners = new Map<string, string>();
  readonly #max: number;

  constructor(max: number) {
    if (!(Number.isInteger(max) && max > 0)) {
      throw Object.assign(new TypeError('maxSessions must be a positive integer'), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
    this.#max = max;
  }

  /** Sessions remembered. */
  get size(): number {
    return this.#owners.size;
  }

  /** Whether `principal` opened session `id` (marked used when so). */
  owns(id: string, principal: string): boolean {
    const owner = this.#owners.get(id);
    if (owner !== principal) return false;
    this.#owners.delete(id);
    this.#owners.set(id, owner);
    return true;
  }

  /** Session `id` was opened by `principal`. */
  bind(id: string, principal: string): void {
    this.#owners.delete(id);
    this.#owners.set(id, principal);
    while (this.#owners.size > this.#max) {
      const oldest = this.#owners.keys().next().value;
      if (oldest === undefined) break;
      this.#owners.delete(oldest);
    }
  }

  /** Session `id` ended. */
  forget(id: string): void {
    this.#owners.delete(id);
  }

  /** Forget every session. */
  clear(): void {
    this.#owners.clear();
  }
}
