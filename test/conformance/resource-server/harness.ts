/**
 * A conformance harness for a protected MCP server (an OAuth 2.1 resource server). No released
 * version of the MCP conformance suite tests this yet (0.2.0-alpha.12, the one
 * `npm run test:conformance` installs, has none of the scenarios below); this harness mirrors
 * open proposals in https://github.com/modelcontextprotocol/conformance, with their check ids:
 *
 * - Issue #78 (open), https://github.com/modelcontextprotocol/conformance/issues/78: server-side
 *   token audience validation. The server trusts a mock authorization server (RFC 8414 metadata
 *   and a JWKS); the suite mints JWTs with its key; a token naming another resource is refused
 *   with 401, a token naming the server is accepted. Its proposed scenario
 *   `auth-token-audience-validation` (src/scenarios/server/auth-token-audience.ts, seen at
 *   commit 2ce002402c5bc58a8f08ffcb7891af32e443ddb0 of that repository) has six checks, each a
 *   real `initialize` POST: `auth-unauthenticated-request-rejected` (no token: 401),
 *   `auth-valid-audience-token-accepted` (trusted key, `aud` the server URL, unexpired: 2xx),
 *   `auth-wrong-audience-token-rejected`, `auth-missing-audience-token-rejected`,
 *   `auth-expired-token-rejected` (expired ten minutes ago) and `auth-untrusted-token-rejected`
 *   (the issuer's `kid`, signed by a key its JWKS does not hold): 401 each. When the valid token
 *   is refused, the four refusals prove nothing and are not counted as passes.
 * - PR #155 (open), https://github.com/modelcontextprotocol/conformance/pull/155, "Improvements
 *   to the Draft Server Auth Conformance tests", on the closed draft PR #105
 *   (https://github.com/modelcontextprotocol/conformance/pull/105): scenarios
 *   `server/auth-401-unauthorized` (`auth-401-www-authenticate-present`),
 *   `server/auth-www-authenticate-header` (`auth-www-auth-bearer-scheme`,
 *   `auth-www-auth-resource-metadata`: an absolute URL), `server/auth-prm-discovery` (RFC 9728:
 *   `auth-prm-endpoint-exists` at the path-inserted well-known URL, then the root one;
 *   `auth-prm-has-resource`; `auth-prm-has-authorization-servers`: a non-empty array of URLs),
 *   `server/auth-prm-resource-validation` (`auth-prm-resource-matches-server`) and
 *   `server/auth-as-metadata-discovery` (RFC 8414, then OpenID Connect discovery, of the first
 *   authorization server: `auth-as-endpoint-exists`, `auth-as-has-issuer`,
 *   `auth-as-has-authorization-endpoint`, `auth-as-has-token-endpoint`,
 *   `auth-as-response-types-supported` with `code`). The PR also checks the answer to invalid
 *   tokens.
 * - The SEP-2350 scope challenge scenario `sep-2350-server-scope-challenge` (draft suite,
 *   src/scenarios/server/scope-challenge.ts of that repository): a valid token lacking a scope
 *   the operation needs gets 403 (`server-scope-challenge-http-403`) with a Bearer challenge
 *   `error="insufficient_scope"` and a `resource_metadata` URL (`https`, or `http` on the
 *   server's own origin) (`server-scope-challenge-www-authenticate`), and the same operation
 *   with a token holding the scopes succeeds (`server-scope-challenge-upgraded-retry`).
 *
 * Where the proposals only warn, this harness fails: `resource_metadata` missing, PRM `resource`
 * not exactly the server URL (MCP's canonical URI, the audience tokens are bound to), AS
 * metadata `issuer` not exactly the URL in `authorization_servers` (RFC 8414 §3.3), the
 * challenge not naming every scope. Two checks are this harness's own:
 * `auth-foreign-issuer-token-rejected` (a token issued and signed by an issuer the server does not
 * trust, whose key is published, is refused with 401) and `auth-invalid-token-challenge` (every
 * refused token's 401 carries `error="invalid_token"` and `resource_metadata`, RFC 6750 §3.1 and
 * RFC 9728 §5.1).
 *
 * Each check passes or fails; a check whose prerequisite failed fails too, saying which.
 */
import type { TokenKind, TokenMinter } from './issuer.js';
import {
  type Answer,
  type Challenge,
  type Fetch,
  getJson,
  initialize,
  initialized,
  parseChallenge,
  rpc,
} from './wire.js';

/** One check's verdict. */
export interface CheckResult {
  readonly id: string;
  readonly status: 'pass' | 'fail';
  readonly detail: string;
}

