/**
 * `mcp-agent-ts/stores`: where tokens, client registrations (RFC 7591), pending logins, grant
 * events, workflow runs, MCP session records and the events of resumable streams are kept. A {@link KeyValueStore} with versioned compare-and-set (memory, a locked
 * file, or Redis) under a {@link TokenStore} (optionally sealed with AES-256-GCM by a
 * {@link Sealer}); {@link createTokenStore} builds the one `oauth.token_store` configures.
 *
 * It loads `zod` only. The `redis` client is loaded when a Redis store first runs a command, so a
 * program on the file or memory store never loads it. No MCP SDK, no OpenID provider.
 *
 * @module
 */
export type { McpAgentErrorCode } from '../errors.js';
export { isMcpAgentError, McpAgentError } from '../errors.js';
export type {
  AppendLog,
  AppendOptions,
  AppendOutcome,
  MemberAppendOptions,
  MemberAppendOutcome,
} from './append-log.js';
export { isAppendLog } from './append-log.js';
export type { GrantEvent } from './events.js';
export { GrantEventStore } from './events.js';
export type { FileStoreOptions } from './file.js';
export { FileKeyValueStore } from './file.js';
export type { PendingFlow } from './flows.js';
export { PendingFlowStore } from './flows.js';
export type { DeleteOptions, KeyValueStore, SetOptions, VersionedValue } from './kv.js';
export { MemoryKeyValueStore } from './memory.js';
export type { TokenKey, TokenRecord } from './record.js';
export { parseRecord, scopeFingerprint, serializeRecord, storageKey } from './record.js';
export type { RedisStoreOptions } from './redis.js';
export { RedisKeyValueStore } from './redis.js';
export type {
  ClientRegistration,
  RegistrationSource,
  TokenEndpointAuthMethod,
} from './registrations.js';
export { RegistrationStore } from './registrations.js';
export { Sealer } from './seal.js';
export type {
  SessionClientInfo,
  SessionInit,
  SessionRecord,
  SessionRecordStoreOptions,
} from './sessions.js';
export {
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_SESSION_TOUCH_EVERY_MS,
  SessionRecordStore,
} from './sessions.js';
export type {
  ReplayedStream,
  StreamEventBounds,
  StreamEventStore,
  StreamEventStoreOptions,
} from './stream-events.js';
export { DEFAULT_STREAM_EVENT_BOUNDS, MemoryStreamEventStore } from './stream-events.js';
export type { SharedStreamEventStoreOptions } from './stream-events-shared.js';
export { SharedStreamEventStore } from './stream-events-shared.js';
export type {
  StoredToken,
  TokenStoreOptions,
  UnreadableReason,
  UnreadableRecord,
} from './token-store.js';
export { createTokenStore, TokenStore } from './token-store.js';
export type { StoredVerdict, VerdictStoreOptions } from './verdicts.js';
export {
  LEGACY_VERDICT_HORIZON_MS,
  MODERN_VERDICT_HORIZON_MS,
  VERDICT_KEY_PREFIX,
  VerdictStore,
} from './verdicts.js';
