/**
 * Parsing `WWW-Authenticate` (RFC 9110 §11.6.1): the challenges a 401 or 403 carries, and the
 * Bearer parameters MCP uses (RFC 6750 §3, RFC 9728 §5.1).
 *
 * @module
 */

/** One challenge: its scheme (lower case) and its parameters (names lower case). */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
  /** A token68 credential in place of parameters. */
  readonly token68?: string;
}

/** The Bearer challenge parameters MCP uses. */
export interface BearerChallenge {
  /** RFC 9728 §5.1: where the protected-resource metadata is. */
  readonly resource_metadata?: string;
  /** The scopes the resource needs (space separated). */
  readonly scope?: string;
  readonly error?: string;
  readonly error_description?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

/**
 * Every challenge in a `WWW-Authenticate` value. Lenient where servers are sloppy (spaces, empty
 * list elements); a value that cannot be read yields the challenges before the unreadable part.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let rest = header;
  const skip = (pattern: RegExp) => {
    rest = rest.replace(pattern, '');
  };
  skip(/^[\s,]+/);
  while (rest.length > 0) {
    const scheme = TOKEN.exec(rest)?.[0];
    if (!scheme) break;
    rest = rest.slice(scheme.length);
    const params: Record<string, string> = Object.create(null);
    let token68: string | undefined;
    skip(/^[ \t]+/);
    // A parameter list starts with `name=`; anything else here is a token68 (or nothing).
    const startsParams = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*=[ \t]*[^=\s,]/.test(rest);
    const t68 = startsParams ? undefined : TOKEN68.exec(rest)?.[0];
    if (t68) {
      token68 = t68;
      rest = rest.slice(t68.length);
    } else {
      for (;;) {
        skip(/^[\s,]+/);
        const name = TOKEN.exec(rest)?.[0];
        if (!name) break;
        const after = rest.slice(name.length).replace(/^[ \t]*/, '');
        if (!after.startsWith('=')) break; // the next challenge's scheme
        rest = after.slice(1).replace(/^[ \t]*/, '');
        let value: string;
        if (rest.startsWith('"')) {
          let i = 1;
          value = '';
          while (i < rest.length && rest[i] !== '"') {
            if (rest[i] === '\\' && i + 1 < rest.length) i++;
            value += rest[i];
            i++;
          }
          rest = rest.slice(Math.min(i + 1, rest.length));
        } else {
          // Lenient: servers send unquoted URLs (`resource_metadata=https://…`), which are not
          // tokens; read up to the next comma or space. An empty value is allowed.
          value = /^[^\s,]*/.exec(rest)?.[0] ?? '';
          rest = rest.slice(value.length);
        }
        params[name.toLowerCase()] = value;
        skip(/^[ \t]*/);
        if (!rest.startsWith(',')) break;
      }
    }
    challenges.push({ scheme: scheme.toLowerCase(), params, ...(token68 ? { token68 } : {}) });
    skip(/^[\s,]+/);
  }
  return challenges;
}

/** The Bearer challenge of a response, if it has one. */
export function bearerChallenge(headers: Headers): BearerChallenge | undefined {
  const header = headers.get('www-authenticate');
  if (!header) return undefined;
  const bearer = parseChallenges(header).find((challenge) => challenge.scheme === 'bearer');
  if (!bearer) return undefined;
  const pick = (name: keyof BearerChallenge) =>
    bearer.params[name] !== undefined ? { [name]: bearer.params[name] } : {};
  return {
    ...pick('resource_metadata'),
    ...pick('scope'),
    ...pick('error'),
    ...pick('error_description'),
  };
}