/** A request the under-scoped token may not make: the scope-challenge checks. */
export interface ScopeProbe {
  readonly method: string;
  readonly params: Record<string, unknown>;
  /** Every scope the operation requires (the challenge must name them all). */
  readonly requiredScopes: readonly string[];
}

/** What the harness runs against. */
export interface ResourceServerTarget {
  /** The MCP endpoint, which is also the resource identifier. */
  readonly url: string;
  /** Tokens for the checks. */
  readonly tokens: TokenMinter;
  /** The scope-challenge checks run when given. */
  readonly scopeProbe?: ScopeProbe;
  /** Default: the global `fetch`. */
  readonly fetch?: Fetch;
}

/** Every check id, in the order run. */
export const CHECK_IDS = [
  'auth-unauthenticated-request-rejected',
  'auth-401-www-authenticate-present',
  'auth-www-auth-bearer-scheme',
  'auth-www-auth-resource-metadata',
  'auth-prm-endpoint-exists',
  'auth-prm-has-resource',
  'auth-prm-resource-matches-server',
  'auth-prm-has-authorization-servers',
  'auth-as-endpoint-exists',
  'auth-as-has-issuer',
  'auth-as-has-authorization-endpoint',
  'auth-as-has-token-endpoint',
  'auth-as-response-types-supported',
  'auth-valid-audience-token-accepted',
  'auth-wrong-audience-token-rejected',
  'auth-missing-audience-token-rejected',
  'auth-expired-token-rejected',
  'auth-untrusted-token-rejected',
  'auth-foreign-issuer-token-rejected',
  'auth-invalid-token-challenge',
  'server-scope-challenge-http-403',
  'server-scope-challenge-www-authenticate',
  'server-scope-challenge-upgraded-retry',
] as const;

type CheckId = (typeof CHECK_IDS)[number];

function verdict(id: CheckId, ok: boolean, detail: string): CheckResult {
  return { id, status: ok ? 'pass' : 'fail', detail };
}

function absoluteUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

const trimSlash = (value: string): string => value.replace(/\/$/, '');

/** Why `value` is not a usable `resource_metadata` URL for `target`, or `undefined`. */
function metadataUrlProblem(value: string | undefined, target: string): string | undefined {
  if (value === undefined) return 'no resource_metadata parameter';
  const url = absoluteUrl(value);
  if (!url) return `resource_metadata is not an absolute URL: ${value}`;
  if (url.hash || url.username || url.password) return 'resource_metadata has a fragment or user';
  const sameOrigin = url.protocol === 'http:' && url.origin === new URL(target).origin;
  if (url.protocol !== 'https:' && !sameOrigin) return `resource_metadata is not https: ${value}`;
  return undefined;
}

/** The challenge checks on the answer to a request without a token. */
function challengeChecks(answer: Answer, target: string): CheckResult[] {
  const raw = answer.headers.get('www-authenticate');
  const challenge = parseChallenge(raw);
  const problem = metadataUrlProblem(challenge?.params.resource_metadata, target);
  return [
    verdict(
      'auth-unauthenticated-request-rejected',
      answer.status === 401,
      `no token: HTTP ${answer.status}`,
    ),
    verdict('auth-401-www-authenticate-present', raw !== null, `WWW-Authenticate: ${raw}`),
    verdict(
      'auth-www-auth-bearer-scheme',
      challenge?.scheme.toLowerCase() === 'bearer',
      `scheme ${challenge?.scheme ?? '(none)'}`,
    ),
    verdict('auth-www-auth-resource-metadata', problem === undefined, problem ?? 'absolute URL'),
  ];
}

/** RFC 9728 §3.1: the well-known URL with the resource's path appended, and the root one. */
function wellKnownPrm(target: string): string[] {
  const url = new URL(target);
  const path = url.pathname === '/' ? '' : url.pathname;
  const root = `${url.origin}/.well-known/oauth-protected-resource`;
  return path ? [`${root}${path}`, root] : [root];
}

