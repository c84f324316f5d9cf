/**
 * Optional encryption at rest: AES-256-GCM, with the record's storage key as associated data,
 * so a sealed value copied under another key no longer opens.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import type { Secret } from '../config/secret.js';

const PREFIX = 'enc:v1:';

/** Seals and opens values with one key derived from a passphrase. */
export class Sealer {
  readonly #key: Buffer;

  /**
   * @param passphrase At least 16 characters. The AES key is derived from it with scrypt
   *   (N = 2^15), so guessing a passphrase from a stolen file costs real work.
   */
  constructor(passphrase: Secret) {
    const text = passphrase.reveal();
    if (text.length < 16) {
      throw new TypeError('oauth.token_store.encryption_key must be at least 16 characters long');
    }
    this.#key = scryptSync(text, 'mcp-agent-ts token store v1', 32, {
      N: 2 ** 15,
      r: 8,
      p: 1,
      maxmem: 64 * 1024 * 1024,
    });
  }

  /** `enc:v1:<iv>:<ciphertext+tag>` (base64url). */
  seal(plaintext: string, associated: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(associated));
    const body = Buffer.concat([
      cipher.update(plaintext, 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return `${PREFIX}${iv.toString('base64url')}:${body.toString('base64url')}`;
  }

  /** The plaintext, or `undefined` when the value was not sealed by this key for `associated`. */
  open(sealed: string, associated: string): string | undefined {
    if (!sealed.startsWith(PREFIX)) return undefined;
    const [ivText, bodyText] = sealed.slice(PREFIX.length).split(':');
    if (!ivText || !bodyText) return undefined;
    try {
      const body = Buffer.from(bodyText, 'base64url');
      if (body.length < 16) return undefined;
      const decipher = createDecipheriv(
        'aes-256-gcm',
        this.#key,
        Buffer.from(ivText, 'base64url'),
        {
          authTagLength: 16,
        },
      );
      decipher.setAAD(Buffer.from(associated));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([
        decipher.update(body.subarray(0, body.length - 16)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  /** Whether `value` looks sealed (by any key). */
  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX);
  }
}
