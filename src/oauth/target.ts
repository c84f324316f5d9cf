/**
 * Where one server's tokens come from: its authorization server, found by discovery (cached), and
 * the token key that follows. Remembers the metadata URL a 401 challenge named, probes the server
 * for one when the well-known URLs have none, and resolves the network policy once per server.
 *
 * @module
 */
import type { ServerSettings } from '../config/schema/servers.js';
import type { TokenKey } from '../stores/record.js';
import {
  canonicalResource,
  type DiscoveryCache,
  type DiscoveryResult,
  discover,
  probeChallenge,
} from './protocol/discovery.js';
import { type NetworkPolicy, policyFor } from './protocol/network.js';
import type { OAuthFetch } from './protocol/registration.js';
import type { BearerChallenge } from './protocol/www-authenticate.js';
import type { TokenManagerOptions } from './token-manager.js';

/** Where discovery and the token key stand for one server, as last resolved. */
export interface Target {
  readonly discovery: DiscoveryResult;
  readonly key: TokenKey;
  /** The resource sent on requests, or undefined when `include_resource_parameter: false`. */
  readonly resourceParam: string | undefined;
  /**
   * The `fetch` of this server's OAuth requests: one whose connections refuse private addresses
   * when the network policy does ({@link TokenManagerOptions.guardedFetch}).
   */
  readonly fetch: OAuthFetch;
}

/** Resolves the {@link Target} of one server for one identity. */
export class TargetResolver {
  readonly #name: string;
  readonly #settings: ServerSettings;
  readonly #identity: string;
  readonly #options: TokenManagerOptions;
  readonly #cache: DiscoveryCache;
  #policy: Promise<NetworkPolicy> | undefined;
  /** The probe of the server's challenge this resolver made, once it found one. */
  #probe: Promise<BearerChallenge | undefined> | undefined;
  /** The protected-resource metadata URL the server's last challenge named. */
  challengeMetadata: string | undefined;

  constructor(
    name: string,
    settings: ServerSettings,
    identity: string,
    options: TokenManagerOptions,
    cache: DiscoveryCache,
  ) {
    this.#name = name;
    this.#settings = settings;
    this.#identity = identity;
    this.#options = options;
    this.#cache = cache;
  }

  get #oauth() {
    const oauth = this.#settings.auth?.oauth;
    if (!oauth) throw new Error(`server ${this.#name} has no auth.oauth`);
    return oauth;
  }

  /** The server URL, in its http(s) form for a WebSocket server (where its metadata lives). */
  metadataBase(): URL {
    const url = new URL(this.#settings.url ?? '');
    if (url.protocol === 'ws:') url.protocol = 'http:';
    else if (url.protocol === 'wss:') url.protocol = 'https:';
    return url;
  }

  /** Discover (cached) and the token key that follows from it. */
  async resolve(challenge?: BearerChallenge, options: { fresh?: boolean } = {}): Promise<Target> {
    const oauth = this.#oauth;
    if (challenge?.resource_metadata && challenge.resource_metadata !== this.challengeMetadata) {
      // A server that names (other) metadata may have moved to another authorization server.
      this.challengeMetadata = challenge.resource_metadata;
    }
    // A WebSocket server's resource is its http(s) form, where its metadata lives.
    const resource = canonicalResource(oauth.resource ?? this.metadataBase());
    // One lookup per server, not one per request; a fresh discovery looks again.
    if (!this.#policy || options.fresh) {
      this.#policy = policyFor(this.metadataBase(), {
        allowPrivateNetwork: this.#settings.allow_private_network,
        ...(this.#options.lookup ? { lookup: this.#options.lookup } : {}),
      });
    }
    const policy = await this.#policy;
    const fetch = policy.allowPrivate
      ? this.#options.fetch
      : (this.#options.guardedFetch ?? this.#options.fetch);
    const run = () =>
      discover(this.metadataBase(), {
        fetch,
        policy,
        cache: this.#cache,
        ...(options.fresh ? { fresh: true } : {}),
        resource: resource.href,
        acceptParentResource: oauth.resource === undefined,
        ...(this.challengeMetadata ? { challengeMetadataUrl: this.challengeMetadata } : {}),
        ...(oauth.authorization_server ? { authorizationServer: oauth.authorization_server } : {}),
      });
    const discovery = await run().catch(async (error: unknown) => {
      // No metadata at the well-known URLs: the server's 401 may name it (RFC 9728 §5.1).
      const probed = this.challengeMetadata ? undefined : await this.#probeOnce(fetch);
      if (!probed?.resource_metadata) throw error;
      this.challengeMetadata = probed.resource_metadata;
      return run();
    });
    const resourceId = discovery.resourceId;
    return {
      discovery,
      key: {
        identity: this.#identity,
        server: this.#name,
        issuer: discovery.authorizationServer.issuer,
        resource: resourceId,
        scopes: oauth.scopes,
      },
      resourceParam: oauth.include_resource_parameter ? resourceId : undefined,
      fetch,
    };
  }

  /**
   * The `scope` of the server's 401 challenge (RFC 6750 §3), which the MCP "Scope Selection
   * Strategy" puts before the metadata's `scopes_supported`: that of `challenge` when a request
   * brought one; for a login without one (`auth login`) and without configured scopes, that of a
   * request without credentials (one per resolver; none for a WebSocket server).
   */
  async challengeScope(target: Target, challenge?: BearerChallenge): Promise<string | undefined> {
    if (challenge) return challenge.scope;
    if (this.#oauth.scopes.length > 0) return undefined;
    return (await this.#probeOnce(target.fetch))?.scope;
  }

  /** The server's challenge, asked for once; a probe that found none is not kept. */
  #probeOnce(fetch: OAuthFetch): Promise<BearerChallenge | undefined> {
    if (this.#settings.transport === 'websocket') return Promise.resolve(undefined);
    this.#probe ??= probeChallenge(this.metadataBase(), fetch);
    const probe = this.#probe;
    void probe.then((found) => {
      if (!found && this.#probe === probe) this.#probe = undefined;
    });
    return probe;
  }
}
