/**
 * The connections a {@link ServerRegistry} opens for peers (see `ServerRegistry.connect`): each
 * peer's own connection to a server, opened at its first call there and closed when the peer goes
 * away, within two limits (all peers' connections to a server, and those of one group, e.g. one
 * principal's sessions); and the listing connections, one per server and capability set, shared
 * by every peer with that set, on which tools are listed before a peer's first call (a request
 * the server sends on one is refused: no call of anyone's runs there).
 *
 * @module
 */
import type { ServerSettings } from '../config/schema/servers.js';
import type { Logger } from '../logger.js';
import {
  answersRequests,
  capabilitySetOf,
  type DownstreamPeer,
  noCallInFlight,
  type PeerCapabilities,
} from './peer.js';
import type { ServerConnection } from './registry.js';

/** The limits of peers' own connections to one server. */
export interface PeerConnectionLimits {
  /** All peers' connections to a server. Default 64. */
  readonly maxPeerConnections?: number | undefined;
  /** Connections to a server of the peers of one group (`DownstreamPeer.group`). Default 8. */
  readonly maxPeerConnectionsPerGroup?: number | undefined;
}

/** Opens a connection to server `name` declaring, and answered by, `peer`. */
export type OpenConnection = (
  name: string,
  settings: ServerSettings,
  peer: DownstreamPeer,
) => Promise<ServerConnection>;

/** The connections a peer holds, and how to stop hearing of its end. */
interface Held {
  readonly connections: Map<string, Promise<ServerConnection>>;
  readonly unsubscribe: (() => void) | undefined;
}

/** See the module. */
export class PeerConnections {
  readonly #open: OpenConnection;
  readonly #logger: Logger;
  readonly #max: number;
  readonly #maxPerGroup: number;
  /** The connections opened for peers of their own, by peer, then by server. */
  readonly #held = new Map<DownstreamPeer, Held>();
  /** The listing connections, by server and capability set. */
  readonly #listing = new Map<string, Promise<ServerConnection>>();
  /** The limits reached (warned once each): server, or group and server. */
  readonly #warned = new Set<string>();
  /** Where each open connection is kept (its map and key), for {@link drop}. */
  readonly #places = new WeakMap<
    ServerConnection,
    { map: Map<string, Promise<ServerConnection>>; key: string; opening: Promise<ServerConnection> }
  >();

  constructor(open: OpenConnection, logger: Logger, limits: PeerConnectionLimits = {}) {
    this.#open = open;
    this.#logger = logger;
    this.#max = limits.maxPeerConnections ?? 64;
    this.#maxPerGroup = limits.maxPeerConnectionsPerGroup ?? 8;
  }

