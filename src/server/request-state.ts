/**
 * The `requestState` of protocol 2026-07-28 multi-round-trip requests (ADR 0004, point 4): a
 * string `serve` hands out with an `InputRequiredResult` and the client echoes on its retry.
 *
 * - **Tamper-proof**: sealed by the SDK's `createRequestStateCodec` (HMAC-SHA256 over the body).
 * - **Bound** to the caller's principal, the method and the tool or prompt name or resource URI
 *   (the codec's `bind`, stored as an HMAC tag, never in clear): another caller's state, or one
 *   minted for another tool, is `'foreign'`.
 * - **Expiring**: after `ttlMs` (our clock, so tests inject one; the codec's own expiry, on the
 *   wall clock, is a backstop with the same length).
 * - **Single-use**: each state carries a random id; {@link RequestStates.consume} writes a marker
 *   for it in the shared {@link KeyValueStore} (create-if-absent), and a state whose marker exists
 *   is `'replayed'`.
 * - **Rotation**: verified with the current key, then with `previousKey`; minted with the current
 *   key only.
 *
 * **Signed, not encrypted**: the client can read the payload. Put ids and hashes in it
 * ({@link hashArguments}), never a token, a secret or personal data. What the client must not read
 * (a downstream server's own `requestState`, relayed) goes through {@link RequestStates.conceal}
 * first: AES-256-GCM under a key derived from the signing key (HKDF-SHA256), opened by
 * {@link RequestStates.reveal} with the current key, then the previous one.
 *
 * Composed around the codec, not replacing it: the codec holds one key (so one codec per key for
 * rotation), reads the wall clock (so our expiry rides in the payload), makes nothing single-use
 * (so the markers), and takes its binding from a `ServerContext` (so we hand it a carrier of
 * ours, and {@link requestStateVerifier} maps the SDK's context to a binding).
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import {
  createRequestStateCodec,
  type RequestStateCodec,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { REQUEST_STATE_KEY_MIN_BYTES } from '../config/schema/authorization.js';
import { McpAgentError } from '../errors.js';
import type { KeyValueStore } from '../stores/kv.js';

/** How long a minted state stays valid by default: 10 minutes, long enough for a user to answer. */
export const DEFAULT_REQUEST_STATE_TTL_MS = 10 * 60_000;

/**
 * How much longer than the state a single-use marker is kept, so that a replica whose clock is
 * behind still finds the marker while it considers the state alive.
 */
export const REQUEST_STATE_MARKER_SKEW_MS = 60_000;

/** What a state is bound to: it verifies only for the same three values. */
export interface RequestStateBinding {
  /** The authenticated caller (a stable subject id; `''` is a principal too: anonymous). */
  readonly principal: string;
  /** The JSON-RPC method: `tools/call`, `prompts/get`, `resources/read`, … */
  readonly method: string;
  /** The tool or prompt name, or the resource URI. */
  readonly name: string;
}

/** Why a state was refused. */
export type RequestStateFailure = 'malformed' | 'altered' | 'expired' | 'foreign' | 'replayed';

/** A state that passed {@link RequestStates.verify}: what {@link RequestStates.consume} takes. */
export interface VerifiedRequestState<P = unknown> {
  /** The random id the single-use marker is written under. */
  readonly id: string;
  /** When the state stops being valid, in epoch milliseconds. */
  readonly expiresAt: number;
  /** The payload given to {@link RequestStates.mint}. */
  readonly payload: P;
}

/** The outcome of {@link RequestStates.verify}. */
export type RequestStateCheck<P = unknown> =
  | { readonly ok: true; readonly state: VerifiedRequestState<P> }
  | { readonly ok: false; readonly reason: RequestStateFailure };

/** The outcome of {@link RequestStates.consume}. */
export type RequestStateConsumption =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'expired' | 'replayed' };

/** Options of {@link createRequestStates}. */
export interface RequestStatesOptions {
  /**
   * The signing key, at least 32 bytes (a string counts its UTF-8 bytes), the same on every
   * replica (`authorization.request_state_key`; {@link randomRequestStateKey} for a single one).
   */
  readonly key: string | Uint8Array;
  /** The key before the last rotation: states it signed still verify until they expire. */
  readonly previousKey?: string | Uint8Array | undefined;
  /** Where single-use markers are written; shared by every replica (Redis with more than one). */
  readonly store: KeyValueStore;
  /** The clock, in epoch milliseconds. Default `Date.now`. */
  readonly clock?: () => number;
  /**
   * What the states are for: the protected resource this deployment serves (its
   * `resource_server_url`). A state minted for another deployment that shares the key and the
   * marker store does not verify here. Default: none (states of any deployment with the key).
   */
  readonly audience?: string | undefined;
  /** How long a state stays valid, in milliseconds. Default {@link DEFAULT_REQUEST_STATE_TTL_MS}. */
  readonly ttlMs?: number;
}

/** What {@link RequestStates.mint} seals: the binding and a JSON-serialisable payload. */
export interface RequestStateMint<P> extends RequestStateBinding {
  /** Ids and hashes only: the client can read it. */
  readonly payload: P;
}

