/**
 * Cross-origin access to the registration endpoint of the development authorization server.
 * oidc-provider answers CORS requests at its metadata, JWKS, token, revocation and
 * introspection endpoints, but not at dynamic client registration (RFC 7591), so a client running
 * in a web page (the MCP Inspector's web UI before 2.0 registers from the page) discovered the
 * server and then failed at the preflight of its registration.
 *
 * @module
 */

import type Provider from 'oidc-provider';

/**
 * Lets any origin register a client (RFC 7591 §3) from a browser: the preflight is answered
 * (204, `POST`, the requested headers) and every answer, errors included, carries
 * `Access-Control-Allow-Origin: *`. Registration here is open and uses no cookies, so a page
 * gains nothing it could not get by asking from a server; the loopback `Host` check still applies.
 * `path` is the registration route (oidc-provider's default, which the dev server keeps).
 */
export function allowCrossOriginRegistration(provider: Provider, path = '/reg'): void {
  provider.use(async (ctx, next) => {
    if (ctx.path !== path) return next();
    ctx.set('access-control-allow-origin', '*');
    if (ctx.method !== 'OPTIONS') return next();
    ctx.set('access-control-allow-methods', 'POST');
    const requested = ctx.get('access-control-request-headers');
    if (requested) ctx.set('access-control-allow-headers', requested);
    ctx.set('access-control-max-age', '3600');
    ctx.status = 204;
  });
}
