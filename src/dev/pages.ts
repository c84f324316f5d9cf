/**
 * The HTML pages of the development authorization server: login, consent, device code entry and
 * confirmation, errors. Every value placed in a page is escaped: client names, scopes and
 * resources come from dynamic client registration and authorization requests, that is from
 * anyone who can reach the server.
 *
 * The look and the headers are the ones every page of mcp-agent shares (`src/html.ts`).
 *
 * @module
 */
import { continuePage, escapeHtml, htmlPage, pageCsp, pageHeaders } from '../html.js';

/**
 * The `Content-Security-Policy` of every page: no scripts, no external loads, no framing, forms to
 * this server only. A form's answer never redirects off this origin (see {@link continuePage}),
 * which is what lets `form-action` stay `'self'` although the flows end at other origins.
 */
export const PAGE_CSP: string = pageCsp('self');

/**
 * The CSP of the pages oidc-provider renders itself: the auto-submitting forms of the device flow's
 * complete URI (to `/device`, this origin) and of `response_mode=form_post` authorization responses
 * (to the client's redirect URI: no `form-action`, see `src/html.ts`). `script-src` is there but
 * empty: oidc-provider adds the hash of its one inline script to it, and nothing else runs.
 */
export function providerPageCsp(formsTo: 'self' | 'client'): string {
  return `${pageCsp(formsTo === 'self' ? 'self' : null)}; script-src`;
}

/** The security headers of every page (`same-origin` referrers: the forms' `Origin` is checked). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = pageHeaders({
  forms: 'self',
  referrer: 'same-origin',
});

const BANNER = 'mcp-agent development server — do not use in production';

/** A whole page: banner, title and `body` (already-safe HTML built by this module). */
function layout(title: string, body: string): string {
  return htmlPage({ title, body, banner: BANNER, site: 'mcp-agent dev' });
}

/** What a page shows about the client asking. */
export interface PageClient {
  /** `client_id` */
  readonly clientId: string;
  /** `client_name` from registration, if any (untrusted). */
  readonly clientName?: string | undefined;
}

function clientLabel(client: PageClient): string {
  const name = client.clientName?.trim();
  return name
    ? `<strong>${escapeHtml(name)}</strong> (client <code>${escapeHtml(client.clientId)}</code>)`
    : `client <strong>${escapeHtml(client.clientId)}</strong>`;
}

/** The login page: a user name, no password. Posts `username` to `/interaction/UID/login`. */
export function loginPage(options: {
  readonly uid: string;
  readonly client: PageClient;
  readonly suggestedUser: string;
  readonly message?: string;
}): string {
  const base = `/interaction/${encodeURIComponent(options.uid)}`;
  return layout(
    'Sign in',
    `<p>${clientLabel(options.client)} asks you to sign in.</p>
<p>This development server has no passwords: any user name signs in as that user.</p>
${options.message ? `<p class="error">${escapeHtml(options.message)}</p>` : ''}
<form method="post" action="${escapeHtml(`${base}/login`)}">
<label for="username">User name</label>
<input type="text" id="username" name="username" value="${escapeHtml(options.suggestedUser)}" autofocus required maxlength="64" autocomplete="username">
<button type="submit">Sign in</button>
<button type="submit" formaction="${escapeHtml(`${base}/abort`)}" formnovalidate>Cancel</button>
</form>`,
  );
}

