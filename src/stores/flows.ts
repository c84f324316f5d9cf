/**
 * Pending authorizations: a login started where no user could be asked (a headless agent, a
 * server-side one) waits here until the browser's redirect comes back, possibly to another process
 * or replica. Kept on the token store's backend, sealed like the tokens, each with an expiry
 * (`oauth.flow_timeout_seconds`), and taken at most once.
 *
 * A flow's `state` (RFC 6749 §10.12) is `FLOW_ID.SECRET`: the callback's `state` names the flow to
 * look up, and the whole value must match what was stored.
 *
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { Secret } from '../config/secret.js';
import type { KeyValueStore } from './kv.js';
import type { RegistrationSource, TokenEndpointAuthMethod } from './registrations.js';
import type { Sealer } from './seal.js';

/** Storage keys of pending flows start with this. */
export const FLOW_KEY_PREFIX = '#flow:';

/** Storage keys of the owner check of a caller's flow start with this. */
export const FLOW_OWNER_KEY_PREFIX = '#flow-owner:';

/** Storage keys of finished flows' outcomes start with this (kept 2 minutes). */
export const FLOW_OUTCOME_KEY_PREFIX = '#flow-outcome:';

const OUTCOME_TTL_MS = 120_000;

/** An authorization code flow waiting for its callback. */
export interface PendingFlow {
  readonly flowId: string;
  /** The `state` sent: `FLOW_ID.SECRET`. */
  readonly state: Secret;
  /** The PKCE verifier (RFC 7636); never leaves the agent. */
  readonly codeVerifier: Secret;
  /** The `mcp.servers` name. */
  readonly server: string;
  /** Whose login it is (see `TokenManagerOptions.identity`). */
  readonly identity: string;
  /** The authorization server's issuer the request went to. */
  readonly issuer: string;
  readonly clientId: string;
  /**
   * How the client was obtained; with a dynamic or metadata-document client the flow keeps what
   * its code exchange needs ({@link clientSecret}, {@link tokenEndpointAuthMethod}), so the code
   * is exchanged with the client the flow started with even if the registration changed since.
   */
  readonly clientSource?: RegistrationSource | undefined;
  readonly clientSecret?: Secret | undefined;
  readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod | undefined;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  /** The URL the user opens. */
  readonly authorizationUrl: string;
  /** The flow this one leads to (a sign-in check before a caller's downstream login). */
  readonly next?: string | undefined;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds; the flow is gone after this. */
  readonly expiresAt: number;
}

const storedSchema = z.object({
  v: z.literal(1),
  flow_id: z.string().min(1),
  state: z.string().min(1),
  code_verifier: z.string().min(1),
  server: z.string(),
  identity: z.string(),
  issuer: z.string(),
  client_id: z.string(),
  client_source: z.enum(['configured', 'metadata-document', 'dynamic']).optional(),
  client_secret: z.string().optional(),
  token_endpoint_auth_method: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
    .optional(),
  redirect_uri: z.string(),
  scopes: z.array(z.string()),
  authorization_url: z.string(),
  next: z.string().optional(),
  created_at: z.number(),
  expires_at: z.number(),
});

const FLOW_ID = /^[A-Za-z0-9_-]{16,64}$/;

/** A new flow id and the `state` that carries it. */
export function newFlowState(): { flowId: string; state: string } {
  const flowId = randomBytes(16).toString('base64url');
  return { flowId, state: `${flowId}.${randomBytes(32).toString('base64url')}` };
}

/** The flow id a callback's `state` names, or `undefined` when it names none. */
export function flowIdOf(state: string | null | undefined): string | undefined {
  const flowId = state?.split('.', 1)[0];
  return flowId && FLOW_ID.test(flowId) ? flowId : undefined;
}

