/**
 * The caller: who a verified access token speaks for. Tool handlers get it as `context.caller`,
 * in the SDK's `extra.authInfo`, and — once turned on — through {@link currentCaller} (an
 * `AsyncLocalStorage`); it selects the caller's own downstream tokens.
 *
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { McpAgentError } from '../errors.js';

/** A verified caller (RFC 9068 §2.2 claims, or an RFC 7662 §2.2 introspection response). */
export interface CallerIdentity {
  /** `iss`. */
  readonly issuer: string;
  /** `sub` (for a client-credentials token without one: the client id). */
  readonly subject: string;
  /** `client_id` (or `azp`), when the token names one. */
  readonly clientId?: string | undefined;
  /** Granted scopes, split on spaces (RFC 6749 §3.3). */
  readonly scopes: readonly string[];
  /** Every claim of the token (or field of the introspection response). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** When the token expires, epoch milliseconds. */
  readonly expiresAt?: number | undefined;
  /** How it was verified. */
  readonly verifiedBy: 'jwt' | 'introspection';
}

/** One string per principal (`iss` and `sub`), e.g. to key the caller's downstream tokens. */
export function principalOf(identity: Pick<CallerIdentity, 'issuer' | 'subject'>): string {
  return `${encodeURIComponent(identity.issuer)}#${encodeURIComponent(identity.subject)}`;
}

/**
 * Scopes of a token: `scope` (a space-separated string, RFC 9068 §2.2.3), else `scp` (a string or
 * an array of strings, as some providers send). Only the space separates; empty items are dropped.
 */
export function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  if (Object.hasOwn(claims, 'scope')) {
    // RFC 9068: a space-separated string; anything else grants nothing.
    return typeof claims.scope === 'string'
      ? claims.scope.split(' ').filter((item) => item !== '')
      : [];
  }
  const scp = claims.scp;
  if (typeof scp === 'string') return scp.split(' ').filter((item) => item !== '');
  if (Array.isArray(scp) && scp.every((item) => typeof item === 'string')) {
    return scp.filter((item) => item !== '' && !item.includes(' '));
  }
  return [];
}

/**
 * Where the HTTP layer puts the identity in the SDK's `authInfo.extra` (a symbol: it is not
 * serialised and no JSON key can forge it).
 */
export const CALLER: unique symbol = Symbol('mcp-agent-ts.caller');

/**
 * The MCP SDK's `AuthInfo` (v1 `req.auth`, v2 `authInfo`), structurally: what a request handler of
 * an SDK server reads as `extra.authInfo` (v1) or `ctx.http.authInfo` (v2).
 */
export interface AuthInfo {
  /** Always empty: the inbound token is not handed to tools (MCP "Token Passthrough"). */
  token: string;
  /** The client the token was issued to (`client_id`, or `azp`; empty when it names none). */
  clientId: string;
  /** The scopes granted (RFC 6749 §3.3). */
  scopes: string[];
  /** Epoch seconds. */
  expiresAt?: number;
  /** The RFC 8707 resource the token was accepted for. */
  resource?: URL;
  /** The RFC 9728 metadata URL of that resource (SDK v2 names it in its own scope challenges). */
  resourceMetadataUrl?: string;
  /**
   * `issuer`, `subject` and every claim (`claims`) of the caller, and the caller itself under
   * {@link CALLER} (`callerFromAuthInfo` reads it).
   */
  extra?: Record<string, unknown>;
}

/**
 * The SDK `AuthInfo` of `identity`, never carrying the inbound token (tools cannot pass it on, MCP
 * 2025-11-25 "Token Passthrough"); the identity itself rides in `extra` under {@link CALLER}.
 */
export function authInfoOf(
  identity: CallerIdentity,
  resource?: { readonly resource: string; readonly resourceMetadataUrl: string },
): AuthInfo {
  return {
    token: '',
    clientId: identity.clientId ?? '',
    scopes: [...identity.scopes],
    ...(identity.expiresAt !== undefined
      ? { expiresAt: Math.floor(identity.expiresAt / 1000) }
      : {}),
    ...(resource
      ? { resource: new URL(resource.resource), resourceMetadataUrl: resource.resourceMetadataUrl }
      : {}),
    extra: {
      issuer: identity.issuer,
      subject: identity.subject,
      claims: identity.claims,
      [CALLER]: identity,
    },
  };
}

/** The identity the HTTP layer attached to an SDK `authInfo`, if any. */
export function callerFromAuthInfo(
  authInfo: { extra?: Record<string | symbol, unknown> } | undefined,
): CallerIdentity | undefined {
  const value = authInfo?.extra?.[CALLER];
  return value !== null && typeof value === 'object' ? (value as CallerIdentity) : undefined;
}

/** The token each verified identity came with (never serialised, never in `claims`). */
const inboundTokens = new WeakMap<CallerIdentity, string>();

/** Remember the token `identity` was verified from (the guard does, on every request). */
export function rememberInboundToken(identity: CallerIdentity, token: string): void {
  inboundTokens.set(identity, token);
}

/**
 * The token `identity` was verified from: only for exchanging it at the authorization server
 * (RFC 8693, on behalf of the caller); it is never sent to a downstream server.
 */
export function inboundTokenOf(identity: CallerIdentity): string | undefined {
  return inboundTokens.get(identity);
}

const storage = new AsyncLocalStorage<CallerIdentity>();
let contextEnabled = false;
let callsInFlight = 0;

/**
 * Turn on {@link currentCaller} for this process. Off by default: on Node.js 20 and 22 an
 * `AsyncLocalStorage` in use makes every promise of the process pay for context propagation
 * (10 to 20 % of a `tools/call` on loopback, measured by `npm run bench`); handlers get the
 * caller as `context.caller` at no cost. `app.useCallerContext()` in an app module turns it on.
 */
export function enableCallerContext(): void {
  contextEnabled = true;
}

/**
 * The caller of the tool call being handled: `undefined` outside one (or with authorization
 * off). Needs {@link enableCallerContext}; without it, calling this during a tool call throws
 * rather than guess.
 */
export function currentCaller(): CallerIdentity | undefined {
  if (contextEnabled) return storage.getStore();
  if (callsInFlight > 0) {
    throw new McpAgentError(
      'USAGE',
      "currentCaller() needs the caller context: call app.useCallerContext() in the app module (or enableCallerContext()), or use the handler's context.caller.",
    );
  }
  return undefined;
}

/**
 * Call `body` at once with `identity` as the {@link currentCaller} of everything it starts (when
 * the caller context is on; else it is just called): how middleware hands the caller to the
 * handler after it.
 */
export function withCaller<T>(identity: CallerIdentity, body: () => T): T {
  return contextEnabled ? storage.run(identity, body) : body();
}

/** Run the tool call `body` with `identity` as the {@link currentCaller}. */
export async function runAsCaller<T>(
  identity: CallerIdentity | undefined,
  body: () => Promise<T> | T,
): Promise<T> {
  if (contextEnabled) return identity ? storage.run(identity, body) : body();
  callsInFlight += 1;
  try {
    return await body();
  } finally {
    callsInFlight -= 1;
  }
}
