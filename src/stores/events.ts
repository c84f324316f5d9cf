/**
 * The last background-refresh event of each grant, kept on the token store's backend so that
 * `mcp-agent auth status` in another process (or on another replica) can show what the agent's
 * scheduler saw: refreshed, failed (and when it retries), or needs a login. Never a token value;
 * messages are the library's own error sentences, which carry none.
 *
 * @module
 */
import * as z from 'zod';
import { keyPart } from './key-part.js';
import type { KeyValueStore } from './kv.js';

/** Storage keys of grant events start with this. */
export const EVENT_KEY_PREFIX = '#event:';

/** How long an event is kept (7 days). */
export const EVENT_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** What the background refresh last did for one server and identity. */
export interface GrantEvent {
  readonly type: 'refreshed' | 'failed' | 'needs-login';
  /** Epoch milliseconds. */
  readonly at: number;
  /** The error sentence, for `failed` and `needs-login`. */
  readonly message?: string | undefined;
  /** When the next attempt is due (epoch milliseconds), for `failed`. */
  readonly retryAt?: number | undefined;
}

const storedSchema = z.object({
  v: z.literal(1),
  type: z.enum(['refreshed', 'failed', 'needs-login']),
  at: z.number(),
  message: z.string().max(2000).optional(),
  retry_at: z.number().optional(),
});

function eventKey(identity: string, server: string): string {
  return `${EVENT_KEY_PREFIX}${keyPart(identity)}:${keyPart(server)}`;
}

/** Grant events on a {@link KeyValueStore}. */
export class GrantEventStore {
  readonly #kv: KeyValueStore;

  constructor(kv: KeyValueStore) {
    this.#kv = kv;
  }

  /** Keep `event` as the last one of (`identity`, `server`). */
  async record(identity: string, server: string, event: GrantEvent): Promise<void> {
    const text = JSON.stringify({
      v: 1,
      type: event.type,
      at: event.at,
      ...(event.message !== undefined ? { message: event.message.slice(0, 2000) } : {}),
      ...(event.retryAt !== undefined ? { retry_at: event.retryAt } : {}),
    });
    await this.#kv.set(eventKey(identity, server), text, { ttlMs: EVENT_TTL_MS });
  }

  /** The last event of (`identity`, `server`), or `undefined`. */
  async last(identity: string, server: string): Promise<GrantEvent | undefined> {
    const stored = await this.#kv.get(eventKey(identity, server));
    if (!stored) return undefined;
    try {
      const parsed = storedSchema.parse(JSON.parse(stored.value));
      return {
        type: parsed.type,
        at: parsed.at,
        ...(parsed.message !== undefined ? { message: parsed.message } : {}),
        ...(parsed.retry_at !== undefined ? { retryAt: parsed.retry_at } : {}),
      };
    } catch {
      return undefined;
    }
  }

  /** Forget the event of (`identity`, `server`) (after a new login or a logout). */
  async clear(identity: string, server: string): Promise<void> {
    await this.#kv.delete(eventKey(identity, server));
  }
}
