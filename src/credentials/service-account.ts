/**
 * A Google service account (the JSON key file `GOOGLE_APPLICATION_CREDENTIALS` names): an access
 * token by the JWT bearer grant (RFC 7523 §2.1) — an assertion signed with the account's private
 * key, sent to the key file's `token_uri` — kept until it is due and renewed through one request
 * however many calls wait for it. The request is the one Google documents for a service account
 * acting as itself
 * (https://developers.google.com/identity/protocols/oauth2/service-account#httprest): a form of
 * `grant_type` and `assertion` only, the assertion's claims `iss`, `scope`, `aud`, `iat` and `exp`
 * (no `sub`, which asks for domain-wide delegation).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { importPKCS8, SignJWT } from 'jose';
import * as z from 'zod';
import { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import type { FetchLike } from '../fetch.js';
import { isLoopbackHost } from '../oauth/protocol/network.js';
import { jwtBearerToken } from '../oauth/protocol/tokens.js';

/** The token endpoint of Google's service accounts, when the key file names none. */
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

/** The scope of Google Cloud's APIs (Vertex AI among them). */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

const keyFileSchema = z.looseObject({
  type: z.literal('service_account'),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  private_key_id: z.string().optional(),
  token_uri: z.url().optional(),
  project_id: z.string().optional(),
});

/** A service account's key, as its JSON key file has it (the private key a `Secret`). */
export interface ServiceAccountKey {
  readonly clientEmail: string;
  readonly privateKey: Secret;
  readonly privateKeyId: string | undefined;
  readonly tokenUri: string;
  readonly projectId: string | undefined;
}

/**
 * The service account of the JSON key file at `path`. Throws `CONFIG_INVALID` naming the file
 * (never a value of it) when it cannot be read or is not a service account's key.
 */
export async function readServiceAccountKey(path: string): Promise<ServiceAccountKey> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new McpAgentError(
      'CONFIG_INVALID',
      `The service account key file ${path} cannot be read as JSON.`,
    );
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) {
    const keys = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ');
    throw new McpAgentError(
      'CONFIG_INVALID',
      `The file ${path} is not a service account key (type service_account, client_email, private_key): check ${keys}.`,
    );
  }
  const key = parsed.data;
  const tokenUri = key.token_uri ?? GOOGLE_TOKEN_URI;
  const url = new URL(tokenUri);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new McpAgentError(
      'CONFIG_INVALID',
      `The token_uri of the service account key ${path} is not https (http to loopback only).`,
    );
  }
  return {
    clientEmail: key.client_email,
    privateKey: new Secret(key.private_key),
    privateKeyId: key.private_key_id,
    tokenUri,
    projectId: key.project_id,
  };
}

/** Options of {@link ServiceAccountTokens}. */
export interface ServiceAccountTokensOptions {
  /** The `fetch` the token requests go through. Default the global `fetch`. */
  readonly fetch?: FetchLike | undefined;
  /** The clock, epoch milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** The scopes asked for. Default {@link CLOUD_PLATFORM_SCOPE}. */
  readonly scopes?: readonly string[] | undefined;
  /** A token is renewed this long before it expires (at most half its lifetime). Default 60 s. */
  readonly leewayMs?: number | undefined;
  /** The longest token accepted (`oauth.max_token_bytes`). */
  readonly maxTokenBytes?: number | undefined;
}

interface Held {
  readonly token: Secret;
  readonly expiresAt: number;
  readonly obtainedAt: number;
}

/**
 * How long a token without `expires_in` is kept (Google always sends one): short, so a token
 * of unknown lifetime is not held for ever.
 */
export const DEFAULT_TOKEN_LIFETIME_S = 300;

/** An assertion lives this long (Google's most). */
const ASSERTION_LIFETIME_S = 3600;

/** The access tokens of one service account, each obtained when the one held is due. */
export class ServiceAccountTokens {
  readonly #key: ServiceAccountKey;
  readonly #options: ServiceAccountTokensOptions;
  readonly #now: () => number;
  #held: Held | undefined;
  #renewing: Promise<Held> | undefined;

  constructor(key: ServiceAccountKey, options: ServiceAccountTokensOptions = {}) {
    this.#key = key;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The account's email (the assertion's issuer). */
  get account(): string {
    return this.#key.clientEmail;
  }

  /**
   * Forget the token held (the API refused it: HTTP 401, e.g. a revoked key): the next
   * {@link token} obtains a new one.
   */
  invalidate(): void {
    this.#held = undefined;
  }

  /** A token that is not due, obtained now when the one held is. */
  async token(): Promise<Secret> {
    const held = this.#held;
    if (held && this.#fresh(held)) return held.token;
    this.#renewing ??= this.#obtain().finally(() => {
      this.#renewing = undefined;
    });
    return (await this.#renewing).token;
  }

  #fresh(held: Held): boolean {
    const lifetime = held.expiresAt - held.obtainedAt;
    const leeway = Math.min(this.#options.leewayMs ?? 60_000, lifetime / 2);
    return held.expiresAt - leeway > this.#now();
  }

  /** The assertion: the account as `iss`, no `sub`, an hour's lifetime, its key id as `kid`. */
  async #assertion(now: number): Promise<Secret> {
    const key = this.#key;
    let signingKey: Awaited<ReturnType<typeof importPKCS8>>;
    try {
      signingKey = await importPKCS8(key.privateKey.reveal(), 'RS256');
    } catch {
      throw new McpAgentError(
        'CONFIG_INVALID',
        `The private_key of service account ${key.clientEmail} is not a PKCS#8 RSA key.`,
      );
    }
    const iat = Math.floor(now / 1000);
    const jwt = await new SignJWT({
      scope: (this.#options.scopes ?? [CLOUD_PLATFORM_SCOPE]).join(' '),
    })
      .setProtectedHeader({
        alg: 'RS256',
        typ: 'JWT',
        ...(key.privateKeyId ? { kid: key.privateKeyId } : {}),
      })
      .setIssuer(key.clientEmail)
      .setAudience(key.tokenUri)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_LIFETIME_S)
      .sign(signingKey);
    return new Secret(jwt);
  }

  async #obtain(): Promise<Held> {
    const now = this.#now();
    const tokenUri = this.#key.tokenUri;
    const response = await jwtBearerToken(
      {
        as: { issuer: new URL(tokenUri).origin, token_endpoint: tokenUri },
        client: {
          clientId: this.#key.clientEmail,
          tokenEndpointAuthMethod: 'none',
          issuer: new URL(tokenUri).origin,
          redirectUri: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          source: 'configured',
        },
        fetch: this.#options.fetch ?? ((input, init) => fetch(input, init)),
        maxTokenBytes: this.#options.maxTokenBytes,
      },
      await this.#assertion(now),
      // The form Google documents: grant_type and assertion, no client_id.
      { authenticateClient: false },
    );
    // No expires_in: a short default lifetime; 0: already due (used for this call, then renewed).
    const expiresIn =
      typeof response.expires_in === 'number' ? response.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    const held: Held = {
      token: new Secret(response.access_token),
      expiresAt: now + Math.max(0, expiresIn) * 1000,
      obtainedAt: now,
    };
    this.#held = held;
    return held;
  }
}
