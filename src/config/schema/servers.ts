/**
 * `mcp.servers.<name>`: the downstream MCP servers and how the agent authenticates to them.
 *
 * @module
 */
import * as z from 'zod';
import {
  clientAuthenticationShape,
  httpUrl,
  optionalHttpUrl,
  optionalSecret,
  optionalString,
  secretMap,
  stringList,
} from './primitives.js';

/** Transport names accepted in config, including the aliases mcp-agent's runtime checks for. */
export const TRANSPORT_NAMES = [
  'stdio',
  'sse',
  'streamable_http',
  'websocket',
  'http',
  'streamable-http',
] as const;

/** The canonical transport of a server. */
export type Transport = 'stdio' | 'sse' | 'streamable_http' | 'websocket';

/** The values of a server's `protocol`: negotiate, or one MCP revision only. */
export const PROTOCOL_CHOICES = ['auto', '2026-07-28', '2025-11-25'] as const;

/** A server's `protocol`. */
export type ProtocolChoice = (typeof PROTOCOL_CHOICES)[number];

/**
 * Ours: `protocol`. A YAML 1.1 reader (or a `Date` put in by code) may turn `2026-07-28` into a
 * date; it is read back as the day it names.
 */
const protocolSchema = z.preprocess(
  (value) =>
    value instanceof Date && !Number.isNaN(value.getTime())
      ? value.toISOString().slice(0, 10)
      : value,
  z.enum(PROTOCOL_CHOICES).default('auto'),
);

/** `auth.oauth`: OAuth 2.1 for one downstream server (mcp-agent `MCPOAuthClientSettings`). */
export const serverOAuthSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Requested scopes. */
  scopes: stringList,
  /** RFC 8707 resource indicator; defaults to the server URL. */
  resource: optionalHttpUrl,
  /** Preferred authorization server (issuer URL). */
  authorization_server: optionalHttpUrl,
  /** Pre-registered client id. */
  client_id: optionalString,
  /** Pre-registered client secret. */
  client_secret: optionalSecret,
  /** Client ID Metadata Document URL (CIMD), used when the authorization server supports it. */
  client_metadata_url: optionalHttpUrl.refine(
    (value) => value === undefined || new URL(value).protocol === 'https:',
    { message: 'must be an https URL (a client ID metadata document is served over https)' },
  ),
  /** A pre-configured access token (belongs to the app's own identity). */
  access_token: optionalSecret,
  /** A pre-configured refresh token. */
  refresh_token: optionalSecret,
  /** Expiry of the pre-configured access token, in epoch seconds. */
  expires_at: z
    .number()
    .nullish()
    .transform((value) => value ?? undefined),
  token_type: z.string().default('Bearer'),
  /** Redirect URIs to use, in order. */
  redirect_uri_options: stringList,
  /** Extra query parameters for the authorization request. */
  extra_authorize_params: z.record(z.string(), z.string()).default({}),
  /** Extra form parameters for token requests. */
  extra_token_params: z.record(z.string(), z.string()).default({}),
  require_pkce: z.boolean().default(true),
  use_internal_callback: z.boolean().default(true),
  /**
   * Ours: the token configured here (`access_token`) serves every caller of a served agent that
   * has none of its own. Off by default: it belongs to the app's own identity.
   */
  shared_preconfigured_token: z.boolean().default(false),
  /** Send the RFC 8707 `resource` parameter (set `false` for GitHub and Entra ID). */
  include_resource_parameter: z.boolean().default(true),
  /**
   * Ours: how the user consents. `browser` (default): the authorization code flow with a loopback
   * callback (or a pasted redirect URL); `device`: the device authorization grant (RFC 8628).
   */
  flow: z.enum(['browser', 'device']).default('browser'),
  /**
   * Ours: how tokens are obtained. `authorization_code` (default): a person logs in;
   * `client_credentials`: the agent runs as a service account (RFC 6749 §4.4), no browser;
   * `token_exchange`: a served agent swaps each caller's token for one for this server
   * (RFC 8693, on behalf of the caller).
   */
  grant_type: z
    .enum(['authorization_code', 'client_credentials', 'token_exchange'])
    .default('authorization_code'),
  /** Ours: how the configured client authenticates (`private_key_jwt` and its key). */
  ...clientAuthenticationShape,
});

