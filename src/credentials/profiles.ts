/**
 * Named credentials for any HTTP API (`credentials:` in the configuration): an API key (a header
 * or a query parameter), a bearer token, HTTP Basic, or OAuth 2.0 client credentials (a secret or
 * `private_key_jwt`, a token kept until it is due and renewed through one request). Each profile
 * names the hosts it may be sent to: a request to any other host is refused before anything is
 * sent, and a redirect to another host is not followed — a credential never reaches another
 * origin. Over plain `http` only to loopback.
 *
 * @module
 */
import {
  type AuthorizationServer,
  allowInsecureRequests,
  customFetch,
  discoveryRequest,
  processDiscoveryResponse,
} from 'oauth4webapi';
import type { CredentialProfile } from '../config/schema/credentials.js';
import type { ServerSettings } from '../config/schema/servers.js';
import { serverSchema } from '../config/schema/servers.js';
import { Secret } from '../config/secret.js';
import { McpAgentError } from '../errors.js';
import { boundedFetch, type FetchLike, ResponseLimitError } from '../fetch.js';
import { hasPrivateKey, loadSigningKey } from '../oauth/private-key.js';
import { isLoopbackHost, METADATA_LIMITS } from '../oauth/protocol/network.js';
import { chooseAuthMethod } from '../oauth/protocol/registration.js';
import { clientCredentialsToken } from '../oauth/protocol/tokens.js';
import type { ServerAuth } from '../oauth/server-auth.js';
import type { TokenManager } from '../oauth/token-manager.js';
import { type CallerIdentity, currentCaller } from '../server/identity.js';
import type { TokenKey } from '../stores/record.js';
import type { ClientRegistration } from '../stores/registrations.js';
import type { TokenStore } from '../stores/token-store.js';

/** Options of {@link CredentialProfiles}. */
export interface CredentialProfilesOptions {
  readonly fetch: FetchLike;
  readonly now?: () => number;
  /** Where a relative `private_key_file` is found. */
  readonly cwd?: string | undefined;
  /** A token is renewed this long before it expires (at most half its lifetime). Default 60 s. */
  readonly leewayMs?: number;
  /**
   * Where OAuth 2.0 profiles' tokens are kept between processes (the token store, under the
   * app's identity and `credentials:NAME`); without it, in memory only.
   */
  readonly store?: TokenStore | undefined;
  /** The token manager `authorization_code` profiles log in and refresh through. */
  readonly tokens?: TokenManager | undefined;
  /** A caller's token manager (`token_exchange` profiles exchange that caller's token). */
  readonly tokensFor?: ((caller: CallerIdentity) => TokenManager) | undefined;
  /** The longest token accepted from an authorization server (`oauth.max_token_bytes`). */
  readonly maxTokenBytes?: number | undefined;
}

/** The server name an `authorization_code` profile's tokens are kept under. */
export function profileServerName(name: string): string {
  return `credentials:${name}`;
}

/**
 * An `authorization_code` profile as the token manager sees a server: its first host (where the
 * protected-resource metadata would be; none is needed), its authorization server, client and
 * scopes. Only what the login needs: the credential is never sent to this "server".
 */
export function profileServer(
  profile: Extract<CredentialProfile, { type: 'oauth2' }>,
): ServerSettings {
  return serverSchema.parse({
    transport: 'streamable_http',
    url: `${isLoopbackHost((profile.hosts[0] ?? '').replace(/:\d+$/, '')) ? 'http' : 'https'}://${profile.hosts[0]}/`,
    auth: {
      oauth: {
        enabled: true,
        authorization_server: profile.authorization_server,
        ...(profile.client_id ? { client_id: profile.client_id } : {}),
        ...(profile.client_secret ? { client_secret: profile.client_secret.reveal() } : {}),
        scopes: profile.scopes,
        grant_type: profile.grant_type,
        ...(profile.private_key ? { private_key: profile.private_key.reveal() } : {}),
        ...(profile.private_key_file ? { private_key_file: profile.private_key_file } : {}),
        ...(profile.private_key_id ? { private_key_id: profile.private_key_id } : {}),
        ...(profile.signing_algorithm ? { signing_algorithm: profile.signing_algorithm } : {}),
        ...(profile.token_endpoint_auth_method
          ? { token_endpoint_auth_method: profile.token_endpoint_auth_method }
          : {}),
        ...(profile.resource ? { resource: profile.resource } : {}),
        include_resource_parameter: profile.resource !== undefined,
      },
    },
  });
}