/** The consent page: client, resources, scopes, where the browser goes next; Approve or Deny. */
export function consentPage(options: {
  readonly uid: string;
  readonly client: PageClient;
  readonly user: string;
  readonly resources: readonly string[];
  readonly scopes: readonly string[];
  readonly redirectUri?: string | undefined;
}): string {
  const base = `/interaction/${encodeURIComponent(options.uid)}`;
  const list = (items: readonly string[], none: string) =>
    items.length === 0
      ? `<em>${escapeHtml(none)}</em>`
      : items.map((item) => `<code>${escapeHtml(item)}</code>`).join('<br>');
  return layout(
    'Authorize access',
    `<p>${clientLabel(options.client)} asks to act as <strong>${escapeHtml(options.user)}</strong>.</p>
<dl>
<dt>Resource</dt><dd>${list(options.resources, 'none named')}</dd>
<dt>Scopes</dt><dd>${list(options.scopes, 'none requested')}</dd>
${options.redirectUri ? `<dt>Returns to</dt><dd>${escapeHtml(options.redirectUri)}</dd>` : ''}
</dl>
<form method="post" action="${escapeHtml(`${base}/confirm`)}">
<button type="submit">Approve</button>
<button type="submit" formaction="${escapeHtml(`${base}/abort`)}">Deny</button>
</form>`,
  );
}

/**
 * The device user-code entry page around oidc-provider's own form (`form`, trusted: it carries the
 * xsrf token and escapes what it echoes). `problem` is a short message after a failed attempt.
 */
export function deviceInputPage(form: string, problem?: string): string {
  return layout(
    'Connect a device',
    `${form}
<p>${problem ? `<span class="error">${escapeHtml(problem)}</span>` : 'Enter the code your device shows.'}</p>
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

/** The device confirmation page around oidc-provider's confirmation form (`form`, trusted). */
export function deviceConfirmPage(form: string, client: PageClient, userCode: string): string {
  return layout(
    'Confirm the device',
    `${form}
<p>${clientLabel(client)} wants to connect. Check that your device shows this code:</p>
<p class="code"><code>${escapeHtml(userCode)}</code></p>
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`,
  );
}

/** The page shown once a device is approved. */
export function deviceSuccessPage(): string {
  return layout('Device connected', '<p>You can close this window and return to your device.</p>');
}

/**
 * The page a form's answer redirects to: on to `next` (the authorization endpoint's resume URL,
 * this origin) by a refresh, not a redirect, so the rest of the chain (the client's redirect URI
 * and wherever it leads) is no longer part of the form's navigation.
 */
export function interactionContinuePage(next: string): string {
  return continuePage(next, { banner: BANNER, site: 'mcp-agent dev' });
}

/** What the index page of the development server lists. */
export interface IndexPageOptions {
  readonly issuer: string;
  /** The resources (MCP servers) it issues tokens for. */
  readonly resources: readonly string[];
  readonly scopes: readonly string[];
  readonly autoApprove: boolean;
}

/**
 * `/`: what this server is, its discovery documents and endpoints, and what it issues tokens
 * for. A person opening the address the banner prints lands here.
 */
export function indexPage(options: IndexPageOptions): string {
  const link = (path: string) => {
    const url = escapeHtml(`${options.issuer}${path}`);
    return `<a href="${url}">${url}</a>`;
  };
  const list = (items: readonly string[]) =>
    items.map((item) => `<code>${escapeHtml(item)}</code>`).join(', ') || '(none)';
  return layout(
    'Development authorization server',
    `<p>An OAuth 2.1 authorization server for trying out an MCP agent: MCP clients discover it
from the agent's protected-resource metadata, register, and sign in here.</p>
<dl>
<dt>Issuer</dt><dd><code>${escapeHtml(options.issuer)}</code></dd>
<dt>Metadata</dt><dd>${link('/.well-known/oauth-authorization-server')}</dd>
<dt>Tokens for</dt><dd>${list(options.resources)}</dd>
<dt>Scopes</dt><dd>${list(options.scopes)}</dd>
<dt>Sign-in</dt><dd>${options.autoApprove ? 'approved at once (--auto-approve)' : 'a login page (any user name), then a consent page'}</dd>
</dl>`,
  );
}

/** An error page: the OAuth `error` code and its description. */
export function errorPage(error: string, description?: string): string {
  return layout(
    'Something went wrong',
    `<p><code>${escapeHtml(error)}</code></p>${description ? `<p>${escapeHtml(description)}</p>` : ''}`,
  );
}
