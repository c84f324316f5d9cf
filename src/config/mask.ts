/**
 * Masking the credentials of URLs in text that is otherwise safe to show.
 *
 * @module
 */
import { REDACTED } from './secret.js';

/**
 * Mask the credentials of every URL in `text`: `redis://user:pass@host` becomes
 * `redis://user:[redacted]@host`, `https://token@host` becomes `https://[redacted]@host`, and
 * the value of every query parameter becomes `[redacted]` (`?api_key=[redacted]`). Other text is
 * unchanged.
 *
 * A URL runs from its `scheme://` to the next whitespace. Its credentials are everything before
 * its last `@`, unless the URL parses and that `@` is in its path; a password with an unencoded
 * `/`, `?` or `#` (which a parser rejects) is therefore masked too. This can over-mask a URL that
 * has both a port and an `@` in its path, which is the safe direction.
 */
export function maskUrlCredentials(text: string): string {
  if (!text.includes('@') && !text.includes('?')) return text;
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s]+/gi, (url) => maskQuery(maskUserinfo(url)));
}

/** Query parameter values of a URL replaced by `[redacted]` (keys such as `?api_key=` often ride there). */
function maskQuery(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  const end = url.indexOf('#', start);
  const query = url.slice(start + 1, end === -1 ? undefined : end);
  const masked = query
    .split('&')
    .map((pair) => (pair.includes('=') ? `${pair.slice(0, pair.indexOf('='))}=${REDACTED}` : pair))
    .join('&');
  return `${url.slice(0, start + 1)}${masked}${end === -1 ? '' : url.slice(end)}`;
}

function maskUserinfo(url: string): string {
  const start = url.indexOf('//') + 2;
  const rest = url.slice(start);
  let at = rest.lastIndexOf('@');
  if (at === -1) return url;
  if (URL.canParse(url)) {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    const end = rest.search(/[/?#]/);
    at = (end === -1 ? rest : rest.slice(0, end)).lastIndexOf('@');
  }
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  const shown = colon === -1 ? REDACTED : `${userinfo.slice(0, colon + 1)}${REDACTED}`;
  return `${url.slice(0, start)}${shown}${rest.slice(at)}`;
}