/** The PRM checks; the document's `authorization_servers[0]` when usable. */
async function prmChecks(
  fetcher: Fetch,
  target: string,
  challenge: Challenge | undefined,
): Promise<{ results: CheckResult[]; authorizationServer?: string }> {
  const advertised = challenge?.params.resource_metadata;
  const candidates = [
    ...(metadataUrlProblem(advertised, target) === undefined && advertised ? [advertised] : []),
    ...wellKnownPrm(target),
  ];
  let found: { url: string; body: Record<string, unknown> } | undefined;
  const tried: string[] = [];
  for (const url of candidates) {
    tried.push(url);
    const { status, body } = await getJson(fetcher, url);
    if (status === 200 && body) {
      found = { url, body };
      break;
    }
  }
  if (!found) {
    const why = `no PRM document at ${tried.join(', ')}`;
    return {
      results: [
        verdict('auth-prm-endpoint-exists', false, why),
        verdict('auth-prm-has-resource', false, why),
        verdict('auth-prm-resource-matches-server', false, why),
        verdict('auth-prm-has-authorization-servers', false, why),
      ],
    };
  }
  const { resource, authorization_servers: servers } = found.body;
  const resourceUrl = absoluteUrl(resource);
  const serverList = Array.isArray(servers) ? servers : [];
  const serversOk = serverList.length > 0 && serverList.every((s) => absoluteUrl(s) !== undefined);
  return {
    results: [
      verdict('auth-prm-endpoint-exists', true, found.url),
      verdict(
        'auth-prm-has-resource',
        resourceUrl !== undefined && resourceUrl.hash === '',
        `resource ${JSON.stringify(resource)}`,
      ),
      verdict(
        'auth-prm-resource-matches-server',
        typeof resource === 'string' && trimSlash(resource) === trimSlash(target),
        `resource ${JSON.stringify(resource)}, server ${target}`,
      ),
      verdict(
        'auth-prm-has-authorization-servers',
        serversOk,
        `authorization_servers ${JSON.stringify(servers)}`,
      ),
    ],
    ...(serversOk ? { authorizationServer: String(serverList[0]) } : {}),
  };
}

/** RFC 8414 §3.1 (path inserted), then OpenID Connect discovery (inserted, then appended). */
function asMetadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : trimSlash(url.pathname);
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    ...(path ? [`${url.origin}${path}/.well-known/openid-configuration`] : []),
  ];
}

/** The authorization server metadata checks. */
async function asChecks(fetcher: Fetch, issuer: string | undefined): Promise<CheckResult[]> {
  const ids = [
    'auth-as-endpoint-exists',
    'auth-as-has-issuer',
    'auth-as-has-authorization-endpoint',
    'auth-as-has-token-endpoint',
    'auth-as-response-types-supported',
  ] as const;
  if (issuer === undefined) {
    return ids.map((id) => verdict(id, false, 'no usable authorization_servers in the PRM'));
  }
  let found: { url: string; body: Record<string, unknown> } | undefined;
  for (const url of asMetadataUrls(issuer)) {
    const { status, body } = await getJson(fetcher, url);
    if (status === 200 && body) {
      found = { url, body };
      break;
    }
  }
  if (!found) {
    return ids.map((id) => verdict(id, false, `no metadata for ${issuer}`));
  }
  const meta = found.body;
  const types = Array.isArray(meta.response_types_supported) ? meta.response_types_supported : [];
  return [
    verdict('auth-as-endpoint-exists', true, found.url),
    verdict('auth-as-has-issuer', meta.issuer === issuer, `issuer ${JSON.stringify(meta.issuer)}`),
    verdict(
      'auth-as-has-authorization-endpoint',
      absoluteUrl(meta.authorization_endpoint) !== undefined,
      `authorization_endpoint ${JSON.stringify(meta.authorization_endpoint)}`,
    ),
    verdict(
      'auth-as-has-token-endpoint',
      absoluteUrl(meta.token_endpoint) !== undefined,
      `token_endpoint ${JSON.stringify(meta.token_endpoint)}`,
    ),
    verdict(
      'auth-as-response-types-supported',
      types.includes('code'),
      `response_types_supported ${JSON.stringify(meta.response_types_supported)}`,
    ),
  ];
}

const REFUSED: readonly (readonly [CheckId, TokenKind])[] = [
  ['auth-wrong-audience-token-rejected', 'wrong-audience'],
  ['auth-missing-audience-token-rejected', 'missing-audience'],
  ['auth-expired-token-rejected', 'expired'],
  ['auth-untrusted-token-rejected', 'untrusted-key'],
  ['auth-foreign-issuer-token-rejected', 'foreign-issuer'],
];

