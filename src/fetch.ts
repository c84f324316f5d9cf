/**
 * The one `fetch` shape every network function of the library accepts (injected, so tests need no
 * network): the global `fetch`, undici's, or a wrapper around either.
 *
 * @module
 */

/** A `fetch`. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;