/** The token-store key of profile `name`'s token. */
export function credentialKey(
  name: string,
  profile: { scopes: readonly string[]; resource?: string | undefined },
  issuer: string,
): TokenKey {
  return {
    identity: 'app',
    server: `credentials:${name}`,
    issuer,
    resource: profile.resource ?? '',
    scopes: profile.scopes,
  };
}

interface HeldToken {
  readonly token: Secret;
  readonly expiresAt: number | undefined;
  readonly obtainedAt: number;
}

const MAX_REDIRECTS = 5;

/** The named credentials of an app. */
export class CredentialProfiles {
  readonly #profiles: Readonly<Record<string, CredentialProfile>>;
  readonly #options: CredentialProfilesOptions;
  readonly #now: () => number;
  readonly #held = new Map<string, HeldToken>();
  readonly #renewing = new Map<string, Promise<HeldToken>>();
  readonly #metadata = new Map<string, AuthorizationServer>();

  constructor(
    profiles: Readonly<Record<string, CredentialProfile>>,
    options: CredentialProfilesOptions,
  ) {
    this.#profiles = profiles;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The profile names. */
  names(): string[] {
    return Object.keys(this.#profiles);
  }

  #profile(name: string): CredentialProfile {
    const profile = Object.hasOwn(this.#profiles, name) ? this.#profiles[name] : undefined;
    if (!profile) {
      throw new McpAgentError(
        'CONFIG_INVALID',
        `No credential profile "${name}" in credentials: (configured: ${this.names().join(', ') || 'none'}).`,
      );
    }
    return profile;
  }

  /** Refuse `url` unless it is https (http on loopback) to one of `profile`'s hosts. */
  #check(name: string, profile: CredentialProfile, url: URL): void {
    const allowed = profile.hosts.some(
      (host) =>
        host.toLowerCase() === url.host.toLowerCase() ||
        host.toLowerCase() === url.hostname.toLowerCase(),
    );
    if (!allowed) {
      throw new McpAgentError(
        'USAGE',
        `Credential "${name}" may be sent to ${profile.hosts.join(', ')} only, not to ${url.host}; nothing was sent.`,
      );
    }
    if (url.username !== '' || url.password !== '') {
      throw new McpAgentError(
        'USAGE',
        `Credential "${name}" is not sent to a URL with user information; nothing was sent.`,
      );
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      throw new McpAgentError(
        'USAGE',
        `Credential "${name}" is sent over https only (http to loopback); nothing was sent to ${url.origin}.`,
      );
    }
  }

  /**
   * `fetch` with `profile`'s credential, to one of its hosts only. Redirects to its hosts are
   * followed (the credential applied again), to another host refused.
   */
  async fetch(name: string, input: string | URL, init: RequestInit = {}): Promise<Response> {
    const profile = this.#profile(name);
    let url = new URL(input);
    let method = init.method ?? 'GET';
    let body = init.body ?? null;
    let dropBodyHeaders = false;
    let renewed = false;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      this.#check(name, profile, url);
      const headers = new Headers(init.headers);
      if (dropBodyHeaders) {
        for (const header of ['content-type', 'content-length', 'content-encoding']) {
          headers.delete(header);
        }
      }
      const target = new URL(url);
      await this.#apply(name, profile, headers, target);
      let response: Response;
      try {
        response = await this.#options.fetch(target, {
          ...init,
          method,
          headers,
          body,
          redirect: 'manual',
        });
      } catch (error) {
        // The runtime's error may quote the URL, which can hold the key (a query api_key).
        const code = (error as { cause?: { code?: unknown } }).cause?.code;
        throw new McpAgentError(
          'SERVER_CONNECT',
          `The request of credential "${name}" to ${url.host} failed${typeof code === 'string' ? ` (${code})` : ''}.`,
        );
      }
      if (
        response.status === 401 &&
        !renewed &&
        profile.type === 'oauth2' &&
        profile.grant_type === 'client_credentials'
      ) {
        // The API refused the token held (revoked, or one without an expiry gone stale): once more
        // with a new one.
        renewed = true;
        await response.body?.cancel().catch(() => {});
        this.#held.delete(name);
        await this.#forgetStored(name, profile).catch(() => undefined);
        hop -= 1;
        continue;
      }
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || location === null) return response;
      await response.body?.cancel().catch(() => {});
      url = new URL(location, url);
      // RFC 9110 §15.4: a 303 (and, as browsers do, a 301/302 after a POST) continues as a GET.
      if (
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && method.toUpperCase() === 'POST')
      ) {
        method = 'GET';
        body = null;
        dropBodyHeaders = true;
      }
    }
    throw new McpAgentError('USAGE', `Too many redirects for credential "${name}".`);
  }

  async #apply(
    name: string,
    profile: CredentialProfile,
    headers: Headers,
    url: URL,
  ): Promise<void> {
    switch (profile.type) {
      case 'api_key': {
        const key = this.#secret(name, profile.api_key, 'api_key');
        if (profile.query) url.searchParams.set(profile.query, key);
        else headers.set(profile.header ?? 'X-Api-Key', key);
        return;
      }
      case 'basic': {
        const password = profile.password ? this.#secret(name, profile.password, 'password') : '';
        headers.set(
          'authorization',
          `Basic ${Buffer.from(`${profile.username}:${password}`).toString('base64')}`,
        );
        return;
      }
      case 'bearer':
      case 'oauth2':
        headers.set(
          'authorization',
          `Bearer ${this.#secret(name, await this.token(name), 'token')}`,
        );
        return;
    }
  }

  #secret(name: string, value: Secret | undefined, key: string): string {
    const revealed = value?.reveal();
    if (!revealed) {
      throw new McpAgentError('CONFIG_INVALID', `Credential "${name}" has no ${key}.`);
    }
    // A header value cannot hold these; fetch would quote the whole value in its error.
    if (/[\r\n\0]/.test(revealed)) {
      throw new McpAgentError(
        'CONFIG_INVALID',
        `The ${key} of credential "${name}" contains a line break or NUL; it cannot be sent.`,
      );
    }
    return revealed;
  }

  /** The bearer token of `name` (an OAuth 2.0 profile's, obtained or renewed when due). */
  async token(name: string): Promise<Secret> {
    const profile = this.#profile(name);
    if (profile.type === 'bearer') return new Secret(this.#secret(name, profile.token, 'token'));
    if (profile.type !== 'oauth2') {
      throw new McpAgentError('USAGE', `Credential "${name}" is ${profile.type}, not a token.`);
    }
    if (profile.grant_type !== 'client_credentials') return this.#personToken(name, profile);
    const held = this.#held.get(name) ?? (await this.#stored(name, profile));
    if (held && this.#fresh(held)) {
      this.#held.set(name, held);
      return held.token;
    }
    let running = this.#renewing.get(name);
    if (!running) {
      running = this.#obtain(name, profile).finally(() => this.#renewing.delete(name));
      this.#renewing.set(name, running);
    }
    return (await running).token;
  }

  /**
   * The authorization of an `authorization_code` profile: the token manager's, as for a server
   * named `credentials:NAME` (discovery from the configured authorization server, DCR or the
   * configured client, refresh with the lease, step-up).
   */
  authorization(name: string): ServerAuth | undefined {
    const profile = this.#profile(name);
    if (profile.type !== 'oauth2' || profile.grant_type === 'client_credentials') return undefined;
    // On behalf of the caller: their own token manager (their tokens, their exchange).
    const tokens =
      profile.grant_type === 'token_exchange'
        ? this.#options.tokensFor?.(this.#caller(name))
        : this.#options.tokens;
    if (!tokens) {
      throw new McpAgentError(
        'CONFIG_INVALID',
        `Credential "${name}" logs a person in (authorization_code), which needs a token manager.`,
      );
    }
    return tokens.forServer(profileServerName(name), profileServer(profile));
  }

  #caller(name: string): CallerIdentity {
    let caller: CallerIdentity | undefined;
    try {
      caller = currentCaller();
    } catch {
      caller = undefined;
    }
    if (!caller) {
      throw new McpAgentError(
        'OAUTH_LOGIN_REQUIRED',
        `Credential "${name}" exchanges the caller's token (token_exchange): call it from a tool of a served agent with authorization on, with app.useCallerContext() in the app module.`,
      );
    }
    return caller;
  }

  async #personToken(
    name: string,
    _profile: Extract<CredentialProfile, { type: 'oauth2' }>,
  ): Promise<Secret> {
    const token = await this.authorization(name)?.token();
    if (!token) {
      throw new McpAgentError(
        'OAUTH_LOGIN_REQUIRED',
        `Credential "${name}" needs a login: run \`mcp-agent auth login ${name}\`.`,
      );
    }
    return token;
  }

  #fresh(held: HeldToken): boolean {
    if (held.expiresAt === undefined) return true;
    const lifetime = held.expiresAt - held.obtainedAt;
    const leeway = Math.min(this.#options.leewayMs ?? 60_000, lifetime / 2);
    return held.expiresAt - leeway > this.#now();
  }

  async #obtain(
    name: string,
    profile: Extract<CredentialProfile, { type: 'oauth2' }>,
  ): Promise<HeldToken> {
    const as = await this.#authorizationServer(profile);
    const keyed =
      profile.token_endpoint_auth_method === 'private_key_jwt' || hasPrivateKey(profile);
    if (!keyed && !profile.client_secret) {
      throw new McpAgentError(
        'CONFIG_INVALID',
        `Credential "${name}" needs a client_secret or a private_key for client "${profile.client_id}".`,
      );
    }
    const method =
      profile.token_endpoint_auth_method === 'client_secret_post' ||
      profile.token_endpoint_auth_method === 'client_secret_basic'
        ? profile.token_endpoint_auth_method
        : chooseAuthMethod(as, true);
    const client: ClientRegistration = {
      clientId: profile.client_id ?? '',
      ...(profile.client_secret ? { clientSecret: profile.client_secret } : {}),
      tokenEndpointAuthMethod: keyed ? 'private_key_jwt' : method,
      ...(keyed
        ? { signingKey: await loadSigningKey(`credentials.${name}`, profile, this.#options.cwd) }
        : {}),
      issuer: as.issuer,
      redirectUri: 'urn:ietf:params:oauth:grant-type:client_credentials',
      source: 'configured',
    };
    const response = await clientCredentialsToken(
      {
        as,
        client,
        fetch: this.#options.fetch,
        resource: profile.resource,
        maxTokenBytes: this.#options.maxTokenBytes,
      },
      profile.scopes,
    );
    const now = this.#now();
    const expiresIn = typeof response.expires_in === 'number' ? response.expires_in : undefined;
    const held: HeldToken = {
      token: new Secret(response.access_token),
      expiresAt: expiresIn !== undefined && expiresIn > 0 ? now + expiresIn * 1000 : undefined,
      obtainedAt: now,
    };
    this.#held.set(name, held);
    await this.#options.store
      ?.put(credentialKey(name, profile, as.issuer), {
        accessToken: held.token,
        tokenType: 'Bearer',
        ...(held.expiresAt !== undefined ? { expiresAt: held.expiresAt } : {}),
        obtainedAt: now,
        scopes: typeof response.scope === 'string' ? response.scope.split(' ') : profile.scopes,
        issuer: as.issuer,
        resource: profile.resource ?? '',
        server: `credentials:${name}`,
      })
      .catch(() => undefined);
    return held;
  }

  /** The token of `name` kept in the store by an earlier process, if any. */
  async #stored(
    name: string,
    profile: Extract<CredentialProfile, { type: 'oauth2' }>,
  ): Promise<HeldToken | undefined> {
    const store = this.#options.store;
    if (!store) return undefined;
    const as = await this.#authorizationServer(profile).catch(() => undefined);
    if (!as) return undefined;
    const stored = await store.get(credentialKey(name, profile, as.issuer)).catch(() => undefined);
    if (!stored) return undefined;
    const { record } = stored;
    return {
      token: record.accessToken,
      expiresAt: record.expiresAt,
      obtainedAt: record.obtainedAt,
    };
  }

  /** The profile `name` (its type, hosts; never a value), or `undefined`. */
  describe(
    name: string,
  ): { type: CredentialProfile['type']; hosts: readonly string[]; grant?: string } | undefined {
    const profile = Object.hasOwn(this.#profiles, name) ? this.#profiles[name] : undefined;
    if (!profile) return undefined;
    return {
      type: profile.type,
      hosts: profile.hosts,
      ...(profile.type === 'oauth2' ? { grant: profile.grant_type } : {}),
    };
  }

  /** What is held for OAuth 2.0 profile `name`: the token's expiry, or `undefined` when none. */
  async held(
    name: string,
  ): Promise<{ expiresAt: number | undefined; obtainedAt: number } | undefined> {
    const profile = this.#profile(name);
    if (profile.type !== 'oauth2') return undefined;
    const held = this.#held.get(name) ?? (await this.#stored(name, profile));
    return held ? { expiresAt: held.expiresAt, obtainedAt: held.obtainedAt } : undefined;
  }

  async #forgetStored(
    name: string,
    profile: Extract<CredentialProfile, { type: 'oauth2' }>,
  ): Promise<void> {
    const store = this.#options.store;
    if (!store) return;
    const as = await this.#authorizationServer(profile);
    await store.delete(credentialKey(name, profile, as.issuer));
  }

  /** Forget OAuth 2.0 profile `name`'s token, here and in the store; whether one was held. */
  async forget(name: string): Promise<boolean> {
    const profile = this.#profile(name);
    if (profile.type !== 'oauth2') return false;
    const had = this.#held.delete(name);
    const store = this.#options.store;
    if (!store) return had;
    const as = await this.#authorizationServer(profile);
    return (await store.delete(credentialKey(name, profile, as.issuer))) || had;
  }

  async #authorizationServer(
    profile: Extract<CredentialProfile, { type: 'oauth2' }>,
  ): Promise<AuthorizationServer> {
    if (profile.token_url) {
      return {
        issuer: profile.authorization_server ?? new URL(profile.token_url).origin,
        token_endpoint: profile.token_url,
      };
    }
    const issuer = new URL(profile.authorization_server as string);
    const cached = this.#metadata.get(issuer.href);
    if (cached) return cached;
    // RFC 8414 metadata (OpenID Connect's as a fallback), with the issuer echo check.
    let metadata: AuthorizationServer | undefined;
    let failure: unknown;
    const fetch = boundedFetch(this.#options.fetch, {
      ...METADATA_LIMITS,
      what: 'the authorization server metadata',
    });
    for (const algorithm of ['oauth2', 'oidc'] as const) {
      try {
        const response = await discoveryRequest(issuer, {
          algorithm,
          [customFetch]: (url, init) => fetch(url, init as unknown as RequestInit),
          [allowInsecureRequests]: isLoopbackHost(issuer.hostname),
        });
        metadata = await processDiscoveryResponse(issuer, response);
        break;
      } catch (error) {
        // try the next document
        failure = error;
      }
    }
    if (!metadata?.token_endpoint) {
      throw new McpAgentError(
        'OAUTH_DISCOVERY',
        `The metadata of ${issuer.href} (authorization_server of a credential) could not be read, or names no token endpoint.${failure instanceof ResponseLimitError ? ` ${failure.message}` : ''}`,
        { ...(failure === undefined ? {} : { cause: failure }) },
      );
    }
    this.#metadata.set(issuer.href, metadata);
    return metadata;
  }
}
