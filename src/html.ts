/**
 * The look and the security headers shared by every HTML page mcp-agent serves: the development
 * authorization server's login, consent, device and error pages, the agent's sign-in check and
 * callback pages, and the loopback redirect's result page. One stylesheet, one layout, one
 * Content-Security-Policy rule.
 *
 * ## The Content-Security-Policy, and why `form-action` is never wider than `'self'`
 *
 * No page runs a script or loads anything: `default-src 'none'`, and the one inline stylesheet is
 * allowed by its hash, not by `'unsafe-inline'`. Nothing may frame a page (`frame-ancestors
 * 'none'`, clickjacking on Approve) or change its base URL (`base-uri 'none'`).
 *
 * Browsers check `form-action` against every hop of the navigation a form starts, redirects
 * included (Chromium reports the blocked hop as the form's own URL). An OAuth form's chain does
 * not end at a place known in advance: Approve on the authorization server leads to
 * `/auth/…`, then to the client's redirect URI (registered by anyone, RFC 7591), and from there
 * wherever the client sends the browser: the agent's sign-in check sends it on to a downstream
 * server's authorization server, any origin at all. A list of origins can never be complete, and
 * a scheme-wide one (`https:`) would forbid nothing. So pages never let a form's navigation leave
 * their origin: a form posts to its own origin (`form-action 'self'`), whose answer is a redirect to
 * a page of the same origin that moves on with a `<meta http-equiv="refresh">` (see
 * {@link continuePage}). That second navigation is not a form submission, so the hops after it
 * are not form-action's business, and `form-action` stays `'self'` (or `'none'` on a page without
 * a form). The one page that cannot work so is an authorization response sent with
 * `response_mode=form_post`: its form posts to the client itself, so it has no `form-action`
 * (its fields are the response, escaped; it takes no input).
 *
 * @module
 */
import { createHash } from 'node:crypto';

/** The one stylesheet of every page. */
const STYLE = `body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#222}
.banner{background:#fff3cd;border:1px solid #e0b000;padding:.5rem .75rem;border-radius:4px;font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
input[type=text]{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box;margin:.25rem 0 1rem}
button{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}.code code{font-size:1.5rem}.error{color:#b00020}`;

/** CSP source of {@link STYLE} (CSP Level 3, "hash-source"). */
const STYLE_SOURCE = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** Where a page's forms may send the browser: its own origin, or nowhere (no form). */
export type FormTargets = 'self' | 'none';

/**
 * The `Content-Security-Policy` of a page (CSP Level 3): no scripts, no loads, the shared
 * stylesheet only, no framing, no `<base>`, and forms to `'self'` or `'none'` (the module's doc
 * says why never more). `null` leaves `form-action` out: only for a page whose one form hands an
 * authorization response to the client's redirect URI (`response_mode=form_post`), another party's
 * address, from where the client may send the browser anywhere.
 */
export function pageCsp(forms: FormTargets | null): string {
  const formAction = forms === null ? '' : `; form-action '${forms}'`;
  return `default-src 'none'; style-src ${STYLE_SOURCE}${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

/** Options of {@link pageHeaders}. */
export interface PageHeaderOptions {
  /** Default `'none'`. */
  readonly forms?: FormTargets;
  /**
   * `no-referrer` (default) for pages whose address may hold a code or state; `same-origin` where
   * forms post to the same origin and must carry an `Origin` header (a browser sends `Origin:
   * null` under `no-referrer`).
   */
  readonly referrer?: 'no-referrer' | 'same-origin';
}

/**
 * The response headers of a page: its CSP, no caching (pages carry per-flow state), no MIME
 * sniffing, no framing (`X-Frame-Options` for browsers without `frame-ancestors`), the referrer
 * policy.
 */
export function pageHeaders(options: PageHeaderOptions = {}): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': pageCsp(options.forms ?? 'none'),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': options.referrer ?? 'no-referrer',
  };
}

/** `text` with the five HTML-significant characters escaped (element content and attributes). */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** What {@link htmlPage} lays out. */
export interface PageContent {
  /** The heading and `<title>` (plain text, escaped here). */
  readonly title: string;
  /** The body: already-safe HTML (every value in it escaped with {@link escapeHtml}). */
  readonly body: string;
  /** A warning banner above the title (plain text), e.g. "development server". */
  readonly banner?: string | undefined;
  /** What the `<title>` adds after the title (plain text). Default `mcp-agent`. */
  readonly site?: string | undefined;
  /** Extra `<head>` elements: already-safe HTML (the `<meta http-equiv="refresh">` of a bounce). */
  readonly head?: string | undefined;
}

/** A whole page in the shared look. */
export function htmlPage(content: PageContent): string {
  const title = escapeHtml(content.title);
  const banner = content.banner
    ? `<p class="banner" role="alert">${escapeHtml(content.banner)}</p>\n`
    : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${escapeHtml(content.site ?? 'mcp-agent')}</title>${content.head ?? ''}<style>${STYLE}</style></head>
<body>${banner}<h1>${title}</h1>
${content.body}
</body></html>
`;
}

/** A page of one paragraph of plain text. */
export function textPage(title: string, text: string): string {
  return htmlPage({ title, body: `<p>${escapeHtml(text)}</p>` });
}

/**
 * The page a form's answer redirects to: it sends the browser on to `next` (a URL of the same
 * origin) at once with `<meta http-equiv="refresh">` (no script), and shows a link in case the
 * browser does not follow it. The navigation to `next`, and every redirect after it, is not a
 * form submission, so `form-action 'self'` does not apply to them (see the module's doc).
 */
export function continuePage(
  next: string,
  extra: Omit<PageContent, 'title' | 'body'> = {},
): string {
  const target = escapeHtml(next);
  return htmlPage({
    ...extra,
    title: 'Continuing…',
    head: `<meta http-equiv="refresh" content="0; url=${target}">`,
    body: `<p><a href="${target}">Continue</a> if nothing happens.</p>`,
  });
}
