/**
 * The static credentials of a downstream server: `headers`, mcp-agent's documented
 * `auth.headers` and `auth.type: bearer` + `auth.token`, and `auth.api_key`, which becomes
 * `Authorization: Bearer <key>` on HTTP transports unless a header sets `Authorization` itself.
 *
 * @module
 */
import type { ServerSettings } from '../config/schema/servers.js';
import { REDACTED } from '../config/secret.js';

/** How a server is authenticated, for `servers list` (never the values). */
export type AuthMode = 'none' | 'headers' | 'env' | 'oauth';

/** The headers to send to a server's endpoint, revealed (call only when sending). */
export function staticHeaders(server: ServerSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const source of [server.headers, server.auth?.headers]) {
    for (const [name, value] of Object.entries(source ?? {})) out[name] = value.reveal();
  }
  const hasAuthorization = Object.keys(out).some((name) => name.toLowerCase() === 'authorization');
  const token = server.auth?.token;
  const bearer = token && !token.isEmpty ? token : server.auth?.api_key;
  if (!hasAuthorization && bearer && !bearer.isEmpty)
    out.Authorization = `Bearer ${bearer.reveal()}`;
  return out;
}

/** Whether the server sends any static header. */
function hasStaticHeaders(server: ServerSettings): boolean {
  return (
    Object.keys(server.headers ?? {}).length > 0 ||
    Object.keys(server.auth?.headers ?? {}).length > 0 ||
    server.auth?.token !== undefined ||
    server.auth?.api_key !== undefined
  );
}

/** The authentication mode of a server. */
export function authMode(server: ServerSettings): AuthMode {
  if (server.auth?.oauth?.enabled) return 'oauth';
  if (server.transport !== 'stdio' && hasStaticHeaders(server)) return 'headers';
  if (server.transport === 'stdio' && Object.keys(server.env ?? {}).length > 0) return 'env';
  return 'none';
}

/**
 * Every secret value of a server (env and header values, api_key, token), longest first, each
 * also in its URL-encoded form: what to scrub from text the server or a library writes.
 */
export function secretValues(server: ServerSettings): string[] {
  const values = [
    ...Object.values(server.env ?? {}),
    ...Object.values(server.headers ?? {}),
    ...Object.values(server.auth?.headers ?? {}),
    server.auth?.api_key,
    server.auth?.token,
  ]
    .flatMap((value) => (value ? [value.reveal(), ...credentialsOf(value.reveal())] : []))
    .filter((value) => value.length >= 4);
  const forms = values.flatMap((value) => [value, encodeURIComponent(value)]);
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}

/** The credentials of a header value with an auth scheme (`Bearer KEY`: `KEY`), else none. */
function credentialsOf(value: string): string[] {
  const match = /^[A-Za-z][\w.+-]*\s+(\S+)$/.exec(value);
  return match?.[1] ? [match[1]] : [];
}

/** `text` with every occurrence of each secret replaced by `[redacted]` (longest first). */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  return out;
}

/**
 * `value` (a log message's data: text or JSON) with every secret scrubbed: text as by
 * {@link scrub}; anything else through its JSON text, returned as that text when the scrubbed
 * JSON no longer parses.
 */
export function scrubValue(value: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0) return value;
  if (typeof value === 'string') return scrub(value, secrets);
  const text = JSON.stringify(value);
  if (text === undefined) return value;
  const clean = scrub(text, secrets);
  if (clean === text) return value;
  try {
    return JSON.parse(clean) as unknown;
  } catch {
    return clean;
  }
}
