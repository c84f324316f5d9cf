/**
 * The user-facing half of the development authorization server: the `/interaction/UID` pages
 * oidc-provider sends the browser to (login, then consent), and what their forms post.
 *
 * CSRF: the interaction id is in the path and oidc-provider only accepts a request that also
 * carries its interaction cookie (`SameSite=Lax`, path-scoped to that id), so a cross-site form
 * cannot complete an interaction; a cross-origin `Origin` header is refused outright.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Grant, InteractionResults, default as Provider } from 'oidc-provider';
import type { Logger } from '../logger.js';
import {
  consentPage,
  errorPage,
  interactionContinuePage,
  loginPage,
  PAGE_HEADERS,
  type PageClient,
} from './pages.js';

/** What the interaction handler needs from the server. */
export interface InteractionContext {
  readonly provider: Provider;
  /** `http://127.0.0.1:8001` */
  readonly issuer: string;
  /** Complete every interaction at once as {@link devUser}, with no page. */
  readonly autoApprove: boolean;
  /** The user auto-approved interactions sign in as, and the login page suggests. */
  readonly devUser: string;
  /** The scopes a resource can be granted (beyond `openid` / `offline_access`). */
  readonly resourceScopes: ReadonlySet<string>;
  readonly logger: Logger;
}

/** OIDC scopes granted as such (not for a resource). */
const OIDC_SCOPES = new Set(['openid', 'offline_access']);

/** User names the login page accepts (they become the token's `sub`). */
export const USER_NAME = /^[\p{L}\p{N}._@+-]{1,64}$/u;

/** The largest form body read. */
const MAX_BODY_BYTES = 16 * 1024;

const PATH = /^\/interaction\/([A-Za-z0-9_-]{1,128})(?:\/(login|confirm|abort|continue))?$/;

/** The actions the pages' forms post to; the others are pages (GET). */
const FORM_ACTIONS = new Set(['login', 'confirm', 'abort']);

/** Whether `pathname` belongs to {@link handleInteraction}. */
export function isInteractionPath(pathname: string): boolean {
  return pathname === '/interaction' || pathname.startsWith('/interaction/');
}

/**
 * Serve one `/interaction/...` request: `GET /interaction/UID` shows the login or consent page
 * (or, with `autoApprove`, finishes at once); `POST .../login`, `.../confirm` and `.../abort` are
 * what those pages submit. Never throws: failures become an error page.
 */
export async function handleInteraction(
  context: InteractionContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    await route(context, req, res);
  } catch (error) {
    if (error instanceof FormTooLarge) {
      sendPage(res, 413, errorPage('invalid_request', 'The form is too large.'));
      return;
    }
    if (isSessionNotFound(error)) {
      sendPage(
        res,
        400,
        errorPage(
          'invalid_request',
          'This sign-in request is no longer valid: it expired, was already finished, or was opened in another browser. Start again from the application.',
        ),
      );
      return;
    }
    context.logger.error('development authorization server: interaction failed', {
      message: error instanceof Error ? error.message : String(error),
    });
    sendPage(res, 500, errorPage('server_error', 'The interaction could not be completed.'));
  }
}