/** The token checks: the valid one accepted, each bad one refused with an invalid_token 401. */
async function tokenChecks(target: ResourceServerTarget, fetcher: Fetch): Promise<CheckResult[]> {
  const valid = await initialize(fetcher, target.url, await target.tokens.mint('valid'));
  const accepted = initialized(valid);
  const results = [
    verdict(
      'auth-valid-audience-token-accepted',
      accepted,
      `valid token: HTTP ${valid.status}${accepted ? ', initialize result' : ''}`,
    ),
  ];
  const challenges: string[] = [];
  for (const [id, kind] of REFUSED) {
    const answer = await initialize(fetcher, target.url, await target.tokens.mint(kind));
    const challenge = parseChallenge(answer.headers.get('www-authenticate'));
    const good =
      answer.status === 401 &&
      challenge?.params.error === 'invalid_token' &&
      metadataUrlProblem(challenge.params.resource_metadata, target.url) === undefined;
    if (!good) challenges.push(`${kind}: ${answer.headers.get('www-authenticate')}`);
    const refused = answer.status === 401;
    results.push(
      verdict(
        id,
        refused && accepted,
        `${kind} token: HTTP ${answer.status}${accepted ? '' : ' (the valid token was refused too, so this proves nothing)'}`,
      ),
    );
  }
  results.push(
    verdict(
      'auth-invalid-token-challenge',
      challenges.length === 0,
      challenges.length === 0
        ? 'every refusal: 401, error="invalid_token", resource_metadata'
        : `not an invalid_token challenge: ${challenges.join('; ')}`,
    ),
  );
  return results;
}

/** `method` in a session opened with `token` (a stateless server opens none). */
async function inSession(
  fetcher: Fetch,
  url: string,
  token: string,
  probe: ScopeProbe,
): Promise<Answer | string> {
  const opened = await initialize(fetcher, url, token);
  if (!initialized(opened)) return `initialize with the token: HTTP ${opened.status}`;
  const session = opened.headers.get('mcp-session-id') ?? undefined;
  await rpc(fetcher, url, 'notifications/initialized', {}, { token, session }).catch(
    () => undefined,
  );
  return rpc(fetcher, url, probe.method, probe.params, { token, session });
}

/** The SEP-2350 scope-challenge checks. */
async function scopeChecks(target: ResourceServerTarget, fetcher: Fetch): Promise<CheckResult[]> {
  const probe = target.scopeProbe;
  if (!probe) return [];
  const low = await inSession(fetcher, target.url, await target.tokens.mint('under-scoped'), probe);
  const lowAnswer = typeof low === 'string' ? undefined : low;
  const raw = lowAnswer?.headers.get('www-authenticate') ?? null;
  const challenge = parseChallenge(raw);
  const named = challenge?.params.scope?.split(/\s+/) ?? [];
  const missing = probe.requiredScopes.filter((scope) => !named.includes(scope));
  const problem = metadataUrlProblem(challenge?.params.resource_metadata, target.url);
  const full = await inSession(fetcher, target.url, await target.tokens.mint('valid'), probe);
  const retried = typeof full !== 'string' && full.status === 200 && full.message?.result;
  return [
    verdict(
      'server-scope-challenge-http-403',
      lowAnswer?.status === 403,
      typeof low === 'string' ? low : `under-scoped ${probe.method}: HTTP ${low.status}`,
    ),
    verdict(
      'server-scope-challenge-www-authenticate',
      challenge?.params.error === 'insufficient_scope' &&
        problem === undefined &&
        missing.length === 0,
      `WWW-Authenticate: ${raw}${missing.length ? `; scopes not named: ${missing.join(' ')}` : ''}`,
    ),
    verdict(
      'server-scope-challenge-upgraded-retry',
      Boolean(retried),
      typeof full === 'string' ? full : `full-scope ${probe.method}: HTTP ${full.status}`,
    ),
  ];
}

/** Run every check against `target`. */
export async function runResourceServerChecks(
  target: ResourceServerTarget,
): Promise<CheckResult[]> {
  const fetcher = target.fetch ?? fetch;
  const unauthenticated = await initialize(fetcher, target.url);
  const challenge = parseChallenge(unauthenticated.headers.get('www-authenticate'));
  const prm = await prmChecks(fetcher, target.url, challenge);
  return [
    ...challengeChecks(unauthenticated, target.url),
    ...prm.results,
    ...(await asChecks(fetcher, prm.authorizationServer)),
    ...(await tokenChecks(target, fetcher)),
    ...(await scopeChecks(target, fetcher)),
  ];
}

/** `resource-server conformance: X/Y (name)`. */
export function summaryLine(name: string, results: readonly CheckResult[]): string {
  const passed = results.filter((result) => result.status === 'pass').length;
  return `resource-server conformance: ${passed}/${results.length} (${name})`;
}
