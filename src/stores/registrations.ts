/**
 * Client registrations obtained by Dynamic Client Registration (RFC 7591), kept in the token
 * store's backend beside the tokens, keyed by the authorization server's issuer and the redirect
 * URI: another issuer, or another redirect URI, never finds them (MCP 2026-07-28,
 * "Authorization Server Binding"). Beside them: a lease per (issuer, redirect URI), so processes
 * sharing the store register one client at a time, and which servers use which client (for
 * `auth status` and `auth logout`).
 *
 * @module
 */
import type { webcrypto } from 'node:crypto';
import * as z from 'zod';
import { Secret } from '../config/secret.js';
import { keyPart } from './key-part.js';
import { acquireLease, type KeyValueStore, type Lease } from './kv.js';
import type { Sealer } from './seal.js';

/**
 * Storage keys of everything that is not a token record start with `#`, which
 * `encodeURIComponent` never yields, so no token key can collide with them.
 */
export const INTERNAL_KEY_PREFIX = '#';

/** Storage keys of registrations start with this. */
export const REGISTRATION_KEY_PREFIX = '#registration:';

/** Storage keys of pre-registered client bindings start with this. */
export const BINDING_KEY_PREFIX = '#binding:';

/** Storage keys of registration leases start with this (one registration at a time). */
export const REGISTRATION_LEASE_PREFIX = '#registration-lease:';

/** Storage keys of the record that a server uses a client start with this. */
export const CLIENT_USE_KEY_PREFIX = '#client-use:';

/** How a client was registered with an authorization server. */
export type RegistrationSource = 'configured' | 'metadata-document' | 'dynamic';

/** Token endpoint authentication methods the client supports (RFC 7591 §2). */
export type TokenEndpointAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'none';

/** A client's signing key for `private_key_jwt` (RFC 7523 §2.2); in memory only, never stored. */
export interface ClientSigningKey {
  readonly key: webcrypto.CryptoKey;
  /** The `kid` header of the assertions. */
  readonly kid?: string | undefined;
  /** The `alg` header, when it must be named so (`EdDSA` rather than `Ed25519`). */
  readonly alg?: string | undefined;
}

/** A client as registered with one authorization server. */
export interface ClientRegistration {
  readonly clientId: string;
  readonly clientSecret?: Secret | undefined;
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** The issuer of the authorization server the client is registered with. */
  readonly issuer: string;
  /** The redirect URI registered (`urn:ietf:params:oauth:grant-type:device_code` for device clients). */
  readonly redirectUri: string;
  readonly source: RegistrationSource;
  /** The key `private_key_jwt` signs with (configured clients only). */
  readonly signingKey?: ClientSigningKey | undefined;
  /** When the client secret expires, epoch milliseconds (RFC 7591 `client_secret_expires_at`). */
  readonly clientSecretExpiresAt?: number | undefined;
  /** When the client was registered (dynamic ones), epoch milliseconds. */
  readonly registeredAt?: number | undefined;
}

/** That `server` uses a client it did not configure (a dynamic or metadata-document one). */
export interface ClientUse {
  readonly server: string;
  readonly source: 'metadata-document' | 'dynamic';
  readonly clientId: string;
  readonly issuer: string;
  readonly redirectUri: string;
  /** When the server first used this client, epoch milliseconds. */
  readonly since: number;
}

