/**
 * Which MCP revision a downstream connection speaks (ADR 0004, point 6). A server's `protocol`
 * picks the SDK client's negotiation mode: `auto` probes with `server/discover` and falls back to
 * `initialize`, `2026-07-28` pins the modern revision, `2025-11-25` never probes. The verdict of a
 * connect is remembered ({@link VerdictStore}) under a hash of the server's name, address and
 * authentication context, and given to the SDK as `prior` next time, so that connect does not
 * probe. A server remembered as modern that answers as 2025-11-25 fails that request with our
 * error, and its verdict is dropped: there is no silent downgrade within a connection.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import {
  type Client,
  type DiscoverResult,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  type VersionNegotiationMode,
} from '@modelcontextprotocol/client';
import type { ServerSettings } from '../config/schema/servers.js';
import { McpAgentError } from '../errors.js';
import type { StoredVerdict, VerdictStore } from '../stores/verdicts.js';

/**
 * The SDK's negotiation mode for `settings`: SSE and WebSocket speak 2025-11-25 unless the
 * configuration pins 2026-07-28 (SSE cannot: the configuration refuses it).
 */
export function negotiationMode(settings: ServerSettings): VersionNegotiationMode {
  if (settings.protocol === '2026-07-28') return { pin: '2026-07-28' };
  if (settings.protocol === '2025-11-25') return 'legacy';
  const probes = settings.transport === 'stdio' || settings.transport === 'streamable_http';
  return probes ? 'auto' : 'legacy';
}

/**
 * How long a stdio server's `server/discover` probe waits at most (5 s; the connect's own time
 * when shorter). A stdio server silent that long is taken as 2025-11-25, as the SDK does at its
 * timeout: a server that writes only noise (or starts slowly) is not waited on for its whole
 * `read_timeout_seconds` twice.
 */
export const STDIO_PROBE_TIMEOUT_MS = 5_000;

/** The SDK client's `versionNegotiation` for `settings`, the connect taking `timeoutMs`. */
export function negotiationOptions(
  settings: ServerSettings,
  timeoutMs: number,
): { mode: VersionNegotiationMode; probe?: { timeoutMs: number } } {
  const mode = negotiationMode(settings);
  return settings.transport === 'stdio' && mode !== 'legacy'
    ? { mode, probe: { timeoutMs: Math.min(timeoutMs, STDIO_PROBE_TIMEOUT_MS) } }
    : { mode };
}

/** Whether a connection of `settings` negotiates (and so has a verdict worth remembering). */
export function negotiates(settings: ServerSettings): boolean {
  return negotiationMode(settings) !== 'legacy';
}

/**
 * The store key of server `name`'s verdict: a SHA-256 of its name, address (URL, or command,
 * arguments and working directory), `protocol`, the authentication context (`authContext`: whose
 * tokens are used) and its static credentials (headers, API key, a stdio server's environment),
 * so that no credential is ever part of a key.
 */
export function verdictKeyOf(name: string, settings: ServerSettings, authContext: string): string {
  const address =
    settings.transport === 'stdio'
      ? [settings.command ?? '', ...settings.args, settings.cwd ?? '']
      : [settings.url ?? ''];
  const auth = settings.auth;
  const credentials = [
    ...Object.entries(settings.headers ?? {}),
    ...Object.entries(auth?.headers ?? {}),
    ...Object.entries(settings.env ?? {}),
  ].map(([key, value]) => [key, value.reveal()]);
  const parts = [
    name,
    settings.transport,
    address,
    settings.protocol,
    authContext,
    credentials,
    auth?.api_key?.reveal() ?? '',
    auth?.token?.reveal() ?? '',
    auth?.oauth?.enabled === true,
  ];
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}

/** The verdict of `client`'s connect, as `prior` takes it; `undefined` before a connect. */
export function verdictOf(client: Client): StoredVerdict | undefined {
  const era = client.getProtocolEra();
  if (era === 'legacy') return { kind: 'legacy' };
  const discover = client.getDiscoverResult();
  return era === 'modern' && discover ? { kind: 'modern', discover } : undefined;
}

/** `verdict` as the SDK's `connect({ prior })` takes it. */
export function priorOf(
  verdict: StoredVerdict,
): { kind: 'modern'; discover: DiscoverResult } | { kind: 'legacy' } {
  return verdict.kind === 'legacy'
    ? { kind: 'legacy' }
    : { kind: 'modern', discover: verdict.discover as DiscoverResult };
}

/** What {@link VerdictMemory} needs. */
export interface VerdictMemoryOptions {
  readonly store: VerdictStore;
  /** Whose tokens the connections use (`APP_IDENTITY`, or an end user's identity). */
  readonly authContext: string;
}

/** The verdicts of one registry's servers: read before a connect, written after it. */
export class VerdictMemory {
  readonly #store: VerdictStore;
  readonly #authContext: string;

  constructor(options: VerdictMemoryOptions) {
    this.#store = options.store;
    this.#authContext = options.authContext;
  }

  /** The remembered verdict of server `name`, when it negotiates and one is within its horizon. */
  async prior(name: string, settings: ServerSettings): Promise<StoredVerdict | undefined> {
    if (!negotiates(settings)) return undefined;
    const verdict = await this.#store.get(this.#key(name, settings)).catch(() => undefined);
    // A pin takes only a modern verdict; a remembered legacy one would skip the check the pin asks.
    if (verdict?.kind === 'legacy' && settings.protocol === '2026-07-28') return undefined;
    return verdict;
  }

  /** Remember what `client` negotiated with server `name` (best effort: a store failure is not fatal). */
  async remember(name: string, settings: ServerSettings, client: Client): Promise<void> {
    const verdict = negotiates(settings) ? verdictOf(client) : undefined;
    if (verdict) await this.#store.put(this.#key(name, settings), verdict).catch(() => {});
  }

  /** Forget server `name`'s verdict: its next connect probes. */
  async forget(name: string, settings: ServerSettings): Promise<void> {
    await this.#store.drop(this.#key(name, settings)).catch(() => {});
  }

  #key(name: string, settings: ServerSettings): string {
    return verdictKeyOf(name, settings, this.#authContext);
  }
}

/**
 * Whether `error`, thrown by a request on a connection that speaks 2026-07-28, shows the server
 * answering as 2025-11-25: a result without `resultType`, or the refusal a sessionful 2025-11-25
 * server gives a request outside a session (HTTP 400 "Server not initialized" or "Mcp-Session-Id
 * header is required", 404 "Session not found").
 */
export function answersAsLegacy(error: unknown): boolean {
  if (error instanceof SdkError && error.code === SdkErrorCode.InvalidResult) {
    const data = error.data as { violation?: unknown } | undefined;
    return data?.violation === 'missing-resultType';
  }
  if (error instanceof SdkHttpError) {
    const data = error.data as { status?: unknown; text?: unknown } | undefined;
    const status = data?.status;
    if (status !== 400 && status !== 404) return false;
    return /not initiali[sz]ed|session id|session-id|session not found/i.test(
      typeof data?.text === 'string' ? data.text : '',
    );
  }
  return false;
}

/** Our error for a server remembered as 2026-07-28 that answered as 2025-11-25. */
export function eraMismatch(name: string, cause: unknown): McpAgentError {
  return new McpAgentError(
    'SERVER_CONNECT',
    `Server "${name}" was connected on MCP 2026-07-28 but answered as a 2025-11-25 server; the request failed (no silent downgrade). Its remembered protocol was forgotten: the next connection asks it again (set mcp.servers.${name}.protocol to pin one).`,
    { cause },
  );
}
