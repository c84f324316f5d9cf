/**
 * The agent's own OAuth callback (`GET {callback_base_url}/internal/oauth/callback`): where a
 * browser lands after a caller approved a downstream login that the agent handed over. It needs
 * no bearer token (it is a browser redirect) and accepts only a known, unexpired pending flow
 * whose whole `state` matches, once (the flow is taken atomically, on any replica sharing the
 * store); the code is exchanged with the verifier kept in the store and the token stored under the
 * identity that started the flow. The page says what happened and echoes nothing.
 *
 * The redirect URI is the same for every flow (the flow id travels in `state`): authorization
 * servers match redirect URIs exactly, so a per-flow path would need a registration per login.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Settings } from '../config/schema/settings.js';
import type { Logger } from '../logger.js';
import { APP_IDENTITY } from '../oauth/server-auth.js';
import type { TokenStore } from '../stores/token-store.js';
import type { CallerScopes } from './callers.js';

/** The path of the callback under `callback_base_url`. */
export const CALLBACK_PATH = '/internal/oauth/callback';

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // The address holds a code: it must not leak to other sites.
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
} as const;

function page(res: ServerResponse, status: number, title: string, text: string): void {
  res.writeHead(status, PAGE_HEADERS);
  res.end(
    `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>${title}</h1><p>${text}</p></body></html>`,
  );
}

const MAX_FORM_BYTES = 16 * 1024;

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** `issuer#subject` (URL-encoded parts) as people read it. */
function whoIs(identity: string): string {
  const hash = identity.indexOf('#');
  if (hash === -1) return identity;
  try {
    return `${decodeURIComponent(identity.slice(hash + 1))} (${decodeURIComponent(identity.slice(0, hash))})`;
  } catch {
    return identity;
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The parameters of the authorization response the confirmation form carries back. */
const RESPONSE_PARAMETERS = ['code', 'state', 'iss', 'error', 'error_description'] as const;

/**
 * The route handler of the internal callback. A login for a caller (not the app itself) is
 * confirmed first: the page names the agent user the account will be connected to, and only a
 * "Connect" (a POST of the same response) completes it — so a person who opens a sign-in link
 * someone else sent sees that it would connect their account to another user, and can cancel.
 */
export function internalCallback(options: {
  scopes: CallerScopes;
  store: TokenStore;
  settings: Settings;
  logger: Logger;
}): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  return async (req, res, url) => {
    let params = url.searchParams;
    let confirmed = false;
    if (req.method === 'POST') {
      const form = await readForm(req);
      if (!form) {
        page(res, 413, 'Sign-in failed', 'The request is too large.');
        return;
      }
      params = new URLSearchParams();
      for (const name of RESPONSE_PARAMETERS) {
        const value = form.get(name);
        if (value !== null) params.set(name, value);
      }
      if (form.get('decision') === 'cancel') {
        const taken = await options.store.flows
          .take(params.get('state') ?? '')
          .catch(() => undefined);
        // The call waiting for this sign-in ends now, not when the flow would have expired.
        if (taken) await options.store.flows.finish(taken.flowId, 'failed').catch(() => {});
        page(res, 200, 'Cancelled', 'Nothing was connected. You can close this window.');
        return;
      }
      confirmed = form.get('decision') === 'connect';
    } else if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET, POST' });
      res.end();
      return;
    }
    const flow = await options.store.flows.peek(params.get('state') ?? '').catch(() => undefined);
    const servers = options.settings.mcp.servers;
    if (!flow || !Object.hasOwn(servers, flow.server)) {
      page(
        res,
        404,
        'Unknown sign-in',
        'This sign-in is unknown, expired or already used. Start it again from your MCP client.',
      );
      return;
    }
    if (flow.identity !== APP_IDENTITY && !confirmed && params.get('error') === null) {
      const fields = RESPONSE_PARAMETERS.map((name) => {
        const value = params.get(name);
        return value === null
          ? ''
          : `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
      }).join('');
      res.writeHead(200, PAGE_HEADERS);
      res.end(
        `<!doctype html><html><head><meta charset="utf-8"><title>Connect ${escapeHtml(flow.server)}?</title></head><body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>Connect your ${escapeHtml(flow.server)} account?</h1><p>The agent will use the account you just signed in with <strong>on behalf of ${escapeHtml(whoIs(flow.identity))}</strong>.</p><p>If that is not you — if someone sent you this link — choose Cancel.</p><form method="post">${fields}<button type="submit" name="decision" value="connect">Connect</button> <button type="submit" name="decision" value="cancel">Cancel</button></form></body></html>`,
      );
      return;
    }
    const callback = new URL(url.pathname, url);
    for (const [name, value] of params) callback.searchParams.set(name, value);
    const scope = options.scopes.forIdentity(flow.identity);
    const auth = scope.tokens.forServer(flow.server, scope.registry.settings(flow.server));
    if (!auth) {
      page(res, 404, 'Unknown sign-in', 'This sign-in is unknown, expired or already used.');
      return;
    }
    try {
      await auth.completeAuthorization(callback);
      page(
        res,
        200,
        'Signed in',
        'You are signed in. You can close this window and go back to your MCP client.',
      );
    } catch (error) {
      options.logger.warn(
        `a sign-in to server "${flow.server}" failed at the callback: ${error instanceof Error ? error.message : 'unknown error'}`,
        { server: flow.server },
      );
      page(
        res,
        400,
        'Sign-in failed',
        'The sign-in could not be completed. Start it again from your MCP client.',
      );
    }
  };
}
