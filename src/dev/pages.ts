/**
 * The HTML pages of the development authorization server: login, consent, device code entry and
 * confirmation, errors. Every value placed in a page is escaped: client names, scopes and
 * resources come from dynamic client registration and authorization requests, that is from
 * anyone who can reach the server.
 *
 * @module
 */

/** The `Content-Security-Policy` of every page: no scripts, no external loads, forms to self. */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

/** `text` with the five HTML-significant characters escaped (element content and attributes). */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/**
 * The CSP for a page whose form may end in a redirect to `redirectUri`: browsers apply
 * `form-action` to the redirects that follow a form submission, so the client's redirect URI
 * origin (or its custom scheme) is allowed next to `'self'`. Anything that is not a plain origin or
 * scheme is left out.
 */
export function pageCsp(redirectUri?: string): string {
  const source = redirectUri === undefined ? undefined : cspSource(redirectUri);
  return source === undefined ? PAGE_CSP : `${PAGE_CSP} ${source}`;
}

function cspSource(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    return /^https?:\/\/[A-Za-z0-9.\-[\]:]+$/.test(url.origin) ? url.origin : undefined;
  }
  return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : undefined;
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#222}
.banner{background:#fff3cd;border:1px solid #e0b000;padding:.5rem .75rem;border-radius:4px;font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
input[type=text]{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box;margin:.25rem 0 1rem}
button{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}.code code{font-size:1.5rem}.error{color:#b00020}`;

/** A whole page: banner, title and `body` (already-safe HTML built by this module). */
function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin"><title>${escapeHtml(title)} · mcp-agent dev</title><style>${STYLE}</style></head>
<body><p class="banner" role="alert">mcp-agent development server — do not use in production</p>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
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

/** An error page: the OAuth `error` code and its description. */
export function errorPage(error: string, description?: string): string {
  return layout(
    'Something went wrong',
    `<p><code>${escapeHtml(error)}</code></p>${description ? `<p>${escapeHtml(description)}</p>` : ''}`,
  );
}
