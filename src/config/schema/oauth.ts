/**
 * The global `oauth:` section: how the agent, as an OAuth client, stores tokens and receives
 * authorization callbacks.
 *
 * @module
 */
import * as z from 'zod';
import { optionalHttpUrl, optionalSecret, optionalSecretUrl, port } from './primitives.js';

/** Default location of the `file` token store; `~` is the user's home directory. */
export const DEFAULT_TOKEN_FILE = '~/.mcp-agent/oauth-tokens.json';

/** Default loopback callback ports, as in mcp-agent. */
export const DEFAULT_LOOPBACK_PORTS: readonly number[] = [33418, 33419, 33420];

/**
 * Default `oauth.max_token_bytes`: a bearer token longer than this is refused when an
 * authorization server issues it. Common servers limit one request header line to about 8 KiB
 * (nginx `large_client_header_buffers`, Apache `LimitRequestFieldSize`), so a longer token would
 * be refused (HTTP 400 or 431) on every request it went with.
 */
export const DEFAULT_MAX_TOKEN_BYTES = 8 * 1024;

/** `oauth.token_store`: where OAuth tokens and client registrations are kept. */
export const tokenStoreSchema = z
  .strictObject({
    /** `memory` (default, lost on exit), `file` (ours: a JSON file, mode 0600) or `redis`. */
    backend: z.enum(['memory', 'file', 'redis']).default('memory'),
    /** File backend: path of the token file. */
    path: z.string().min(1).default(DEFAULT_TOKEN_FILE),
    /** Redis backend: connection URL (required when `backend: redis`); a secret, as it may hold a password. */
    redis_url: optionalSecretUrl,
    /** Redis backend: key prefix; a trailing `:` is dropped, as in mcp-agent. */
    redis_prefix: z
      .string()
      .default('mcp_agent:oauth_tokens')
      .transform((value) => value.replace(/:+$/, '')),
    /** A token counts as expired this many seconds before `expires_at`. */
    refresh_leeway_seconds: z.number().int().min(0).default(60),
    /** Ours: encrypt stored records (AES-256-GCM) with a key derived from this passphrase. */
    encryption_key: optionalSecret.refine(
      (value) => value === undefined || value.reveal().length >= 16,
      {
        message: 'must be at least 16 characters long',
      },
    ),
  })
  .superRefine(
    (store, ctx) => {
      if (store.backend === 'redis' && (!store.redis_url || store.redis_url.isEmpty)) {
        ctx.addIssue({
          code: 'custom',
          path: ['redis_url'],
          message: 'is required when backend is "redis" (for example redis://127.0.0.1:6379)',
        });
      }
    },
    { when: () => true },
  );

/** `oauth:` section. */
export const oauthSchema = z.strictObject({
  token_store: tokenStoreSchema.prefault({}),
  /** How long an interactive authorization may take, in seconds (at least 30). */
  flow_timeout_seconds: z.number().int().min(30).default(300),
  /** Public base URL of this agent, for the internal callback route. */
  callback_base_url: optionalHttpUrl,
  /** Loopback ports tried for the browser callback; an empty list disables loopback. */
  loopback_ports: z.array(port).default([...DEFAULT_LOOPBACK_PORTS]),
  /** Ours: refresh tokens in use in the background, before they expire. */
  background_refresh: z.boolean().default(true),
  /**
   * Ours: the longest access or refresh token accepted from an authorization server, in bytes;
   * a longer one is refused and never stored. At most 16 KiB, Node's own limit for all the
   * headers of a request.
   */
  max_token_bytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024)
    .default(DEFAULT_MAX_TOKEN_BYTES),
});

/** The validated `oauth:` section. */
export type OAuthSettings = z.output<typeof oauthSchema>;
