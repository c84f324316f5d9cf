/**
 * RFC 8693 token exchange on the development authorization server, so on-behalf-of access can be
 * tried and tested: a confidential client presents an access token this server issued (the
 * caller's token for the agent) as `subject_token` and gets a token for another of its resources
 * (`resource` or `audience`), for the same subject, with `act` naming the client, expiring no
 * later than the subject token.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';

/** The grant type (RFC 8693 §2.1). */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** Register the grant on `provider`, signing with `key` (the server's own signing key). */
export async function registerTokenExchange(
  provider: Provider,
  options: {
    key: JWK;
    alg: string;
    resources: readonly string[];
    scopes: readonly string[];
    ttlSeconds: number;
  },
): Promise<void> {
  const { d: _private, ...publicJwk } = options.key as JWK & { d?: string };
  const verifyKey = await importJWK(publicJwk, options.alg);
  const signKey = await importJWK(options.key, options.alg);
  const parameters = new Set([
    'subject_token',
    'subject_token_type',
    'requested_token_type',
    'resource',
    'audience',
    'scope',
  ]);
  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx) => {
      const { params, client } = ctx.oidc;
      if (!client || client.clientAuthMethod === 'none') {
        throw new errors.InvalidClient('token exchange needs a confidential client');
      }
      const subjectToken = String(params?.subject_token ?? '');
      if (params?.subject_token_type !== ACCESS_TOKEN_TYPE) {
        throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
      }
      let subject: { sub?: string; exp?: number; scope?: unknown };
      try {
        ({ payload: subject } = await jwtVerify(subjectToken, verifyKey, {
          issuer: provider.issuer,
          typ: 'at+jwt',
        }));
      } catch {
        throw new errors.InvalidGrant(
          'the subject token is not a valid access token of this server',
        );
      }
      const wanted = String(params?.resource ?? params?.audience ?? '');
      const audience = options.resources.find(
        (resource) => resource.replace(/\/$/, '') === wanted.replace(/\/$/, ''),
      );
      if (!audience) throw new errors.InvalidTarget('unknown resource or audience');
      const now = Math.floor(Date.now() / 1000);
      const exp = Math.min(now + options.ttlSeconds, subject.exp ?? now);
      if (!subject.sub || exp <= now) throw new errors.InvalidGrant('the subject token expired');
      const requested = String(params?.scope ?? '')
        .split(' ')
        .filter(Boolean);
      const granted = (typeof subject.scope === 'string' ? subject.scope.split(' ') : []).filter(
        (scope) => options.scopes.includes(scope),
      );
      const scopes =
        requested.length > 0
          ? requested.filter((scope) => options.scopes.includes(scope))
          : granted;
      const token = await new SignJWT({
        client_id: client.clientId,
        scope: scopes.join(' '),
        act: { sub: client.clientId },
      })
        .setProtectedHeader({
          alg: options.alg,
          typ: 'at+jwt',
          ...(options.key.kid ? { kid: options.key.kid } : {}),
        })
        .setIssuer(provider.issuer)
        .setSubject(subject.sub)
        .setAudience(audience)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .setJti(randomBytes(16).toString('base64url'))
        .sign(signKey);
      ctx.body = {
        access_token: token,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: exp - now,
        ...(scopes.length > 0 ? { scope: scopes.join(' ') } : {}),
      };
    },
    [...parameters],
  );
}
