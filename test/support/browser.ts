/**
 * A tiny headless "browser" for OAuth user steps: global fetch with `redirect: 'manual'`, 3xx
 * followed by hand, cookies kept per origin, auto-submitting forms (response_mode=form_post)
 * submitted, immediate `<meta http-equiv="refresh">` followed. No JavaScript, no CSP, no cookie
 * paths or expiry beyond deletion: flows that must work in a real browser are also tested in
 * Chromium (`test/browser/`).
 */

/** Cookies per origin (`http://127.0.0.1:1234`), shared between calls when passed in. */
export class CookieJar {
  readonly #byOrigin = new Map<string, Map<string, string>>();

  /** The `cookie` request header for `url`, or undefined when there are none. */
  header(url: URL): string | undefined {
    const cookies = this.#byOrigin.get(url.origin);
    if (!cookies || cookies.size === 0) return undefined;
    return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Take the `set-cookie` headers of a response to a request for `url`. */
  store(url: URL, response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expires = attributes
        .map((attribute) => attribute.trim())
        .find((attribute) => /^expires=/i.test(attribute));
      const expired =
        value === '' ||
        (expires !== undefined && Date.parse(expires.slice('expires='.length)) <= Date.now()) ||
        attributes.some((attribute) => /^\s*max-age=(0|-\d+)\s*$/i.test(attribute));
      const cookies = this.#byOrigin.get(url.origin) ?? new Map<string, string>();
      if (expired) cookies.delete(name);
      else cookies.set(name, value);
      this.#byOrigin.set(url.origin, cookies);
    }
  }
}

/** Where a walk ended. */
export interface BrowserResult {
  /** The last URL requested, or with `stopAtRedirectUri` the URL the server redirected to. */
  readonly finalUrl: URL;
  /** The last response's status (the 3xx itself when stopped at the redirect URI). */
  readonly status: number;
  /** The last response's body ('' when stopped at the redirect URI). */
  readonly body: string;
}

/** Options of {@link followAuthorization} and {@link approveDevice}. */
export interface BrowserOptions {
  /** Keeps the session between walks (e.g. to see SSO on a second authorization). */
  readonly cookies?: CookieJar;
  /**
   * Do not request a URL whose origin and path equal this one; return it instead (paste flows).
   */
  readonly stopAtRedirectUri?: string;
  /** Give up after this many requests. Default 20. */
  readonly maxRequests?: number;
}

interface Step {
  readonly url: URL;
  readonly method: 'GET' | 'POST';
  readonly form?: URLSearchParams;
}

/**
 * Walk an authorization URL the way a browser would (authorization → interaction → resume →
 * redirect URI) and finally GET the redirect URI, so a loopback callback server receives it.
 */
export function followAuthorization(
  authorizationUrl: string | URL,
  options: BrowserOptions = {},
): Promise<BrowserResult> {
  return walk({ url: new URL(authorizationUrl), method: 'GET' }, options);
}

/**
 * Do the user's half of an RFC 8628 device flow headlessly: open the verification URI, enter the
 * user code if needed, confirm, and let the authorization server's interaction approve. Resolves
 * with the last page: the success page when approved; after `setApproval('deny')`, the code-input
 * page saying the interaction was aborted (status 200). Throws when the code is not accepted.
 */
export async function approveDevice(
  verification: string | URL | { readonly verification_uri: string; readonly user_code: string },
  options: Omit<BrowserOptions, 'stopAtRedirectUri'> = {},
): Promise<BrowserResult> {
  const cookies = options.cookies ?? new CookieJar();
  const complete = typeof verification === 'string' || verification instanceof URL;
  const start = new URL(complete ? verification : verification.verification_uri);
  // verification_uri_complete submits itself and lands on the confirmation form.
  let page = await walk({ url: start, method: 'GET' }, { ...options, cookies });
  let form = parseForm(page.body, page.finalUrl);
  if (form && !form.fields.has('confirm') && !complete) {
    form.fields.set('user_code', verification.user_code);
    page = await walk(
      { url: form.action, method: 'POST', form: form.fields },
      { ...options, cookies },
    );
    form = parseForm(page.body, page.finalUrl);
  }
  if (!form?.fields.has('confirm')) {
    // Only the page's message: the page itself carries the xsrf token and the user code.
    const message = /<p>([^<]*)<\/p>/.exec(page.body)?.[1] ?? 'no message';
    throw new Error(`device code not accepted (status ${page.status}): ${message}`);
  }
  return walk({ url: form.action, method: 'POST', form: form.fields }, { ...options, cookies });
}

