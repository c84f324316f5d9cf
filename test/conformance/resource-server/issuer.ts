/**
 * The authorization server the resource-server harness trusts: an RFC 8414 metadata document and a
 * JWKS on a loopback port, and JWT access tokens signed with its own key (the test's keys, never
 * a provider's). A second issuer on its own port stands for "an issuer the target does not
 * trust"; a key it never publishes stands for "a key no trusted issuer published".
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** The tokens the harness asks for, one per check. */
export type TokenKind =
  /** Trusted key, `aud` the target, unexpired, every scope the scope probe needs. */
  | 'valid'
  /** `aud` another resource. */
  | 'wrong-audience'
  /** No `aud` claim. */
  | 'missing-audience'
  /** Expired ten minutes ago. */
  | 'expired'
  /** The trusted issuer's `iss` and `kid`, signed with a key absent from its JWKS. */
  | 'untrusted-key'
  /** Issued and signed by another issuer, which publishes its key. */
  | 'foreign-issuer'
  /** Valid, but only the baseline scopes: the scope probe's operation needs more. */
  | 'under-scoped';

/** Mints the harness's tokens for one target. */
export interface TokenMinter {
  mint(kind: TokenKind): Promise<string>;
}

/** What the tokens carry for one target. */
export interface MinterOptions {
  /** The target's resource identifier (`aud` of a valid token). */
  readonly resource: string;
  /** `scope` of a valid token. */
  readonly scope: string;
  /** `scope` of an under-scoped token. Default: {@link MinterOptions.scope}. */
  readonly baselineScope?: string;
}

/** An issuer on a loopback port. */
export interface TestIssuer {
  /** `http://127.0.0.1:PORT`: `iss`, and where its metadata is. */
  readonly issuer: string;
  /** A minter for `options`; `foreign` and the unpublished key are this issuer's own. */
  minter(options: MinterOptions): TokenMinter;
  close(): Promise<void>;
}

/** Another resource, named by the wrong-audience token. */
export const OTHER_RESOURCE = 'https://another-resource.example/mcp';

interface Signer {
  readonly issuer: string;
  readonly kid: string;
  readonly key: CryptoKey;
}

interface Claims {
  readonly audience?: string;
  readonly scope: string;
  readonly expiresIn?: number;
}

/** A JWT access token (RFC 9068 shape) from `signer`. */
async function sign(signer: Signer, claims: Claims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = claims.expiresIn ?? 300;
  const jwt = new SignJWT({ client_id: 'resource-server-harness', scope: claims.scope })
    .setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: 'at+jwt' })
    .setIssuer(signer.issuer)
    .setSubject('harness-user')
    .setJti(randomUUID())
    .setIssuedAt(expiresIn < 0 ? now + expiresIn - 3600 : now)
    .setExpirationTime(now + expiresIn);
  if (claims.audience !== undefined) jwt.setAudience(claims.audience);
  return jwt.sign(signer.key);
}

/** The metadata document of `issuer` (RFC 8414 §2). */
function metadataOf(issuer: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
  };
}

/** Serve the metadata (RFC 8414 and OIDC discovery paths) and `jwk` on a loopback port. */
async function serve(jwk: JWK): Promise<{ issuer: string; server: Server }> {
  let issuer = '';
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const body =
      path === '/.well-known/oauth-authorization-server' ||
      path === '/.well-known/openid-configuration'
        ? metadataOf(issuer)
        : path === '/jwks'
          ? { keys: [jwk] }
          : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not_found' }));
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, server };
}

async function keyPair(): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey) };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((closed) => server.close(() => closed()));
}

/** Start the trusted issuer and the foreign one. */
export async function startTestIssuer(): Promise<TestIssuer> {
  const kid = 'harness-key';
  const [trusted, unpublished, foreignKey] = await Promise.all([keyPair(), keyPair(), keyPair()]);
  const own = await serve({ ...trusted.jwk, kid, alg: 'ES256', use: 'sig' });
  const foreign = await serve({ ...foreignKey.jwk, kid: 'foreign-key', alg: 'ES256', use: 'sig' });
  const signers = {
    trusted: { issuer: own.issuer, kid, key: trusted.privateKey },
    unpublished: { issuer: own.issuer, kid, key: unpublished.privateKey },
    foreign: { issuer: foreign.issuer, kid: 'foreign-key', key: foreignKey.privateKey },
  } satisfies Record<string, Signer>;
  return {
    issuer: own.issuer,
    minter: ({ resource, scope, baselineScope }) => ({
      mint(kind) {
        switch (kind) {
          case 'valid':
            return sign(signers.trusted, { audience: resource, scope });
          case 'wrong-audience':
            return sign(signers.trusted, { audience: OTHER_RESOURCE, scope });
          case 'missing-audience':
            return sign(signers.trusted, { scope });
          case 'expired':
            return sign(signers.trusted, { audience: resource, scope, expiresIn: -600 });
          case 'untrusted-key':
            return sign(signers.unpublished, { audience: resource, scope });
          case 'foreign-issuer':
            return sign(signers.foreign, { audience: resource, scope });
          case 'under-scoped':
            return sign(signers.trusted, { audience: resource, scope: baselineScope ?? scope });
        }
      },
    }),
    async close() {
      await Promise.all([close(own.server), close(foreign.server)]);
    },
  };
}