/** A validated `auth.oauth` block. */
export type ServerOAuthSettings = z.output<typeof serverOAuthSchema>;

/** `roots` entry of a server (mcp-agent `MCPRootSettings`). */
export const rootSchema = z.strictObject({
  uri: z.string().startsWith('file://', { message: 'must start with file://' }),
  name: optionalString,
  server_uri_alias: optionalString,
});

/** `auth`: credentials for one downstream server. */
export const serverAuthSchema = z.strictObject({
  /** Static API key; sent as `Authorization: Bearer <key>` on HTTP transports. */
  api_key: optionalSecret,
  /** Static headers documented by mcp-agent under `auth.headers`; merged over `headers`. */
  headers: secretMap.nullish().transform((value) => value ?? undefined),
  /** Documented by mcp-agent as `type: bearer` with `token`. */
  type: z
    .enum(['bearer'])
    .nullish()
    .transform((value) => value ?? undefined),
  token: optionalSecret,
  oauth: serverOAuthSchema.nullish().transform((value) => value ?? undefined),
});

/** One downstream MCP server (mcp-agent `MCPServerSettings`). */
export const serverSchema = z
  .strictObject({
    name: optionalString,
    description: optionalString,
    transport: z
      .enum(TRANSPORT_NAMES)
      .default('stdio')
      .transform((value): Transport => {
        if (value === 'http' || value === 'streamable-http') return 'streamable_http';
        return value;
      }),
    command: optionalString,
    args: stringList,
    cwd: optionalString,
    /** Server URL for `sse`, `streamable_http` and `websocket`. */
    url: optionalString,
    /** Static HTTP headers (values are secrets). */
    headers: secretMap.nullish().transform((value) => value ?? undefined),
    http_timeout_seconds: z
      .number()
      .min(0)
      .nullish()
      .transform((value) => value ?? undefined),
    read_timeout_seconds: z
      .number()
      .min(0)
      .nullish()
      .transform((value) => value ?? undefined),
    /**
     * Ours: the largest response body read from the server, or event of its event streams, in
     * bytes (default 16 MiB); a larger one fails the request.
     */
    max_response_bytes: z
      .number()
      .int()
      .min(1024)
      .nullish()
      .transform((value) => value ?? undefined),
    terminate_on_close: z.boolean().default(true),
    /**
     * Ours: the MCP revision spoken to the server. `auto` (default): ask (`server/discover`) and
     * remember the answer; `2026-07-28` or `2025-11-25`: that revision only.
     */
    protocol: protocolSchema,
    auth: serverAuthSchema.nullish().transform((value) => value ?? undefined),
    roots: z
      .array(rootSchema)
      .nullish()
      .transform((value) => value ?? undefined),
    /** Environment of a stdio server (values are secrets). */
    env: secretMap.nullish().transform((value) => value ?? undefined),
    /** Ours: pass the whole parent environment to a stdio server (default: a small allow-list). */
    inherit_env: z.boolean().default(false),
    /** Ours: parent variables passed to a stdio server by name. */
    env_passthrough: stringList,
    /**
     * Ours: let OAuth metadata and endpoints be on private, link-local or loopback addresses even
     * though the server itself is not (SSRF guard opt-out, MCP security best practices).
     */
    allow_private_network: z.boolean().default(false),
    /** Only these tools are exposed. */
    allowed_tools: z
      .array(z.string())
      .nullish()
      .transform((value) => (value ? [...new Set(value)] : undefined)),
  })
  .superRefine((server, ctx) => {
    if (server.transport === 'sse' && server.protocol === '2026-07-28') {
      ctx.addIssue({
        code: 'custom',
        path: ['protocol'],
        message:
          'is "2026-07-28", which the sse transport cannot carry (2025-11-25 and older); use streamable_http, or protocol auto',
      });
    }
  });

/** A validated downstream server. */
export type ServerSettings = z.output<typeof serverSchema>;

/** `mcp:` section. */
export const mcpSchema = z.strictObject({
  servers: z
    .record(z.string(), serverSchema)
    .nullish()
    .transform((value) => value ?? {}),
});

/** Reports whether `value` is a URL a remote transport can use (checked by `config check`). */
export function isUsableServerUrl(value: string, transport: Transport): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return transport === 'websocket'
    ? protocol === 'ws:' || protocol === 'wss:'
    : httpUrl.safeParse(value).success;
}
