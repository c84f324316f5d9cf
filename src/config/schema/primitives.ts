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
