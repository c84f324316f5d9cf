/**
 * What an OAuth-protected resource answers when a request cannot go on (RFC 6750 §3, RFC 9728
 * §5.1, MCP 2025-11-25 "Authorization" › "Error Handling"):
 *
 * | case | status | `WWW-Authenticate` |
 * |---|---|---|
 * | no credentials (or another scheme) | 401 | `Bearer resource_metadata=…` (+ `scope`), **no** `error` |
 * | malformed request | 400 | `error="invalid_request"` |
 * | bad token | 401 | `error="invalid_token"` |
 * | missing scope | 403 | `error="insufficient_scope"`, `scope=` every required scope |
 * | verification infrastructure down | 503 + `Retry-After` | none |
 *
 * The metadata URL comes from configuration, never from the request's `Host`. Every value written
 * into the header is escaped: `\` and `"` escaped, control and non-ASCII characters dropped.
 *
 * @module
 */

/** Why a request was refused. */
export type Rejection =
  | { readonly kind: 'no-credentials' }
  | { readonly kind: 'invalid-request'; readonly description: string }
  | { readonly kind: 'invalid-token'; readonly description: string }
  | {
      readonly kind: 'insufficient-scope';
      /** Every scope the operation requires. */
      readonly scopes: readonly string[];
    }
  | {
      readonly kind: 'unavailable';
      /** Seconds for `Retry-After`. */
      readonly retryAfterSeconds: number;
    };

/** What every challenge names. */
export interface ChallengeContext {
  /** The protected-resource metadata URL (RFC 9728 §3), from configuration. */
  readonly resourceMetadataUrl: string;
  /** Scopes every request needs, sent as `scope` on the no-credentials challenge. */
  readonly baselineScopes?: readonly string[];
}

/** A response to send: status, headers and a small JSON body. */
export interface RejectionResponse {
  /** 400 `invalid_request`, 401, 403 `insufficient_scope`, or 503 (tokens cannot be verified). */
  readonly status: 400 | 401 | 403 | 503;
  /** `WWW-Authenticate` (RFC 6750 §3), `Cache-Control: no-store`, and `Retry-After` with 503. */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON error (`error`, `error_description`), never the token. */
  readonly body: string;
}

/** `value` as an RFC 9110 quoted-string: `\` and `"` escaped, CTLs and non-ASCII dropped. */
export function quoted(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '');
  return `"${printable.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function bearer(params: readonly (readonly [string, string])[]): string {
  return `Bearer ${params.map(([name, value]) => `${name}=${quoted(value)}`).join(', ')}`;
}

/** The `WWW-Authenticate` value for `rejection`, or `undefined` (503 carries none). */
export function challengeFor(rejection: Rejection, context: ChallengeContext): string | undefined {
  const metadata = ['resource_metadata', context.resourceMetadataUrl] as const;
  switch (rejection.kind) {
    case 'no-credentials': {
      const scope = context.baselineScopes?.join(' ');
      return bearer(scope ? [metadata, ['scope', scope]] : [metadata]);
    }
    case 'invalid-request':
      return bearer([
        ['error', 'invalid_request'],
        ['error_description', rejection.description],
        metadata,
      ]);
    case 'invalid-token':
      return bearer([
        ['error', 'invalid_token'],
        ['error_description', rejection.description],
        metadata,
      ]);
    case 'insufficient-scope':
      return bearer([
        ['error', 'insufficient_scope'],
        ['scope', rejection.scopes.join(' ')],
        ['error_description', 'the token lacks a scope this request requires'],
        metadata,
      ]);
    case 'unavailable':
      return undefined;
  }
}

/** The whole response for `rejection`. */
export function rejectionResponse(
  rejection: Rejection,
  context: ChallengeContext,
): RejectionResponse {
  const challenge = challengeFor(rejection, context);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...(challenge ? { 'www-authenticate': challenge } : {}),
  };
  switch (rejection.kind) {
    case 'no-credentials':
      return {
        status: 401,
        headers,
        body: JSON.stringify({
          error: 'unauthorized',
          error_description: 'a bearer token is required',
        }),
      };
    case 'invalid-request':
      return {
        status: 400,
        headers,
        body: JSON.stringify({
          error: 'invalid_request',
          error_description: rejection.description,
        }),
      };
    case 'invalid-token':
      return {
        status: 401,
        headers,
        body: JSON.stringify({ error: 'invalid_token', error_description: rejection.description }),
      };
    case 'insufficient-scope':
      return {
        status: 403,
        headers,
        body: JSON.stringify({
          error: 'insufficient_scope',
          error_description: `required scopes: ${rejection.scopes.join(' ')}`,
        }),
      };
    case 'unavailable':
      return {
        status: 503,
        headers: {
          ...headers,
          'retry-after': String(Math.max(1, Math.ceil(rejection.retryAfterSeconds))),
        },
        body: JSON.stringify({
          error: 'temporarily_unavailable',
          error_description: 'tokens cannot be verified right now; retry later',
        }),
      };
  }
}
