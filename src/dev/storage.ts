/**
 * In-memory storage for the development authorization server: one map per server, so two servers
 * in one process never share grants (oidc-provider's own memory adapter is process-global and
 * prints a warning to the console), and JWT access tokens that introspection and revocation can
 * find.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  readonly payload: AdapterPayload;
  /** Epoch milliseconds after which the entry is gone; undefined: never. */
  readonly expiresAt: number | undefined;
}

/** The models whose JWT values {@link DevStorage.bindIssuedValue} makes findable. */
const JWT_KINDS = new Set(['AccessToken', 'ClientCredentials']);

/** How many issued-but-not-yet-bound JWT access tokens are kept at most. */
const MAX_PENDING = 1000;

/**
 * How long a rotated refresh token may still be used, in seconds: MCP clients (the SDK's
 * transports) refresh from two requests at once when both get a 401 (the event stream's GET and a
 * POST), and without a grace period the second use counts as a stolen token and revokes the whole
 * grant (RFC 9700 §4.14.2), signing the user out at the next refresh. Later reuse still does.
 */
export const REFRESH_TOKEN_REUSE_GRACE_SECONDS = 30;

/** How many times a rotated refresh token may be used again within the grace period. */
export const REFRESH_TOKEN_REUSES = 1;

/** A token model as oidc-provider emits it with `access_token.issued` (the fields used here). */
export interface IssuedTokenModel {
  readonly kind: string;
  readonly jti: string;
  readonly constructor: { readonly IN_PAYLOAD?: readonly string[] };
}

/**
 * In-memory storage for one development authorization server: the oidc-provider adapter, plus a
 * record of the JWT access tokens it issued.
 *
 * oidc-provider does not store JWT access tokens, so it could neither introspect nor revoke them.
 * This storage keeps each one's payload under its `jti` ({@link rememberIssued}, from the
 * `access_token.issued` event) and, once the token endpoint has the value, links the SHA-256 of the
 * exact value to it ({@link bindIssuedValue}, from `grant.success`). Looking a token up by value
 * then finds that entry; revocation destroys it by `jti`; revoking the grant drops it.
 */
export interface DevStorage {
  /** The oidc-provider `adapter` configuration value. */
  readonly adapter: (name: string) => Adapter;
  /** Keep the payload of a JWT access token just issued, until its value is known. */
  rememberIssued(model: IssuedTokenModel): void;
  /** Make the issued token with this exact JWT value findable by introspection and revocation. */
  bindIssuedValue(value: string): void;
}

/** A {@link DevStorage} whose entries live in this process only, for the life of one server. */
export function createDevStorage(now: () => number = () => Date.now()): DevStorage {
  const store = new Map<string, Entry>();
  const byGrant = new Map<string, Set<string>>();
  /** `${kind}:${jti}` → payload, for JWTs issued but not yet bound to their value. */
  const pending = new Map<string, AdapterPayload>();
  /** SHA-256 (base64url) of a JWT access token value → its `${kind}:${jti}` key. */
  const byValue = new Map<string, string>();

  const live = (key: string): AdapterPayload | undefined => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  const put = (key: string, payload: AdapterPayload, expiresIn: number | undefined) => {
    store.set(key, {
      payload: { ...payload },
      expiresAt: expiresIn ? now() + expiresIn * 1000 : undefined,
    });
    if (payload.grantId) {
      const keys = byGrant.get(payload.grantId) ?? new Set<string>();
      keys.add(key);
      byGrant.set(payload.grantId, keys);
    }
  };

  const findBy = (name: string, field: 'uid' | 'userCode', value: string) => {
    for (const key of store.keys()) {
      if (!key.startsWith(`${name}:`)) continue;
      const payload = live(key);
      if (payload?.[field] === value) return payload;
    }
    return undefined;
  };

  const adapter = (name: string): Adapter => ({
    async upsert(id, payload, expiresIn) {
      put(`${name}:${id}`, payload, expiresIn);
    },
    async find(id) {
      if (JWT_KINDS.has(name) && id.includes('.')) {
        const hash = digest(id);
        const key = byValue.get(hash);
        const payload = key?.startsWith(`${name}:`) ? live(key) : undefined;
        if (key !== undefined && !store.has(key)) byValue.delete(hash);
        return payload;
      }
      const payload = live(`${name}:${id}`);
      return name === 'RefreshToken' && payload ? withinReuseGrace(payload, now()) : payload;
    },
    async findByUid(uid) {
      return findBy(name, 'uid', uid);
    },
    async findByUserCode(userCode) {
      return findBy(name, 'userCode', userCode);
    },
    async consume(id) {
      const payload = live(`${name}:${id}`);
      // The first use starts the reuse grace period; a use within it does not extend it, and
      // counts: one reuse is a client's second request racing the first, more are not.
      if (payload && payload.consumed === undefined) payload.consumed = Math.floor(now() / 1000);
      else if (payload)
        payload.reuses = (typeof payload.reuses === 'number' ? payload.reuses : 0) + 1;
    },
    async destroy(id) {
      store.delete(`${name}:${id}`);
    },
    async revokeByGrantId(grantId) {
      for (const key of byGrant.get(grantId) ?? []) store.delete(key);
      byGrant.delete(grantId);
    },
  });

  return {
    adapter,
    rememberIssued(model) {
      if (!JWT_KINDS.has(model.kind)) return;
      const fields = model.constructor.IN_PAYLOAD ?? [];
      const payload: AdapterPayload = {};
      const source = model as unknown as Record<string, unknown>;
      for (const field of fields) {
        // `format: 'jwt'` would make oidc-provider refuse the entry as an opaque token.
        if (field !== 'format' && source[field] !== undefined) {
          (payload as Record<string, unknown>)[field] = source[field];
        }
      }
      if (pending.size >= MAX_PENDING) {
        const oldest = pending.keys().next().value;
        if (oldest !== undefined) pending.delete(oldest);
      }
      pending.set(`${model.kind}:${model.jti}`, payload);
    },
    bindIssuedValue(value) {
      const claims = jwtClaims(value);
      if (typeof claims?.jti !== 'string' || typeof claims.exp !== 'number') return;
      for (const kind of JWT_KINDS) {
        const key = `${kind}:${claims.jti}`;
        const payload = pending.get(key);
        if (!payload) continue;
        pending.delete(key);
        const iat = typeof claims.iat === 'number' ? claims.iat : Math.floor(now() / 1000);
        const expiresIn = claims.exp - Math.floor(now() / 1000);
        if (expiresIn <= 0) return;
        put(key, { ...payload, iat, exp: claims.exp }, expiresIn);
        byValue.set(digest(value), key);
        return;
      }
    },
  };
}

/**
 * A refresh token consumed less than the grace period ago, and reused at most
 * {@link REFRESH_TOKEN_REUSES} times, as if it were not consumed yet.
 */
function withinReuseGrace(payload: AdapterPayload, nowMs: number): AdapterPayload {
  const consumed = payload.consumed;
  if (typeof consumed !== 'number') return payload;
  if (nowMs / 1000 - consumed >= REFRESH_TOKEN_REUSE_GRACE_SECONDS) return payload;
  if (typeof payload.reuses === 'number' && payload.reuses >= REFRESH_TOKEN_REUSES) return payload;
  const { consumed: _, ...unconsumed } = payload;
  return unconsumed;
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** The (unverified) claims of a compact JWS we signed ourselves, or undefined. */
function jwtClaims(value: string): Record<string, unknown> | undefined {
  const part = value.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
