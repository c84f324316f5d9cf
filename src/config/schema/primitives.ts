/**
 * Building blocks shared by the section schemas.
 *
 * @module
 */
import * as z from 'zod';
import { maskUrlCredentials } from '../mask.js';
import { Secret } from '../secret.js';

/** A string that is redacted everywhere it could be printed; parsed into a {@link Secret}. */
export const secretString = z.string().transform((value) => new Secret(value));

/** An optional secret: `null` (an empty YAML value) and absence both mean "not set". */
export const optionalSecret = secretString.nullish().transform((value) => value ?? undefined);

/**
 * An optional URL that may carry credentials (`redis://user:password@host`): a secret whose
 * displayed form is the URL with its credentials masked.
 */
export const optionalSecretUrl = z
  .string()
  .nullish()
  .transform((value) => (value == null ? undefined : new Secret(value, maskUrlCredentials(value))));

/** An optional string: `null` and absence both mean "not set". */
export const optionalString = z
  .string()
  .nullish()
  .transform((value) => value ?? undefined);

/** Whether `value` parses as an absolute `http:` or `https:` URL. */
export function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
}

/** An absolute `http(s)` URL, kept as the string that was written. */
export const httpUrl = z.string().refine(isHttpUrl, { message: 'must be an absolute http(s) URL' });

/** An optional `http(s)` URL (`null` means not set). */
export const optionalHttpUrl = httpUrl.nullish().transform((value) => value ?? undefined);

/** A TCP port number. */
export const port = z.number().int().min(1).max(65_535);

/** A string map whose values are secrets (HTTP headers, process environment). */
export const secretMap = z.record(z.string(), secretString);

/** A list of strings where `null` means empty. */
export const stringList = z
  .array(z.string())
  .nullish()
  .transform((value) => value ?? []);

/**
 * How a configured OAuth client authenticates at the token endpoint (ours): the method and, for
 * `private_key_jwt` (RFC 7523), its key. Shared by `auth.oauth` of servers and `credentials:`.
 */
export const clientAuthenticationShape = {
  /** Default: from the authorization server's metadata. */
  token_endpoint_auth_method: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt'])
    .optional(),
  /** The `private_key_jwt` key: PKCS#8 PEM or a private JWK (JSON); keep it in secrets. */
  private_key: optionalSecret,
  /** … or a file holding it (relative to the working directory). */
  private_key_file: optionalString,
  /** The `kid` of the assertions. */
  private_key_id: optionalString,
  /** The assertions' algorithm; default: from the key (RS256, ES256, ES384, EdDSA). */
  signing_algorithm: z
    .enum([
      'RS256',
      'RS384',
      'RS512',
      'PS256',
      'PS384',
      'PS512',
      'ES256',
      'ES384',
      'ES512',
      'EdDSA',
    ])
    .optional(),
};