const storedSchema = z.looseObject({
  v: z.literal(1),
  client_id: z.string().min(1),
  client_secret: z.string().optional(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']),
  issuer: z.string(),
  redirect_uri: z.string(),
  client_secret_expires_at: z.number().optional(),
  registered_at: z.number().optional(),
});

const useSchema = z.looseObject({
  v: z.literal(1),
  server: z.string(),
  source: z.enum(['metadata-document', 'dynamic']),
  client_id: z.string().min(1),
  issuer: z.string(),
  redirect_uri: z.string(),
  since: z.number(),
});

/** The storage key of the registration for (`issuer`, `redirectUri`). */
export function registrationKey(issuer: string, redirectUri: string): string {
  return `${REGISTRATION_KEY_PREFIX}${keyPart(issuer)}:${keyPart(redirectUri)}`;
}

function useKey(server: string, issuer: string, redirectUri: string): string {
  return `${CLIENT_USE_KEY_PREFIX}${keyPart(server)}:${registrationKey(issuer, redirectUri).slice(REGISTRATION_KEY_PREFIX.length)}`;
}

function bindingKey(server: string, clientId: string): string {
  return `${BINDING_KEY_PREFIX}${keyPart(server)}:${keyPart(clientId)}`;
}

/** Dynamic registrations on a {@link KeyValueStore}, sealed like the tokens when encryption is on. */
export class RegistrationStore {
  readonly #kv: KeyValueStore;
  readonly #sealer: Sealer | undefined;

  constructor(kv: KeyValueStore, sealer?: Sealer) {
    this.#kv = kv;
    this.#sealer = sealer;
  }

  /** The registration for (`issuer`, `redirectUri`), or `undefined`. */
  async get(issuer: string, redirectUri: string): Promise<ClientRegistration | undefined> {
    return (await this.#read(issuer, redirectUri))?.registration;
  }

  async #read(
    issuer: string,
    redirectUri: string,
  ): Promise<{ registration: ClientRegistration; version: number } | undefined> {
    const id = registrationKey(issuer, redirectUri);
    const stored = await this.#kv.get(id);
    if (!stored) return undefined;
    const text = this.#sealer ? this.#sealer.open(stored.value, id) : stored.value;
    if (text === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    const parsed = storedSchema.safeParse(json);
    // A record filed under another issuer or redirect URI is not used (it was moved).
    if (
      !parsed.success ||
      parsed.data.issuer !== issuer ||
      parsed.data.redirect_uri !== redirectUri
    ) {
      return undefined;
    }
    const data = parsed.data;
    const registration: ClientRegistration = {
      clientId: data.client_id,
      ...(data.client_secret !== undefined ? { clientSecret: new Secret(data.client_secret) } : {}),
      tokenEndpointAuthMethod: data.token_endpoint_auth_method,
      issuer: data.issuer,
      redirectUri: data.redirect_uri,
      source: 'dynamic',
      ...(data.client_secret_expires_at !== undefined
        ? { clientSecretExpiresAt: data.client_secret_expires_at }
        : {}),
      ...(data.registered_at !== undefined ? { registeredAt: data.registered_at } : {}),
    };
    return { registration, version: stored.version };
  }

  /** Keep `registration` (a dynamic one) for its issuer and redirect URI. */
  async put(registration: ClientRegistration): Promise<void> {
    const id = registrationKey(registration.issuer, registration.redirectUri);
    const text = JSON.stringify({
      v: 1,
      client_id: registration.clientId,
      ...(registration.clientSecret ? { client_secret: registration.clientSecret.reveal() } : {}),
      token_endpoint_auth_method: registration.tokenEndpointAuthMethod,
      issuer: registration.issuer,
      redirect_uri: registration.redirectUri,
      ...(registration.clientSecretExpiresAt !== undefined
        ? { client_secret_expires_at: registration.clientSecretExpiresAt }
        : {}),
      ...(registration.registeredAt !== undefined
        ? { registered_at: registration.registeredAt }
        : {}),
    });
    await this.#kv.set(id, this.#sealer ? this.#sealer.seal(text, id) : text);
  }

  /**
   * Forget the registration for (`issuer`, `redirectUri`) if it is still client `clientId` (not
   * one registered since, by this process or another): a compare-and-delete on its version.
   */
  async forget(issuer: string, redirectUri: string, clientId: string): Promise<boolean> {
    const found = await this.#read(issuer, redirectUri);
    if (found?.registration.clientId !== clientId) return false;
    return this.#kv.delete(registrationKey(issuer, redirectUri), {
      expectVersion: found.version,
    });
  }

  /**
   * The lease of registering a client for (`issuer`, `redirectUri`), held by one process at a
   * time; `undefined` while another holds it.
   */
  acquireLease(issuer: string, redirectUri: string, ttlMs: number): Promise<Lease | undefined> {
    const id = registrationKey(issuer, redirectUri).slice(REGISTRATION_KEY_PREFIX.length);
    return acquireLease(this.#kv, `${REGISTRATION_LEASE_PREFIX}${id}`, ttlMs);
  }

  /** Note that `use.server` uses this client (kept until {@link RegistrationStore.dropUse}). */
  async noteUse(use: ClientUse): Promise<void> {
    const id = useKey(use.server, use.issuer, use.redirectUri);
    const stored = await this.#kv.get(id);
    const known = stored ? parseUse(stored.value) : undefined;
    if (known?.clientId === use.clientId && known.source === use.source) return;
    await this.#kv.set(
      id,
      JSON.stringify({
        v: 1,
        server: use.server,
        source: use.source,
        client_id: use.clientId,
        issuer: use.issuer,
        redirect_uri: use.redirectUri,
        since: use.since,
      }),
    );
  }

  /** The clients `server` uses (other than a configured one), noted by {@link noteUse}. */
  async usesOf(server: string): Promise<ClientUse[]> {
    const prefix = `${CLIENT_USE_KEY_PREFIX}${keyPart(server)}:`;
    const out: ClientUse[] = [];
    for (const id of await this.#kv.keys()) {
      if (!id.startsWith(prefix)) continue;
      const stored = await this.#kv.get(id);
      const use = stored ? parseUse(stored.value) : undefined;
      if (use?.server === server) out.push(use);
    }
    return out.sort((a, b) => a.since - b.since);
  }

  /** Forget that `server` uses the client for (`issuer`, `redirectUri`). */
  async dropUse(server: string, issuer: string, redirectUri: string): Promise<void> {
    await this.#kv.delete(useKey(server, issuer, redirectUri));
  }

  /**
   * The issuer a configured (pre-registered) client of `server` was first used with, or
   * `undefined` (MCP 2026-07-28, "Authorization Server Binding").
   */
  async boundIssuer(server: string, clientId: string): Promise<string | undefined> {
    const stored = await this.#kv.get(bindingKey(server, clientId));
    return stored?.value;
  }

  /** Remember that the configured client of `server` is used with `issuer`. */
  async bind(server: string, clientId: string, issuer: string): Promise<void> {
    await this.#kv.set(bindingKey(server, clientId), issuer);
  }

  /** Forget the binding of the configured client of `server`. */
  async unbind(server: string, clientId: string): Promise<void> {
    await this.#kv.delete(bindingKey(server, clientId));
  }

  /** Forget the registration for (`issuer`, `redirectUri`). */
  async delete(issuer: string, redirectUri: string): Promise<void> {
    await this.#kv.delete(registrationKey(issuer, redirectUri));
  }
}

function parseUse(text: string): ClientUse | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = useSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const data = parsed.data;
  return {
    server: data.server,
    source: data.source,
    clientId: data.client_id,
    issuer: data.issuer,
    redirectUri: data.redirect_uri,
    since: data.since,
  };
}