  /**
   * `peer`'s own connection to `name`, opened on first use; `undefined` (use the shared
   * connection) for a peer that answers nothing or past a limit, with one warning per limit.
   */
  own(
    name: string,
    settings: ServerSettings,
    peer: DownstreamPeer,
  ): Promise<ServerConnection> | undefined {
    const kept = this.#held.get(peer)?.connections.get(name);
    if (kept) return kept;
    if (!this.#mayOpen(name, peer, true)) return undefined;
    let held = this.#held.get(peer);
    if (!held) {
      const unsubscribe = peer.onClose?.(() => void this.#closePeer(peer));
      held = { connections: new Map(), unsubscribe };
      this.#held.set(peer, held);
    }
    const opening = this.#open(name, settings, peer);
    held.connections.set(name, opening);
    this.#keep(held.connections, name, opening);
    return opening;
  }

  /**
   * Where `peer` lists `name`'s tools: its own connection when open, else the listing connection
   * of its capability set; `undefined` (the shared connection) when its calls would use that.
   */
  listing(
    name: string,
    settings: ServerSettings,
    peer: DownstreamPeer,
  ): Promise<ServerConnection> | undefined {
    const kept = this.#held.get(peer)?.connections.get(name);
    if (kept) return kept;
    if (!this.#mayOpen(name, peer, false)) return undefined;
    const capabilities = capabilitySetOf(peer.capabilities);
    const key = `${name}\u0000${JSON.stringify(capabilities)}`;
    let listing = this.#listing.get(key);
    if (!listing) {
      const opening = this.#open(name, settings, listingPeer(capabilities));
      listing = opening;
      this.#listing.set(key, opening);
      this.#keep(this.#listing, key, opening);
    }
    return listing;
  }

  /**
   * Forget `connection` (a peer's own, or a listing one) at once and close it: the server it was
   * opened on no longer speaks that revision, so the next use opens another. Whether it was one.
   */
  drop(connection: ServerConnection): boolean {
    const place = this.#places.get(connection);
    if (!place) return false;
    this.#places.delete(connection);
    if (place.map.get(place.key) === place.opening) place.map.delete(place.key);
    void closeConnection(place.opening);
    return true;
  }

  /** Remember where `opening` is kept, once it opens, for {@link drop}. */
  #keep(
    map: Map<string, Promise<ServerConnection>>,
    key: string,
    opening: Promise<ServerConnection>,
  ) {
    opening.then(
      (connection) => this.#places.set(connection, { map, key, opening }),
      () => {
        if (map.get(key) === opening) map.delete(key);
      },
    );
  }

  /** Close every connection (the registry closes). */
  async closeAll(): Promise<void> {
    const listing = [...this.#listing.values()];
    this.#listing.clear();
    await Promise.all([
      ...listing.map((opening) => closeConnection(opening)),
      ...[...this.#held.keys()].map((peer) => this.#closePeer(peer)),
    ]);
  }

  /** Whether `peer` may open a connection of its own to `name` (warning once if not). */
  #mayOpen(name: string, peer: DownstreamPeer, warn: boolean): boolean {
    if (!answersRequests(peer.capabilities)) return false;
    if (this.#count(name) >= this.#max) {
      if (warn) {
        this.#warnOnce(
          name,
          `server "${name}" reached its limit of connections of callers' sessions (maxPeerConnections: ${this.#max}); further sessions share one connection, on which the server cannot ask the caller anything (elicitation, sampling)`,
        );
      }
      return false;
    }
    const { group } = peer;
    if (group === undefined || this.#count(name, group) < this.#maxPerGroup) return true;
    if (warn) {
      this.#warnOnce(
        `${name}\u0000${group}`,
        `server "${name}" reached its limit of connections of one caller's sessions (maxPeerConnectionsPerGroup: ${this.#maxPerGroup}); that caller's further sessions share one connection, on which the server cannot ask the caller anything (elicitation, sampling)`,
      );
    }
    return false;
  }

  #warnOnce(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    const server = key.split('\u0000', 1)[0] as string;
    this.#logger.warn(message, { server });
  }

  /** Peers' own connections to `name` (of `group`'s peers only, when given). */
  #count(name: string, group?: string): number {
    let count = 0;
    for (const [peer, { connections }] of this.#held) {
      if (connections.has(name) && (group === undefined || peer.group === group)) count += 1;
    }
    return count;
  }

  /** Close the connections opened for `peer` (it went away). */
  async #closePeer(peer: DownstreamPeer): Promise<void> {
    const held = this.#held.get(peer);
    if (!held) return;
    this.#held.delete(peer);
    held.unsubscribe?.();
    for (const name of held.connections.keys()) {
      if (this.#count(name) < this.#max) this.#warned.delete(name);
      if (peer.group !== undefined && this.#count(name, peer.group) < this.#maxPerGroup) {
        this.#warned.delete(`${name}\u0000${peer.group}`);
      }
    }
    await Promise.all([...held.connections.values()].map((opening) => closeConnection(opening)));
  }
}

/** The peer of a listing connection: declares `capabilities`, refuses every request. */
function listingPeer(capabilities: PeerCapabilities): DownstreamPeer {
  return {
    capabilities,
    elicit: () => Promise.reject(noCallInFlight()),
    sample: () => Promise.reject(noCallInFlight()),
  };
}

/** Close a connection (ending its Streamable HTTP session when configured to). */
export async function closeConnection(connection: Promise<ServerConnection>): Promise<void> {
  try {
    const open = await connection;
    // Errors of a connection being closed (an aborted event stream) are not news.
    open.client.onerror = () => {};
    if (open.settings.transport === 'streamable_http' && open.settings.terminate_on_close) {
      const transport = open.client.transport as { terminateSession?: () => Promise<void> };
      await transport.terminateSession?.().catch(() => {});
    }
    await open.client.close();
  } catch {
    // A connection that never opened has nothing to close.
  }
}
