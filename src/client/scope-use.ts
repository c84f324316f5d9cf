/**
 * How much one end user's scope is in use, counted where its connections send (the registry's
 * HTTP transports), not only where the scope is looked up: a connected SDK `Client` kept by a
 * framework (LangChain's tools) is used without ever asking for the scope again. Each request
 * makes the scope recently used; a `POST` (an MCP request and its answer, which may stream) is in
 * flight until its response body is read to the end, dropped or failed. A scope is not idle while
 * a request is in flight, and one pushed out then is closed when the last one ends.
 *
 * @module
 */
import type { FetchLike } from '../fetch.js';
import type { FetchWrapper } from '../servers/transports.js';

/** The use of one scope: when it was last used, how many requests are in flight. */
export class ScopeUse {
  /** When the scope was last used (looked up, or a request sent or answered), epoch ms. */
  lastUsed: number;
  readonly #now: () => number;
  #inFlight = 0;
  #onIdle: (() => void) | undefined;

  constructor(now: () => number) {
    this.#now = now;
    this.lastUsed = now();
  }

  /** The requests sent and not yet answered to the end. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Run `close` now when no request is in flight, else once the last one ends. */
  closeWhenIdle(close: () => void): void {
    if (this.#inFlight === 0) close();
    else this.#onIdle = close;
  }

  /** The registry's {@link FetchWrapper} that counts each request of the scope's transports. */
  readonly wrapFetch: FetchWrapper = (_server, _settings, fetch) => this.#counting(fetch);

  #counting(fetch: FetchLike): FetchLike {
    return async (input, init) => {
      this.lastUsed = this.#now();
      // The standalone event stream (GET) listens for as long as the connection is open, and a
      // DELETE ends the session: neither is a call in flight.
      if ((init?.method ?? 'GET').toUpperCase() !== 'POST') return fetch(input, init);
      const end = this.#begin();
      try {
        return whenBodyEnds(await fetch(input, init), end);
      } catch (error) {
        end();
        throw error;
      }
    };
  }

  /** Count one request in flight; the function returned ends it (once). */
  #begin(): () => void {
    this.#inFlight += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#inFlight -= 1;
      this.lastUsed = this.#now();
      const onIdle = this.#onIdle;
      if (this.#inFlight === 0 && onIdle) {
        this.#onIdle = undefined;
        onIdle();
      }
    };
  }
}

/** `response`, `end` called once its body was read to the end, cancelled or failed. */
function whenBodyEnds(response: Response, end: () => void): Response {
  if (!response.body) {
    end();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
