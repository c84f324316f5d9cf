/**
 * The token record every store keeps, and its storage key.
 *
 * One format, with a version number, whatever the backend: the access token, the refresh token,
 * the token type, the absolute expiry, when it was obtained, the granted scopes, and which issuer,
 * resource and server it belongs to. Tokens are {@link Secret}s in memory; only a store's
 * serialization reveals them, to the storage itself.
 *
 * @module
 */
import * as z from 'zod';
import { Secret } from '../config/secret.js';
import { keyPart } from './key-part.js';

/** The version of the serialized record format. */
export const RECORD_FORMAT = 1;

/** An OAuth token and what it is for. */
export interface TokenRecord {
  readonly accessToken: Secret;
  readonly refreshToken?: Secret | undefined;
  /** Usually `Bearer`. */
  readonly tokenType: string;
  /** When the access token expires, epoch milliseconds; absent when the AS did not say. */
  readonly expiresAt?: number | undefined;
  /** When the token was obtained, epoch milliseconds. */
  readonly obtainedAt: number;
  /** The scopes granted (RFC 6749 §5.1 `scope`). */
  readonly scopes: readonly string[];
  /** The issuer of the authorization server. */
  readonly issuer: string;
  /** The RFC 8707 resource the token is for. */
  readonly resource: string;
  /** The `mcp.servers` name. */
  readonly server: string;
  /**
   * The redirect URI of the login that obtained the token: with the issuer it finds the client
   * registration a refresh must use.
   */
  readonly redirectUri?: string | undefined;
}

/** What identifies a record: whose token, for which server, issuer, resource and scope set. */
export interface TokenKey {
  /** The identity the token belongs to, as `issuer#subject`, or the app's own identity. */
  readonly identity: string;
  readonly server: string;
  readonly issuer: string;
  readonly resource: string;
  /** The requested scopes; order and duplicates do not matter. */
  readonly scopes: readonly string[];
}

/** The scope set of a key: sorted, without duplicates or empty entries, space-separated. */
export function scopeFingerprint(scopes: readonly string[]): string {
  return [...new Set(scopes.map((scope) => scope.trim()).filter(Boolean))].sort().join(' ');
}

/**
 * The storage key of `key`: its parts URL-encoded and joined by `:`, so no part can run into
 * another (a `:` inside an issuer URL is `%3A`). A part that is not well-formed Unicode is a
 * `USAGE` error ({@link keyPart}): two different keys never share one storage key.
 */
export function storageKey(key: TokenKey): string {
  return [key.identity, key.server, key.issuer, key.resource, scopeFingerprint(key.scopes)]
    .map(keyPart)
    .join(':');
}

const serializedSchema = z.looseObject({
  v: z.literal(RECORD_FORMAT),
  access_token: z.string(),
  refresh_token: z.string().optional(),
  token_type: z.string(),
  expires_at: z.number().optional(),
  obtained_at: z.number(),
  scope: z.string(),
  issuer: z.string(),
  resource: z.string(),
  server: z.string(),
  redirect_uri: z.string().optional(),
});

/** The record as stored (JSON text). Reveals the tokens: call only to hand them to storage. */
export function serializeRecord(record: TokenRecord): string {
  return JSON.stringify({
    v: RECORD_FORMAT,
    access_token: record.accessToken.reveal(),
    ...(record.refreshToken ? { refresh_token: record.refreshToken.reveal() } : {}),
    token_type: record.tokenType,
    ...(record.expiresAt !== undefined ? { expires_at: record.expiresAt } : {}),
    obtained_at: record.obtainedAt,
    scope: record.scopes.join(' '),
    issuer: record.issuer,
    resource: record.resource,
    server: record.server,
    ...(record.redirectUri !== undefined ? { redirect_uri: record.redirectUri } : {}),
  });
}

/**
 * Parse a stored record. Returns `undefined` for text that is not a record of this format (a
 * newer version, damage): the caller treats it as absent, and a login replaces it.
 */
export function parseRecord(text: string): TokenRecord | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = serializedSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const data = parsed.data;
  return {
    accessToken: new Secret(data.access_token),
    ...(data.refresh_token !== undefined ? { refreshToken: new Secret(data.refresh_token) } : {}),
    tokenType: data.token_type,
    ...(data.expires_at !== undefined ? { expiresAt: data.expires_at } : {}),
    obtainedAt: data.obtained_at,
    scopes: data.scope.split(' ').filter(Boolean),
    issuer: data.issuer,
    resource: data.resource,
    server: data.server,
    ...(data.redirect_uri !== undefined ? { redirectUri: data.redirect_uri } : {}),
  };
}
