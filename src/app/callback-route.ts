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
import type { CallerScopes } from '../client/caller-scopes.js';
import type { Settings } from '../config/schema/settings.js';
import type { Logger } from '../logger.js';
import { APP_IDENTITY } from '../oauth/server-auth.js';
import type { TokenStore } from '../stores/token-store.js';
import { ownerCookieName, ownerHash, sendSignInPage } from './connect-route.js';

/** The path of the callback under `callback_base_url`. */
export const CALLBACK_PATH = '/internal/oauth/callback';

/** The value of cookie `name` in a `Cookie` header. */
function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The route handler of the internal callback. A caller's login (not the app's own) completes
 * only in the browser the sign-in check bound it to (see `connect-route.ts`): its cookie must
 * match the flow's owner.
 */
export function internalCallback(options: {
  scopes: CallerScopes;
  store: TokenStore;
  settings: Settings;
  logger: Logger;
}): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  return async (req, res, url) => {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' });
      res.end();
      return;
    }
    const state = url.searchParams.get('state') ?? '';
    const flow = await options.store.flows.peek(state).catch(() => undefined);
    const servers = options.settings.mcp.servers;
    if (!flow || !Object.hasOwn(servers, flow.server)) {
      sendSignInPage(
        res,
        404,
        'Unknown sign-in',
        'This sign-in is unknown, expired or already used. Start it again from your MCP client.',
      );
      return;
    }
    if (flow.identity !== APP_IDENTITY) {
      const secret = cookie(req.headers.cookie, ownerCookieName(flow.flowId));
      if (!secret || !(await options.store.flows.isOwner(flow.flowId, ownerHash(secret)))) {
        sendSignInPage(
          res,
          403,
          'Not your sign-in',
          'This sign-in can only be completed in the browser that opened the link from your MCP client (it first checks who you are). Start it again from your MCP client.',
        );
        return;
      }
    }
    const scope = options.scopes.forIdentity(flow.identity);
    const auth = scope.tokens.forServer(flow.server, scope.registry.settings(flow.server));
    if (!auth) {
      sendSignInPage(
        res,
        404,
        'Unknown sign-in',
        'This sign-in is unknown, expired or already used.',
      );
      return;
    }
    try {
      await auth.completeAuthorization(url);
      sendSignInPage(
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
      sendSignInPage(
        res,
        400,
        'Sign-in failed',
        'The sign-in could not be completed. Start it again from your MCP client.',
      );
    }
  };
}
