/**
 * Whether an authorization server still knows a client, asked before a person is sent to it.
 * RFC 6749 §4.1.2.1: for an invalid `client_id` the server informs the user and does not redirect,
 * so a browser would stay on its error page and the login would only time out. The probe sends
 * the same authorization request without `state` and with another PKCE challenge (so it can never
 * complete anything, and is told apart from the person's request), follows no redirect and reads
 * at most a few kilobytes of the answer. It asks for the same scope: an authorization server may
 * judge a client by its first authorization request after a challenge.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { FetchLike } from '../../fetch.js';
import { OAuthServerError } from './failures.js';

/** The most of an answer the probe reads. */
const PROBE_BYTES = 16 * 1024;

/** How long the probe may take; past it, the login goes ahead as if the client were known. */
const PROBE_TIMEOUT_MS = 10_000;

const REFUSALS = ['invalid_client', 'unauthorized_client'] as const;

/**
 * The error with which the authorization server refuses the client of the authorization request
 * `url` (`invalid_client`, `unauthorized_client`), as an {@link OAuthServerError}; `undefined`
 * when it does not (it shows a login page, redirects elsewhere, or cannot be reached: the login
 * then goes ahead).
 */
export async function probeAuthorization(
  url: URL,
  redirectUri: string,
  fetch: FetchLike,
): Promise<OAuthServerError | undefined> {
  const probe = new URL(url);
  probe.searchParams.delete('state');
  if (probe.searchParams.has('code_challenge')) {
    probe.searchParams.set('code_challenge', randomBytes(32).toString('base64url'));
  }
  let response: Response;
  try {
    response = await fetch(probe, {
      redirect: 'manual',
      headers: { accept: 'text/html, application/json;q=0.9' },
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
  } catch {
    return undefined;
  }
  const code =
    response.status >= 300 && response.status < 400
      ? redirectedError(response, probe, redirectUri)
      : response.status >= 400 && response.status < 500
        ? pageError(await prefix(response).catch(() => ''), echoable(probe))
        : undefined;
  await response.body?.cancel().catch(() => {});
  if (code === undefined) return undefined;
  return new OAuthServerError(
    'OAUTH_AUTHORIZATION',
    `The authorization server ${url.origin} refuses the client of the authorization request (${code}).`,
    { error: code, status: response.status },
  );
}

/** The refusal a redirect back to `redirectUri` carries (`?error=invalid_client`), if any. */
function redirectedError(response: Response, probe: URL, redirectUri: string): string | undefined {
  const location = response.headers.get('location');
  if (!location || !URL.canParse(location, probe.href)) return undefined;
  const target = new URL(location, probe);
  const expected = URL.canParse(redirectUri) ? new URL(redirectUri) : undefined;
  if (!expected || target.origin !== expected.origin || target.pathname !== expected.pathname) {
    return undefined;
  }
  const error = target.searchParams.get('error');
  return REFUSALS.find((refusal) => refusal === error);
}

/**
 * The refusal an error page names: a JSON `error`, or the code as a word of an HTML page, unless
 * the request itself carries it (a scope or resource a server chose could be echoed on the page).
 */
function pageError(text: string, echoable: boolean): string | undefined {
  try {
    const json = JSON.parse(text) as { error?: unknown };
    return REFUSALS.find((refusal) => refusal === json?.error);
  } catch {
    if (echoable) return undefined;
    return REFUSALS.find((refusal) => new RegExp(`\\b${refusal}\\b`).test(text));
  }
}

/** Whether a value of the request contains one of the refusal codes (it could be echoed). */
function echoable(probe: URL): boolean {
  return [...probe.searchParams.values()].some((value) =>
    REFUSALS.some((refusal) => value.includes(refusal)),
  );
}

/** The first {@link PROBE_BYTES} bytes of the body, as text. */
async function prefix(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < PROBE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, PROBE_BYTES));
}