/** Mints, verifies and consumes `requestState` strings; made by {@link createRequestStates}. */
export interface RequestStates<P = unknown> {
  /** Seal `payload` (with a fresh random id) into an opaque string bound to the binding. */
  mint(input: RequestStateMint<P>): Promise<string>;
  /**
   * Check a state echoed by a client against the retry's binding: signature (current key, then
   * the previous one), shape, binding, expiry, then its single-use marker. A failure of the
   * marker store is thrown, never taken as "not used".
   */
  verify(state: string, binding: RequestStateBinding): Promise<RequestStateCheck<P>>;
  /**
   * Mark a verified state as used (create-if-absent, kept for its remaining lifetime plus
   * {@link REQUEST_STATE_MARKER_SKEW_MS}): the second call for the same state is `'replayed'`. A
   * failure of the marker store is thrown.
   *
   * This is the atomic claim: two retries with the same state may both pass `verify`, only one
   * `consume` succeeds. Consume before acting on the state (before running the call it resumes),
   * and act only on `ok: true`.
   */
  consume(state: VerifiedRequestState<P>): Promise<RequestStateConsumption>;
  /**
   * Encrypt `text` (AES-256-GCM, a key derived from the signing key) for a payload: the client
   * cannot read it, and any change makes {@link RequestStates.reveal} refuse it.
   */
  conceal(text: string): string;
  /** The text {@link RequestStates.conceal} sealed (current key, then the previous one), or `undefined`. */
  reveal(sealed: string): string | undefined;
}

/** The codec's envelope payload: id, expiry (ms, our clock) and the caller's data. */
interface Sealed {
  readonly i: string;
  readonly x: number;
  readonly d: unknown;
}

/**
 * The codec's `bind` gets the context passed to `mint`/`verify`; we pass a carrier of the
 * binding text instead of a `ServerContext`, since our callers hand us the binding directly.
 */
const BINDING = Symbol('mcp-agent requestState binding');
interface BindingCarrier {
  readonly [BINDING]: string;
}

function carrier(binding: RequestStateBinding, audience: string): ServerContext {
  const parts = [binding.principal, binding.method, binding.name];
  const text = JSON.stringify(audience === '' ? parts : [audience, ...parts]);
  const value: BindingCarrier = { [BINDING]: text };
  return value as unknown as ServerContext;
}

function bindingText(ctx: ServerContext): string {
  const text = (ctx as unknown as Partial<BindingCarrier>)[BINDING];
  if (typeof text !== 'string') throw new TypeError('requestState codec used without a binding');
  return text;
}

/** The codec's fixed reason codes, as ours. */
const CODEC_REASONS: Readonly<Record<string, RequestStateFailure>> = {
  malformed: 'malformed',
  mac: 'altered',
  expired: 'expired',
  bind: 'foreign',
};

function keyBytes(key: string | Uint8Array): Uint8Array {
  const bytes = typeof key === 'string' ? new TextEncoder().encode(key) : key;
  if (bytes.byteLength < REQUEST_STATE_KEY_MIN_BYTES) {
    throw new McpAgentError(
      'CONFIG_INVALID',
      `The requestState key (authorization.request_state_key) must be at least ${REQUEST_STATE_KEY_MIN_BYTES} bytes; draw one with \`openssl rand -base64 48\`.`,
    );
  }
  return bytes;
}

function codecFor(key: string | Uint8Array, ttlMs: number): RequestStateCodec<Sealed> {
  return createRequestStateCodec<Sealed>({
    key: keyBytes(key),
    ttlSeconds: Math.ceil(ttlMs / 1000),
    bind: bindingText,
  });
}

function validTtl(ttlMs: number | undefined): number {
  const ttl = ttlMs ?? DEFAULT_REQUEST_STATE_TTL_MS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new RangeError('requestState ttlMs must be a positive whole number of milliseconds');
  }
  return ttl;
}

function isSealed(value: unknown): value is Sealed {
  if (typeof value !== 'object' || value === null) return false;
  const sealed = value as Partial<Sealed>;
  return typeof sealed.i === 'string' && sealed.i.length > 0 && Number.isFinite(sealed.x);
}

/** The single-use marker's key for a state id. */
function markerKey(id: string): string {
  return `#request-state:used:${id}`;
}

/**
 * Open `state` with each codec in turn: the first that accepts it wins; a bad MAC moves on to
 * the next key; any other refusal is final (that key signed it).
 */
async function open(
  codecs: readonly RequestStateCodec<Sealed>[],
  state: string,
  binding: RequestStateBinding,
  audience: string,
): Promise<Sealed | RequestStateFailure> {
  let failure: RequestStateFailure = 'altered';
  for (const codec of codecs) {
    try {
      return await codec.verify(state, carrier(binding, audience));
    } catch (error) {
      const reason = error instanceof Error ? CODEC_REASONS[error.message] : undefined;
      if (reason === undefined) throw error;
      failure = reason;
      if (reason !== 'altered') return reason;
    }
  }
  return failure;
}

