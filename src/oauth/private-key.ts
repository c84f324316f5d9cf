/**
 * The signing key of a `private_key_jwt` client (RFC 7523 §2.2): from `auth.oauth.private_key`
 * (PKCS#8 PEM or a private JWK as JSON, usually in the secrets file) or `private_key_file`. The
 * algorithm is `signing_algorithm`, else the one the key's type implies. Errors name the server
 * and what to fix, never the key.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { importJWK, importPKCS8, type JWK } from 'jose';
import type { ServerOAuthSettings } from '../config/schema/servers.js';
import { McpAgentError } from '../errors.js';
import type { ClientSigningKey } from '../stores/registrations.js';

/** The keys of a configuration block that name a signing key. */
export type SigningKeySettings = Pick<
  ServerOAuthSettings,
  'private_key' | 'private_key_file' | 'private_key_id' | 'signing_algorithm'
>;

/** Whether `oauth` configures a private key. */
export function hasPrivateKey(oauth: SigningKeySettings): boolean {
  return (
    (oauth.private_key !== undefined && !oauth.private_key.isEmpty) || !!oauth.private_key_file
  );
}

function keyError(server: string, why: string): McpAgentError {
  return new McpAgentError(
    'CONFIG_INVALID',
    `The private key of server "${server}" (auth.oauth.private_key / private_key_file) ${why}.`,
  );
}

/** The algorithm a JWK's type implies. */
function algorithmOf(jwk: JWK): string | undefined {
  if (typeof jwk.alg === 'string') return jwk.alg;
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC')
    return { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[String(jwk.crv)];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return undefined;
}

/** The PEM's algorithm when none is configured: from the key type node reads in it. */
async function pemAlgorithm(pem: string): Promise<string | undefined> {
  const { createPrivateKey } = await import('node:crypto');
  const key = createPrivateKey(pem);
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'prime256v1'
        ? 'ES256'
        : curve === 'secp384r1'
          ? 'ES384'
          : curve === 'secp521r1'
            ? 'ES512'
            : undefined;
    }
    case 'ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}

/** Load and import the key of `server`'s `private_key_jwt` client. */
export async function loadSigningKey(
  server: string,
  oauth: SigningKeySettings,
  cwd: string = process.cwd(),
): Promise<ClientSigningKey> {
  let text: string;
  if (oauth.private_key !== undefined && !oauth.private_key.isEmpty) {
    text = oauth.private_key.reveal();
  } else if (oauth.private_key_file) {
    try {
      text = readFileSync(resolve(cwd, oauth.private_key_file), 'utf8');
    } catch {
      throw keyError(server, `file ${oauth.private_key_file} cannot be read`);
    }
  } else {
    throw keyError(server, 'is not configured (private_key_jwt needs one)');
  }
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as JWK;
      if (typeof jwk.d !== 'string') throw new Error('not private');
      const alg = oauth.signing_algorithm ?? algorithmOf(jwk);
      if (!alg) throw new Error('no algorithm');
      const key = await importJWK(jwk, alg);
      if (key instanceof Uint8Array) throw new Error('symmetric');
      return { key, kid: oauth.private_key_id ?? jwk.kid, ...(alg === 'EdDSA' ? { alg } : {}) };
    }
    const alg = oauth.signing_algorithm ?? (await pemAlgorithm(trimmed));
    if (!alg) throw new Error('no algorithm');
    const key = await importPKCS8(trimmed, alg);
    return { key, kid: oauth.private_key_id, ...(alg === 'EdDSA' ? { alg } : {}) };
  } catch {
    // No cause: the parser's error may quote the key.
    throw keyError(
      server,
      `does not parse as a PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") or a private JWK${oauth.signing_algorithm ? ` for ${oauth.signing_algorithm}` : ''}`,
    );
  }
}
