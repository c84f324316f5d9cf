/**
 * A `fetch` for our token manager that keeps what it asked of a peer: method, origin, path and
 * the `grant_type` of form bodies (never a body's secrets).
 */
import type { OAuthFetch } from '../../../src/oauth/protocol/registration.js';

/** One request our OAuth client sent. */
export interface RecordedRequest {
  readonly method: string;
  readonly origin: string;
  readonly path: string;
  /** The `grant_type` of a form body, when there is one. */
  readonly grantType: string | undefined;
  /** The response status. */
  readonly status: number;
}

/** The global `fetch`, recording each request in `log`. */
export function recordingFetch(): { fetch: OAuthFetch; log: RecordedRequest[] } {
  const log: RecordedRequest[] = [];
  const recording: OAuthFetch = async (input, init) => {
    const url = new URL(String(input));
    const body = init?.body;
    const grantType =
      body instanceof URLSearchParams
        ? (body.get('grant_type') ?? undefined)
        : typeof body === 'string' && body.includes('grant_type=')
          ? (new URLSearchParams(body).get('grant_type') ?? undefined)
          : undefined;
    const response = await fetch(input, init);
    log.push({
      method: init?.method ?? 'GET',
      origin: url.origin,
      path: url.pathname,
      grantType,
      status: response.status,
    });
    return response;
  };
  return { fetch: recording, log };
}