async function route(
  context: InteractionContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', context.issuer);
  const match = PATH.exec(url.pathname);
  if (!match) {
    sendPage(res, 404, errorPage('not_found', 'No such page.'));
    return;
  }
  const [, uid = '', action] = match;
  const method = req.method ?? 'GET';
  const posted = action !== undefined && FORM_ACTIONS.has(action);
  // Not even HEAD for the pages: with autoApprove, loading one completes the interaction.
  if (posted ? method !== 'POST' : method !== 'GET') {
    res.setHeader('allow', posted ? 'POST' : 'GET');
    sendPage(res, 405, errorPage('method_not_allowed', 'This page does not accept that method.'));
    return;
  }
  let form = new URLSearchParams();
  if (posted) {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== new URL(context.issuer).origin) {
      sendPage(res, 403, errorPage('forbidden', 'The form was posted from another site.'));
      return;
    }
    form = await readForm(req);
  }

  const details = await context.provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendPage(
      res,
      400,
      errorPage('invalid_request', 'This page belongs to another sign-in. Start again.'),
    );
    return;
  }
  const { provider, logger } = context;
  const clientId = String(details.params.client_id ?? '');
  const client = await provider.Client.find(clientId);
  const pageClient: PageClient = { clientId, clientName: client?.clientName };
  const redirectUri =
    typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : undefined;

  if (action === 'continue') {
    sendPage(res, 200, interactionContinuePage(details.returnTo));
    return;
  }

  if (action === 'abort') {
    logger.info(`development authorization server: access denied to client ${clientId}`, {
      client_id: clientId,
    });
    await finishFromForm(
      context,
      req,
      res,
      uid,
      { error: 'access_denied', error_description: 'The user denied the request.' },
      false,
    );
    return;
  }

  if (action === 'login') {
    const user = (form.get('username') ?? '').trim();
    if (!USER_NAME.test(user)) {
      const page = loginPage({
        uid,
        client: pageClient,
        suggestedUser: context.devUser,
        message: 'Enter a user name of 1 to 64 letters, digits or . _ @ + -',
      });
      sendPage(res, 400, page);
      return;
    }
    logger.info(`development authorization server: ${user} signed in (client ${clientId})`, {
      user,
      client_id: clientId,
    });
    await finishFromForm(context, req, res, uid, { login: { accountId: user } }, false);
    return;
  }

  if (action === 'confirm') {
    const user = details.session?.accountId;
    if (details.prompt.name !== 'consent' || user === undefined) {
      sendPage(res, 400, errorPage('invalid_request', 'Sign in first.'));
      return;
    }
    const grantId = await saveGrant(context, details, user);
    logger.info(
      `development authorization server: ${user} approved ${requestedScopes(details.params).join(' ') || 'no scope'} for client ${clientId}`,
      {
        user,
        client_id: clientId,
        scope: requestedScopes(details.params).join(' '),
        resource: requestedResources(details.params),
      },
    );
    await finishFromForm(context, req, res, uid, { consent: { grantId } }, true);
    return;
  }

  // GET: a page, or with autoApprove the whole interaction at once.
  if (context.autoApprove) {
    const user = details.session?.accountId ?? context.devUser;
    const grantId = await saveGrant(context, details, user);
    logger.info(
      `development authorization server: approved ${requestedScopes(details.params).join(' ') || 'no scope'} for client ${clientId} as ${user} (--auto-approve)`,
      {
        user,
        client_id: clientId,
        scope: requestedScopes(details.params).join(' '),
        resource: requestedResources(details.params),
      },
    );
    await provider.interactionFinished(
      req,
      res,
      {
        ...(details.session?.accountId === undefined ? { login: { accountId: user } } : {}),
        consent: { grantId },
      },
      { mergeWithLastSubmission: true },
    );
    return;
  }
  if (details.prompt.name === 'login' || details.session?.accountId === undefined) {
    const page = loginPage({ uid, client: pageClient, suggestedUser: context.devUser });
    sendPage(res, 200, page);
    return;
  }
  const page = consentPage({
    uid,
    client: pageClient,
    user: details.session.accountId,
    resources: requestedResources(details.params),
    scopes: requestedScopes(details.params),
    redirectUri,
  });
  sendPage(res, 200, page);
}

/**
 * End an interaction from one of its forms: keep the result, then send the browser to the
 * `continue` page of this origin rather than straight to the authorization endpoint. Browsers
 * check `form-action` on every redirect a form submission leads to, and the chain goes on to the
 * client's redirect URI and wherever that sends it (another authorization server, for the agent's
 * sign-in check), origins no page can know; the `continue` page moves on by a refresh, which is not
 * a form submission (see `src/html.ts`).
 */
async function finishFromForm(
  context: InteractionContext,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  result: InteractionResults,
  mergeWithLastSubmission: boolean,
): Promise<void> {
  await context.provider.interactionResult(req, res, result, { mergeWithLastSubmission });
  res.writeHead(303, {
    location: `/interaction/${encodeURIComponent(uid)}/continue`,
    'cache-control': 'no-store',
    'content-length': '0',
  });
  res.end();
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Grant what was asked (known scopes only), plus whatever the consent prompt reports missing. */
async function saveGrant(context: InteractionContext, details: Details, user: string) {
  const { provider } = context;
  const clientId = String(details.params.client_id ?? '');
  const existing: Grant | undefined = details.grantId
    ? await provider.Grant.find(details.grantId)
    : undefined;
  const grant = existing ?? new provider.Grant({ accountId: user, clientId });
  const scopes = requestedScopes(details.params);
  // oidc-provider counts every scope of its `scopes` list as granted "OIDC" scope as well.
  const oidc = scopes.filter(
    (scope) => OIDC_SCOPES.has(scope) || context.resourceScopes.has(scope),
  );
  if (oidc.length > 0) grant.addOIDCScope(oidc.join(' '));
  const forResources = scopes.filter((scope) => context.resourceScopes.has(scope));
  for (const resource of requestedResources(details.params)) {
    grant.addResourceScope(resource, forResources.join(' '));
  }
  const missing = details.prompt.details;
  if (isStringArray(missing.missingOIDCScope))
    grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (isStringArray(missing.missingOIDCClaims)) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (typeof missing.missingResourceScopes === 'object' && missing.missingResourceScopes !== null) {
    for (const [resource, list] of Object.entries(missing.missingResourceScopes)) {
      if (isStringArray(list)) grant.addResourceScope(resource, list.join(' '));
    }
  }
  return grant.save();
}

function requestedScopes(params: Details['params']): string[] {
  return typeof params.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [];
}

function requestedResources(params: Details['params']): string[] {
  return [params.resource ?? []].flat().filter((value) => typeof value === 'string');
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function isSessionNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'SessionNotFound';
}

class FormTooLarge extends Error {
  override name = 'FormTooLarge';
}

/** The url-encoded form in the request body (empty for any other content type). */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new FormTooLarge();
    chunks.push(buffer);
  }
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) return new URLSearchParams();
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Send one of our HTML pages with its security headers. */
export function sendPage(res: ServerResponse, status: number, html: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, PAGE_HEADERS);
  res.end(html);
}
