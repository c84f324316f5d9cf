/**
 * Reading the bearer token of a request (RFC 6750 §2.1, OAuth 2.1 §5.1): only the
 * `Authorization` header is a token method; the scheme is case-insensitive, the credentials are
 * `1*SP b64token`. A token in the query is ignored (alone) or makes the request malformed (with a
 * header), as is a repeated `Authorization` header. Shape and size are checked here, before any
 * parsing.
 *
 * @module
 */

/** What a request carries. */
export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed'; readonly description: string }
  | { readonly kind: 'oversized' }
  | { readonly kind: 'bearer'; readonly token: string };

/** Longest token accepted, in characters (larger ones are refused before any parsing). */
export const MAX_TOKEN_LENGTH = 8192;

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The credentials of a request from its `Authorization` header values (each one separately, e.g.
 * Node's `headersDistinct.authorization`; a fetch `Headers` joins repeats with a comma, which no
 * token contains) and whether its query carries `access_token`.
 */
export function readCredentials(
  authorization: readonly string[] | string | null | undefined,
  queryHasToken = false,
): Credentials {
  const values =
    authorization === null || authorization === undefined
      ? []
      : typeof authorization === 'string'
        ? [authorization]
        : authorization;
  if (values.length > 1) {
    return { kind: 'malformed', description: 'more than one Authorization header' };
  }
  const header = values[0];
  if (header === undefined) return { kind: 'none' };
  const scheme = header.split(/[ \t]/, 1)[0] ?? '';
  const rest = header.slice(scheme.length);
  if (scheme.toLowerCase() !== 'bearer') {
    // Another scheme (Basic, DPoP, …) is not a credential of ours: as if there were none.
    return queryHasToken
      ? { kind: 'malformed', description: 'more than one way of sending a token' }
      : { kind: 'none' };
  }
  if (queryHasToken) {
    return { kind: 'malformed', description: 'more than one way of sending a token' };
  }
  if (rest !== '' && !rest.startsWith(' ')) {
    return { kind: 'malformed', description: 'the Authorization header is not "Bearer TOKEN"' };
  }
  const token = rest.replace(/^ +/, '');
  if (token.length > MAX_TOKEN_LENGTH) return { kind: 'oversized' };
  if (token === '' || !B64TOKEN.test(token)) {
    return { kind: 'malformed', description: 'the Authorization header is not "Bearer TOKEN"' };
  }
  return { kind: 'bearer', token };
}