/** The AES-256 key of {@link RequestStates.conceal}, derived from a signing key. */
function concealKey(key: string | Uint8Array): Buffer {
  const info = 'mcp-agent requestState conceal';
  return Buffer.from(hkdfSync('sha256', keyBytes(key), new Uint8Array(0), info, 32));
}

/** `text` under `key`: base64url of IV (12 bytes), tag (16 bytes), ciphertext. */
function encrypt(key: Buffer, text: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function decrypt(key: Buffer, sealed: string): string | undefined {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.byteLength < 28) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * Make the `requestState` service of one `serve`: see the module documentation for what it
 * guarantees. Throws `CONFIG_INVALID` for a key (or previous key) under 32 bytes, without the key.
 */
export function createRequestStates<P = unknown>(options: RequestStatesOptions): RequestStates<P> {
  const ttlMs = validTtl(options.ttlMs);
  const clock = options.clock ?? Date.now;
  const { store } = options;
  const audience = options.audience ?? '';
  const current = codecFor(options.key, ttlMs);
  const codecs =
    options.previousKey === undefined ? [current] : [current, codecFor(options.previousKey, ttlMs)];
  const concealKeys = [
    options.key,
    ...(options.previousKey === undefined ? [] : [options.previousKey]),
  ].map(concealKey);

  return {
    async mint({ payload, ...binding }) {
      const sealed: Sealed = {
        i: randomBytes(16).toString('base64url'),
        x: clock() + ttlMs,
        d: payload,
      };
      return current.mint(sealed, carrier(binding, audience));
    },

    async verify(state, binding) {
      const opened = await open(codecs, state, binding, audience);
      if (typeof opened === 'string') return { ok: false, reason: opened };
      if (!isSealed(opened)) return { ok: false, reason: 'malformed' };
      if (opened.x <= clock()) return { ok: false, reason: 'expired' };
      if ((await store.get(markerKey(opened.i))) !== undefined) {
        return { ok: false, reason: 'replayed' };
      }
      return { ok: true, state: { id: opened.i, expiresAt: opened.x, payload: opened.d as P } };
    },

    async consume(state) {
      const remaining = state.expiresAt - clock();
      if (remaining <= 0) return { ok: false, reason: 'expired' };
      const written = await store.set(markerKey(state.id), '1', {
        expectVersion: null,
        ttlMs: remaining + REQUEST_STATE_MARKER_SKEW_MS,
      });
      return written === undefined ? { ok: false, reason: 'replayed' } : { ok: true };
    },

    conceal: (text) => encrypt(concealKeys[0] as Buffer, text),

    reveal(sealed) {
      for (const key of concealKeys) {
        const text = decrypt(key, sealed);
        if (text !== undefined) return text;
      }
      return undefined;
    },
  };
}

/**
 * A refused state, thrown by the {@link requestStateVerifier} hook. The SDK answers it with
 * JSON-RPC -32602 "Invalid or expired requestState" and gives this error (whose message is the
 * bare reason) to the server's `onerror` only.
 */
export class RequestStateRejectedError extends Error {
  /** Why the state was refused. */
  readonly reason: RequestStateFailure;

  constructor(reason: RequestStateFailure) {
    super(reason);
    this.name = 'RequestStateRejectedError';
    this.reason = reason;
  }
}

/**
 * The v2 SDK's `ServerOptions.requestState.verify` hook over `states`: it resolves with the
 * {@link VerifiedRequestState}, which the handler reads with
 * `ctx.mcpReq.requestState<VerifiedRequestState<P>>()` and passes to `consume` when the request
 * completes; a refused state throws {@link RequestStateRejectedError}, which the SDK turns into
 * -32602 "Invalid or expired requestState" before the handler runs.
 *
 * @param bindingOf The retry's binding: the authenticated principal, `ctx.mcpReq.method`, and the
 *   name or URI of the request (the factory of `createMcpHandler` runs per request and knows it).
 */
export function requestStateVerifier<P>(
  states: RequestStates<P>,
  bindingOf: (ctx: ServerContext) => RequestStateBinding | Promise<RequestStateBinding>,
): (state: string, ctx: ServerContext) => Promise<VerifiedRequestState<P>> {
  return async (state, ctx) => {
    const check = await states.verify(state, await bindingOf(ctx));
    if (!check.ok) throw new RequestStateRejectedError(check.reason);
    return check.state;
  };
}

/** A fresh random key for a single `serve` without `authorization.request_state_key`. */
export function randomRequestStateKey(): Uint8Array {
  return new Uint8Array(randomBytes(REQUEST_STATE_KEY_MIN_BYTES));
}

/**
 * The SHA-256 (base64url) of a request's arguments in a canonical JSON form (object keys
 * sorted), to put in a payload instead of the arguments: the retry's arguments must hash the same.
 */
export function hashArguments(args: unknown): string {
  return createHash('sha256').update(canonicalJson(args)).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
