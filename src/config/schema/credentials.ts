/**
 * `credentials:` (ours): named credentials for any HTTP API the app's own code calls, each bound
 * to the hosts it may be sent to (see `app.fetch(profile, url, init)`).
 *
 * @module
 */
import * as z from 'zod';
import {
  clientAuthenticationShape,
  optionalHttpUrl,
  optionalSecret,
  optionalString,
  stringList,
} from './primitives.js';

const hosts = z
  .array(
    z
      .string()
      .min(1)
      .regex(
        /^([a-z0-9.-]+|\[[0-9a-f:]+\])(:\d+)?$/i,
        'a host name (or [IPv6]), optionally with :port',
      ),
  )
  .min(1, 'at least one host the credential may be sent to');

const apiKey = z.strictObject({
  type: z.literal('api_key'),
  api_key: optionalSecret,
  /** The header carrying the key (default `X-Api-Key`), unless `query` names a parameter. */
  header: optionalString,
  /** The query parameter carrying the key instead of a header. */
  query: optionalString,
  hosts,
});

const bearer = z.strictObject({ type: z.literal('bearer'), token: optionalSecret, hosts });

const basic = z.strictObject({
  type: z.literal('basic'),
  username: z.string().min(1),
  password: optionalSecret,
  hosts,
});

const oauth2 = z.strictObject({
  type: z.literal('oauth2'),
  /**
   * `client_credentials` (default): the agent as a service account; `authorization_code`: a person
   * logs in once (`mcp-agent auth login PROFILE`), the token is kept and refreshed;
   * `token_exchange`: a served agent's caller's token swapped for one for this API (RFC 8693).
   */
  grant_type: z
    .enum(['client_credentials', 'authorization_code', 'token_exchange'])
    .default('client_credentials'),
  /** The authorization server's issuer (its metadata gives the token endpoint). */
  authorization_server: optionalHttpUrl,
  /** … or the token endpoint itself. */
  token_url: optionalHttpUrl,
  /** The client; for `authorization_code` it may be left out when the server offers DCR. */
  client_id: optionalString,
  client_secret: optionalSecret,
  ...clientAuthenticationShape,
  scopes: stringList,
  /** RFC 8707 `resource` of the API, when its authorization server wants one. */
  resource: optionalHttpUrl,
  hosts,
});

/** One named credential. */
export const credentialProfileSchema = z
  .discriminatedUnion('type', [apiKey, bearer, basic, oauth2])
  .superRefine((profile, ctx) => {
    if (profile.type !== 'oauth2') return;
    if (profile.grant_type === 'authorization_code' && !profile.authorization_server) {
      ctx.addIssue({
        code: 'custom',
        message: 'needs authorization_server for authorization_code',
      });
    } else if (!profile.authorization_server && !profile.token_url) {
      ctx.addIssue({ code: 'custom', message: 'needs authorization_server or token_url' });
    }
    if (profile.grant_type !== 'authorization_code' && !profile.client_id) {
      ctx.addIssue({ code: 'custom', message: `needs client_id for ${profile.grant_type}` });
    }
  });

/** `credentials:`: profile name → credential. */
export const credentialsSchema = z.record(
  z.string().regex(/^[A-Za-z0-9_.-]+$/),
  credentialProfileSchema,
);

/** A validated credential profile. */
export type CredentialProfile = z.output<typeof credentialProfileSchema>;