function flowKey(flowId: string): string {
  return `${FLOW_KEY_PREFIX}${flowId}`;
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Pending flows on a {@link KeyValueStore}. */
export class PendingFlowStore {
  readonly #kv: KeyValueStore;
  readonly #sealer: Sealer | undefined;
  readonly #now: () => number;

  constructor(kv: KeyValueStore, options: { sealer?: Sealer | undefined; now?: () => number }) {
    this.#kv = kv;
    this.#sealer = options.sealer;
    this.#now = options.now ?? Date.now;
  }

  /** Keep `flow` until its `expiresAt`. */
  async put(flow: PendingFlow): Promise<void> {
    if (!FLOW_ID.test(flow.flowId)) throw new Error('invalid flow id');
    const id = flowKey(flow.flowId);
    const text = JSON.stringify({
      v: 1,
      flow_id: flow.flowId,
      state: flow.state.reveal(),
      code_verifier: flow.codeVerifier.reveal(),
      server: flow.server,
      identity: flow.identity,
      issuer: flow.issuer,
      client_id: flow.clientId,
      ...(flow.clientSource !== undefined ? { client_source: flow.clientSource } : {}),
      ...(flow.clientSecret !== undefined ? { client_secret: flow.clientSecret.reveal() } : {}),
      ...(flow.tokenEndpointAuthMethod !== undefined
        ? { token_endpoint_auth_method: flow.tokenEndpointAuthMethod }
        : {}),
      redirect_uri: flow.redirectUri,
      scopes: flow.scopes,
      authorization_url: flow.authorizationUrl,
      ...(flow.next !== undefined ? { next: flow.next } : {}),
      created_at: flow.createdAt,
      expires_at: flow.expiresAt,
    });
    const ttlMs = Math.max(1, flow.expiresAt - this.#now());
    await this.#kv.set(id, this.#sealer ? this.#sealer.seal(text, id) : text, { ttlMs });
  }

  /**
   * The unexpired flow `state` names, if `state` is exactly its own, without taking it (to learn
   * which server and identity it is for).
   */
  async peek(state: string): Promise<PendingFlow | undefined> {
    return (await this.#find(state))?.flow;
  }

  /**
   * Take the flow named by `state` if `state` is exactly its own and it has not expired: once only,
   * even when several processes try at the same moment (a compare-and-delete on its version).
   */
  async take(state: string): Promise<PendingFlow | undefined> {
    const found = await this.#find(state);
    if (!found) return undefined;
    const deleted = await this.#kv.delete(flowKey(found.flow.flowId), {
      expectVersion: found.version,
    });
    return deleted ? found.flow : undefined;
  }

  /**
   * The unexpired flow `flowId`, found by its id alone (no `state`): for the page that checks who
   * a browser is before sending it on. Completing a flow still needs its whole `state`.
   */
  async byId(flowId: string): Promise<PendingFlow | undefined> {
    return (await this.#read(flowId))?.flow;
  }

  /** Bind flow `flowId` to the browser holding a secret whose SHA-256 is `ownerHash`. */
  async bindOwner(flowId: string, ownerHash: string, expiresAt: number): Promise<void> {
    if (!FLOW_ID.test(flowId)) return;
    await this.#kv.set(`${FLOW_OWNER_KEY_PREFIX}${flowId}`, ownerHash, {
      ttlMs: Math.max(1, expiresAt - this.#now()),
    });
  }

  /** Whether `ownerHash` is the one flow `flowId` was bound to. */
  async isOwner(flowId: string, ownerHash: string): Promise<boolean> {
    if (!FLOW_ID.test(flowId)) return false;
    const stored = await this.#kv.get(`${FLOW_OWNER_KEY_PREFIX}${flowId}`);
    return stored !== undefined && sameSecret(stored.value, ownerHash);
  }

  /** Record how flow `flowId` ended, for whoever waits for it (in any process). */
  async finish(flowId: string, outcome: 'ok' | 'failed'): Promise<void> {
    if (!FLOW_ID.test(flowId)) return;
    await this.#kv.set(`${FLOW_OUTCOME_KEY_PREFIX}${flowId}`, outcome, { ttlMs: OUTCOME_TTL_MS });
  }

  /** How flow `flowId` ended, if it has (and not more than 2 minutes ago). */
  async outcome(flowId: string): Promise<'ok' | 'failed' | undefined> {
    if (!FLOW_ID.test(flowId)) return undefined;
    const stored = await this.#kv.get(`${FLOW_OUTCOME_KEY_PREFIX}${flowId}`);
    return stored?.value === 'ok' || stored?.value === 'failed' ? stored.value : undefined;
  }

  async #find(state: string): Promise<{ flow: PendingFlow; version: number } | undefined> {
    const flowId = flowIdOf(state);
    if (!flowId) return undefined;
    const found = await this.#read(flowId);
    return found && sameSecret(found.flow.state.reveal(), state) ? found : undefined;
  }

  async #read(flowId: string): Promise<{ flow: PendingFlow; version: number } | undefined> {
    if (!FLOW_ID.test(flowId)) return undefined;
    const id = flowKey(flowId);
    const stored = await this.#kv.get(id);
    if (!stored) return undefined;
    const text = this.#sealer ? this.#sealer.open(stored.value, id) : stored.value;
    if (text === undefined) return undefined;
    let parsed: z.infer<typeof storedSchema>;
    try {
      parsed = storedSchema.parse(JSON.parse(text));
    } catch {
      return undefined;
    }
    if (parsed.expires_at <= this.#now() || parsed.flow_id !== flowId) return undefined;
    return {
      version: stored.version,
      flow: {
        flowId: parsed.flow_id,
        state: new Secret(parsed.state),
        codeVerifier: new Secret(parsed.code_verifier),
        server: parsed.server,
        identity: parsed.identity,
        issuer: parsed.issuer,
        clientId: parsed.client_id,
        ...(parsed.client_source !== undefined ? { clientSource: parsed.client_source } : {}),
        ...(parsed.client_secret !== undefined
          ? { clientSecret: new Secret(parsed.client_secret) }
          : {}),
        ...(parsed.token_endpoint_auth_method !== undefined
          ? { tokenEndpointAuthMethod: parsed.token_endpoint_auth_method }
          : {}),
        redirectUri: parsed.redirect_uri,
        scopes: parsed.scopes,
        authorizationUrl: parsed.authorization_url,
        ...(parsed.next !== undefined ? { next: parsed.next } : {}),
        createdAt: parsed.created_at,
        expiresAt: parsed.expires_at,
      },
    };
  }
}