async function walk(first: Step, options: BrowserOptions): Promise<BrowserResult> {
  const cookies = options.cookies ?? new CookieJar();
  const stop = options.stopAtRedirectUri ? new URL(options.stopAtRedirectUri) : undefined;
  const max = options.maxRequests ?? 20;
  let step = first;
  for (let request = 0; request < max; request++) {
    const headers: Record<string, string> = { accept: 'text/html,application/json;q=0.9' };
    const cookie = cookies.header(step.url);
    if (cookie) headers.cookie = cookie;
    if (step.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(step.url, {
      method: step.method,
      headers,
      redirect: 'manual',
      ...(step.form ? { body: step.form.toString() } : {}),
    });
    cookies.store(step.url, response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      const next = new URL(location, step.url);
      if (stop && next.origin === stop.origin && next.pathname === stop.pathname) {
        return { finalUrl: next, status: response.status, body: '' };
      }
      const keep = response.status === 307 || response.status === 308;
      step = keep ? { ...step, url: next } : { url: next, method: 'GET' };
      continue;
    }
    const body = await response.text();
    // A page that moves on by itself (the development server's `continue` page after a form).
    const refresh = metaRefresh(body, step.url);
    if (refresh) {
      if (stop && refresh.origin === stop.origin && refresh.pathname === stop.pathname) {
        return { finalUrl: refresh, status: response.status, body };
      }
      step = { url: refresh, method: 'GET' };
      continue;
    }
    // response_mode=form_post (and oidc-provider's device "complete" URI) submit themselves.
    const autoSubmit = body.includes('document.forms[0].submit()')
      ? parseForm(body, step.url)
      : undefined;
    if (autoSubmit) {
      if (
        stop &&
        autoSubmit.action.origin === stop.origin &&
        autoSubmit.action.pathname === stop.pathname
      ) {
        const finalUrl = new URL(autoSubmit.action);
        for (const [name, value] of autoSubmit.fields) finalUrl.searchParams.append(name, value);
        return { finalUrl, status: response.status, body };
      }
      step = { url: autoSubmit.action, method: 'POST', form: autoSubmit.fields };
      continue;
    }
    return { finalUrl: step.url, status: response.status, body };
  }
  throw new Error(`gave up after ${max} requests, last at ${step.url.origin}${step.url.pathname}`);
}

/** The target of an immediate `<meta http-equiv="refresh" content="0; url=…">`, if any. */
function metaRefresh(html: string, base: URL): URL | undefined {
  const content = /<meta\s+http-equiv="refresh"\s+content="0;\s*url=([^"]+)"/i.exec(html)?.[1];
  return content === undefined ? undefined : new URL(htmlDecode(content), base);
}

/** The first POST form in `html`: its action (resolved against `base`) and hidden inputs. */
function parseForm(html: string, base: URL): { action: URL; fields: URLSearchParams } | undefined {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const attributes = form[1] ?? '';
  const action = /\baction="([^"]*)"/i.exec(attributes)?.[1];
  const fields = new URLSearchParams();
  for (const input of (form[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
    const tag = input[1] ?? '';
    const name = /\bname="([^"]*)"/i.exec(tag)?.[1];
    const value = /\bvalue="([^"]*)"/i.exec(tag)?.[1] ?? '';
    if (name && /\btype="hidden"/i.test(tag)) fields.append(htmlDecode(name), htmlDecode(value));
  }
  return { action: new URL(htmlDecode(action ?? base.href), base), fields };
}

function htmlDecode(text: string): string {
  return text
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}
